"""Attacks on matcue's outputs: nothing a user had is lost (issue 14).

Each test is an attack that lost a file on the version before issue 14: an
output naming an input (directly, through a symlink, or as the transcript that
goes beside the audio), two outputs that are one file through a symlinked
folder, special files at the target, a read-only target. The short cue script
renders in well under a second with pyttsx3.
"""

from __future__ import annotations

import os
import stat
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
    _refused(code, lines, "transcript", "x.vtt", "--no-transcript")
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


# ------------------------------------------------------------ special files at the target


@pytest.fixture
def cue(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.cue"
    path.write_text(CUE, encoding="utf-8")
    return path


def test_output_to_a_character_device_writes_through_it(cue: Path, tmp_path: Path):
    """As root, --timeline /dev/null replaced the system's /dev/null with a regular
    file. A private null device stands in for it here."""
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device needs root")
    code, lines = _run("render", cue, "-o", null, "--timeline", null)
    assert code == 0, lines
    assert stat.S_ISCHR(os.stat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "tiny.cue"]


def test_output_to_dev_null_works_and_writes_nothing_beside_it(cue: Path, tmp_path: Path):
    code, lines = _run("render", cue, "-o", "/dev/null")
    assert code == 0, lines
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not Path("/dev/null.vtt").exists()


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_output_to_a_fifo_streams_into_it(cue: Path, tmp_path: Path, fmt: str):
    import threading

    fifo = tmp_path / f"pipe.{fmt}"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, lines = _run("render", cue, "-o", fifo)
    reader.join(timeout=60)
    assert code == 0, lines
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    data = got[0]
    assert data[:4] == (b"ID3\x03" if fmt == "mp3" else b"RIFF")
    if fmt == "wav":
        import io

        import soundfile as sf

        audio, rate = sf.read(io.BytesIO(data))
        assert len(audio) > rate // 2
    assert not (tmp_path / "pipe.vtt").exists()


def test_a_symlink_at_the_target_stays_and_its_target_is_replaced(cue: Path, tmp_path: Path):
    real = tmp_path / "store" / "real.mp3"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "out.mp3"
    link.symlink_to(real)
    code, lines = _run("render", cue, "-o", link, "--no-transcript")
    assert code == 0, lines
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes()[:3] == b"ID3"
    assert [p.name for p in real.parent.iterdir()] == ["real.mp3"]  # no .part left


def test_a_read_only_target_is_refused_and_kept(cue: Path, tmp_path: Path):
    out = tmp_path / "kept.mp3"
    out.write_bytes(b"mine")
    out.chmod(0o444)
    code, lines = _run("render", cue, "-o", out)
    _refused(code, lines, "-o", "kept.mp3", "read-only")
    assert out.read_bytes() == b"mine" and stat.S_IMODE(out.stat().st_mode) == 0o444


def test_a_replaced_file_keeps_its_permissions(cue: Path, tmp_path: Path):
    out = tmp_path / "private.mp3"
    out.write_bytes(b"old")
    out.chmod(0o600)
    code, lines = _run("render", cue, "-o", out)
    assert code == 0, lines
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_bytes()[:3] == b"ID3"


# ------------------------------------------------------------ a full disk


@pytest.mark.parametrize(
    "args",
    [["-o", "/dev/full"], ["-o", "/dev/full", "--format", "wav"], ["--timeline", "/dev/full"]],
    ids=["mp3", "wav", "timeline"],
)
def test_a_full_disk_is_one_line_and_nothing_is_replaced(cue: Path, tmp_path: Path, args):
    """/dev/full fails every write with ENOSPC, as a full disk does: before issue 14,
    a traceback."""
    out = tmp_path / "kept.mp3"
    out.write_bytes(b"mine")
    if args[0] == "--timeline":
        args = ["-o", str(out), *args]
    code, lines = _run("render", cue, *args)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("matcue: cannot write ") and "No space left on device" in lines[0]
    assert out.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.mp3", "tiny.cue"]


def test_a_cue_script_written_to_a_full_disk(cue: Path):
    code, lines = _run("script", cue, "-o", "/dev/full")
    assert code == 1
    assert lines == [
        "matcue: cannot write /dev/full: No space left on device; "
        "earlier files were left as they were"
    ]


def _file_size_limit() -> None:
    """A limit on the size of any file the process writes (RLIMIT_FSIZE): a write past
    it fails with EFBIG, as a disk that fills during a render fails with ENOSPC.

    The limit sits between the largest file the speech engine must write (eSpeak's
    temporary WAV of desk-break's longest cue, 16 words: over 300 kB at the calm rate
    of issue 11, 16-bit 22.05 kHz, so 300_000 made the engine fail first) and the
    session's MP3 (about 1.3 MB), so it is the render's output that hits it."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, 600_000))


def test_a_disk_that_fills_during_the_render_leaves_the_earlier_file(tmp_path: Path):
    """Issue 14: /dev/full fails the first write; here the render's own temporary
    file (the .part beside the target) grows until a write fails, the way a disk fills
    part-way through a session. One line, no .part left, the earlier file intact.
    (Before, the error reached the user as 'the MP3 encoder failed: [Errno 27] ...',
    naming no file: the encoder thread's OSError was wrapped as an encoder fault.)"""
    import os
    import subprocess
    import sys

    out = tmp_path / "session.mp3"
    out.write_bytes(b"mine")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "matcue.cli",
            "render",
            "desk-break",
            "-o",
            str(out),
            "--no-transcript",
        ],
        env={**os.environ, "MATCUE_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=240,
        preexec_fn=_file_size_limit,
    )
    lines = r.stderr.splitlines()
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[-1] == (
        f"matcue: cannot write -o {out}: File too large; earlier files were left as they were"
    )
    # The limit may also stop a large speech clip going to the cache: a warning, once.
    assert all("cannot write to the speech cache" in line for line in lines[:-1]), lines
    assert out.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "session.mp3"]
