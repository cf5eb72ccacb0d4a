"""Attacks on matcue's outputs: nothing a user had is lost (issue 14).

Each test is an attack that lost a file on the version before issue 14: an
output naming an input (directly, through a symlink, or as the transcript that
goes beside the audio), two outputs that are one file through a symlinked
folder, special files at the target, a read-only target. The short cue script
renders in well under a second with pyttsx3.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from matcue.cli import main

ROOT = Path(__file__).resolve().parent.parent
ROUTINE = ROOT / "src" / "matcue" / "library" / "desk-break.yaml"

CUE = """# matcue cue script 1
@title Tiny
Breathe in.
@pause 0.2
Breathe out.
"""


def _run(*args: str | Path) -> tuple[int, list[str]]:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output.splitlines()


@pytest.fixture
def routine(tmp_path: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_bytes(ROUTINE.read_bytes())
    return path


def _refused(code: int, lines: list[str], *words: str) -> None:
    assert code == 2, lines
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines


# ------------------------------------------------------------ an output over an input


def test_timeline_over_the_routine_being_read_is_refused(routine: Path, tmp_path: Path):
    before = routine.read_bytes()
    code, lines = _run("render", routine, "-o", tmp_path / "out.mp3", "--timeline", routine)
    _refused(code, lines, "--timeline", "r.yaml", "routine")
    assert routine.read_bytes() == before
    assert not (tmp_path / "out.mp3").exists()


def test_script_written_over_its_own_routine_is_refused(routine: Path):
    before = routine.read_bytes()
    code, lines = _run("script", routine, "-o", routine)
    _refused(code, lines, "-o", "r.yaml")
    assert routine.read_bytes() == before


def test_output_reaching_the_input_through_a_symlink_is_refused(routine: Path, tmp_path: Path):
    link = tmp_path / "link.json"
    link.symlink_to(routine)
    before = routine.read_bytes()
    code, lines = _run("render", routine, "-o", tmp_path / "o.mp3", "--timeline", link)
    _refused(code, lines, "--timeline", "link.json")
    assert routine.read_bytes() == before and link.is_symlink()


def test_cue_script_named_vtt_is_not_overwritten_by_its_transcript(tmp_path: Path):
    cue = tmp_path / "x.vtt"  # a cue script by its first line, whatever its name
    cue.write_text(CUE, encoding="utf-8")
    code, lines = _run("render", cue, "-o", tmp_path / "x.mp3")
    _refused(code, lines, "transcript", "x.vtt")
    assert cue.read_text(encoding="utf-8") == CUE
    assert not (tmp_path / "x.mp3").exists()


def test_cue_script_named_mp3_is_not_overwritten_by_its_audio(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "audio_out").mkdir()
    cue = tmp_path / "audio_out" / "x.mp3"  # the default output of a source named x
    cue.write_text(CUE, encoding="utf-8")
    code, lines = _run("render", "audio_out/x.mp3")
    _refused(code, lines, "-o", "x.mp3")
    assert cue.read_text(encoding="utf-8") == CUE


def test_two_outputs_that_are_one_file_through_a_symlinked_folder(tmp_path: Path):
    cue = tmp_path / "s.cue"
    cue.write_text(CUE, encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").symlink_to(tmp_path / "a")
    # the transcript a/s.vtt and the timeline b/s.vtt are one file
    code, lines = _run(
        "render", cue, "-o", tmp_path / "a" / "s.mp3", "--timeline", tmp_path / "b" / "s.vtt"
    )
    _refused(code, lines, "--timeline", "s.vtt")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == []
