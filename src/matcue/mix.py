"""The mixer: Timeline + speech clips -> loudness-normalised PCM chunks.

The session is never held in memory whole (3 s chunks keep the working set to a
few MB; clips stay float32 as the engines deliver them). Each chunk is a fresh
float64 buffer covering absolute samples ``[c0, c1)``; speech clips, bells, the breath tone and
the bed are written into it by slicing at their sample offsets (no pydub
concatenation, so nothing drifts), then it is handed on.

Loudness needs the whole session before the first sample can be scaled. The
final gain comes from :mod:`matcue.loudness_model`, which works it out from the
timeline and the distinct clips without mixing the session (or from the cache
of gains, for a session rendered before). A user's bed file is not modelled:
then a measuring pass (:func:`_measured_gain`) mixes once and measures two
things at the same time, each meter in a thread of its own: the integrated
loudness of the raw mix (BS.1770-4 with gating), and that of the mix through
the limiter, whose gain starts where the speech's loudness suggests and then
follows the raw mix's running loudness (changes only at fixed marks, so
chunking does not matter). The output pass applies the gain, a short fade at
both ends and the look-ahead true-peak limiter, and yields the chunks (the
encoder runs in a thread of its own meanwhile), metering them as it goes so that a
miss is caught (:class:`MixStream`). Every ingredient is a pure function of
the absolute sample index or a stream whose state is carried across chunks,
so the output does not depend on the chunk size, and the same input always
gives the same samples.

Levels are relative to the speech: the speech clips are measured once, and the
bells, breath tone and bed are set that many LU below them, so a quiet or loud
voice does not change the balance.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from matcue.envelopes import breath_envelope, duck_envelope
from matcue.loudness import LoudnessMeter, OutputMeter, gated_loudness
from matcue.loudness_model import GainCache, SessionLoudness, session_key, solve_gain
from matcue.mixer import (
    MAX_GAIN_DB,
    Finisher,
    Mixer,
    MixSettings,
    final_pass,
)
from matcue.sounds import sound_length
from matcue.timeline import Timeline

log = logging.getLogger(__name__)

__all__ = [
    "MixSettings",
    "breath_envelope",
    "duck_envelope",
    "render_chunks",
    "sound_length",
]


class _Meter(Protocol):
    def add(self, chunk: np.ndarray) -> None: ...
    def integrated(self) -> float: ...


M = TypeVar("M", bound=_Meter)


class _MeterThread(Generic[M]):
    """A loudness meter fed through a small queue by a thread of its own: it runs
    beside the mixing (numpy releases the GIL in its FFTs). A weighted
    :class:`LoudnessMeter` also measures the stream times the gains given to
    :meth:`add_weights`."""

    def __init__(self, meter: M) -> None:
        self.meter = meter
        self._q: queue.Queue[tuple[bool, np.ndarray] | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._t = threading.Thread(target=self._run, name="mix-meter", daemon=True)
        self._t.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                self._q.task_done()
                return
            if self._error is None:
                try:
                    is_weights, data = item
                    if is_weights:
                        assert isinstance(self.meter, LoudnessMeter)
                        self.meter.add_weights(data)
                    else:
                        self.meter.add(data)
                except BaseException as exc:  # re-raised by result()
                    self._error = exc
            self._q.task_done()

    def sync(self) -> M:
        """Wait until everything added so far is measured; the meter, to read."""
        self._q.join()
        if self._error is not None:
            raise self._error
        return self.meter

    def add(self, chunk: np.ndarray) -> None:
        self._q.put((False, chunk))

    def add_weights(self, w: np.ndarray) -> None:
        self._q.put((True, w))

    def result(self) -> float:
        self._q.put(None)
        self._t.join()
        if self._error is not None:
            raise self._error
        return self.meter.integrated()

    def stop(self) -> None:
        if self._t.is_alive():
            self._q.put(None)
            self._t.join()


LIMITER_LOSS_CHECK_LU = 0.1
"""A limiter loss at least this large is not extrapolated: the gain is checked by
mixing and metering (it grows faster than linearly with the gain). It was 0.3 LU:
a loud steady tone under slower speech lost 0.25 LU at the first gain and 1 LU at
the extrapolated one, and the session came out at -19.9 LUFS for -19."""


def _measured_gain(mixer: Mixer, size: int, progress: Callable[[int], None] | None) -> float:
    """The final gain (dB) found by mixing and metering the whole session (pass 1).

    Used when the loudness model does not apply (a user's bed file) or is not
    wanted. ``progress`` gets each chunk's length, adding up to the session's.
    """
    settings = mixer.settings
    target = settings.resolved_target()
    # The limiter takes a little loudness off the peaks it catches, so the final gain
    # needs a measurement of the *limited* mix. Pass 1 mixes once and measures both the
    # raw mix and the mix through the limiter, each meter in a thread of its own. The
    # limiter's gain starts at what the speech suggests and follows the raw mix's
    # running loudness (updated every ~30 s, at fixed chunks, so the result is
    # deterministic); the loss is then measured against the same gain schedule.
    gain_now = min(MAX_GAIN_DB, target - mixer.speech_lufs)
    schedule: list[tuple[int, float]] = [(0, gain_now)]
    raw_meter = _MeterThread(LoudnessMeter(mixer.sr, mixer.ch, weighted=True))
    # Gain changes fall on fixed marks (every 300 sub-blocks, ~30 s): the gain from
    # mark i on comes from the raw loudness up to mark i - 1, which is measured by the
    # time a chunk reaches mark i (chunks are shorter than 30 s). So the schedule, and
    # the whole output, does not depend on the chunk size.
    step = raw_meter.meter.step
    spacing = 300 * step
    next_mark = 2 * spacing
    size = min(size, spacing)
    try:
        fin = Finisher(mixer, gain_now, track=True)
        peak = 0.0
        for c0, buf in mixer.chunks(size):
            while next_mark < c0 + len(buf):
                sub = raw_meter.sync().sub_block_energies()[: (next_mark - spacing) // step]
                so_far = gated_loudness(sub, step)
                if math.isfinite(so_far):
                    g = min(MAX_GAIN_DB, target - so_far)
                    if abs(g - gain_now) > 0.05:
                        gain_now = g
                        fin.set_gain(g, next_mark)
                        schedule.append((next_mark, g))
                next_mark += spacing
            raw_meter.add(buf)
            fin.process(c0, buf)
            raw_meter.add_weights(fin.multiplier)
            if len(buf):
                peak = max(peak, float(np.max(np.abs(buf))))
            if progress is not None:
                progress(len(buf))
        fin.flush()
        raw_meter.add_weights(fin.multiplier)
        raw = raw_meter.result()
    finally:
        raw_meter.stop()
    got_lim = gated_loudness(raw_meter.meter.weighted_sub_block_energies(), step)
    gain_db = min(MAX_GAIN_DB, target - raw) if math.isfinite(raw) else 0.0
    log.debug(
        "mix pass 1: %.2f LUFS raw, gain %.2f dB, speech ref %.2f LUFS",
        raw,
        gain_db,
        mixer.speech_lufs,
    )
    # The raw mix under the same gain schedule, without the limiter: the same sub-block
    # energies, scaled (K-weighting is linear; its memory spans 0.1 s across a change).
    sub = raw_meter.meter.sub_block_energies()
    at = np.array([c for c, _ in schedule])
    gdb = np.array([g for _, g in schedule])
    which = np.searchsorted(at, np.arange(len(sub)) * step, "right") - 1
    unlimited = gated_loudness(sub * 10.0 ** (gdb[which] / 10.0), step)
    ceiling = 10.0 ** ((settings.true_peak_db - 1.0) / 20.0)
    if math.isfinite(raw) and peak * 10.0 ** (gain_db / 20.0) > ceiling:
        got = got_lim
        log.debug(
            "mix pass 1, limited: gain %.2f..%.2f dB -> %.2f LUFS (%.2f unlimited)",
            float(gdb.min()),
            float(gdb.max()),
            got,
            unlimited,
        )
        prev: tuple[float, float] | None = None
        loss = math.inf
        if math.isfinite(got) and math.isfinite(unlimited):
            # What the limiter took at these gains, it takes (nearly) at a gain close by.
            loss = unlimited - got
            gain_db = min(MAX_GAIN_DB, target - raw + max(0.0, loss))
            prev = (gain_now, raw + gain_now - loss)  # a point for the secant below
        if prev is None or abs(gain_db - gain_now) > 1.0 or loss >= LIMITER_LOSS_CHECK_LU:
            # Too far from the estimate, or the limiter takes enough that its loss
            # grows faster than the gain (a loud steady bed under every word):
            # measure, with secant steps on loudness(gain) (limiting makes the slope
            # less than 1).
            slope = 1.0
            for attempt in range(3):
                check = LoudnessMeter(mixer.sr, mixer.ch)
                for out in final_pass(mixer, gain_db, size):
                    check.add(out)
                got = check.integrated()
                log.debug("mix check %d: gain %.2f dB -> %.2f LUFS", attempt, gain_db, got)
                if not math.isfinite(got) or abs(target - got) < 0.2:
                    break
                if prev is not None and gain_db != prev[0]:
                    measured_slope = (got - prev[1]) / (gain_db - prev[0])
                    # Loudness rises with gain: a slope that does not came from the
                    # first point being an estimate, so it says nothing.
                    slope = min(1.0, max(0.2, measured_slope)) if measured_slope > 0 else 1.0
                prev = (gain_db, got)
                gain_db = min(MAX_GAIN_DB, gain_db + (target - got) / slope)
    return gain_db


def render_chunks(
    timeline: Timeline,
    clips: Mapping[str, np.ndarray],
    settings: MixSettings,
    *,
    chunk_seconds: float = 3.0,
    progress: Callable[[float], None] | None = None,
    measure: bool = False,
) -> MixStream:
    """Mix the session; iterate the result for float32 chunks, ``(n,)`` mono or
    ``(n, 2)`` stereo.

    The chunks together are exactly ``timeline.length`` samples, integrated
    loudness on ``settings.resolved_target()`` (within about 0.1 LU) and true
    peak at most ``settings.true_peak_db``. ``clips`` maps each speech event's
    ``clip`` key to mono samples at the session rate (a ``Clip`` works too).

    The gain comes from the loudness model (:mod:`matcue.loudness_model`), or,
    with ``measure`` or a user's bed file, from mixing and metering the session
    once first. Either way the output is metered as it goes: once the stream is
    used up, :attr:`MixStream.measured_lufs` holds the loudness it really has.

    ``progress`` is called with the fraction of the mix's work done so far, rising
    to 1.0 with the last chunk: when the gain is measured, the measuring pass is
    the first half and the output the second; when the model (or the gain cache)
    gives it at once, the output chunks are all of it. (The extra gain correction
    pass, run only when the session's loudness is far from its speech's and the
    limiter works, reports nothing.)

    Raises :class:`InputError` for a bad bed or sound name or an unreadable bed
    file, :class:`RenderError` when a speech event's clip is missing.
    """
    size = max(1, int(round(chunk_seconds * timeline.sample_rate)))
    # Built now, not on the first next(), so a bad bed or clip fails at the call.
    mixer = Mixer(timeline, clips, settings)
    return MixStream(mixer, size, progress, measure)


class MixStream:
    """The finished session's chunks (iterate once), and how loud it came out."""

    def __init__(
        self,
        mixer: Mixer,
        size: int,
        progress: Callable[[float], None] | None,
        measure: bool,
    ) -> None:
        self._mixer = mixer
        self._size = size
        self._progress = progress
        self._done = 0
        """Samples of mixing work done (a measuring pass counts, then the output)."""
        self._work = mixer.length
        """Samples of mixing work in all: twice the session when the gain is measured."""
        self._measure = measure
        self.target_lufs = mixer.settings.resolved_target()
        self.gain_db: float | None = None
        self.modelled = False
        """True when the loudness model covers this session (else it is measured)."""
        self.measured_lufs: float | None = None
        """Integrated loudness of everything yielded; set once the stream is used up."""
        self.measured_gain = False
        """True when this stream found its gain by mixing and metering the session."""
        self._key: str | None = None
        self._cache: Any = None

    def forget_gain(self) -> None:
        """Drop this session's cached gain (the output missed its target with it)."""
        if self._key is not None and self._cache is not None:
            with contextlib.suppress(OSError):
                self._cache.path_for(self._key).unlink()

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._run()

    def off_target(self, tolerance: float = 0.5) -> bool:
        """The output missed the target by more than ``tolerance`` LU (known at the end)."""
        got = self.measured_lufs
        return got is not None and math.isfinite(got) and abs(got - self.target_lufs) > tolerance

    def _advance(self, n: int) -> None:
        self._done += n
        if self._progress is not None:
            self._progress(min(self._done / self._work, 1.0) if self._work else 1.0)

    def _gain(self) -> float:
        mixer = self._mixer
        cache = GainCache()
        key = session_key(mixer)
        self.modelled = SessionLoudness.covers(mixer) and not self._measure
        cached = None if self._measure else cache.get(key)
        if cached is not None:
            log.debug("gain %.2f dB from the cache", cached)
            gain_db = cached
        elif self.modelled:
            model = SessionLoudness(mixer)
            gain_db, expected = solve_gain(model, self.target_lufs, MAX_GAIN_DB)
            log.debug("loudness model: gain %.2f dB -> %.2f LUFS", gain_db, expected)
        else:
            self._work = 2 * mixer.length  # a measuring pass, then the output
            gain_db = _measured_gain(mixer, self._size, self._advance)
            self.measured_gain = True
        if cached is None:
            cache.put(key, gain_db, "model" if self.modelled else "measured")
        self._key, self._cache = key, cache
        return gain_db

    def _run(self) -> Iterator[np.ndarray]:
        mixer = self._mixer
        meter: _MeterThread[OutputMeter] | None = None
        try:
            gain_db = self.gain_db = self._gain()
            meter = _MeterThread(OutputMeter(mixer.sr, mixer.ch))  # the output check
            for out in final_pass(mixer, gain_db, self._size):
                np.clip(out, -1.0, 1.0, out=out)
                meter.add(out)
                chunk = out[:, 0] if mixer.ch == 1 else out
                chunk = chunk.astype(np.float32)
                self._advance(len(chunk))
                yield chunk
            self.measured_lufs = meter.result()
            log.debug("mix: %.2f LUFS measured at the output", self.measured_lufs)
        finally:
            if meter is not None:
                meter.stop()
            mixer.close()
