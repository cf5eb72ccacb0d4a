"""Safe to interrupt, deterministic, and a cache that survives corruption and
sharing. Every render here is a real ``matcue`` subprocess with real speech,
each with its own ``MATCUE_CACHE_DIR``; every wait is bounded and a child that
outlives its test is killed."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from matcue.atomic import STOP_SIGNALS
from matcue.speech.cache import decode_entry

TIMEOUT = 240
ROUTINE = "desk-break"
EARLIER = b"an earlier render that must survive\n" * 1000


def env_with_cache(cache: Path) -> dict[str, str]:
    return {**os.environ, "MATCUE_CACHE_DIR": str(cache)}


def render_command(out: Path, *extra: str) -> list[str]:
    """``matcue render ROUTINE -o OUT`` as a fresh interpreter runs it."""
    return [
        sys.executable,
        "-m",
        "matcue.cli",
        "render",
        ROUTINE,
        "-o",
        str(out),
        "--no-transcript",
        *extra,
    ]


def render(out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        render_command(out, *extra),
        env=env_with_cache(cache),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_entries(cache: Path) -> list[Path]:
    return sorted((cache / "clips").glob("*/*.clip"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One cold render of the routine: (the MP3, the cache it filled)."""
    base = tmp_path_factory.mktemp("reference")
    out, cache = base / "ref.mp3", base / "cache"
    r = render(out, cache)
    assert r.returncode == 0, r.stderr
    return out, cache


# ------------------------------------------------------------------ determinism


def test_warm_render_is_byte_identical_to_cold(reference: tuple[Path, Path], tmp_path: Path):
    ref, cache = reference
    n_entries = len(cache_entries(cache))
    assert n_entries > 5
    out = tmp_path / "warm.mp3"
    r = render(out, cache)
    assert r.returncode == 0, r.stderr
    assert sha(out) == sha(ref)
    assert len(cache_entries(cache)) == n_entries  # nothing synthesized again


def test_two_cold_caches_give_byte_identical_renders(reference: tuple[Path, Path], tmp_path):
    ref, _ = reference
    out = tmp_path / "cold.mp3"
    r = render(out, tmp_path / "fresh-cache")
    assert r.returncode == 0, r.stderr
    assert sha(out) == sha(ref)


# ------------------------------------------------------------------ the cache


def test_concurrent_renders_sharing_one_empty_cache(reference: tuple[Path, Path], tmp_path):
    ref, _ = reference
    cache = tmp_path / "shared"
    outs = [tmp_path / "a.mp3", tmp_path / "b.mp3"]
    procs = [
        subprocess.Popen(
            render_command(o),
            env=env_with_cache(cache),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for o in outs
    ]
    try:
        results = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "warning" not in err.lower(), err
    assert sha(outs[0]) == sha(outs[1]) == sha(ref)
    entries = cache_entries(cache)
    assert entries and not list((cache / "clips").glob("*/*.tmp"))
    for entry in entries:
        decode_entry(entry.read_bytes())  # every entry whole and valid


def _corrupt_three(cache: Path) -> tuple[Path, Path, Path]:
    """Truncate one entry, flip one byte of another's samples, empty a third."""
    entries = cache_entries(cache)
    truncated, flipped, emptied = entries[0], entries[1], entries[2]
    blob = truncated.read_bytes()
    truncated.write_bytes(blob[: len(blob) // 2])
    data = bytearray(flipped.read_bytes())
    data[-7] ^= 0x55  # one sample's byte: only the checksum can notice
    flipped.write_bytes(bytes(data))
    emptied.write_bytes(b"")
    return truncated, flipped, emptied


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory: pytest.TempPathFactory):
    """A render, three of its cache entries corrupted, and the render after that."""
    base = tmp_path_factory.mktemp("corrupt")
    cache = base / "cache"
    first, again = base / "first.mp3", base / "again.mp3"
    assert render(first, cache).returncode == 0
    bad = _corrupt_three(cache)
    r = render(again, cache)
    return first, again, bad, r


def test_corrupt_cache_entries_are_synthesized_again(reference, corrupted) -> None:
    ref, _ = reference
    first, again, (truncated, flipped, emptied), r = corrupted
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if "corrupt cached clip" in ln]
    assert any(str(truncated) in w and "truncated" in w for w in warnings), r.stderr
    assert any(str(flipped) in w and "checksum mismatch" in w for w in warnings), r.stderr
    assert any(str(emptied) in w and "truncated header" in w for w in warnings), r.stderr
    assert all(w.startswith("matcue: warning: ") for w in warnings)
    assert all(w.endswith("synthesizing again") for w in warnings)
    assert sha(again) == sha(first) == sha(ref)
    for entry in (truncated, flipped, emptied):
        decode_entry(entry.read_bytes())  # rewritten whole


def test_each_corrupt_entry_is_warned_about_once(corrupted) -> None:
    _, _, bad, r = corrupted
    warnings = [ln for ln in r.stderr.splitlines() if "corrupt cached clip" in ln]
    assert sorted(warnings) == sorted(set(warnings)) and len(warnings) == len(bad)


def test_an_unwritable_cache_is_warned_about_once(tmp_path: Path) -> None:
    """One warning per clip used to be printed (ten lines and more for a session). The
    cache folder cannot be made under a file, a real failure even for root."""
    (tmp_path / "afile").write_text("not a folder")
    cache = tmp_path / "afile" / "cache"
    cue = tmp_path / "s.cue"
    lines = "".join(f"Line number {n}.\n" for n in range(1, 7))
    cue.write_text(f"# matcue cue script 1\n@step One\n{lines}")
    r = subprocess.run(
        [sys.executable, "-m", "matcue.cli", "render", str(cue), "-o", str(tmp_path / "s.mp3")],
        env=env_with_cache(cache),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[:-1] == [
        f"matcue: warning: cannot write to the speech cache in {cache} (Not a directory); "
        "the render goes on, but its speech will be made again next time "
        "(set MATCUE_CACHE_DIR to a folder you can write)"
    ]
    assert r.stderr.splitlines()[-1].startswith(f"wrote {tmp_path / 's.mp3'}")


# ------------------------------------------------------------------ interruption


@pytest.fixture
def long_render(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A folder whose target already holds an earlier file, and the environment of
    a cache warmed for the long session (so the test waits on the mix, not speech)."""
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "session.mp3"
    target.write_bytes(EARLIER)
    yield folder, target, env_with_cache(tmp_path / "cache")


def _start(target: Path, env: dict[str, str], preexec=None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "matcue.cli",
            "render",
            "control",
            "--minutes",
            "20",
            "-o",
            str(target),
            "--no-transcript",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job in a terminal
        preexec_fn=preexec or _terminal_job_signals,
    )


def _terminal_job_signals() -> None:
    """Every stopping signal as a foreground terminal job has it. A suite started
    in the background by a non-interactive shell inherits SIGINT *ignored*, one
    started under nohup inherits SIGHUP ignored, and matcue rightly keeps an
    inherited ignore; without this the render would not see that signal (seen:
    renders ran to the end and exited 0, for SIGINT, and for SIGHUP in every
    .ci/run started with nohup)."""
    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)


def _wait_for(predicate, proc: subprocess.Popen[str], limit: float = TIMEOUT) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"matcue ended (exit {proc.returncode}) before the moment to interrupt")
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the moment to interrupt")
        time.sleep(0.02)


def _writing(folder: Path) -> bool:
    """The render has begun writing its audio: a temporary file with bytes in it. (The
    temporary files are made, empty, when the destinations are checked, before the
    speech and the mix.)"""
    for p in folder.iterdir():
        try:
            if p.name.endswith(".part") and p.stat().st_size > 0:
                return True
        except FileNotFoundError:  # gone between the listing and the look
            pass
    return False


def _interrupt_and_check(proc: subprocess.Popen[str], sig: int, folder: Path, target: Path):
    def send() -> None:
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
        else:
            os.kill(proc.pid, sig)  # kill PID reaches the main process only

    _stop_and_check(proc, send, folder, target)


def _stop_and_check(proc: subprocess.Popen[str], send, folder: Path, target: Path):
    try:
        send()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines() == ["matcue: interrupted; earlier files were left as they were."]
    assert target.read_bytes() == EARLIER
    assert sorted(p.name for p in folder.iterdir()) == ["session.mp3"]
    # No process of the render's group outlives it (speech helpers, pool workers).
    _group_ends(proc.pid, 10, "a child process of the interrupted render was left running")


def _group_ends(pgid: int, seconds: float, failure: str) -> None:
    """Wait until no process of group ``pgid`` is left; after ``seconds``, kill
    what is left and fail with ``failure``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            os.killpg(pgid, signal.SIGKILL)
            pytest.fail(failure)
        time.sleep(0.05)


@pytest.mark.parametrize(
    "sig",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGALRM],
    ids=["ctrl-c", "sigterm", "sighup", "sigquit", "sigusr1", "sigalrm"],
)
def test_interrupt_while_writing_keeps_earlier_file(long_render, sig: int) -> None:
    """Issue 14: HUP (the terminal closing), QUIT, USR1 and ALRM killed the render
    outright, leaving its .part file; every stopping signal must end as Ctrl-C does."""
    folder, target, env = long_render
    proc = _start(target, env)
    _wait_for(lambda: _writing(folder), proc)
    _interrupt_and_check(proc, sig, folder, target)


def _under_nohup() -> None:
    """Signals as ``nohup matcue render ...`` starts it: HUP ignored, the rest default."""
    _terminal_job_signals()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def test_a_render_under_nohup_survives_the_terminal_closing(long_render) -> None:
    """Issue 14: ``nohup matcue render`` must outlive its terminal. The terminal
    closing sends HUP to the whole job (the render, its pool workers and speech
    helpers); matcue keeps the inherited ignore, so the render completes and
    replaces the earlier file with a whole MP3."""
    folder, target, env = long_render
    proc = _start(target, env, preexec=_under_nohup)
    _wait_for(lambda: _writing(folder), proc)
    os.killpg(proc.pid, signal.SIGHUP)
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    assert err.splitlines()[-1].startswith(f"wrote {target}"), err
    data = target.read_bytes()
    assert data != EARLIER and data[:3] == b"ID3"
    assert sorted(p.name for p in folder.iterdir()) == ["session.mp3"]


def test_ctrl_c_pressed_again_and_again(long_render) -> None:
    """An impatient user keeps pressing Ctrl-C until the render ends: cleanup is
    not cut short and the render still ends with its one line and exit 130 (a
    Ctrl-C that landed after Python restored the default handlers at exit used
    to kill it by SIGINT, exit -2, after the line was printed)."""
    folder, target, env = long_render
    proc = _start(target, env)
    _wait_for(lambda: _writing(folder), proc)

    def press_until_it_ends() -> None:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:  # the group is gone between poll and kill
                break
            time.sleep(0.005)

    _stop_and_check(proc, press_until_it_ends, folder, target)


def test_interrupt_during_synthesis(long_render) -> None:
    """Ctrl-C while the speech helpers are at work (cold cache): same promise, and
    no helper process is left behind."""
    folder, target, env = long_render
    cache = Path(env["MATCUE_CACHE_DIR"])
    proc = _start(target, env)
    _wait_for(lambda: bool(cache_entries(cache)), proc)
    _interrupt_and_check(proc, signal.SIGINT, folder, target)


def test_a_batch_whose_parent_is_killed_leaves_no_worker(long_render) -> None:
    """Issue 14: SIGKILL of a batch's parent (which cannot clean up) left its workers
    rendering, and writing their files, with nobody to report to. Workers now get
    SIGTERM when the parent dies (PR_SET_PDEATHSIG): they remove their .part files
    and end, and nothing is written afterwards."""
    folder, target, env = long_render
    proc = subprocess.Popen(
        [sys.executable, "-m", "matcue.cli", "render", "control", "thaw", "--minutes", "20"]
        + ["-o", f"{folder}/", "--no-transcript"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_terminal_job_signals,
    )
    try:
        _wait_for(lambda: _writing(folder), proc)
        proc.kill()  # the parent only; its workers are in the same group
        # Its workers hold the output pipes until they have cleaned up and ended: on
        # a loaded machine (the full suite under .ci/run) that once took over 30 s.
        proc.communicate(timeout=TIMEOUT)
        _group_ends(proc.pid, 30, "a worker outlived its killed parent")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    assert sorted(p.name for p in folder.iterdir()) == ["session.mp3"]
    assert target.read_bytes() == EARLIER
