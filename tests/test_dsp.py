"""The numpy DSP kit against scipy (a test-only reference) and against known signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from matcue import dsp
from matcue.loudness import LoudnessMeter, k_weighting

SR = 22050


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    g = math.gcd(sr_in, sr_out)
    return dsp.resample_poly(x, sr_out // g, sr_in // g)


def sine(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)


@pytest.mark.parametrize("up,down", [(1, 2), (2, 1), (147, 320), (320, 147), (4, 1), (3, 2)])
def test_resample_poly_matches_scipy(up: int, down: int) -> None:
    x = np.random.default_rng(up * 1000 + down).standard_normal((3001, 2))
    ours = dsp.resample_poly(x, up, down)
    theirs = signal.resample_poly(x, up, down, axis=0)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    np.testing.assert_allclose(dsp.resample_poly(x[:, 1], up, down), theirs[:, 1], atol=1e-12)


@pytest.mark.parametrize("sr_in,sr_out", [(44100, 22050), (48000, 22050), (16000, 22050)])
def test_resample_keeps_a_sines_frequency_and_level(sr_in: int, sr_out: int) -> None:
    y = resample(sine(1000.0, 2.0, sr_in), sr_in, sr_out)
    assert len(y) == math.ceil(2.0 * sr_out)
    mid = y[sr_out // 2 : sr_out // 2 + sr_out]  # one second away from the edges
    spec = np.abs(np.fft.rfft(mid * np.hanning(len(mid))))
    assert np.fft.rfftfreq(len(mid), 1 / sr_out)[np.argmax(spec)] == pytest.approx(1000, abs=1)
    assert np.sqrt(np.mean(mid**2)) == pytest.approx(0.5 / math.sqrt(2), rel=0.01)


def test_resample_rejects_aliasing() -> None:
    # 15 kHz at 44.1 kHz lies above the new Nyquist (11.025 kHz): it must vanish, not fold
    # down to 7.05 kHz.
    y = resample(sine(15000.0, 1.0, 44100), 44100, 22050)
    assert 20 * math.log10(np.sqrt(np.mean(y[2000:-2000] ** 2)) / (0.5 / math.sqrt(2))) < -60


def test_firwin_matches_scipy() -> None:
    for numtaps, cutoff, beta in [(128, 0.27, 8.0), (41, 0.5, 5.0)]:
        ours = dsp.firwin(numtaps, cutoff, beta)
        theirs = signal.firwin(numtaps, cutoff, window=("kaiser", beta))
        np.testing.assert_allclose(ours, theirs, atol=1e-15)


def test_truncated_impulse_response_matches_the_recursion() -> None:
    (b1, a1), (b2, a2) = k_weighting(SR)
    b, a = np.convolve(b1, b2), np.convolve(a1, a2)
    h = dsp.iir_impulse_response(b, a)
    imp = np.zeros(len(h) + 5000)
    imp[0] = 1.0
    ref = signal.lfilter(b, a, imp)
    np.testing.assert_allclose(h, ref[: len(h)], atol=1e-12)
    assert np.abs(ref[len(h) :]).max() < 1e-9 * np.abs(ref).max()  # what was cut is tiny


def test_streaming_fir_equals_one_convolution_whatever_the_chunks() -> None:
    rng = np.random.default_rng(4)
    h = rng.standard_normal(700)
    x = rng.standard_normal((20000, 2))
    f = dsp.StreamingFIR(h, 2)
    parts, pos = [], 0
    for size in [1, 5, 699, 700, 701, 3000, 10000, 20000]:
        parts.append(f.process(x[pos : pos + size]))
        pos += size
    got = np.concatenate(parts)[: len(x)]
    want = np.stack([np.convolve(x[:, c], h)[: len(x)] for c in range(2)], axis=1)
    np.testing.assert_allclose(got, want, atol=1e-9)


def speechlike(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    env = np.clip(np.sin(2 * np.pi * 3.7 * t), 0, None) ** 2
    return np.convolve(rng.standard_normal(len(t)) * env * 0.2, np.ones(5) / 5, mode="same")


@pytest.mark.parametrize("kind", ["speech", "noise", "low"])
def test_fir_k_weighting_measures_like_the_exact_iir(kind: str) -> None:
    rng = np.random.default_rng(9)
    if kind == "speech":
        x = speechlike(12.0, 1)
    elif kind == "noise":
        x = rng.standard_normal(SR * 8) * 0.05
    else:  # energy near the 38 Hz high-pass, where the response is longest
        x = sine(30.0, 8.0, SR, 0.3) + sine(60.0, 8.0, SR, 0.1)
    (b1, a1), (b2, a2) = k_weighting(SR)
    y = signal.lfilter(b2, a2, signal.lfilter(b1, a1, x))
    # The exact IIR's gated loudness, through the same gating code (a fake filter: identity).
    m = LoudnessMeter(SR, 1)
    m._filter = dsp.StreamingFIR(np.ones(1), 1)
    m.add(y)
    exact = m.integrated()
    ours = LoudnessMeter(SR, 1)
    ours.add(x)
    assert ours.integrated() == pytest.approx(exact, abs=0.02)
    assert ours.integrated() == pytest.approx(exact, abs=1e-5)  # in fact far closer


def test_trailing_min_and_fast_len() -> None:
    r = np.random.default_rng(2).random(1000)
    for w in (1, 2, 37, 1000):
        want = np.array([r[i : i + w].min() for i in range(len(r) - w + 1)])
        np.testing.assert_array_equal(dsp.trailing_min(r, w), want)
    for n in (1, 7, 11, 97, 224596, 1000001):
        m = dsp.next_fast_len(n)
        assert m >= n
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        assert k == 1
        assert all(not _smooth(j) for j in range(n, m))


def _smooth(k: int) -> bool:
    for p in (2, 3, 5):
        while k % p == 0:
            k //= p
    return k == 1
