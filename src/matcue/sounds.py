"""Generated sounds: bells, the breath tone's waveform, noise beds, user bed files.

Everything is synthesized in numpy (no downloaded assets) and is deterministic:
the same sample rate gives the same samples. Bells are small and cached per
sample rate. Beds are streams: :class:`NoiseBed` produces pink or brown noise
chunk by chunk from a seeded generator with the colouring filter's state carried
across chunks (the filter runs as its truncated impulse response with FFT
overlap-add, :mod:`matcue.dsp`, so no scipy), and :func:`load_bed_file` decodes a
user's file once into a temporary float32 memory map, so an hour-long bed never
sits in memory.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from matcue.dsp import StreamingFIR, iir_impulse_response
from matcue.errors import InputError
from matcue.limits import MAX_BED_SECONDS, MAX_BED_WHOLE_BYTES
from matcue.loudness import LoudnessMeter

log = logging.getLogger(__name__)

__all__ = [
    "BED_NAMES",
    "SOUND_NAMES",
    "BedFile",
    "NoiseBed",
    "brown_noise",
    "chime",
    "chime_end",
    "get_sound",
    "load_bed_file",
    "pink_noise",
    "sound_length",
]


# --- bells -----------------------------------------------------------------


def _bell(
    sample_rate: int,
    fundamental: float,
    partials: list[tuple[float, float, float]],
    seconds: float,
    *,
    attack: float = 0.012,
    tail: float = 0.25,
) -> np.ndarray:
    """One bell strike: inharmonic partials ``(ratio, amplitude, decay_seconds)``.

    Each partial decays exponentially (higher partials faster, which is what
    makes a bell sound warm rather than glassy); a raised-cosine attack of a
    few milliseconds takes the click out of the strike, and a short fade at the
    end lands exactly on zero.
    """
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    y = np.zeros(n)
    for ratio, amp, decay in partials:
        f = fundamental * ratio
        if f >= sample_rate / 2 * 0.9:
            continue  # would alias at low session rates
        y += amp * np.exp(-t / decay) * np.sin(2 * np.pi * f * t)
    na = max(1, int(round(attack * sample_rate)))
    y[:na] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(na) / na)
    nt = max(1, int(round(tail * sample_rate)))
    y[-nt:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, nt + 1) / nt)
    return y


# Ratios loosely follow a church/singing bell: hum (0.5), prime, minor third,
# fifth, nominal (2.0), and a few upper partials, each slightly detuned.
_WARM_PARTIALS = [
    (0.5, 0.35, 1.6),
    (1.0, 1.0, 1.1),
    (1.19, 0.35, 0.8),
    (1.51, 0.25, 0.6),
    (2.0, 0.30, 0.5),
    (2.74, 0.12, 0.3),
    (3.76, 0.06, 0.2),
]
_BELL_PEAK = 0.5
"""Peak level of a bell as generated; the mixer sets its loudness relative to speech."""


@functools.lru_cache(maxsize=16)
def _chime_cached(sample_rate: int) -> np.ndarray:
    y = _bell(sample_rate, 523.25, _WARM_PARTIALS, 2.6)
    y *= _BELL_PEAK / np.max(np.abs(y))
    out = y.astype(np.float32)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=16)
def _chime_end_cached(sample_rate: int) -> np.ndarray:
    # Two soft strikes of a deeper bell, the second a fourth lower and longer:
    # it sounds like an ending rather than a next step.
    first = _bell(sample_rate, 392.0, _WARM_PARTIALS, 2.0)
    second = _bell(sample_rate, 293.66, _WARM_PARTIALS, 3.4)
    offset = int(round(1.1 * sample_rate))
    y = np.zeros(offset + len(second))
    y[: len(first)] += 0.8 * first
    y[offset:] += second
    y *= _BELL_PEAK / np.max(np.abs(y))
    out = y.astype(np.float32)
    out.flags.writeable = False
    return out


def chime(sample_rate: int) -> np.ndarray:
    """A soft, warm bell (~2.6 s, mono float32, read-only, peak 0.5): marks a new step."""
    return _chime_cached(int(sample_rate))


def chime_end(sample_rate: int) -> np.ndarray:
    """The end-of-session bell: two soft, deeper strikes (~4.5 s, mono float32, read-only)."""
    return _chime_end_cached(int(sample_rate))


_SOUNDS: dict[str, Callable[[int], np.ndarray]] = {
    "chime": chime,
    "chime-end": chime_end,
}
SOUND_NAMES: tuple[str, ...] = tuple(_SOUNDS)
"""Names a sound event may use."""


def get_sound(name: str, sample_rate: int) -> np.ndarray:
    """The named sound at ``sample_rate`` (cached). Unknown name: :class:`InputError`."""
    try:
        make = _SOUNDS[name]
    except KeyError:
        raise InputError(
            f"unknown sound {name!r}; available sounds: {', '.join(SOUND_NAMES)}"
        ) from None
    return make(sample_rate)


def sound_length(name: str, sample_rate: int) -> int:
    """Length in samples of the named sound, so the scheduler can size sound events."""
    return len(get_sound(name, sample_rate))


# --- tone --------------------------------------------------------------------

TONE_PARTIALS: tuple[tuple[int, float], ...] = ((196, 1.0), (392, 0.25), (588, 0.08))
"""The breath tone: a soft G3 with its 2nd and 3rd harmonics, quiet (integer Hz)."""


@functools.lru_cache(maxsize=8)
def _tone_period(sample_rate: int) -> np.ndarray:
    """One exact period of the tone. With integer partials it repeats every
    ``sample_rate / gcd(f0, sample_rate)`` samples (225 at 22.05 kHz)."""
    f0 = TONE_PARTIALS[0][0]  # the others are its multiples
    period = sample_rate // math.gcd(f0, sample_rate)
    idx = np.arange(period, dtype=np.int64)
    y = np.zeros(period)
    for f, amp in TONE_PARTIALS:
        y += amp * np.sin(2 * np.pi * ((idx * f) % sample_rate) / sample_rate)
    y.flags.writeable = False
    return y


def tone(start: int, n: int, sample_rate: int) -> np.ndarray:
    """The steady breath-tone waveform for absolute samples ``[start, start + n)``.

    The tone is periodic in whole samples, so a chunk is the period table rotated to
    ``start`` and repeated: any chunking gives the same samples and an hour-long
    session loses no phase precision.
    """
    table = _tone_period(int(sample_rate))
    rolled = np.roll(table, -(start % len(table)))
    return np.resize(rolled, n).astype(np.float64)


# --- noise beds ---------------------------------------------------------------

# Pink: Paul Kellet's / Julius O. Smith's 3-pole approximation of a -3 dB/octave slope.
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])
BED_SEED = 20240607


class NoiseBed:
    """Deterministic coloured noise, produced chunk by chunk.

    ``read(n)`` returns the next ``n`` samples (``(n,)`` mono or ``(n, 2)`` with
    independent, decorrelated left/right). The white source is a seeded PCG64
    generator, whose stream does not depend on how it is cut; the colouring
    filter's state is carried across calls. So concatenated reads equal one big
    read. Output is scaled to an RMS of about 0.1 per channel.
    """

    def __init__(self, kind: str, sample_rate: int, channels: int = 1, seed: int = BED_SEED):
        if kind not in BED_NAMES:
            raise InputError(
                f"unknown bed {kind!r}; generated beds: {', '.join(BED_NAMES)}, "
                "or give the path of an audio file"
            )
        self.kind = kind
        self.channels = channels
        self._rng = np.random.Generator(np.random.PCG64(seed))
        # Pink: a 3-pole fit of -3 dB/octave. Brown: a leaky integrator (pole at 20 Hz)
        # so the level does not wander off as a pure integrator would.
        h = _colour_response(kind, sample_rate)
        # Output RMS for unit-variance white input: sqrt(sum of impulse response^2).
        self._scale = 0.1 / math.sqrt(float(np.sum(h * h)))
        self._fir = StreamingFIR(h, channels)
        # Settle the filter so the first samples are already at level.
        warm = int(sample_rate)
        self.read(warm)

    def read(self, n: int) -> np.ndarray:
        white = self._rng.standard_normal((n, self.channels))
        y = self._fir.process(white)
        y *= self._scale
        return y[:, 0] if self.channels == 1 else y


@functools.lru_cache(maxsize=8)
def _colour_response(kind: str, sample_rate: int) -> np.ndarray:
    """Impulse response of a bed's colouring filter (cut below 1e-10 of its peak)."""
    if kind == "pink":
        b, a = _PINK_B, _PINK_A
    else:
        pole = math.exp(-2 * math.pi * 20.0 / sample_rate)
        b, a = np.array([1.0]), np.array([1.0, -pole])
    h = iir_impulse_response(b, a)
    h.flags.writeable = False
    return h


def pink_noise(sample_rate: int, channels: int = 1, seed: int = BED_SEED) -> NoiseBed:
    """A pink-noise stream (soft, like distant rain); call ``.read(n)`` for chunks."""
    return NoiseBed("pink", sample_rate, channels, seed)


def brown_noise(sample_rate: int, channels: int = 1, seed: int = BED_SEED) -> NoiseBed:
    """A brown-noise stream (deeper, like surf or wind); call ``.read(n)`` for chunks."""
    return NoiseBed("brown", sample_rate, channels, seed)


BED_NAMES: tuple[str, ...] = ("pink", "brown")
"""Generated beds; any other bed value is taken as the path of an audio file."""


# --- user bed files -------------------------------------------------------------


class BedFile:
    """A user's bed file decoded to the session rate, looped with a crossfade.

    The decoded audio lives in an anonymous temporary file mapped with
    ``np.memmap`` (deleted when this object is closed or collected), so the
    file's length does not matter for memory. :meth:`read` loops the file
    seamlessly: each repeat starts ``crossfade`` samples before the previous one
    ends, the two overlapping with equal-power fades, so there is no click or
    gap at the seam.
    """

    def __init__(
        self, data: np.ndarray, handle: object, loudness: float, path: Path, sample_rate: int
    ) -> None:
        self._data = data
        self._handle = handle
        self.loudness = loudness
        """Integrated loudness of the decoded file, LUFS, mono-equivalent per channel."""
        self.path = path
        self.length = len(data)
        self.channels = data.shape[1]
        self._pos = 0
        xf = min(int(0.5 * sample_rate), self.length // 4)
        self.crossfade = max(0, xf)
        self.period = self.length - self.crossfade

    def close(self) -> None:
        """Release the temporary file."""
        self._data = None  # type: ignore[assignment]
        close = getattr(self._handle, "close", None)
        if close is not None:
            close()

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` samples of the looped bed, ``(n, channels)`` float64."""
        start = self._pos
        self._pos += n
        return self.read_at(start, n)

    def read_at(self, start: int, n: int) -> np.ndarray:
        """Samples ``[start, start + n)`` of the looped bed (no position kept, so two
        passes may read at once)."""
        if start + n <= self.period:  # still inside the first pass, before any seam
            return np.asarray(self._data[start : start + n], dtype=np.float64)
        idx = np.arange(start, start + n, dtype=np.int64)
        pos = idx % self.period
        out = np.asarray(self._data[pos], dtype=np.float64)
        if self.crossfade:
            # In each repeat after the first, the head overlaps the previous tail.
            seam = (pos < self.crossfade) & (idx >= self.period)
            if seam.any():
                p = pos[seam]
                w = (p + 0.5) / self.crossfade
                fade_in = np.sin(0.5 * np.pi * w)[:, None]
                fade_out = np.cos(0.5 * np.pi * w)[:, None]
                tail = np.asarray(self._data[p + self.period], dtype=np.float64)
                out[seam] = out[seam] * fade_in + tail * fade_out
        return out


BED_READ_ERROR = (
    "cannot read bed file {path}: {reason}. Use a WAV, FLAC, OGG or MP3 file, "
    "or a generated bed: " + ", ".join(BED_NAMES)
)


def load_bed_file(path: str | os.PathLike[str], sample_rate: int, channels: int = 1) -> BedFile:
    """Decode a user's bed file (WAV/FLAC/OGG/MP3 via soundfile) for the session.

    The file is read block by block, mixed to the session's channel count,
    resampled to ``sample_rate`` with soxr (streamed, so the result is that of a
    whole-file resample), measured for loudness and written to a
    temporary float32 memory map. Other formats fall back to pydub when ffmpeg
    is installed (pydub decodes such files whole). A file that cannot be read or
    holds only silence raises :class:`InputError` naming the path and the reason.
    """
    p = Path(path)
    if not p.is_file():
        reason = "no such file" if not p.exists() else "not a file"
        raise InputError(BED_READ_ERROR.format(path=p, reason=reason))
    try:
        info = sf.info(str(p))
        source = _soundfile_blocks(p, info.samplerate)
        src_rate = int(info.samplerate)
        declared = info.frames / max(src_rate, 1)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        if p.stat().st_size > MAX_BED_WHOLE_BYTES:  # pydub decodes the whole file at once
            reason = (
                f"{decoder_reason(exc, p)}, and at more than "
                f"{MAX_BED_WHOLE_BYTES // (1024 * 1024)} MiB it is too large to decode whole"
            )
            raise InputError(BED_READ_ERROR.format(path=p, reason=reason)) from None
        source, src_rate = _pydub_blocks(p, decoder_reason(exc, p))
        declared = 0.0
    too_long = InputError(
        BED_READ_ERROR.format(
            path=p,
            reason=f"it is longer than {MAX_BED_SECONDS / 60:g} minutes (a bed loops: "
            "a shorter one does as well)",
        )
    )

    if declared > MAX_BED_SECONDS:
        raise too_long
    meter = LoudnessMeter(sample_rate, channels)
    handle = tempfile.TemporaryFile(prefix="matcue-bed-")
    total = 0
    try:
        for block in _resampled(source, src_rate, sample_rate):
            if total + len(block) > MAX_BED_SECONDS * sample_rate:
                raise too_long
            block = _to_channels(block, channels)
            meter.add(block)
            handle.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
            total += len(block)
    except InputError:
        handle.close()
        raise
    except Exception as exc:  # a decoder failing half-way through the file
        handle.close()
        raise InputError(BED_READ_ERROR.format(path=p, reason=decoder_reason(exc, p))) from exc
    handle.flush()
    if total == 0:
        handle.close()
        raise InputError(BED_READ_ERROR.format(path=p, reason="it holds no audio"))
    loud = meter.integrated()
    if channels == 2:
        loud -= 10 * math.log10(2)
    if not math.isfinite(loud):
        handle.close()
        raise InputError(BED_READ_ERROR.format(path=p, reason="it is silent"))
    data = np.memmap(handle, dtype=np.float32, mode="r", shape=(total, channels))
    log.debug("bed %s: %d samples at %d Hz, %.1f LUFS", p, total, sample_rate, loud)
    return BedFile(data, handle, loud, p, sample_rate)


def _soundfile_blocks(path: Path, rate: int):  # noqa: ANN202 - a generator
    # Open once here so a bad file fails now, inside load_bed_file's try.
    f = sf.SoundFile(str(path))

    def gen():  # noqa: ANN202
        with f:
            block = max(4096, rate * 5)
            while True:
                data = f.read(block, dtype="float64", always_2d=True)
                if len(data) == 0:
                    break
                yield data

    return gen()


_SNDFILE_PREFIX = re.compile(r"^(?:Error opening '.*?': |Error ?: )+")


def decoder_reason(exc: BaseException | str, path: Path) -> str:
    """A decoder's complaint about ``path`` as one short phrase.

    libsndfile says ``Error opening 'x.wav': Format not recognised.`` or ``Error :
    flac decoder lost sync.``; pydub puts ffmpeg's whole output in its message, banner
    (version, build configuration, library versions) first and the error last, as
    ``x.wav: Invalid data found when processing input``. Kept: the last line, without
    the file name (the message names it already) and without a final full stop
    (the message adds its own)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[-1] if lines else ""
    reason = _SNDFILE_PREFIX.sub("", reason)
    for name in (f"{path}: ", f"{path.name}: "):
        reason = reason.removeprefix(name)
    reason = reason.rstrip(". ")
    if not reason and isinstance(exc, BaseException):
        reason = type(exc).__name__
    return reason or "unknown error"


def pydub_audio_segment():  # noqa: ANN201
    """pydub's ``AudioSegment``, imported without its import-time warning.

    Importing pydub on a machine without ffmpeg warns "Couldn't find ffmpeg or
    avconv" (a RuntimeWarning from a module-level call). matcue reaches pydub only
    when ffmpeg is on PATH, but the warning must never reach a user, and under the
    suite's ``filterwarnings = error`` it became a failure on fresh machines.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Couldn't find ff", category=RuntimeWarning, module="pydub"
        )
        from pydub import AudioSegment

    return AudioSegment


def _pydub_blocks(path: Path, sf_reason: str):  # noqa: ANN202
    if shutil.which("ffmpeg") is None and shutil.which("avconv") is None:
        raise InputError(BED_READ_ERROR.format(path=path, reason=sf_reason))
    try:
        AudioSegment = pydub_audio_segment()
        seg = AudioSegment.from_file(str(path))
    except Exception as exc:
        reason = f"{sf_reason}; ffmpeg: {decoder_reason(exc, path)}"
        raise InputError(BED_READ_ERROR.format(path=path, reason=reason)) from None
    arr = np.array(seg.get_array_of_samples(), dtype=np.float64)
    arr = arr.reshape(-1, seg.channels) / float(1 << (8 * seg.sample_width - 1))

    def gen():  # noqa: ANN202
        step = seg.frame_rate * 5
        for i in range(0, len(arr), step):
            yield arr[i : i + step]

    return gen(), int(seg.frame_rate)


def _to_channels(block: np.ndarray, channels: int) -> np.ndarray:
    if channels == 1:
        return block.mean(axis=1, keepdims=True)
    if block.shape[1] == 1:
        return np.repeat(block, 2, axis=1)
    return block[:, :2]


def _resampled(blocks, src: int, dst: int):  # noqa: ANN001, ANN202
    """Resample a stream of ``(n, ch)`` blocks from ``src`` to ``dst`` Hz with soxr
    (libsoxr, "HQ"): streamed with its state carried, so the result is that of a
    whole-file resample, with the output's length ``ceil(n * dst / src)``.

    soxr replaced a hand-written polyphase filter here after a comparison: four
    times faster (1.05 s against 4.47 s for two minutes of stereo at 44.1 kHz)
    and closer to the ideal (1e-7 RMS error on a 1 kHz sine, against 7e-4)."""
    if src == dst:
        yield from blocks
        return
    stream = None
    pending = None
    for block in blocks:
        if stream is None:
            stream = soxr.ResampleStream(src, dst, block.shape[1], dtype="float64", quality="HQ")
        if pending is not None:
            yield stream.resample_chunk(pending)
        pending = np.ascontiguousarray(block, dtype=np.float64)
    if stream is not None and pending is not None:
        yield stream.resample_chunk(pending, last=True)
