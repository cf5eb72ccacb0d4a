"""pyttsx3 clips are a pure function of (engine, version, settings, text).

Regression for espeak-ng's never-reset pitch-flutter phase (a function-level
static in wavegen.c): the same phrase spoken after other phrases came out
different from the same phrase spoken first, so renders depended on cache
warmth and on how phrases were spread over workers. Every phrase is now spoken
by a pristine espeak in a helper process; these tests check the samples, the
helpers' lifecycle and that nothing reaches the terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from matcue.errors import SpeechError
from matcue.speech import SpeechSettings
from matcue.speech.cache import ClipCache
from matcue.speech.pyttsx3_engine import Pyttsx3Engine
from matcue.speech.stretch import trim_silence
from matcue.speech.synth import Synthesizer

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

RATE = 44100
PHRASE = "Breathe in slowly."
OTHERS = [
    "Hello there friend, how are you today",
    "Round your back like a cat, and let the head drop.",
    "Rest.",
]
TEXTS = [PHRASE, *OTHERS] + [f"Soften the jaw, breath {n}." for n in range(6)]


def alive(pid: int) -> bool:
    """Running (a zombie whose parent has not reaped it yet counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_until_gone(pids: list[int], limit: float = 20.0) -> list[int]:
    """The pids still alive after up to ``limit`` seconds (not a timing assertion:
    the limit only keeps a failing test from hanging)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.fixture
def engine():  # type: ignore[no-untyped-def]
    engine = Pyttsx3Engine()
    yield engine
    engine.close()


def test_a_phrase_is_the_same_first_and_after_other_phrases(engine) -> None:  # type: ignore[no-untyped-def]
    first = engine.synthesize(PHRASE, SpeechSettings())
    for text in OTHERS:
        engine.synthesize(text, SpeechSettings(rate=150))
    after = engine.synthesize(PHRASE, SpeechSettings())
    assert np.array_equal(first.samples, after.samples)


def test_a_phrase_is_what_a_fresh_interpreter_says(engine) -> None:  # type: ignore[no-untyped-def]
    """Independent reference: raw pyttsx3 in a brand-new process, no matcue code."""
    for text in OTHERS:  # give this process a history first
        engine.synthesize(text, SpeechSettings())
    ours = engine.synthesize(PHRASE, SpeechSettings())
    from matcue.speech.espeak_lib import ensure_libespeak

    library = ensure_libespeak().split(":", 1)[1]
    code = textwrap.dedent(
        """
        import ctypes, contextlib, io, sys
        ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)
        import pyttsx3
        e = pyttsx3.init("espeak")
        with contextlib.redirect_stdout(io.StringIO()):
            e.save_to_file(sys.argv[2], sys.argv[3])
            e.runAndWait()
        """
    )
    import tempfile

    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "ref.wav")
        subprocess.run(
            [sys.executable, "-c", code, library, PHRASE, wav],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while not os.path.exists(wav) and time.monotonic() < deadline:
            time.sleep(0.01)
        ref, _ = sf.read(wav, dtype="float32")
    assert np.array_equal(ours.samples, trim_silence(ref, ours.sample_rate))


def test_forced_subprocess_fallback_gives_the_same_samples(engine) -> None:  # type: ignore[no-untyped-def]
    """The no-fork path (Windows, macOS) forced on Linux: a fresh interpreter per phrase."""
    fallback = Pyttsx3Engine(isolation="subprocess")
    try:
        a = fallback.synthesize(OTHERS[1], SpeechSettings(rate=170, volume=0.8))
        b = fallback.synthesize(PHRASE, SpeechSettings())
        assert fallback.helper_pids() == []  # one process per phrase, already gone
    finally:
        fallback.close()
    assert np.array_equal(
        a.samples, engine.synthesize(OTHERS[1], SpeechSettings(rate=170, volume=0.8)).samples
    )
    assert np.array_equal(b.samples, engine.synthesize(PHRASE, SpeechSettings()).samples)


def test_two_cold_synthesizers_in_different_orders_agree_exactly(tmp_path: Path) -> None:
    settings = SpeechSettings(rate=180)
    order_b = list(reversed(TEXTS))
    order_b[0], order_b[3] = order_b[3], order_b[0]
    with Synthesizer(settings, sample_rate=RATE, cache=ClipCache(tmp_path / "a"), workers=2) as a:
        a.prefetch(TEXTS)
        got_a = {t: a.get(t) for t in TEXTS}
    with Synthesizer(settings, sample_rate=RATE, cache=ClipCache(tmp_path / "b"), workers=1) as b:
        b.prefetch(order_b)
        got_b = {t: b.get(t) for t in order_b}
    # Inline, one by one, after a history of unrelated phrases.
    with Synthesizer(settings, sample_rate=RATE, cache=None, workers=0) as c:
        for text in OTHERS:
            c.get(text + " Again.")
        got_c = {t: c.get(t) for t in order_b}
    # Warm cache, filled by a different render.
    with Synthesizer(settings, sample_rate=RATE, cache=ClipCache(tmp_path / "a"), workers=2) as d:
        d.prefetch(TEXTS)
        got_d = {t: d.get(t) for t in TEXTS}
        assert d.stats.misses == 0
    for t in TEXTS:
        assert np.array_equal(got_a[t], got_b[t]), t
        assert np.array_equal(got_a[t], got_c[t]), t
        assert np.array_equal(got_a[t], got_d[t]), t


def test_nothing_reaches_stdout_or_stderr(tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=None, workers=2) as s:
        s.prefetch(TEXTS)
        for t in TEXTS:
            s.get(t)
        with pytest.raises(SpeechError):
            s.get("...")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@linux_only
def test_close_leaves_no_helper_processes() -> None:
    with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=None, workers=2) as s:
        s.prefetch(TEXTS)
        s.get(TEXTS[-1])
        pids = s.helper_pids()
        assert pids and all(alive(p) for p in pids)
    assert wait_until_gone(pids) == []
    assert s.helper_pids() == []


@linux_only
def test_keyboard_interrupt_kills_helpers() -> None:
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=None, workers=2) as s:
            s.prefetch(TEXTS)
            pids = s.helper_pids()
            raise KeyboardInterrupt
    assert wait_until_gone(pids) == []


LONG_TEXT = " ".join(["Let the breath move slowly through the whole of the back."] * 400)

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from matcue.speech import SpeechSettings
    from matcue.speech.synth import Synthesizer
    s = Synthesizer(SpeechSettings(), sample_rate=22050, cache=None, workers=2)
    s.prefetch([sys.argv[1] + f" {n}" for n in range(6)])
    while len(s.helper_pids()) < 2:
        time.sleep(0.01)
    print(*s.helper_pids(), flush=True)
    time.sleep(600)
    """
)


@linux_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_parent_leaves_no_zygotes_or_children(sig: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, LONG_TEXT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        zygotes = [int(p) for p in proc.stdout.readline().split()]
        assert len(zygotes) == 2
        # Each zygote is busy with a long phrase: find its forked child.
        children: list[int] = []
        end = time.monotonic() + 30
        while len(children) < 2 and time.monotonic() < end:
            children = [c for z in zygotes for c in children_of(z)]
            time.sleep(0.01)
        assert len(children) == 2
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert wait_until_gone(zygotes + children) == []


@linux_only
def test_a_crashing_child_is_an_error_naming_the_text(engine) -> None:  # type: ignore[no-untyped-def]
    result: dict[str, BaseException | None] = {}

    def speak() -> None:
        try:
            engine.synthesize(LONG_TEXT, SpeechSettings())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result["error"] = exc
        else:
            result["error"] = None

    engine.synthesize("Warm up.", SpeechSettings())  # the zygote is running
    (zygote,) = engine.helper_pids()
    worker = threading.Thread(target=speak)
    worker.start()
    child: list[int] = []
    end = time.monotonic() + 30
    while not child and time.monotonic() < end:
        child = children_of(zygote)
        time.sleep(0.005)
    assert child, "no child was forked"
    os.kill(child[0], signal.SIGSEGV)
    worker.join(timeout=60)
    assert not worker.is_alive()
    error = result["error"]
    assert isinstance(error, SpeechError)
    assert "Let the breath move slowly" in str(error) and "SIGSEGV" in str(error)
    # The zygote survives its child and goes on speaking.
    assert engine.helper_pids() == [zygote]
    assert len(engine.synthesize(PHRASE, SpeechSettings()).samples) > 1000


@linux_only
def test_a_dead_zygote_is_an_error_and_is_replaced(engine) -> None:  # type: ignore[no-untyped-def]
    engine.synthesize("Warm up.", SpeechSettings())
    (zygote,) = engine.helper_pids()
    os.kill(zygote, signal.SIGKILL)
    # Whether the pool notices the death before sending (and quietly starts a
    # new helper) or mid-request (an error naming the text) is a race; either
    # way speech goes on with a new helper.
    try:
        engine.synthesize("Rest here.", SpeechSettings())
    except SpeechError as exc:
        assert "Rest here" in str(exc)
    assert len(engine.synthesize("Rest here.", SpeechSettings()).samples) > 1000
    assert engine.helper_pids() != [zygote]
