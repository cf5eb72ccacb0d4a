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
import tempfile
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


# What pyttsx3's espeak driver sets up in a fresh process: the voice, rate and
# volume it applies in its __init__ (read there, not from matcue).
PYTTSX3_DEFAULTS = """
import ctypes, json, sys
ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)
import pyttsx3
from pyttsx3.drivers.espeak import EspeakDriver
e = pyttsx3.init("espeak")
print(json.dumps([EspeakDriver._defaultVoice, e.getProperty("rate"), e.getProperty("volume")]))
"""

# libespeak-ng alone, in synchronous mode: no pyttsx3, no threads, no matcue.
# (pyttsx3 uses espeak's asynchronous mode, whose raw use raced twice here: a
# file not yet written when the process ended, and once on a loaded CI machine
# a phrase spoken at espeak's own 175 wpm instead of the 200 pyttsx3 had set.)
RAW_ESPEAK = """
import ctypes, sys, wave
library, text, out, voice, rate, volume = sys.argv[1:7]
lib = ctypes.CDLL(library)
callback_type = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
chunks = []
def on_audio(wav, count, events):
    if count > 0:
        chunks.append(ctypes.string_at(wav, count * 2))
    return 0
callback = callback_type(on_audio)
sample_rate = lib.espeak_Initialize(2, 1000, None, 0)  # AUDIO_OUTPUT_SYNCHRONOUS
assert sample_rate > 0, sample_rate
lib.espeak_SetSynthCallback.argtypes = [callback_type]
lib.espeak_SetSynthCallback(callback)
assert lib.espeak_SetVoiceByName(voice.encode()) == 0
assert lib.espeak_SetParameter(1, int(rate), 0) == 0  # espeakRATE
assert lib.espeak_SetParameter(2, round(float(volume) * 100), 0) == 0  # espeakVOLUME
data = text.encode()
flags = 0x1000 | 1  # espeakENDPAUSE | espeakCHARS_UTF8, as pyttsx3 passes
assert lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, flags, None, None) == 0
assert lib.espeak_Synchronize() == 0
with wave.open(out, "wb") as f:
    f.setnchannels(1)
    f.setsampwidth(2)
    f.setframerate(sample_rate)
    f.writeframes(b"".join(chunks))
"""


def test_a_phrase_is_what_a_fresh_interpreter_says(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Independent reference: libespeak-ng driven directly in a brand-new process,
    with the settings a fresh pyttsx3 applies; no matcue code."""
    import json

    import soundfile as sf

    from matcue.speech.espeak_lib import ensure_libespeak
    from matcue.speech.pyttsx3_engine import ESPEAK_WPM_FACTOR

    library = ensure_libespeak().split(":", 1)[1]

    def fresh(code: str, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code, library, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout

    voice, rate, volume = json.loads(fresh(PYTTSX3_DEFAULTS).strip().splitlines()[-1])
    # matcue asks eSpeak for the rate that speaks the measured words per minute
    # (issue 11); ask it for the rate a fresh pyttsx3 applies, to compare like with like.
    settings = SpeechSettings(rate=round(rate * ESPEAK_WPM_FACTOR))
    for text in OTHERS:  # give this process a history first
        engine.synthesize(text, settings)
    ours = engine.synthesize(PHRASE, settings)
    wav = tmp_path / "ref.wav"
    fresh(RAW_ESPEAK, PHRASE, str(wav), voice, str(rate), str(volume))
    ref, ref_rate = sf.read(wav, dtype="float32")
    assert ref_rate == ours.sample_rate
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


def wait_until_empty(folder: Path, timeout: float = 30.0) -> list[str]:
    end = time.monotonic() + timeout
    while True:
        left = sorted(p.name for p in folder.iterdir())
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


@linux_only
def test_close_leaves_no_helper_processes(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Also guards the bug where helpers left empty matcue-tts-* folders behind."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=None, workers=2) as s:
        s.prefetch(TEXTS)
        s.get(TEXTS[-1])
        pids = s.helper_pids()
        assert pids and all(alive(p) for p in pids)
        assert [p.name[:11] for p in scratch.iterdir()] == ["matcue-tts-"]
    assert wait_until_gone(pids) == []
    assert s.helper_pids() == []
    assert wait_until_empty(scratch) == []


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
def test_a_killed_parent_leaves_no_zygotes_or_children(sig: int, tmp_path: Path) -> None:
    """Also guards the bug where a killed parent left empty matcue-tts-* folders."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, LONG_TEXT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
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
    assert wait_until_empty(scratch) == []


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


class FakeEspeakLibrary:
    """A fake of libespeak-ng's parameter store (only for the settings check):
    it ignores the first ``drop`` rate settings, as raw pyttsx3 once did on CI."""

    def __init__(self, drop: int) -> None:
        self.values = {1: 175, 2: 100}
        self.drop = drop
        store = self.values

        class GetParameter:  # a C function stand-in: takes restype/argtypes
            def __call__(self, param: int, current: int) -> int:
                return store[param]

        self.espeak_GetParameter = GetParameter()

    def set(self, name: str, value: object) -> None:
        if name == "rate" and self.drop > 0:
            self.drop -= 1
            return
        scale = 1 if name == "rate" else 100
        self.values[1 if name == "rate" else 2] = round(float(value) * scale)  # type: ignore[arg-type]


@pytest.mark.parametrize("drop, ok", [(0, True), (1, True), (2, True), (3, False)])
def test_a_rate_espeak_did_not_take_is_set_again_or_reported(monkeypatch, drop, ok) -> None:  # type: ignore[no-untyped-def]
    from matcue.speech import _tts_helper
    from matcue.speech.espeak_lib import ensure_libespeak

    ensure_libespeak()
    from pyttsx3.drivers import _espeak

    fake = FakeEspeakLibrary(drop)
    monkeypatch.setattr(_espeak, "dll", fake)
    monkeypatch.setattr(_espeak, "Synchronize", lambda: 0)
    wanted = [("voice", None), ("rate", 200), ("volume", 0.5)]
    for name, value in wanted[1:]:
        fake.set(name, value)
    if ok:
        _tts_helper._confirm_espeak_settings(fake.set, wanted)
        assert fake.values == {1: 200, 2: 50}
    else:
        with pytest.raises(RuntimeError, match="did not take the rate"):
            _tts_helper._confirm_espeak_settings(fake.set, wanted)
