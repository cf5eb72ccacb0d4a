"""Standard input and output, FIFOs and devices as inputs (issue 14).

``-o -`` streams the audio for a player; ``-`` (or /dev/stdin) reads a routine or
cue script from a pipe. Before issue 14, ``-o -`` was refused for want of an
extension, ``-`` was taken for a built-in name, /dev/stdin lost its first bytes to
the cue-script sniffing, and a FIFO nobody wrote to made matcue wait for ever.
"""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from click.testing import CliRunner

from matcue import limits
from matcue.cli import main

ROOT = Path(__file__).resolve().parent.parent
ROUTINE = ROOT / "src" / "matcue" / "library" / "desk-break.yaml"
CUE = b"""# matcue cue script 1
@title Tiny
Breathe in.
@pause 0.2
Breathe out.
"""


def _matcue(args: list[str], stdin: bytes | None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "matcue.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=240,
        env=dict(os.environ),
        **kwargs,
    )


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_render_from_stdin_to_stdout(tmp_path: Path, fmt: str):
    r = _matcue(["render", "-", "-o", "-", "--format", fmt], CUE, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [line] = r.stderr.decode().splitlines()
    assert line.startswith("wrote standard output (0:0")
    audio, rate = sf.read(io.BytesIO(r.stdout))
    assert len(audio) > rate  # two lines of speech
    assert list(tmp_path.iterdir()) == []  # nothing written beside


def test_stdout_that_is_a_terminal_is_refused(tmp_path: Path):
    leader, follower = pty.openpty()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "matcue.cli", "render", "desk-break", "-o", "-"],
            stdout=follower,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=120,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert r.returncode == 2
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and "-o -" in lines[0] and "terminal" in lines[0]


def test_script_of_a_routine_on_stdin():
    r = _matcue(["script", "-"], ROUTINE.read_bytes())
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("# matcue cue script 1\n@title Desk Break")


def test_dev_stdin_is_not_swallowed_by_the_header_sniffing():
    r = _matcue(["script", "/dev/stdin"], ROUTINE.read_bytes())
    assert r.returncode == 0, r.stderr
    assert "@title Desk Break" in r.stdout.decode()


def test_check_reads_stdin():
    r = _matcue(["check", "-"], ROUTINE.read_bytes())
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "-: ok"


def test_stdin_in_a_batch_is_refused(tmp_path: Path):
    r = _matcue(["render", "-", "desk-break", "-o", f"{tmp_path}/"], CUE)
    assert r.returncode == 2
    assert r.stderr.decode().splitlines() == [
        "matcue: -: standard input can be read for one routine rendered alone"
    ]


def test_a_fifo_nobody_writes_to_is_given_up_on(tmp_path: Path, monkeypatch):
    fifo = tmp_path / "routine.yaml"
    os.mkfifo(fifo)
    monkeypatch.setattr(limits, "INPUT_WAIT_SECONDS", 0.2)
    r = CliRunner().invoke(main, ["check", str(fifo)])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        f"{fifo}: no data arrived for 0.2 seconds; nothing is writing to it"
    ]


def test_an_endless_device_is_refused_at_the_size_limit():
    r = CliRunner().invoke(main, ["check", "/dev/zero"])
    assert r.exit_code == 2
    assert len(r.output.splitlines()) == 1 and "larger than" in r.output


def test_an_oversized_cue_script_is_refused(tmp_path: Path):
    big = tmp_path / "big.cue"
    big.write_bytes(CUE + b"Breathe.\n" * (limits.MAX_CUE_SCRIPT_BYTES // 9 + 1))
    r = CliRunner().invoke(main, ["check", str(big)])
    assert r.exit_code == 2
    assert r.output.splitlines() == [f"{big}:1: -: larger than 2 MiB, the limit for a cue script"]


def test_timeline_to_stdout_is_refused(tmp_path: Path):
    r = _matcue(["render", "desk-break", "-o", str(tmp_path / "x.mp3"), "--timeline", "-"], None)
    assert r.returncode == 2
    assert r.stderr.decode().splitlines() == [
        "matcue: --timeline -: standard output is for the audio (-o -); give a file"
    ]


def test_script_dash_o_dash_prints_the_cue_script(tmp_path: Path):
    r = CliRunner().invoke(main, ["script", "desk-break", "-o", "-"])
    assert r.exit_code == 0
    assert r.output.startswith("# matcue cue script 1\n")
    assert not (Path.cwd() / "-").exists()
