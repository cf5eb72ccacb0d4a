"""The loudness model gives the final gain without a measuring pass: checked against
the output it leads to, measured by our meter and by pyloudnorm, and the safety
net that re-renders when it misses."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_mix import SR, session, speechlike

from matcue.loudness import integrated_loudness
from matcue.loudness_model import SessionLoudness
from matcue.mix import MixSettings, render_chunks
from matcue.mixer import Mixer

SHORT_SESSION = str(Path(__file__).parent / "sound" / "short-session.yaml")
"""A frozen short session (the built-in desk-break before issue 12 rewrote it): the
gain tolerances below were set for it."""


def clips() -> dict[str, np.ndarray]:
    return {"in": speechlike(1.5, 1), "out": speechlike(1.8, 2)}


def rendered(settings: MixSettings, clip_set: dict[str, np.ndarray] | None = None):  # type: ignore[no-untyped-def]
    clip_set = clip_set or clips()
    tl = session(clip_set)
    stream = render_chunks(tl, clip_set, settings, chunk_seconds=2.0)
    out = np.concatenate(list(stream))
    return tl, clip_set, stream, out


@pytest.mark.parametrize(
    "settings, exact",
    [
        (MixSettings(chime=False), True),
        (MixSettings(), True),  # bells, some overlapping the speech's islands
        (MixSettings(target_lufs=-13.0), True),  # driven far into the limiter
        (MixSettings(breath_tone=True), False),
        (MixSettings(bed="pink", channels=2), False),
        (MixSettings(bed="brown", breath_tone=True, bed_volume_db=-6.0), False),
    ],
)
def test_the_model_predicts_the_loudness_of_the_output_it_leads_to(
    settings: MixSettings, exact: bool
) -> None:
    tl, clip_set, stream, out = rendered(settings)
    assert stream.modelled and stream.gain_db is not None
    model = SessionLoudness(Mixer(tl, clip_set, settings))
    predicted = model.loudness(stream.gain_db)
    measured = integrated_loudness(out.astype(np.float64), SR)
    # Speech and bells are modelled exactly; a bed and tone leave out cross terms.
    assert predicted == pytest.approx(measured, abs=0.005 if exact else 0.15)
    assert stream.measured_lufs == pytest.approx(measured, abs=1e-4)  # float32 check meter
    assert measured == pytest.approx(settings.resolved_target(), abs=0.2)


def test_the_output_lands_on_target_by_an_independent_meter() -> None:
    pyln = pytest.importorskip("pyloudnorm")
    for settings in (MixSettings(), MixSettings(bed="pink", breath_tone=True, channels=2)):
        *_, out = rendered(settings)
        measured = pyln.Meter(SR).integrated_loudness(out.astype(np.float64))
        assert measured == pytest.approx(settings.resolved_target(), abs=0.3)


def test_modelled_and_measured_gains_agree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The old measuring pass, still used for a user's bed file, and the model give the
    same gain for the same session (to the limiter's small nonlinearity)."""
    settings = MixSettings(breath_tone=True)
    _, _, modelled, a = rendered(settings)
    clip_set = clips()
    monkeypatch.setenv("MATCUE_CACHE_DIR", str(tmp_path))  # keep the measured gain here
    measured = render_chunks(session(clip_set), clip_set, settings, measure=True)
    b = np.concatenate(list(measured))
    assert modelled.modelled and not measured.modelled
    assert modelled.gain_db == pytest.approx(measured.gain_db, abs=0.2)
    assert integrated_loudness(a.astype(np.float64), SR) == pytest.approx(
        integrated_loudness(b.astype(np.float64), SR), abs=0.2
    )


def test_a_user_bed_file_is_measured_not_modelled(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    bed = tmp_path / "rain.wav"
    sf.write(bed, (0.1 * rng.standard_normal(SR * 5)).astype(np.float32), SR)
    settings = MixSettings(bed=str(bed))
    *_, stream, out = rendered(settings)
    assert not stream.modelled
    measured = integrated_loudness(out.astype(np.float64), SR)
    assert measured == pytest.approx(-19.0, abs=0.3)


def test_a_silent_session_gets_no_gain() -> None:
    settings = MixSettings(chime=False)
    silent = {"in": np.zeros(SR, np.float32), "out": np.zeros(SR, np.float32)}
    _, _, stream, out = rendered(settings, silent)
    assert stream.gain_db == 0.0 and not np.any(out)


def test_a_model_that_misses_is_caught_and_the_render_redone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A fake solver 4 dB off (and no cached gain to fall back on): the output is
    metered as it is made, the miss is seen, and the file is rendered again with a
    measured gain."""
    from matcue import loudness_model, mix
    from matcue.pipeline import load_source, render
    from matcue.settings import Settings

    real = loudness_model.solve_gain

    def fake_solve_gain(model, target, max_gain_db):  # type: ignore[no-untyped-def]
        gain, got = real(model, target, max_gain_db)
        return gain + 4.0, got

    # A cache of its own: the gains this test provokes are nobody else's business.
    monkeypatch.setenv("MATCUE_CACHE_DIR", str(tmp_path / "cache"))
    reference = tmp_path / "reference.mp3"
    render(load_source(SHORT_SESSION), Settings(), reference, transcript=False)
    monkeypatch.setattr(mix, "solve_gain", fake_solve_gain)  # the name the stream calls
    monkeypatch.setattr(loudness_model.GainCache, "get", lambda self, key: None)
    out = tmp_path / "desk.mp3"
    with caplog.at_level(logging.WARNING, logger="matcue"):
        render(load_source(SHORT_SESSION), Settings(), out, transcript=False)
    assert "missed its target" in caplog.text
    # Decoded, both files have the same loudness (64 kbps MP3 itself takes ~0.5 LU off).
    measured = [integrated_loudness(*sf.read(path, dtype="float64")) for path in (out, reference)]
    assert measured[0] == pytest.approx(measured[1], abs=0.2)


def test_a_cached_gain_is_reused_and_a_wrong_one_is_caught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from matcue import mix
    from matcue.pipeline import load_source, render
    from matcue.settings import Settings

    monkeypatch.setenv("MATCUE_CACHE_DIR", str(tmp_path / "cache"))
    first, second, third = (tmp_path / f"{n}.mp3" for n in ("first", "second", "third"))
    render(load_source(SHORT_SESSION), Settings(), first, transcript=False)
    entries = list((tmp_path / "cache" / "gains").glob("*.json"))
    assert len(entries) == 1

    def no_solving(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the gain should have come from the cache")

    monkeypatch.setattr(mix, "solve_gain", no_solving)
    render(load_source(SHORT_SESSION), Settings(), second, transcript=False)
    assert second.read_bytes() == first.read_bytes()

    # A wrong entry (as if written by an older, broken matcue) is caught by the meter.
    entry = json.loads(entries[0].read_text())
    entries[0].write_text(json.dumps({**entry, "gain_db": entry["gain_db"] - 5.0}))
    with caplog.at_level(logging.WARNING, logger="matcue"):
        render(load_source(SHORT_SESSION), Settings(), third, transcript=False)
    assert "missed its target" in caplog.text
    measured = [integrated_loudness(*sf.read(p, dtype="float64")) for p in (third, first)]
    assert measured[0] == pytest.approx(measured[1], abs=0.2)
    # and the entry now holds the measured gain, close to the modelled one
    assert json.loads(entries[0].read_text())["gain_db"] == pytest.approx(entry["gain_db"], abs=0.3)


def test_a_long_unbroken_run_of_speech_is_measured_not_modelled() -> None:
    """Issue 14: the model mixes and filters each unbroken run of sound whole, so
    400 lines said with no pause made one 15-minute island and a cold render
    peaked at 1.2 GB. A run longer than MODEL_ISLAND_SECONDS is measured by mixing
    in chunks instead; the output still lands on target."""
    from test_mix import speech

    from matcue.limits import MODEL_ISLAND_SECONDS
    from matcue.timeline import Timeline

    clip_set = {"in": speechlike(1.5, 1)}
    step = len(clip_set["in"])  # back to back: no gap between the lines
    n = int(MODEL_ISLAND_SECONDS * SR / step) + 2
    tl = Timeline(SR, n * step + SR, [speech(k * step, "in", clip_set) for k in range(n)])
    settings = MixSettings(chime=False)
    assert not SessionLoudness.covers(Mixer(tl, clip_set, settings))
    stream = render_chunks(tl, clip_set, settings, chunk_seconds=2.0)
    out = np.concatenate(list(stream))
    assert not stream.modelled
    assert integrated_loudness(out.astype(np.float64), SR) == pytest.approx(-19.0, abs=0.3)
    # A short session of the same lines is still modelled.
    short = session({"in": clip_set["in"], "out": speechlike(1.8, 2)})
    assert SessionLoudness.covers(
        Mixer(short, {"in": clip_set["in"], "out": speechlike(1.8, 2)}, settings)
    )
