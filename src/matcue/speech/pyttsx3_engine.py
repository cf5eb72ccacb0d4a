"""The default engine: pyttsx3 (espeak-ng on Linux, NSSpeech on macOS, SAPI5 on Windows).

pyttsx3 has faults that must never reach a user (see DESIGN.md, "Speech
engines"); this module is where they are contained:

- Several ``save_to_file`` calls queued before one ``runAndWait`` lose all but the
  last file, and ``runAndWait`` can return before the driver finished writing.
  -> exactly one utterance per run, into a fresh temporary file, then a bounded
  wait until the file is complete and parses with at least one frame.
- The espeak driver prints "Audio saved to ..." from its synthesis callback.
  -> stdout is redirected (Python-level and fd-level) while we synthesize.
- The espeak driver's WAV header says 22050 Hz whatever espeak produced.
  -> the real rate comes from espeak itself (``espeak_ng_GetSampleRate``).
- On macOS the nsss driver writes AIFF whatever the file extension says.
  -> the format is sniffed from the magic bytes and read with soundfile.
- A failed setting (e.g. an unknown voice) is reported through a callback and
  otherwise ignored. -> voices are checked up front; driver errors are collected.

- espeak-ng keeps state between utterances that is never reset (its pitch
  "flutter" phase), so a phrase's samples depended on what the process spoke
  before. -> every phrase is spoken by a pristine espeak in a helper process
  (a child forked from a zygote that never initialised espeak; a fresh
  interpreter where there is no fork): see :mod:`matcue.speech.helpers`. The
  faults above are handled in that child (:mod:`matcue.speech._tts_helper`);
  this process still loads the library, for voices, defaults and the version.

An empty, failed or silent clip is a SpeechError naming the text: never silence.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import soundfile as sf

from matcue.errors import EngineUnavailable, InputError, SpeechError
from matcue.speech.base import (
    DEFAULT_RATE,
    ESPEAK_WPM_FACTOR,
    Clip,
    SpeechSettings,
    Voice,
    check_rate,
    match_voice,
)
from matcue.speech.espeak_lib import ensure_libespeak
from matcue.speech.helpers import HelperPool, default_isolation
from matcue.speech.stretch import is_silent, trim_silence

logger = logging.getLogger(__name__)

WAIT_TIMEOUT_S = 30.0
"""How long to wait for the driver to finish one utterance's file."""

# pyttsx3 keeps one driver per process and per driver name, and is not
# thread-safe: every use goes through this lock.
_LOCK = threading.RLock()


@dataclass
class _DriverState:
    """The process-wide pyttsx3 engine and the events we listen to on it."""

    engine: Any
    driver: str
    finished: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    default_voice: str | None = None
    default_volume: float = 1.0
    library: str = ""


_STATE: _DriverState | None = None


def _default_driver() -> str:
    if sys.platform == "darwin":
        return "nsss"
    if sys.platform == "win32":
        return "sapi5"
    return "espeak"


def _driver_state() -> _DriverState:
    """Create (once per process) the pyttsx3 engine and hook its callbacks."""
    global _STATE
    with _LOCK:
        if _STATE is not None:
            return _STATE
        library = ensure_libespeak()
        try:
            import pyttsx3
        except ImportError as exc:  # pragma: no cover - pyttsx3 is a dependency
            raise EngineUnavailable(f"pyttsx3 is not installed: {exc}") from exc
        driver = _default_driver()
        try:
            with _quiet_stdout():
                engine = pyttsx3.init(driver)
        except Exception as exc:
            raise EngineUnavailable(
                f"pyttsx3 could not start its {driver!r} driver: {exc}"
            ) from exc
        state = _DriverState(engine=engine, driver=driver, library=library)
        engine.connect("finished-utterance", lambda **_kw: state.finished.set())

        def on_error(exception: BaseException | None = None, **_kw: object) -> None:
            state.errors.append(exception or RuntimeError("unknown pyttsx3 error"))

        engine.connect("error", on_error)
        if driver == "espeak":
            # Not getProperty(): the driver's own initial settings are still in
            # espeak's asynchronous queue, so reading them back races (measured:
            # 175 or 200 wpm at random). Use the values the driver sets.
            from pyttsx3.drivers import _espeak
            from pyttsx3.drivers.espeak import EspeakDriver

            _espeak.Synchronize()
            state.default_voice = EspeakDriver._defaultVoice or None
        else:
            with contextlib.suppress(Exception):
                state.default_voice = engine.getProperty("voice")
            with contextlib.suppress(Exception):
                state.default_volume = float(engine.getProperty("volume"))
        _STATE = state
        return state


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[io.StringIO]:
    """Swallow everything written to stdout, by Python code and at fd 1.

    The espeak driver ``print``s from its callback; C code could write to fd 1
    directly. What was printed is logged at debug level, not lost silently.
    """
    buf = io.StringIO()
    saved_fd: int | None = None
    devnull: int | None = None
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    try:
        saved_fd = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    except OSError:
        saved_fd = None
    try:
        with contextlib.redirect_stdout(buf):
            yield buf
    finally:
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
        if devnull is not None:
            os.close(devnull)
        if buf.getvalue():
            logger.debug("pyttsx3 said: %s", buf.getvalue().strip())


def _sniff_format(data: bytes) -> str:
    """Name the container from the magic bytes (the extension may lie)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "WAV"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    raise ValueError(f"unrecognised audio format (starts with {data[:12]!r})")


def _read_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a WAV/AIFF byte string to float32 mono and its header's rate."""
    _sniff_format(data)  # libsndfile reads the real container from the header
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples.mean(axis=1).astype(np.float32), int(rate)


def _espeak_version() -> str:
    with contextlib.suppress(Exception):
        from pyttsx3.drivers import _espeak

        return _espeak.Info(None).decode("utf-8", "replace")
    return "unknown"


class Pyttsx3Engine:
    """pyttsx3 behind matcue's Engine protocol, with its known faults contained."""

    name = "pyttsx3"

    def __init__(
        self, *, workers: int = 1, timeout: float = WAIT_TIMEOUT_S, isolation: str | None = None
    ) -> None:
        """``isolation``: "fork" (a zygote process forks a child per phrase; Linux)
        or "subprocess" (a fresh interpreter per phrase; everywhere, slower).
        Default: "fork" where available. ``workers``: phrases are spoken by one
        helper each, as many at once as the synthesizer asks."""
        self.timeout = timeout
        self.isolation = isolation or default_isolation()
        self._pool: HelperPool | None = None
        self._pool_lock = threading.Lock()
        self._resolved: dict[str, str] = {}

    def version(self) -> str:
        """pyttsx3's version, the driver, and on espeak the library version and kind."""
        state = _driver_state()
        parts = [f"pyttsx3 {metadata.version('pyttsx3')}", f"driver {state.driver}"]
        if state.driver == "espeak":
            kind = state.library.split(":", 1)[0] or "system"
            parts.append(f"espeak-ng {_espeak_version()} ({kind})")
            # The rate -> setting mapping is part of the output: a new calibration
            # must not hit clips spoken at the old speed.
            parts.append(f"rate factor {ESPEAK_WPM_FACTOR:g}")
        return "; ".join(parts)

    def voices(self, model: str | None = None) -> list[Voice]:
        """Every voice the driver reports, as matcue Voices (``model`` is ignored)."""
        state = _driver_state()
        with _LOCK, _quiet_stdout():
            raw = state.engine.getProperty("voices") or []
        result = []
        for v in raw:
            langs = tuple(
                lang.decode("utf-8", "replace") if isinstance(lang, bytes) else str(lang)
                for lang in (getattr(v, "languages", None) or [])
            )
            gender = getattr(v, "gender", None)
            result.append(
                Voice(id=str(v.id), name=str(v.name or v.id), languages=langs, gender=gender)
            )
        return result

    def default_rate(self) -> int:
        """Words per minute when no rate is chosen (for overrun advice)."""
        return DEFAULT_RATE

    def driver_rate(self, rate: int, state: _DriverState) -> int:
        """The driver's rate setting that speaks ``rate`` measured words per minute.

        eSpeak speaks faster than it is asked, so its setting is divided by
        :data:`~matcue.speech.base.ESPEAK_WPM_FACTOR`; the system voices of macOS
        and Windows take the rate as given."""
        if state.driver == "espeak":
            return max(1, int(round(rate / ESPEAK_WPM_FACTOR)))
        return int(rate)

    def describe(self, settings: SpeechSettings) -> dict[str, str]:
        voice = settings.voice or self.default_voice()
        return {"voice": voice or "default"}

    def default_voice(self) -> str | None:
        """The id of the voice used when none is chosen (for tags and transcripts)."""
        return _driver_state().default_voice

    def resolve_voice(self, voice: str) -> str:
        """Map a user's voice choice (id, short id such as ``en-us``, or name) to an id.

        Raises EngineUnavailable naming close matches and how to list voices.
        """
        resolved = self._resolved.get(voice)
        if resolved is None:
            resolved = self._resolved[voice] = match_voice(self.voices(), voice, self.name)
        return resolved

    def synthesize(self, text: str, settings: SpeechSettings) -> Clip:
        """Speak ``text`` into a trimmed float32 mono Clip at the engine's real rate.

        The phrase is spoken by a pristine speech library in a helper process
        (see :mod:`matcue.speech.helpers`), so the result depends only on the
        text and the settings, never on what this process spoke before.
        """
        if not text or not text.strip():
            raise SpeechError(f"cannot speak empty text {text!r}")
        _check_settings(settings)
        state = _driver_state()
        voice = self.resolve_voice(settings.voice) if settings.voice else state.default_voice
        rate = self.driver_rate(settings.rate if settings.rate is not None else DEFAULT_RATE, state)
        volume = settings.volume if settings.volume is not None else state.default_volume
        request = {
            "text": text,
            "voice": voice,
            "rate": int(rate),
            "volume": float(volume),
            "driver": state.driver,
            "timeout": self.timeout,
        }
        header, data = self._helper_pool(state).speak(request)
        if not header.get("ok"):
            raise SpeechError(f"pyttsx3 failed to speak {text!r}: {header.get('error')}")
        if header.get("said"):
            logger.debug("pyttsx3 said: %s", header["said"])
        try:
            samples, header_rate = _read_audio(data)
        except Exception as exc:
            raise SpeechError(f"pyttsx3 wrote unreadable audio for {text!r}: {exc}") from exc
        if len(samples) == 0:
            raise SpeechError(f"pyttsx3 gave no audio for {text!r}")
        rate_hz = int(header.get("rate") or 0) or header_rate
        if is_silent(samples):
            raise SpeechError(f"pyttsx3 produced only silence for {text!r}")
        samples = trim_silence(samples, rate_hz)
        return Clip(samples=np.ascontiguousarray(samples, dtype=np.float32), sample_rate=rate_hz)

    def _helper_pool(self, state: _DriverState) -> HelperPool:
        with self._pool_lock:
            if self._pool is None:
                library = state.library.split(":", 1)[1] if ":" in state.library else ""
                self._pool = HelperPool(library, isolation=self.isolation)
            return self._pool

    def helper_pids(self) -> list[int]:
        """Process ids of the running helper processes and their children (for tests)."""
        with self._pool_lock:
            return self._pool.pids() if self._pool is not None else []

    def close(self, *, kill: bool = False) -> None:
        """Stop the helper processes (also done at interpreter exit).

        ``kill`` stops a phrase in progress instead of letting it finish.
        """
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(kill=kill)


def _check_settings(settings: SpeechSettings) -> None:
    """Reject rate/volume values no engine could honour."""
    check_rate(settings.rate)
    if settings.volume is not None and not (0.0 < settings.volume <= 1.0):
        raise InputError(f"speech volume must be in (0, 1], got {settings.volume}")


__all__ = ["Pyttsx3Engine"]
