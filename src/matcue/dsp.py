"""Small signal-processing kit in plain numpy, so rendering never imports scipy.

``import scipy.signal`` alone costs about 70 MB of resident memory and most of a
second; the render path needs only a handful of its functions. These are their
numpy equivalents, each checked against scipy in ``tests/test_dsp.py``:

- :func:`firwin` - a Kaiser-windowed sinc low-pass, the same taps as
  ``scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta))``.
- :func:`resample_poly` - polyphase rational resampling with
  the same filter and alignment as ``scipy.signal.resample_poly`` (so a stream
  cut into windows gives the same samples as a whole-file resample).
- :func:`iir_impulse_response` and :class:`StreamingFIR` - an IIR filter (the
  K-weighting biquads, the noise colouring filters) run as its impulse response
  truncated where it has decayed below 1e-10 of its peak, applied with FFT
  overlap-add and carried state. The difference from the exact recursion is far
  below anything audible or measurable (loudness differs by < 1e-6 LU).
- :func:`trailing_min` - a running minimum in O(n log win) vector steps, for the
  limiter's hold.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "StreamingFIR",
    "firwin",
    "iir_impulse_response",
    "next_fast_len",
    "resample_poly",
    "trailing_min",
]


@functools.lru_cache(maxsize=256)
def next_fast_len(n: int) -> int:
    """The smallest 5-smooth number (2^a 3^b 5^c) >= ``n``: a fast FFT size."""
    if n <= 6:
        return max(1, n)
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # Smallest power-of-two multiple of p35 that reaches n.
            m = p35 << max(0, (math.ceil(n / p35) - 1).bit_length())
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def firwin(numtaps: int, cutoff: float, beta: float) -> np.ndarray:
    """Low-pass FIR taps: a sinc with cutoff ``cutoff`` (1.0 = Nyquist), Kaiser window of
    ``beta``, scaled to unit gain at DC. Same taps as scipy's ``firwin`` with a Kaiser window."""
    m = np.arange(numtaps, dtype=np.float64) - (numtaps - 1) / 2.0
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(numtaps, beta)
    return h / h.sum()


@functools.lru_cache(maxsize=64)
def _resample_filter(up: int, down: int) -> tuple[np.ndarray, int]:
    """scipy's default resample_poly filter: Kaiser(5.0), 10 zero crossings each side."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = firwin(2 * half_len + 1, 1.0 / max_rate, 5.0) * up
    taps = -(-len(h) // up)
    poly = np.zeros(taps * up)
    poly[: len(h)] = h
    # phases[p, m] = h[p + m * up]; reversed along m so a window dot product applies it.
    phases = np.ascontiguousarray(poly.reshape(taps, up).T[:, ::-1])
    phases.flags.writeable = False
    return phases, half_len


def resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Resample along axis 0 by ``up / down`` (the same output as
    ``scipy.signal.resample_poly(x, up, down, axis=0)`` up to rounding).

    Output sample ``k`` sits at input time ``k * down / up``; there are
    ``ceil(len(x) * up / down)`` of them. Samples outside ``x`` count as zero.
    ``x`` is ``(n,)`` or ``(n, channels)``; the result is float64 of the same rank.
    """
    g = math.gcd(int(up), int(down))
    up, down = int(up) // g, int(down) // g
    a = np.asarray(x, dtype=np.float64)
    if up == down == 1:
        return a.copy()
    flat = a.ndim == 1
    a2 = a[:, None] if flat else a
    n = len(a2)
    n_out = -(-n * up // down)
    phases, half_len = _resample_filter(up, down)
    taps = phases.shape[1]
    out = np.empty((n_out, a2.shape[1]))
    # y[k] = sum_m h[p + m*up] * x[q - m] with q, p = divmod(k*down + half_len, up).
    pad_l = taps
    hi = (max(n_out - 1, 0) * down + half_len) // up + 1
    pad_r = max(0, hi - n)
    xp = np.concatenate([np.zeros((pad_l, a2.shape[1])), a2, np.zeros((pad_r, a2.shape[1]))])
    block = max(1, (1 << 18) // taps)
    for c in range(a2.shape[1]):
        win = np.lib.stride_tricks.sliding_window_view(xp[:, c], taps)
        for k0 in range(0, n_out, block):
            k = np.arange(k0, min(n_out, k0 + block), dtype=np.int64)
            q, p = np.divmod(k * down + half_len, up)
            # Window starting at q - taps + 1 (in padded coordinates: + pad_l).
            rows = win[q - taps + 1 + pad_l]
            out[k0 : k0 + len(k), c] = np.einsum("ij,ij->i", rows, phases[p])
    return out[:, 0] if flat else out


def iir_impulse_response(
    b: np.ndarray, a: np.ndarray, *, rel_tol: float = 1e-10, max_len: int = 1 << 18
) -> np.ndarray:
    """Impulse response of the IIR filter ``b / a``, cut where it has decayed for good.

    The recursion runs until the last 256 samples are all below ``rel_tol`` times
    the response's peak (or ``max_len``), so the truncation changes the filter's
    output by less than that fraction.
    """
    b = np.asarray(b, dtype=np.float64) / a[0]
    a = np.asarray(a, dtype=np.float64) / a[0]
    order = max(len(a), len(b)) - 1
    # Run in blocks: y[n] = b-part - sum a[j] y[n-j], with plain Python floats (fast enough,
    # the filters here have order <= 3 and responses of a few thousand samples).
    av = [float(v) for v in a[1:]]
    bv = [float(v) for v in b]
    y: list[float] = []
    peak = 0.0
    quiet = 0
    n = 0
    while n < max_len:
        v = bv[n] if n < len(bv) else 0.0
        for j, aj in enumerate(av, start=1):
            if n - j >= 0:
                v -= aj * y[n - j]
        y.append(v)
        peak = max(peak, abs(v))
        quiet = quiet + 1 if abs(v) < rel_tol * peak else 0
        n += 1
        if quiet >= 256 and n > order + 1:
            break
    return np.asarray(y[: max(1, n - quiet + 1)])


class StreamingFIR:
    """An FIR filter applied chunk by chunk with FFT overlap-add.

    :meth:`process` returns as many samples as it was given (no delay beyond the
    filter's own); the part of each chunk's response that spills past its end is
    carried into the next one, so concatenated outputs equal one whole filtering
    (up to rounding). Chunks are ``(n,)`` or ``(n, channels)``.
    """

    def __init__(self, h: np.ndarray, channels: int = 1, *, dtype: type = np.float64) -> None:
        self.dtype = np.dtype(dtype)
        """float64, or float32 for half the FFT work where 1e-6 relative is plenty."""
        self.h = np.asarray(h, dtype=self.dtype)
        self.channels = channels
        self._tail = np.zeros((len(self.h) - 1, channels), dtype=self.dtype)
        self._spectra: dict[int, np.ndarray] = {}

    def _spectrum(self, nfft: int) -> np.ndarray:
        spec = self._spectra.get(nfft)
        if spec is None:
            spec = np.fft.rfft(self.h, nfft)
            if len(self._spectra) > 4:
                self._spectra.clear()
            self._spectra[nfft] = spec
        return spec

    def process(self, chunk: np.ndarray) -> np.ndarray:
        x = np.asarray(chunk, dtype=self.dtype)
        flat = x.ndim == 1
        x2 = x[:, None] if flat else x
        n, m = len(x2), len(self.h)
        if n == 0:
            return x.copy()
        if m <= 64 and n <= 64:
            full = np.stack([np.convolve(x2[:, c], self.h) for c in range(x2.shape[1])], axis=1)
        else:
            nfft = next_fast_len(n + m - 1)
            spec = self._spectrum(nfft)
            full = np.fft.irfft(np.fft.rfft(x2, nfft, axis=0) * spec[:, None], nfft, axis=0)
            full = full[: n + m - 1]
        # The old tail covers the first m - 1 samples (full is n + m - 1 long, n >= 1).
        full[: m - 1] += self._tail
        self._tail = full[n:].copy()
        y = full[:n]
        return y[:, 0] if flat else y


def trailing_min(r: np.ndarray, win: int) -> np.ndarray:
    """``out[i] = min(r[i : i + win])`` for ``i`` in ``0 .. len(r) - win``.

    By doubling: after ``k`` steps ``cur[i]`` is the minimum of ``r[i : i + 2**k]``,
    and two overlapping power-of-two spans cover any window. About log2(win)
    contiguous vector operations, much faster in numpy than a per-sample loop or
    a blocked running minimum (whose accumulate runs element by element).
    """
    r = np.asarray(r, dtype=np.float64)
    n = len(r)
    if win <= 1:
        return r.copy()
    if n < win:
        return np.zeros(0)
    cur = r
    span = 1
    while span * 2 <= win:
        cur = np.minimum(cur[:-span], cur[span:])
        span *= 2
    return np.minimum(cur[: n - win + 1], cur[win - span : n - span + 1])
