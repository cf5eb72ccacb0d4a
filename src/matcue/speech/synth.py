"""Turn a render's phrases into processed clips: cached, deduplicated, in parallel.

``Synthesizer`` is what the pipeline talks to. It hands out each distinct
phrase as float32 mono samples at the render's sample rate, trimmed of
leading/trailing silence. A phrase is synthesized at most once per render: from
the disk cache if possible, else by a worker process (``prefetch``) or inline
(``get``), then stored in the cache.

Synthesis runs on ``workers`` threads sharing one engine. Engines keep the
speech library out of this process where it has state (pyttsx3 speaks each phrase
in a pristine forked helper, espeak-ng runs a program per phrase, piper has its
own process), so a thread mostly waits on a pipe, and several phrases are
spoken at once by several helper processes. Each clip is a pure function of the
engine, its version, the settings and the text: the same phrase comes out the
same whether it is spoken first, after others, on any worker, or in another
render.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

import numpy as np
import soxr

from matcue.errors import MatcueError, SpeechError
from matcue.loudness import TruePeakLimiter, integrated_loudness, true_peak_db
from matcue.speech.base import Clip, Engine, SpeechSettings
from matcue.speech.cache import ClipCache
from matcue.speech.registry import get_engine
from matcue.speech.stretch import trim_silence

logger = logging.getLogger(__name__)

PROCESSING_VERSION = "trim-45/60dB-10ms-fades+soxr-HQ+norm-23LUFS+peak-7dBTP/6"
"""Part of every cache key: change it whenever ``process_clip`` or the way engines
are driven changes output. /2: every pyttsx3 phrase is spoken by a pristine
espeak (entries from the history-dependent /1 synthesizer are never reused).
/4: fades at the trim points, the tail found at -60 dB, each clip normalised.
/6: each clip's peaks limited to :data:`CLIP_PEAK_DBTP`."""

CLIP_LOUDNESS_LUFS = -23.0
"""Every processed clip is brought to this loudness (BS.1770), whatever the engine:
an engine's level varies from phrase to phrase (piper scales each sentence to full
scale, measured: 1.35 LU SD and 6.2 LU range over a session), and the listener
should hear every cue at the session's speech level. The mix sets the final level."""

CLIP_PEAK_DBTP = -7.0
"""A processed clip's true peak stays under this (a clip is limited to it, then
brought back to :data:`CLIP_LOUDNESS_LUFS`). The session's gain then lifts speech
by about 4 dB (mono: -19 LUFS integrated over speech at -23) without reaching the
session limiter's -1 dBTP. Without it a Joe phrase with a sharp peak (16-21 dB
above its loudness, measured) was limited in the mix and came out up to 2 LU
quieter than the session's speech: 12 of the 763 cues of the built-in routines
were outside +-1 LU of it."""

PEAK_PASSES = 6
"""At most this many rounds of limiting and bringing the loudness back (two or
three reach the ceiling with the built-in engines)."""

GATE_S = 0.4
"""BS.1770 measures 400 ms blocks: a shorter clip is measured repeated to this length."""

INLINE_MAX = 4
"""Up to this many phrases to synthesize, starting worker processes costs more
than it saves: they are synthesized inline when asked for."""


@dataclass
class SynthStats:
    """Per-render counts of distinct phrases: from the disk cache, or synthesized."""

    hits: int = 0
    misses: int = 0


def clip_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """BS.1770 integrated loudness of a clip (LUFS); a clip shorter than one 400 ms
    block is measured repeated, i.e. its K-weighted mean power."""
    n = int(math.ceil(GATE_S * sample_rate))
    if 0 < len(samples) < n:
        samples = np.tile(samples, int(math.ceil(n / len(samples))) + 1)
    return float(integrated_loudness(samples, sample_rate))


def limit_peaks(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """``samples`` with their true peak limited to :data:`CLIP_PEAK_DBTP` (the
    session's look-ahead limiter, run over the clip; unchanged where no peak
    reaches it)."""
    limiter = TruePeakLimiter(sample_rate, 1, CLIP_PEAK_DBTP)
    if samples.size == 0 or limiter.passes_unchanged(float(np.max(np.abs(samples)))):
        return samples
    x = samples.astype(np.float64)
    out = np.concatenate([limiter.process(x), limiter.flush()])[limiter.delay :]
    return out.astype(np.float32)


def normalise(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """``samples`` at :data:`CLIP_LOUDNESS_LUFS` (never past full scale: a clip that
    would clip is brought to its peak instead; speech has a crest factor well under
    the 23 dB this leaves, so that does not happen with the built-in engines)."""
    loudness = clip_loudness(samples, sample_rate)
    if not math.isfinite(loudness):
        return samples
    gain = 10.0 ** ((CLIP_LOUDNESS_LUFS - loudness) / 20.0)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak * gain > 1.0:
        gain = 1.0 / peak
    return (samples * np.float32(gain)).astype(np.float32)


def process_clip(clip: Clip, sample_rate: int) -> np.ndarray:
    """Trim ``clip``, resample it to ``sample_rate`` and normalise its loudness:
    float32 mono in [-1, 1]."""
    samples = trim_silence(np.asarray(clip.samples, dtype=np.float32), clip.sample_rate)
    if clip.sample_rate != sample_rate:
        # libsoxr, as for bed files: faster and more accurate than our polyphase
        # filter (docs/performance.md), and it keeps the clip's length in step
        # with the rates (round(n * dst / src) samples).
        samples = soxr.resample(samples, int(clip.sample_rate), int(sample_rate), quality="HQ")
    samples = normalise(np.clip(samples, -1.0, 1.0).astype(np.float32), sample_rate)
    for _ in range(PEAK_PASSES):  # limiting lowers the loudness: bring it back, limit again
        if true_peak_db(samples) <= CLIP_PEAK_DBTP + 0.25:
            break
        samples = normalise(limit_peaks(samples, sample_rate), sample_rate)
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def _synthesize_one(engine: Engine, text: str, settings: SpeechSettings, rate: int) -> np.ndarray:
    """Synthesize and process one phrase; any failure becomes a MatcueError naming it."""
    try:
        clip = engine.synthesize(text, settings)
    except MatcueError:
        raise
    except Exception as exc:
        raise SpeechError(f"{engine.name} failed to speak {text!r}: {exc}") from exc
    return process_clip(clip, rate)


class Synthesizer:
    """Phrases -> processed clips for one render. Use as a context manager."""

    def __init__(
        self,
        settings: SpeechSettings,
        *,
        sample_rate: int,
        cache: ClipCache | None,
        workers: int = 2,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.settings = settings
        self.sample_rate = int(sample_rate)
        self.cache = cache
        self.workers = max(0, int(workers))
        self.engine: Engine = get_engine(
            settings.engine, workers=max(1, self.workers), voice=settings.voice
        )
        self.stats = SynthStats()
        self._engine_version: str | None = None
        self._clips: dict[str, np.ndarray] = {}
        self._futures: dict[str, Future[np.ndarray]] = {}
        self._missed: set[str] = set()  # texts prefetch() found missing from the cache
        self._pool: ThreadPoolExecutor | None = None

    # -- keys and cache

    def _version(self) -> str:
        """Engine version, plus the model file's size and mtime when there is one
        (a replaced voice model must not hit old entries)."""
        if self._engine_version is None:
            version = self.engine.version()
            if self.settings.model:
                try:
                    st = os.stat(self.settings.model)
                    version += f"; model {st.st_size}:{st.st_mtime_ns}"
                except OSError:
                    pass
            self._engine_version = version
        return self._engine_version

    def key(self, text: str) -> str:
        """The cache key of ``text`` under this synthesizer's settings."""
        return ClipCache.key(
            self.engine.name,
            self._version(),
            self.settings,
            text,
            self.sample_rate,
            PROCESSING_VERSION,
        )

    def _from_cache(self, text: str) -> np.ndarray | None:
        if self.cache is None:
            return None
        samples = self.cache.get(self.key(text))
        if samples is not None:
            self.stats.hits += 1
            self._store(text, samples, to_cache=False)
        return samples

    def _store(self, text: str, samples: np.ndarray, *, to_cache: bool) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        samples.flags.writeable = False  # shared by every use of the phrase
        self._clips[text] = samples
        if to_cache and self.cache is not None:
            self.cache.put(self.key(text), samples, self.sample_rate)
        return samples

    # -- public API

    def prefetch(self, texts: Iterable[str]) -> None:
        """Start synthesizing the distinct, uncached ``texts`` in the background.

        Cached phrases are loaded now. With more than :data:`INLINE_MAX` phrases
        left (and ``workers`` > 0) they are handed to the worker pool; a handful
        is left to be synthesized inline by :meth:`get`.
        """
        todo: list[str] = []
        for text in dict.fromkeys(texts):
            if text in self._clips or text in self._futures:
                continue
            if not text or not text.strip():
                raise SpeechError(f"cannot speak empty text {text!r}")
            if self._from_cache(text) is None:
                self._missed.add(text)  # so get() does not read (and warn about) it again
                todo.append(text)
        if len(todo) <= INLINE_MAX or self.workers == 0:
            return
        pool = self._ensure_pool()
        for text in todo:
            self._futures[text] = pool.submit(
                _synthesize_one, self.engine, text, self.settings, self.sample_rate
            )
        logger.debug("prefetching %d phrases on %d workers", len(todo), self.workers)

    def get(self, text: str) -> np.ndarray:
        """The processed clip for ``text`` (read-only float32 at ``sample_rate``)."""
        clip = self._clips.get(text)
        if clip is not None:
            return clip
        future = self._futures.pop(text, None)
        if future is not None:
            try:
                samples = future.result()
            except MatcueError:
                raise
            except Exception as exc:
                raise SpeechError(f"speech failed for {text!r}: {exc}") from exc
            self.stats.misses += 1
            return self._store(text, samples, to_cache=True)
        cached = None if text in self._missed else self._from_cache(text)
        if cached is not None:
            return self._clips[text]
        samples = _synthesize_one(self.engine, text, self.settings, self.sample_rate)
        self.stats.misses += 1
        return self._store(text, samples, to_cache=True)

    # -- lifecycle

    def _ensure_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.workers, thread_name_prefix="matcue-synth"
            )
        return self._pool

    def helper_pids(self) -> list[int]:
        """Process ids of the engine's helper processes (for tests: none may outlive close)."""
        return list(self.engine.helper_pids())

    def close(self, *, terminate: bool = False) -> None:
        """Stop the workers and the engine's helper processes; pending work is cancelled.

        ``terminate`` (used on KeyboardInterrupt) kills the helpers instead of
        letting a phrase in progress finish, so nothing is left hanging.
        """
        pool, self._pool = self._pool, None
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        if terminate:
            # First: threads blocked on a helper's reply get an error at once.
            self.engine.close(kill=True)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.engine.close(kill=terminate)
        if self.cache is not None and not terminate and self.stats.misses:
            self.cache.evict()  # the cap holds after every render that added clips

    def __enter__(self) -> Synthesizer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(terminate=exc_type is not None and issubclass(exc_type, KeyboardInterrupt))


__all__ = [
    "CLIP_LOUDNESS_LUFS",
    "PROCESSING_VERSION",
    "SynthStats",
    "Synthesizer",
    "clip_loudness",
    "process_clip",
]
