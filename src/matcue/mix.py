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
encoder runs in another process meanwhile), metering them as it goes so that a
miss is caught (:class:`MixStream`). Every ingredient is a pure function of
the absolute sample index or a stream whose state is carried across chunks,
so the output does not depend on the chunk size, and the same input always
gives the same samples.

Levels are relative to the speech: the speech clips are measured once, and the
bells, breath tone and bed are set that many LU below them, so a quiet or loud
voice does not change the balance.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcue.envelopes import (
    breath_envelope,
    breath_segments,
    duck_envelope,
    edge_fades,
)
from matcue.errors import InputError, RenderError
from matcue.loudness import (
    LoudnessMeter,
    TruePeakLimiter,
    gated_loudness,
    integrated_loudness,
)
from matcue.sounds import (
    BED_NAMES,
    NoiseBed,
    get_sound,
    load_bed_file,
    sound_length,
    tone,
)
from matcue.timeline import Timeline

log = logging.getLogger(__name__)

__all__ = [
    "MixSettings",
    "breath_envelope",
    "duck_envelope",
    "render_chunks",
    "sound_length",
]

MONO_TARGET_LUFS = -19.0
STEREO_TARGET_LUFS = -16.0
DEFAULT_SPEECH_LUFS = -23.0
"""Reference level used when a session has no measurable speech."""
MAX_GAIN_DB = 40.0
"""Never amplify by more than this (a near-silent session stays near-silent)."""


@dataclass
class MixSettings:
    """How a session is mixed. Levels marked *relative* are LU against the speech."""

    chime: bool = True
    """Play sound events (bells). Off: sound events are silent."""
    breath_tone: bool = False
    """A quiet tone that swells through each inhale and fades through each exhale."""
    bed: str | None = None
    """Background bed: ``pink``, ``brown`` (generated noise) or the path of an audio file."""
    bed_volume_db: float = -24.0
    """Relative loudness of the bed. -24 LU sits well under the voice: heard in the pauses,
    never competing with words (and ducked a further ``duck_db`` under them)."""
    speech_volume: float = 1.0
    """The voice's level against bells, bed and tone, 0 < v <= 1 (``--volume``). Their
    relative levels are set against the speech at volume 1, and the whole session is
    then brought to the loudness target: a lower volume lowers the voice under the
    rest (without bells, bed or tone there is nothing to lower it under)."""
    channels: int = 1
    """1 (mono) or 2 (stereo: speech and bells centred, a generated bed decorrelated L/R)."""
    target_lufs: float | None = None
    """Integrated loudness target; None = -19 LUFS for mono, -16 LUFS for stereo."""
    true_peak_db: float = -1.0
    """Ceiling for the true peak (dBTP, 4x oversampled)."""
    fade_in: float = 0.05
    """Seconds of fade at the very start of the session (takes the edge off a bed)."""
    fade_out: float = 0.5
    """Seconds of fade at the very end."""
    chime_db: float = -6.0
    """Relative loudness of a bell (plus each sound event's own ``gain_db``)."""
    breath_tone_db: float = -18.0
    """Relative loudness of the breath tone at the top of an inhale."""
    duck_db: float = 10.0
    """How far the bed is lowered under speech."""
    duck_attack: float = 0.25
    """Seconds over which the bed goes down before speech starts (done by the first word)."""
    duck_release: float = 0.6
    """Seconds over which the bed comes back after speech ends."""
    bed_fade: float = 3.0
    """Seconds the bed takes to fade in at the start and out at the end."""

    def resolved_target(self) -> float:
        """The integrated loudness the session is normalised to, in LUFS."""
        if self.target_lufs is not None:
            return float(self.target_lufs)
        return STEREO_TARGET_LUFS if self.channels == 2 else MONO_TARGET_LUFS


# --- calibration (loudness of generated material, cached) ------------------------


@functools.lru_cache(maxsize=32)
def _sound_loudness(name: str, sample_rate: int) -> float:
    return integrated_loudness(np.asarray(get_sound(name, sample_rate), np.float64), sample_rate)


@functools.lru_cache(maxsize=8)
def _tone_loudness(sample_rate: int) -> float:
    return integrated_loudness(tone(0, 4 * sample_rate, sample_rate), sample_rate)


@functools.lru_cache(maxsize=8)
def _noise_loudness(kind: str, sample_rate: int) -> float:
    return integrated_loudness(
        NoiseBed(kind, sample_rate, 1, seed=1).read(20 * sample_rate), sample_rate
    )


# --- the mixer ------------------------------------------------------------------


def _clip_array(value: Any, key: str, sample_rate: int) -> np.ndarray:
    samples = getattr(value, "samples", value)
    rate = getattr(value, "sample_rate", sample_rate)
    if rate != sample_rate:
        raise RenderError(f"clip {key!r} is at {rate} Hz, the session at {sample_rate} Hz")
    # float32 as the engines deliver it (no float64 copy of every clip: half the memory);
    # it is added into the float64 mix buffer.
    arr = np.asarray(samples, dtype=np.float32)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise RenderError(f"clip {key!r} must be mono, got shape {arr.shape}")
    return arr


class _BedReader:
    """A private read position in a shared :class:`BedFile`."""

    def __init__(self, bed: Any) -> None:
        self.bed = bed
        self.pos = 0

    def read(self, n: int) -> np.ndarray:
        out = self.bed.read_at(self.pos, n)
        self.pos += n
        return out


class _Mixer:
    """Pre-computes everything the chunks need from the timeline, then mixes on demand."""

    def __init__(self, timeline: Timeline, clips: Mapping[str, Any], settings: MixSettings):
        if settings.channels not in (1, 2):
            raise InputError(f"channels must be 1 or 2, not {settings.channels}")
        self.tl = timeline
        self.sr = sr = timeline.sample_rate
        self.ch = settings.channels
        self.settings = settings
        self.length = timeline.length

        # Speech: (start, end, clip), sorted, with the longest span for window look-ups.
        arrays: dict[str, np.ndarray] = {}
        speech: list[tuple[int, int, np.ndarray]] = []
        for ev in timeline.events:
            if ev.kind != "speech":
                continue
            if ev.clip is None or ev.clip not in clips:
                raise RenderError(
                    f"no audio clip {ev.clip!r} for speech {ev.text!r} at sample {ev.start}"
                )
            if ev.clip not in arrays:
                arrays[ev.clip] = _clip_array(clips[ev.clip], ev.clip, sr)
                if settings.speech_volume != 1.0:
                    arrays[ev.clip] = arrays[ev.clip] * np.float32(settings.speech_volume)
            clip = arrays[ev.clip]
            n = min(len(clip), max(0, ev.end - ev.start), max(0, self.length - ev.start))
            if n > 0 and ev.start >= 0:
                speech.append((ev.start, ev.start + n, clip))
        speech.sort(key=lambda t: t[0])
        self.speech = speech
        self.speech_starts = [s for s, _, _ in speech]
        self.speech_span = max((e - s for s, e, _ in speech), default=0)

        # Reference level: the distinct clips, measured as one stream.
        meter = LoudnessMeter(sr, 1)
        for arr in arrays.values():
            meter.add(arr)
        ref = meter.integrated()
        if not 0.0 < settings.speech_volume <= 1.0:
            raise InputError(f"speech volume must be in (0, 1], got {settings.speech_volume}")
        # Bells, bed and tone are set against the voice at full volume.
        ref -= 20.0 * math.log10(settings.speech_volume)
        self.speech_lufs = ref if math.isfinite(ref) else DEFAULT_SPEECH_LUFS

        # Sounds (validated even when chimes are off, so a bad name fails early).
        sounds: list[tuple[int, int, np.ndarray, float]] = []
        for ev in timeline.events:
            if ev.kind != "sound" or ev.sound is None:
                continue
            snd = get_sound(ev.sound, sr)
            gain_db = (
                self.speech_lufs + settings.chime_db + ev.gain_db - _sound_loudness(ev.sound, sr)
            )
            end = ev.start + len(snd)
            if ev.end > ev.start:
                end = min(end, ev.end)
            end = min(end, self.length)
            if settings.chime and end > ev.start >= 0:
                sounds.append((ev.start, end, snd, 10.0 ** (gain_db / 20.0)))
        sounds.sort(key=lambda t: t[0])
        self.sounds = sounds
        self.sound_starts = [s[0] for s in sounds]
        self.sound_span = max((e - s for s, e, _, _ in sounds), default=0)

        # Breath tone.
        self.segments = breath_segments(timeline.events, sr) if settings.breath_tone else []
        self.seg_starts = [s.start for s in self.segments]
        self.seg_span = max((s.end - s.start for s in self.segments), default=0)
        self.tone_amp = 10.0 ** (
            (self.speech_lufs + settings.breath_tone_db - _tone_loudness(sr)) / 20.0
        )

        # Bed.
        self.bed_file = None
        self.bed_gain = 0.0
        if settings.bed:
            if settings.bed in BED_NAMES:
                bed_lufs = _noise_loudness(settings.bed, sr)
            else:
                self.bed_file = load_bed_file(settings.bed, sr, self.ch)
                bed_lufs = self.bed_file.loudness
            self.bed_gain = 10.0 ** ((self.speech_lufs + settings.bed_volume_db - bed_lufs) / 20.0)
        self.duck = np.array([[s, e] for s, e, _ in speech], dtype=np.int64).reshape(-1, 2)
        self.attack = int(round(settings.duck_attack * sr))
        self.release = int(round(settings.duck_release * sr))
        self.bed_fade = min(int(round(settings.bed_fade * sr)), self.length // 2)

    def close(self) -> None:
        if self.bed_file is not None:
            self.bed_file.close()

    def _window(self, starts: list[int], span: int, c0: int, c1: int) -> range:
        return range(bisect.bisect_right(starts, c0 - span), bisect.bisect_left(starts, c1))

    def chunks(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        """Raw mix (before gain and limiter) as ``(start, (n, channels) float64)``."""
        # Each pass has its own bed stream, so two passes can run at once (see _render).
        bed_stream: Any = None
        if self.settings.bed:
            if self.bed_file is not None:
                bed_stream = _BedReader(self.bed_file)
            else:
                bed_stream = NoiseBed(self.settings.bed, self.sr, self.ch)
        for c0 in range(0, self.length, size):
            c1 = min(c0 + size, self.length)
            buf = np.zeros((c1 - c0, self.ch))
            for i in self._window(self.speech_starts, self.speech_span, c0, c1):
                s, e, clip = self.speech[i]
                a, b = max(s, c0), min(e, c1)
                if a < b:
                    buf[a - c0 : b - c0] += clip[a - s : b - s, None]
            for i in self._window(self.sound_starts, self.sound_span, c0, c1):
                s, e, snd, g = self.sounds[i]
                a, b = max(s, c0), min(e, c1)
                if a < b:
                    buf[a - c0 : b - c0] += g * snd[a - s : b - s, None].astype(np.float64)
            if self.segments:
                lo = bisect.bisect_right(self.seg_starts, c0 - self.seg_span)
                hi = bisect.bisect_left(self.seg_starts, c1)
                segs = self.segments[lo:hi]
                if segs:
                    env = breath_envelope(segs, c0, c1, self.sr)
                    if env.any():
                        buf += (self.tone_amp * env * tone(c0, c1 - c0, self.sr))[:, None]
            if bed_stream is not None:
                bed = bed_stream.read(c1 - c0)
                if bed.ndim == 1:
                    bed = bed[:, None]
                d = duck_envelope(self.duck, c0, c1, self.attack, self.release)
                bed_g = self.bed_gain * 10.0 ** (-self.settings.duck_db * d / 20.0)
                fades = edge_fades(c0, c1, self.length, self.bed_fade, self.bed_fade)
                if fades is not None:
                    bed_g *= fades
                buf += bed * bed_g[:, None]
            yield c0, buf


class _Finisher:
    """Gain, session fades and limiter over the raw mix, chunk by chunk.

    :meth:`process` takes each raw chunk ``(c0, buf)`` in order (``buf`` is not
    changed) and returns the finished samples that are ready, ``(m, ch)`` float64
    (the limiter's delay is taken off the front, so output sample 0 is session
    sample 0); :meth:`flush` returns the rest. With ``track``, :attr:`multiplier`
    then holds the total gain (gain x fades x limiter) applied to each of those
    samples, for measuring the limited mix without filtering it again.
    """

    def __init__(self, mixer: _Mixer, gain_db: float, *, track: bool = False) -> None:
        s = mixer.settings
        self.length = mixer.length
        self.gain = 10.0 ** (gain_db / 20.0)
        self.changes: list[tuple[int, float]] = []
        self.limiter = TruePeakLimiter(mixer.sr, mixer.ch, s.true_peak_db)
        self.fin = min(int(round(s.fade_in * mixer.sr)), mixer.length // 2)
        self.fout = min(int(round(s.fade_out * mixer.sr)), mixer.length // 2)
        self.skip = self.limiter.delay
        self.track = track
        self.multiplier = np.zeros(0)
        self._pre_hist = np.zeros(self.limiter.delay)
        """Gain x fades of the input samples still inside the limiter's delay."""

    def set_gain(self, gain_db: float, at: int) -> None:
        """Change the gain from absolute sample ``at`` on (not yet processed); pass 1
        follows its running estimate this way."""
        self.changes.append((at, 10.0 ** (gain_db / 20.0)))

    def process(self, c0: int, buf: np.ndarray) -> np.ndarray:
        n = len(buf)
        c1 = c0 + n
        while self.changes and self.changes[0][0] <= c0:
            self.gain = self.changes.pop(0)[1]
        pre: np.ndarray | float = self.gain
        if self.changes and self.changes[0][0] < c1:
            g = np.full(n, self.gain)
            while self.changes and self.changes[0][0] < c1:
                at, self.gain = self.changes.pop(0)
                g[at - c0 :] = self.gain
            pre = g
        fades = edge_fades(c0, c1, self.length, self.fin, self.fout)
        if fades is not None:
            pre = pre * fades
        x = buf * (pre[:, None] if isinstance(pre, np.ndarray) else pre)
        return self._finish(self.limiter.process(x), pre, n)

    def _finish(self, out: np.ndarray, pre: np.ndarray | float, n: int) -> np.ndarray:
        if self.track:
            d = np.concatenate([self._pre_hist, np.broadcast_to(pre, (n,))])
            mult = d[:n]
            self._pre_hist = d[n:]
            if self.limiter.last_gain is not None:
                mult = mult * self.limiter.last_gain
        if self.skip:
            cut = min(self.skip, len(out))
            out = out[cut:]
            if self.track:
                mult = mult[cut:]
            self.skip -= cut
        if self.track:
            self.multiplier = mult
        return out

    def flush(self) -> np.ndarray:
        tail = self._finish(self.limiter.flush(), 0.0, self.limiter.delay)
        return tail[:, None] if tail.ndim == 1 else tail


def _final_pass(mixer: _Mixer, gain_db: float, size: int) -> Iterator[np.ndarray]:
    """The finished session at ``gain_db``; yields ``(n, ch)`` float64 chunks."""
    fin = _Finisher(mixer, gain_db)
    pending: np.ndarray | None = None
    for c0, buf in mixer.chunks(size):
        out = fin.process(c0, buf)
        if len(out) == 0:
            continue
        if pending is not None:
            yield pending
        pending = out
    tail = fin.flush()
    last = tail if pending is None else np.concatenate([pending, tail])
    if len(last):
        yield last


class _MeterThread:
    """A loudness meter fed through a small queue by a thread of its own: its FFTs run
    beside the mixing (numpy releases the GIL in them). With ``weighted``, it also
    measures the stream times the gains given to :meth:`add_weights`."""

    def __init__(
        self, sample_rate: int, channels: int, *, weighted: bool = False, single: bool = False
    ) -> None:
        self.meter = LoudnessMeter(sample_rate, channels, weighted=weighted, single=single)
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
                        self.meter.add_weights(data)
                    else:
                        self.meter.add(data)
                except BaseException as exc:  # re-raised by result()
                    self._error = exc
            self._q.task_done()

    def sync(self) -> LoudnessMeter:
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


LIMITER_LOSS_CHECK_LU = 0.3
"""A limiter loss at least this large is not extrapolated: the gain is checked by
mixing and metering (it grows faster than linearly with the gain)."""


def _measured_gain(mixer: _Mixer, size: int, progress: Callable[[int], None] | None) -> float:
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
    raw_meter = _MeterThread(mixer.sr, mixer.ch, weighted=True)
    # Gain changes fall on fixed marks (every 300 sub-blocks, ~30 s): the gain from
    # mark i on comes from the raw loudness up to mark i - 1, which is measured by the
    # time a chunk reaches mark i (chunks are shorter than 30 s). So the schedule, and
    # the whole output, does not depend on the chunk size.
    step = raw_meter.meter.step
    spacing = 300 * step
    next_mark = 2 * spacing
    size = min(size, spacing)
    try:
        fin = _Finisher(mixer, gain_now, track=True)
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
                for out in _final_pass(mixer, gain_db, size):
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
    mixer = _Mixer(timeline, clips, settings)
    return MixStream(mixer, size, progress, measure)


class MixStream:
    """The finished session's chunks (iterate once), and how loud it came out."""

    def __init__(
        self,
        mixer: _Mixer,
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
        from matcue.loudness_model import GainCache, SessionLoudness, session_key, solve_gain

        mixer = self._mixer
        cache = GainCache()
        key = session_key(mixer)
        self.modelled = mixer.bed_file is None and not self._measure  # what the model covers
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
        meter: _MeterThread | None = None
        try:
            gain_db = self.gain_db = self._gain()
            meter = _MeterThread(mixer.sr, mixer.ch, single=True)  # the output check
            for out in _final_pass(mixer, gain_db, self._size):
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
