"""The settings a session records in its files: what was used, the same in the MP3
tags (COMM and MATCUE_* frames) and in the transcript's NOTE header.

Regression for an audit: ``breath`` showed ``--breath`` even where the steps fix
their own cycle (desk-break --breath 2 said 2 over 10 s cycles; clutch said 12
over 15 s cycles); the rate was in the tags but not the transcript; piper's model
was not named; volume, bed, bed level, breath tone and chime were nowhere.
Real renders, read back with mutagen and by parsing the VTT.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3

from matcue.cli import main
from matcue.pipeline import build_script, load_source, prepare, resolve_settings


def vtt_settings(path: Path) -> dict[str, str]:
    """The ``key: value`` lines of the transcript's NOTE block, title and duration aside."""
    lines = path.read_text(encoding="utf-8").split("\n\n")[1].splitlines()
    assert lines[0] == "NOTE"
    pairs = dict(line.split(": ", 1) for line in lines[1:])
    pairs.pop("title"), pairs.pop("duration")
    return pairs


def id3_settings(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The MATCUE_* frames and the COMM comment, each as a dict."""
    tags = ID3(path)
    frames = {
        f.desc.removeprefix("MATCUE_").lower(): str(f.text[0])
        for f in tags.getall("TXXX")
        if f.desc.startswith("MATCUE_")
    }
    comment = dict(item.split("=", 1) for item in str(tags.getall("COMM")[0]).split("; "))
    return frames, comment


def render(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "s.mp3"
    r = CliRunner().invoke(main, ["render", "desk-break", "-o", str(out), *args])
    assert r.exit_code == 0, r.output
    return out


def test_tags_and_transcript_record_the_same_settings_as_used(tmp_path: Path) -> None:
    bed = tmp_path / "rain.wav"
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(1)
    sf.write(bed, 0.1 * rng.standard_normal(22050 * 3).astype(np.float32), 22050)
    out = render(
        tmp_path,
        "--breath",
        "2",
        "--rate",
        "180",
        "--volume",
        "0.8",
        "--bed",
        str(bed),
        "--bed-volume",
        "-30",
        "--breath-tone",
        "--no-chime",
    )
    frames, comment = id3_settings(out)
    note = vtt_settings(out.with_suffix(".vtt"))
    assert frames == comment == note
    assert list(comment) == list(note)  # same order too
    assert note == {
        "routine": "desk-break",
        "pace": "normal",
        "breath": "10",  # desk-break's only breath step fixes a 10 s cycle: --breath 2 did nothing
        "engine": "pyttsx3",
        "voice": note["voice"],
        "verbosity": "full",
        "rate": "180",
        "volume": "0.8",
        "chime": "off",
        "breath_tone": "on",
        "bed": "rain.wav",
        "bed_volume": "-30",
    }
    assert note["voice"] not in ("", "default")


def test_defaults_are_recorded_too(tmp_path: Path) -> None:
    out = render(tmp_path)
    note = vtt_settings(out.with_suffix(".vtt"))
    assert id3_settings(out)[0] == note
    assert {k: note[k] for k in ("rate", "volume", "chime", "breath_tone", "bed")} == {
        "rate": "default",
        "volume": "1",
        "chime": "on",
        "breath_tone": "off",
        "bed": "none",
    }
    assert "bed_volume" not in note  # no bed, no level


@pytest.mark.parametrize(
    ("name", "options", "breath"),
    [
        ("desk-break", {"breath": 2}, "10"),  # the step's own cycle
        ("clutch", {}, "15"),  # defaults.breath 12, but its one breath step fixes 15
        ("clutch", {"pace": "slow"}, "18.75"),  # as heard: 15 s x 1.25
        ("thaw", {"breath": 8, "pace": "0.5"}, "4"),
        ("control", {}, "10, 12"),  # a fixed 10 s cycle and the default 12 s
        ("morning", {"breath": 6}, None),  # no breath-paced step: nothing to record
    ],
)
def test_breath_records_the_cycles_used(name: str, options: dict, breath: str | None) -> None:
    source = load_source(name)
    script, _ = build_script(source, resolve_settings(source, options))
    assert script.meta.get("breath") == breath


def test_a_cue_script_keeps_the_pace_and_breath_it_was_written_with(tmp_path: Path) -> None:
    """A cue script renders as it stands: --pace changes nothing, so it is not recorded."""
    cue = tmp_path / "mine.cue"
    cue.write_text(
        "# matcue cue script 1\n@meta routine=mine pace=1.25 breath=15 verbosity=brief\n"
        "@step One\nHello.\n@block 4\n  0 inhale: In.\n  2 exhale: Out.\n@end\n",
        encoding="utf-8",
    )
    source = load_source(str(cue))
    meta = prepare(source, resolve_settings(source, {"pace": "slow"})).timeline.meta
    assert (meta["pace"], meta["breath"], meta["verbosity"]) == ("1.25", "15", "brief")


def test_docs_show_the_values_files_really_hold() -> None:
    """docs/output.md showed pace=1.0 and verbosity: normal, values no file holds."""
    docs = (Path(__file__).resolve().parent.parent / "docs" / "output.md").read_text()
    assert "pace=1.0" not in docs and "verbosity: normal" not in docs
    assert "pace: normal" in docs and "verbosity: full" in docs


@pytest.mark.parametrize(
    ("flag", "recorded"), [(None, "2"), ("1.50", "1.5"), ("FAST", "fast"), ("0.5", "0.5")]
)
def test_the_pace_is_recorded_as_the_value_used(flag: str | None, recorded: str) -> None:
    """The settings hold a pace as a name or a factor (one settings type, issue 10),
    so a routine's ``pace: 2`` and ``--pace 2`` record one text, as a short decimal."""
    from matcue.routine import parse_routine
    from matcue.settings import merge

    routine = parse_routine(
        "matcue: 1\ntitle: T\ndefaults: {pace: 2}\nsteps:\n  - {kind: say, text: Hi.}\n",
        filename="t.yaml",
    )
    assert merge(routine.defaults, {"pace": flag}).pace_text == recorded
