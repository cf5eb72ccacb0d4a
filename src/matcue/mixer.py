"""Mixing: Timeline + speech clips -> the session's samples at a given gain.

:class:`Mixer` pre-computes everything the chunks need from the timeline (the
speech reference level, bells, breath tone, bed, ducking) and mixes any window
``[c0, c1)`` on demand; :class:`Finisher` applies the gain, the edge fades and
the true-peak limiter; :func:`final_pass` is the finished session at one gain.
How the gain is found, and the stream a render consumes, are in :mod:`matcue.mix`.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
from collections.abc import Iterator, Mapping
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
    integrated_loudness,
)
from matcue.sounds import (
    BED_NAMES,
    NoiseBed,
    get_sound,
    load_bed_file,
    tone,
)
from matcue.timeline import Timeline

log = logging.getLogger(__name__)

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


def _clip_array(samples: np.ndarray, key: str) -> np.ndarray:
    """A clip's samples (already at the session's rate: the synthesizer resamples
    them) as a mono float32 array."""
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


class Mixer:
    """Pre-computes everything the chunks need from the timeline, then mixes on demand."""

    def __init__(self, timeline: Timeline, clips: Mapping[str, np.ndarray], settings: MixSettings):
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
                arrays[ev.clip] = _clip_array(clips[ev.clip], ev.clip)
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


class Finisher:
    """Gain, session fades and limiter over the raw mix, chunk by chunk.

    :meth:`process` takes each raw chunk ``(c0, buf)`` in order (``buf`` is not
    changed) and returns the finished samples that are ready, ``(m, ch)`` float64
    (the limiter's delay is taken off the front, so output sample 0 is session
    sample 0); :meth:`flush` returns the rest. With ``track``, :attr:`multiplier`
    then holds the total gain (gain x fades x limiter) applied to each of those
    samples, for measuring the limited mix without filtering it again.
    """

    def __init__(self, mixer: Mixer, gain_db: float, *, track: bool = False) -> None:
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


def final_pass(mixer: Mixer, gain_db: float, size: int) -> Iterator[np.ndarray]:
    """The finished session at ``gain_db``; yields ``(n, ch)`` float64 chunks."""
    fin = Finisher(mixer, gain_db)
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
