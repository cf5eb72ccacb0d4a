"""Loudness measurement (ITU-R BS.1770-4 / EBU R128) and a true-peak limiter.

Everything here works on a stream of chunks with state carried between them, so
an hour-long session is measured and limited with bounded memory, and the
result does not depend on how the stream was cut into chunks.

- :class:`LoudnessMeter` gives the gated integrated loudness in LUFS: K-weighting
  (the two BS.1770 biquads, run as their impulse response truncated below 1e-10
  of its peak, with FFT overlap-add and carried state: :mod:`matcue.dsp`),
  400 ms blocks with 75 % overlap, an absolute gate at -70 LUFS and a relative
  gate 10 LU below the ungated level. A mono stream is one channel with weight
  1.0, which is what ffmpeg's ``ebur128`` filter and pyloudnorm do.
- :class:`OutputMeter` is libebur128 (pyebur128) for a finished stream's level:
  it agrees with ffmpeg's ``ebur128`` and with :class:`LoudnessMeter` (see its
  docstring) and is about four times faster. :class:`LoudnessMeter` stays where
  the gain is found, since that needs its K-weighted sub-block energies.
- :func:`true_peak_db` estimates the true peak of a block by 4x oversampling.
- :class:`TruePeakLimiter` is a look-ahead limiter whose gain is computed from a
  4x oversampled peak estimate, so its output stays below a dBTP ceiling.

No scipy: its import alone costs ~70 MB of memory; :mod:`matcue.dsp` has what is needed.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import numpy as np
import pyebur128

from matcue.dsp import StreamingFIR, firwin, iir_impulse_response, resample_poly, trailing_min

log = logging.getLogger(__name__)

__all__ = [
    "LoudnessMeter",
    "OutputMeter",
    "TruePeakLimiter",
    "gated_loudness",
    "integrated_loudness",
    "k_weighting",
    "true_peak_db",
]

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
OVERSAMPLE = 4


def k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two BS.1770 K-weighting biquads (high shelf, then high pass) as ``(b, a)``.

    The analog prototypes are mapped to ``sample_rate`` with the bilinear
    transform (the same design libebur128 uses), so any session rate is measured
    the way the standard's 48 kHz coefficients measure at 48 kHz.
    """
    # Stage 1: high shelf (+4 dB above ~1.7 kHz), models the head.
    f0 = 1681.974450955533
    gain_db = 3.999843853973347
    q = 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    b1 = np.array(
        [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    )
    a1 = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    # Stage 2: RLB high pass at ~38 Hz.
    f0 = 38.13547087602444
    q = 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    b2 = np.array([1.0, -2.0, 1.0])
    a2 = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return [(b1, a1), (b2, a2)]


@functools.lru_cache(maxsize=8)
def k_weighting_fir(sample_rate: int) -> np.ndarray:
    """The K-weighting cascade as one (truncated) impulse response, read-only."""
    (b1, a1), (b2, a2) = k_weighting(sample_rate)
    h = iir_impulse_response(np.convolve(b1, b2), np.convolve(a1, a2))
    h.flags.writeable = False
    return h


def _as_2d(chunk: np.ndarray, channels: int) -> np.ndarray:
    x = np.asarray(chunk, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[1] != channels:
        raise ValueError(f"expected {channels} channel(s), got array of shape {chunk.shape}")
    return x


class LoudnessMeter:
    """Streaming integrated-loudness meter (BS.1770-4, EBU R128 gating).

    Feed chunks with :meth:`add` (shape ``(n,)`` for mono or ``(n, channels)``),
    then read :meth:`integrated`. Memory grows by one float per 100 ms of audio
    (the block energies), which is 36 000 floats for an hour. With ``weighted``,
    the same filtering also measures the stream times per-sample gains given to
    :meth:`add_weights` (the mixer measures its limited mix this way).
    """

    def __init__(self, sample_rate: int, channels: int = 1, *, weighted: bool = False) -> None:
        if channels not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        self.sample_rate = sample_rate
        self.channels = channels
        self._filter = StreamingFIR(k_weighting_fir(sample_rate), channels)
        self._step = int(round(0.1 * sample_rate))
        """Samples per 100 ms sub-block: a 400 ms block is four of them."""
        self._subs = _SubBlockSums(self._step, channels)
        self.samples = 0
        self._weighted = _SubBlockSums(self._step, 1) if weighted else None
        """With ``weighted``: sub-block sums of w[n]^2 * (K-weighted energy of sample n)."""
        self._e_fifo = np.zeros(0)
        self._w_fifo = np.zeros(0)

    def add(self, chunk: np.ndarray) -> None:
        """Measure the next piece of the stream."""
        x = _as_2d(chunk, self.channels)
        if len(x) == 0:
            return
        self.samples += len(x)
        x = self._filter.process(x)
        sq = x * x
        self._subs.add(sq)
        if self._weighted is not None:
            e = sq[:, 0] if self.channels == 1 else sq.sum(axis=1)
            self._e_fifo = np.concatenate([self._e_fifo, e])
            self._match()

    def add_weights(self, w: np.ndarray) -> None:
        """The next per-sample gains of a second, *weighted* measurement of the same stream
        (``weighted=True``): the loudness of ``w * stream``, read with
        :meth:`weighted_sub_block_energies`. The gains may lag behind :meth:`add`.

        K-weighting is taken as commuting with ``w``: exact for a constant gain and very
        close for one that moves slowly against the filter's short memory (a limiter's
        millisecond ramps): what it saves is a second filtering of the whole stream.
        """
        if self._weighted is None:
            raise ValueError("this meter was not made with weighted=True")
        w = np.asarray(w, dtype=np.float64)
        self._w_fifo = np.concatenate([self._w_fifo, w * w])
        self._match()

    def _match(self) -> None:
        assert self._weighted is not None
        k = min(len(self._e_fifo), len(self._w_fifo))
        if k:
            self._weighted.add((self._e_fifo[:k] * self._w_fifo[:k])[:, None])
            self._e_fifo = self._e_fifo[k:]
            self._w_fifo = self._w_fifo[k:]

    def weighted_sub_block_energies(self) -> np.ndarray:
        """Like :meth:`sub_block_energies`, for the weighted measurement."""
        if self._weighted is None:
            raise ValueError("this meter was not made with weighted=True")
        return self._weighted.energies().sum(axis=1)

    def sub_block_energies(self) -> np.ndarray:
        """Sum of squares (over samples and channels) of each complete 100 ms sub-block of
        the K-weighted stream; sub-block ``j`` covers samples ``[j * step, (j + 1) * step)``."""
        return self._subs.energies().sum(axis=1)

    @property
    def step(self) -> int:
        """Samples per 100 ms sub-block."""
        return self._step

    def integrated(self) -> float:
        """Gated integrated loudness in LUFS; ``-inf`` when nothing passes the gates."""
        return gated_loudness(self.sub_block_energies(), self._step)


class OutputMeter:
    """Integrated loudness (LUFS) of a finished stream, by libebur128 through pyebur128:
    the check of a render's output level (:class:`matcue.mix.MixStream`).

    Checked before it replaced :class:`LoudnessMeter` there: on the WAV of every
    built-in (and thaw in stereo with a pink bed and the breath tone) it is within
    0.06 LU of ffmpeg's ``ebur128`` filter (which prints one decimal) and within
    0.001 LU of :class:`LoudnessMeter`, in about a quarter of the time
    (``tests/test_loudness.py``, ``docs/performance.md``). Same interface as the
    unweighted :class:`LoudnessMeter`: :meth:`add` chunks, read :meth:`integrated`.
    """

    def __init__(self, sample_rate: int, channels: int = 1) -> None:
        if channels not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        self.channels = channels
        # libebur128's default channel map: 1 channel = left (weight 1.0), 2 = left, right.
        self._state = pyebur128.R128State(channels, sample_rate, pyebur128.MeasurementMode.MODE_I)

    def add(self, chunk: np.ndarray) -> None:
        """Measure the next piece of the stream, ``(n,)`` (mono) or ``(n, channels)``."""
        x = np.ascontiguousarray(_as_2d(chunk, self.channels), dtype=np.float64)
        if len(x):
            self._state.add_frames(x.reshape(-1), len(x))  # interleaved frames

    def integrated(self) -> float:
        """Gated integrated loudness so far; ``-inf`` for silence."""
        return float(pyebur128.get_loudness_global(self._state))


class _SubBlockSums:
    """Sums of a ``(n, width)`` stream over consecutive sub-blocks of ``step`` samples."""

    def __init__(self, step: int, width: int) -> None:
        self.step = step
        self.width = width
        self._partial = np.zeros(width)
        self._partial_n = 0
        self._done: list[np.ndarray] = []
        """One ``(k, width)`` array per call (not one small array per sub-block: an hour
        is 36 000 of them)."""

    def add(self, sq: np.ndarray) -> None:
        step = self.step
        pos = 0
        # Complete the sub-block left open by the previous call.
        if self._partial_n:
            take = min(step - self._partial_n, len(sq))
            self._partial += sq[:take].sum(axis=0)
            self._partial_n += take
            pos = take
            if self._partial_n == step:
                self._done.append(self._partial[None, :].copy())
                self._partial[:] = 0.0
                self._partial_n = 0
        whole = (len(sq) - pos) // step
        if whole:
            blocks = sq[pos : pos + whole * step].reshape(whole, step, self.width)
            self._done.append(blocks.sum(axis=1))
            pos += whole * step
        if pos < len(sq):
            self._partial += sq[pos:].sum(axis=0)
            self._partial_n += len(sq) - pos

    def energies(self) -> np.ndarray:
        return np.concatenate(self._done) if self._done else np.zeros((0, self.width))


def _block_loudness(sub: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    if len(sub) < 4:
        return np.zeros(0), np.zeros(0)
    # (channel weights are all 1.0)
    # Sums of squares of silence can come out a hair under zero in float32 (sums
    # made by differences); a negative energy is silence, not a NaN loudness.
    energy = np.maximum((sub[:-3] + sub[1:-2] + sub[2:-1] + sub[3:]) / (4 * step), 0.0)
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10.0 * np.log10(energy)
    return energy, loud


def gated_loudness(sub: np.ndarray, step: int) -> float:
    """Gated integrated loudness (LUFS, ``-inf`` if nothing passes) from the K-weighted
    sums of squares of consecutive 100 ms sub-blocks of ``step`` samples
    (:meth:`LoudnessMeter.sub_block_energies`)."""
    energy, loud = _block_loudness(sub, step)
    if len(energy) == 0:
        return float("-inf")
    keep = loud > ABSOLUTE_GATE_LUFS
    if not keep.any():
        return float("-inf")
    relative = -0.691 + 10.0 * math.log10(float(energy[keep].mean())) + RELATIVE_GATE_LU
    keep &= loud > relative
    if not keep.any():
        return float("-inf")
    return -0.691 + 10.0 * math.log10(float(energy[keep].mean()))


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of a whole (small) array, mono ``(n,)`` or stereo ``(n, 2)``."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    meter = LoudnessMeter(sample_rate, channels)
    meter.add(samples)
    return meter.integrated()


def _channel_max(a: np.ndarray) -> np.ndarray:
    """Row-wise max of an ``(n, ch)`` array (``max(axis=1)`` is slow for 2 columns)."""
    if a.shape[1] == 1:
        return a[:, 0].copy()
    return np.maximum(a[:, 0], a[:, 1]) if a.shape[1] == 2 else a.max(axis=1)


def true_peak_db(chunk: np.ndarray) -> float:
    """True peak of ``chunk`` in dBTP, estimated with 4x oversampling (polyphase, as
    ``scipy.signal.resample_poly`` does it).

    Each call stands alone: intersample peaks across the edge of two chunks are
    not seen. ``-inf`` for silence.
    """
    x = np.asarray(chunk, dtype=np.float64)
    if x.size == 0:
        return float("-inf")
    up = resample_poly(x, OVERSAMPLE, 1)
    peak = max(float(np.max(np.abs(up))), float(np.max(np.abs(x))))
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


def _window_op(r: np.ndarray, win: int, n: int, *, mean: bool) -> np.ndarray:
    """``out[i]`` = max (or mean) of ``r[i : i + win]`` for ``i < n`` (``len(r) == n + win - 1``),
    computed only where the window can hold a non-zero value (zeros elsewhere, exactly)."""
    out = np.zeros(n)
    nz = np.flatnonzero(r)
    if len(nz) == 0:
        return out
    a = max(0, int(nz[0]) - win + 1)
    b = min(n, int(nz[-1]) + 1)
    seg = r[a : b + win - 1]
    if mean:
        c = np.concatenate([[0.0], np.cumsum(seg)])
        out[a:b] = (c[win:] - c[:-win]) / win
    else:
        out[a:b] = -trailing_min(-seg, win)
    return out


@functools.lru_cache(maxsize=8)
def _interpolator(taps_per_phase: int, cutoff: float) -> np.ndarray:
    """The limiter's 4x interpolation filter (read-only: shared by every limiter)."""
    h = firwin(OVERSAMPLE * taps_per_phase, cutoff, 8.0) * OVERSAMPLE
    h.flags.writeable = False
    return h


class TruePeakLimiter:
    """Look-ahead brick-wall limiter on the 4x-oversampled peak.

    Streaming and chunk-size independent: :meth:`process` returns as many samples
    as it was given, delayed by :attr:`delay` samples; :meth:`flush` returns the
    last :attr:`delay` samples. Per sample the required gain is
    ``ceiling / peak`` (never above 1); a trailing minimum over the look-ahead
    plus a hold keeps the gain down around each peak, and a moving average of
    the look-ahead length turns that into smooth ramps. Because every average
    covers the peak's own required gain, the gain applied at a peak is never
    above what the peak needs; there is no overshoot to clip. Stereo channels
    share one gain so the image does not move.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        ceiling_db: float,
        *,
        lookahead: float = 0.005,
        hold: float = 0.03,
        margin_db: float = 0.5,
        cutoff: float = 0.27,
    ) -> None:
        self.channels = channels
        self.ceiling = 10.0 ** ((ceiling_db - margin_db) / 20.0)
        """Linear peak ceiling; the margin covers the gain ramps' own intersample error."""
        # Interpolation filter: flat to ~0.95 of Nyquist, so the overs of content near
        # Nyquist (hiss, noise beds) are seen as well as ffmpeg's 192 kHz resampler sees
        # them. Its images leak a little, which can only overestimate a peak.
        taps_per_phase = 32
        h = _interpolator(taps_per_phase, cutoff)
        self._taps = taps_per_phase
        self._phases = np.stack([h[k::OVERSAMPLE] for k in range(OVERSAMPLE)])
        self._phist = np.zeros((taps_per_phase - 1, channels))
        self._gain_bound = float(np.abs(self._phases).sum(axis=1).max())
        """No interpolated value exceeds the largest sample under its taps times this."""
        # The interpolated values computed at input index n describe the signal
        # between samples n - lag - 1 and n - lag.
        group = (len(h) - 1) / 2 / OVERSAMPLE
        self._lag = int(math.floor(group))
        self._box = max(1, int(round(lookahead * sample_rate)))
        self._win = self._box + 1 + max(0, int(round(hold * sample_rate)))
        self.delay = self._box + self._lag
        self._xhist = np.zeros((self._lag + 1, channels))
        """The last input samples, to line up sample peaks with interpolated ones."""
        self._rhist = np.zeros(self._win - 1)
        """The last required gain reductions (1 - gain), for the trailing maximum."""
        self._mhist = np.zeros(self._box - 1)
        """The last max-filtered reductions, for the moving average."""
        self._dline = np.zeros((self.delay, channels))
        """Input delayed by :attr:`delay` samples."""
        self.min_gain = 1.0
        self.last_gain: np.ndarray | None = None
        """The gain applied to the samples the last :meth:`process` returned; None: all 1."""
        self._idle = True
        """No gain reduction in the histories: an unflagged chunk passes through unchanged."""
        self._block = 256
        """Samples per block for the can-it-reach-the-ceiling test."""

    @property
    def memory(self) -> int:
        """Samples of silence after which the limiter is back to its initial state:
        what it does to a sound cannot reach further than this on either side."""
        return self.delay + self._win + self._box + self._taps + self._block

    def passes_unchanged(self, peak: Any) -> Any:
        """True when a signal whose sample peak is ``peak`` can never be limited: then
        (from an idle start) the output is exactly the input, delayed. Elementwise for
        an array of peaks."""
        return peak * self._gain_bound <= self.ceiling

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Limit the next chunk; returns ``len(chunk)`` samples, delayed by :attr:`delay`."""
        x = _as_2d(chunk, self.channels)
        n = len(x)
        if n == 0:
            return np.zeros((0, self.channels)) if np.ndim(chunk) == 2 else np.zeros(0)
        xp = np.concatenate([self._phist, x])
        self._phist = xp[-(self._taps - 1) :]
        xs = np.concatenate([self._xhist, x])
        sample_peak = _channel_max(np.abs(xs))
        self._xhist = xs[-(self._lag + 1) :]
        peak = self._interpolated_peak(xp, n)
        if peak is None and self._idle:
            # Nothing here can reach the ceiling and no gain reduction is still in
            # flight: the gain is exactly 1, the output is the delayed input.
            d = np.concatenate([self._dline, x])
            out = d[:n]
            self._dline = d[n:]
            self.last_gain = None
            return out[:, 0] if np.ndim(chunk) == 1 else out
        if peak is None:
            peak = np.zeros(n)
        # Input samples n - lag - 1 and n - lag bracket the interpolated ones.
        np.maximum(peak, sample_peak[:n], out=peak)
        np.maximum(peak, sample_peak[1 : n + 1], out=peak)

        # Work with the gain *reduction* 1 - gain: exactly 0 wherever nothing is limited,
        # so long unlimited stretches come out bit-exact whatever came before them.
        with np.errstate(divide="ignore"):
            red = 1.0 - np.minimum(1.0, self.ceiling / peak)
        r = np.concatenate([self._rhist, red])
        # Trailing minimum of the gain = trailing maximum of the reduction, then a moving
        # average; both only over the stretch where anything is non-zero.
        m = _window_op(r, self._win, n, mean=False)
        self._rhist = r[-(self._win - 1) :] if self._win > 1 else r[:0]
        mm = np.concatenate([self._mhist, m])
        avg = _window_op(mm, self._box, n, mean=True)
        gain = 1.0 - np.maximum(avg, 0.0)
        self._mhist = mm[-(self._box - 1) :] if self._box > 1 else mm[:0]
        self._idle = not (self._rhist.any() or self._mhist.any())

        d = np.concatenate([self._dline, x])
        out = d[:n] * gain[:, None]
        self.last_gain = gain
        self._dline = d[n:]
        self.min_gain = min(self.min_gain, float(gain.min()))
        return out[:, 0] if np.ndim(chunk) == 1 else out

    def _interpolated_peak(self, xp: np.ndarray, n: int) -> np.ndarray | None:
        """Max |value| over the four polyphase branches for each of the ``n`` new samples,
        computed only in blocks where the taps' bound says the ceiling is reachable
        (zeros elsewhere); ``None`` when no block is."""
        taps = self._taps
        absx = _channel_max(np.abs(xp))
        blk = self._block
        nb = -(-n // blk)
        padded = np.zeros((nb + 1) * blk)
        padded[: len(absx)] = absx[: (nb + 1) * blk]
        bmax = padded.reshape(nb + 1, blk).max(axis=1)
        # Output block j reads xp[j*blk : (j+1)*blk + taps - 1], inside blocks j and j + 1.
        reach = np.maximum(bmax[:-1], bmax[1:]) * self._gain_bound > self.ceiling
        if not reach.any():
            return None
        peak = np.zeros(n)
        # Contiguous runs of flagged blocks: each is filtered in one go, 4 short convolutions.
        edges = np.flatnonzero(np.diff(np.concatenate([[0], reach.view(np.int8), [0]])))
        for b0, b1 in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            i0, i1 = b0 * blk, min(b1 * blk, n)
            best = peak[i0:i1]
            for c in range(xp.shape[1]):
                seg = xp[i0 : i1 + taps - 1, c]
                for h in self._phases:
                    np.maximum(best, np.abs(np.convolve(seg, h, "valid")), out=best)
        return peak

    def flush(self) -> np.ndarray:
        """The last :attr:`delay` samples still inside the limiter."""
        silence = np.zeros((self.delay, self.channels))
        out = self.process(silence)
        return out[:, 0] if self.channels == 1 else out
