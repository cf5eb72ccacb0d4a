"""The progress bar's course over a whole render: one value that only rises, from
0 to 1, through synthesis and then mixing and encoding.

Regression for an audit: synthesis took the bar to 100%, then "mixing and
encoding" started again at 50% (the loudness model's gain stage reported the
whole session at once, as half the mixing work). Real renders of a short
built-in, reported to a fake sink (tests/fakes.py) instead of the terminal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fakes import FakeProgressSink

from matcue.cli.rendering import Progress
from matcue.mix import MixSettings, MixStream, render_chunks
from matcue.pipeline import load_source, render, resolve_settings
from matcue.timeline import Event, Timeline

ROUTINE = "desk-break"


def run(tmp_path: Path, **overrides: object) -> FakeProgressSink:
    sink = FakeProgressSink()
    source = load_source(ROUTINE)
    render(
        source,
        resolve_settings(source, overrides),
        tmp_path / "s.mp3",
        transcript=False,
        progress=sink,
    )
    return sink


def assert_rises_steadily(sink: FakeProgressSink, stage: str, max_step: float) -> None:
    values = sink.values
    assert values, "no progress reported"
    assert bool(np.all(np.diff(values) >= 0)), values
    assert values[0] <= 0.01 and values[-1] == 1.0
    part = [f for s, f in sink.calls if s == stage]
    assert len(part) >= 10
    steps = np.diff([part[0], *part])
    assert steps.max() <= max_step, (stage, part)


def test_render_progress_only_rises_through_both_stages(tmp_path: Path) -> None:
    sink = run(tmp_path)
    assert sink.stages() == ["synthesis", "mixing and encoding"]
    # desk-break is 2.5 minutes mixed in 3 s chunks: about 2% per chunk, no jump.
    assert_rises_steadily(sink, "mixing and encoding", max_step=0.1)


def test_measured_gain_is_half_of_the_mixing_and_still_rises(tmp_path: Path) -> None:
    """A bed file is not covered by the loudness model: the session is mixed and
    measured once, then mixed for output; both passes share the mixing span."""
    bed = tmp_path / "bed.wav"
    rng = np.random.default_rng(3)
    sf.write(bed, 0.1 * rng.standard_normal(22050 * 4).astype(np.float32), 22050)
    sink = run(tmp_path, bed=str(bed))
    assert_rises_steadily(sink, "mixing and encoding", max_step=0.1)


def test_a_second_mix_keeps_the_bar_where_it_is(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """When the output misses its loudness the session is measured and mixed again:
    the bar does not drop back (faked: the first mix is declared off target)."""
    monkeypatch.setattr(MixStream, "off_target", lambda self, tolerance=0.5: True)
    sink = run(tmp_path)
    values = sink.values
    assert bool(np.all(np.diff(values) >= 0))
    assert sink.stages()[-1] == "measuring loudness, mixing again"
    assert sink.calls[-1] == ("measuring loudness, mixing again", 1.0)


@pytest.mark.parametrize("bed", [None, "pink"])
def test_mix_progress_is_a_rising_fraction_ending_at_one(bed: str | None) -> None:
    sr = 8000
    length = 10 * sr + 7
    tl = Timeline(sr, length, [Event("phase", 0, length, "s", 0, phase="inhale")])
    seen: list[float] = []
    chunks = render_chunks(
        tl, {}, MixSettings(bed=bed, breath_tone=True), chunk_seconds=1.0, progress=seen.append
    )
    assert sum(len(c) for c in chunks) == length
    assert seen[-1] == 1.0 and bool(np.all(np.diff(seen) >= 0))
    assert seen[0] <= 0.11  # the first chunk, not the whole gain stage at once


def test_terminal_bar_never_goes_back(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress("x", enabled=True)
    bar("mixing", 0.5)
    bar("mixing", 0.3)
    bar("again", 0.2)
    shown = [part for part in capsys.readouterr().err.split("\r") if "%" in part]
    assert [p.split("]")[1].split("%")[0].strip() for p in shown] == ["50", "50"]
    assert "again" in shown[-1]
