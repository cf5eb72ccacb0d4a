"""Loudness meter, true-peak estimate and limiter, checked against known signals
and an independent meter (pyloudnorm)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import resample

from matcue.loudness import (
    LoudnessMeter,
    TruePeakLimiter,
    gated_loudness,
    integrated_loudness,
    true_peak_db,
)


def sine(freq: float, seconds: float, sr: int, amp: float = 1.0, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return amp * np.sin(2 * np.pi * freq * t + phase)


def independent_true_peak_db(x: np.ndarray) -> float:
    """8x FFT interpolation: a different method from the 4x polyphase under test."""
    up = resample(x, len(x) * 8, axis=0)
    return 20 * math.log10(float(np.max(np.abs(up))))


@pytest.mark.parametrize("sr", [48000, 22050])
def test_sine_reads_as_the_standard_says(sr: int) -> None:
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS.
    x = sine(997, 5.0, sr, amp=0.1)
    assert integrated_loudness(x, sr) == pytest.approx(-23.01, abs=0.08)


def test_stereo_sums_channels() -> None:
    sr = 48000
    x = sine(997, 5.0, sr, amp=0.1)
    both = np.stack([x, x], axis=1)
    assert integrated_loudness(both, sr) == pytest.approx(-23.01 + 3.01, abs=0.05)


def test_absolute_gate_ignores_silence() -> None:
    sr = 22050
    x = np.concatenate([sine(997, 3.0, sr, amp=0.1), np.zeros(20 * sr)])
    # 27 whole 400 ms tone blocks, plus three that overlap the tone's end by 75/50/25 %
    # (those pass both gates); the 200-odd silent blocks are gated out.
    expected = -23.01 + 10 * math.log10((27 + 0.75 + 0.5 + 0.25) / 30)
    assert integrated_loudness(x, sr) == pytest.approx(expected, abs=0.08)


def test_relative_gate_drops_quiet_passages() -> None:
    sr = 48000
    loud = sine(997, 4.0, sr, amp=0.1)
    quiet = sine(997, 8.0, sr, amp=0.001)  # 40 dB down: above -70 LUFS, below the -10 LU gate
    x = np.concatenate([loud, quiet])
    assert integrated_loudness(x, sr) == pytest.approx(-23.0, abs=0.3)


def test_matches_pyloudnorm_on_noise_with_pauses() -> None:
    pyln = pytest.importorskip("pyloudnorm")
    sr = 48000
    rng = np.random.default_rng(7)
    x = rng.standard_normal(sr * 12) * 0.05
    x[sr * 2 : sr * 4] = 0.0
    x[sr * 7 : sr * 8] *= 0.1
    ours = integrated_loudness(x, sr)
    theirs = pyln.Meter(sr).integrated_loudness(x)
    assert ours == pytest.approx(theirs, abs=0.1)


def test_streaming_equals_whole() -> None:
    sr = 22050
    rng = np.random.default_rng(3)
    x = rng.standard_normal((sr * 6, 2)) * np.linspace(0.01, 0.3, sr * 6)[:, None]
    m = LoudnessMeter(sr, 2)
    pos = 0
    for size in rng.integers(1, 5000, size=10_000):
        m.add(x[pos : pos + size])
        pos += int(size)
        if pos >= len(x):
            break
    assert m.samples == len(x)
    assert m.integrated() == pytest.approx(integrated_loudness(x, sr), abs=1e-9)


def test_silence_is_minus_infinity() -> None:
    assert integrated_loudness(np.zeros(22050 * 2), 22050) == float("-inf")


def test_true_peak_sees_intersample_peak() -> None:
    # fs/4 at 45 degrees: every sample is +-0.707 (-3 dBFS) but the wave peaks at 1.0.
    x = sine(22050 / 4, 1.0, 22050, amp=1.0, phase=math.pi / 4)
    assert 20 * math.log10(np.max(np.abs(x))) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_db(x) == pytest.approx(0.0, abs=0.3)


def test_limiter_holds_the_ceiling_and_leaves_quiet_audio_alone() -> None:
    sr = 22050
    quiet = sine(440, 2.0, sr, amp=0.3)
    loud = sine(5000, 1.0, sr, amp=1.6)  # +4 dBFS
    fs4 = sine(sr / 4, 1.0, sr, amp=0.85, phase=math.pi / 4)  # samples -4.4 dB, true peak -1.4
    x = np.concatenate([quiet, loud, quiet, fs4 * 1.2, quiet])
    lim = TruePeakLimiter(sr, 1, -1.0)
    out = np.concatenate(
        [lim.process(x[i : i + 999]) for i in range(0, len(x), 999)] + [lim.flush()]
    )[lim.delay :]
    assert len(out) == len(x)
    assert independent_true_peak_db(out) <= -1.0
    # Far from the peaks the signal passes unchanged (only delayed, and compensated here).
    np.testing.assert_allclose(out[:sr], x[:sr], atol=1e-12)
    mid = slice(3 * sr + sr // 2, 4 * sr)
    np.testing.assert_allclose(out[mid], x[mid], atol=1e-12)


def test_limiter_is_chunk_independent_and_stereo_linked() -> None:
    sr = 22050
    rng = np.random.default_rng(1)
    x = rng.standard_normal((sr * 3, 2)) * 0.3
    x[sr : sr + 500, 0] *= 5
    outs = []
    for size in (1000, 7777):
        lim = TruePeakLimiter(sr, 2, -1.0)
        parts = [lim.process(x[i : i + size]) for i in range(0, len(x), size)]
        outs.append(np.concatenate(parts + [lim.flush()])[lim.delay :])
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-9)
    # One gain for both channels: the right channel dips where only the left peaks.
    ratio = outs[0][sr : sr + 500, 1] / x[sr : sr + 500, 1]
    assert ratio.max() < 0.5


def test_limiter_skips_only_what_cannot_reach_the_ceiling() -> None:
    """Regression guard for the block skip: it relies on |interpolated| <= (largest sample
    under the taps) * sum|taps|. The worst case for that bound is a signal whose samples
    follow the signs of one phase's taps; at 0.999 of the bound nothing may be reduced,
    at 1.02 of it the peak must be caught."""
    sr = 22050
    probe = TruePeakLimiter(sr, 1, -1.0)
    k = int(np.argmax(np.abs(probe._phases).sum(axis=1)))
    pattern = np.sign(probe._phases[k])[::-1]
    for scale, limited in ((0.999, False), (1.02, True)):
        lim = TruePeakLimiter(sr, 1, -1.0)
        amp = scale * lim.ceiling / lim._gain_bound
        x = np.zeros(sr)
        x[5000 : 5000 + len(pattern)] = amp * pattern
        out = np.concatenate(
            [lim.process(x[i : i + 3000]) for i in range(0, sr, 3000)] + [lim.flush()]
        )[lim.delay :]
        assert (lim.min_gain < 1.0) is limited
        if not limited:
            np.testing.assert_array_equal(out, x)
        # The limiter's own 4x interpolation of the output stays under its ceiling either
        # way (an adversarial pattern like this one reads differently through other filters).
        own = max(np.abs(np.convolve(out, h)).max() for h in lim._phases)
        assert own <= lim.ceiling * 1.001


def test_weighted_measurement_matches_filtering_the_gained_stream() -> None:
    """The mixer measures its limited mix as K(x) times the limiter's gain instead of
    K(gain * x). For a limiter's slow gain moves (ms ramps, here pushed to 2 dB deep on a
    third of the stream) that must agree with the exact measurement to 0.02 LU."""
    sr = 22050
    rng = np.random.default_rng(5)
    t = np.arange(sr * 12) / sr
    x = rng.standard_normal(len(t)) * np.clip(np.sin(2 * np.pi * 3.3 * t), 0, None) ** 2 * 0.2
    # Dips to -2 dB over 5 ms ramps, held 30 ms, every ~0.1 s through the first third.
    w = np.ones(len(t))
    for s in range(1000, 4 * sr, 2300):
        w[s : s + 110] = np.minimum(w[s : s + 110], np.linspace(1, 0.79, 110))
        w[s + 110 : s + 770] = 0.79
        w[s + 770 : s + 880] = np.linspace(0.79, 1, 110)
    exact = integrated_loudness(w * x, sr)
    m = LoudnessMeter(sr, 1, weighted=True)
    # The gains arrive 141 samples behind the audio, as the limiter's do.
    x_parts = np.split(x, range(5000, len(x), 5000))
    w_parts = np.split(w, range(5000 - 141, len(w), 5000))
    for xp, wp in zip(x_parts, w_parts[: len(x_parts)], strict=True):
        m.add(xp)
        m.add_weights(wp)
    for wp in w_parts[len(x_parts) :]:
        m.add_weights(wp)
    assert len(m.weighted_sub_block_energies()) == len(x) // m.step
    approx = gated_loudness(m.weighted_sub_block_energies(), m.step)
    assert exact < integrated_loudness(x, sr) - 0.1  # the dips do take loudness off
    assert approx == pytest.approx(exact, abs=0.02)


def test_sums_of_squares_a_hair_under_zero_are_silence_without_a_warning() -> None:
    """Regression: sums of squares of silence made by differences can come out a hair
    under zero in float32; log10 of them warned "invalid value encountered in log10",
    and the warning was printed among an interrupted render's messages (the interrupt
    tests in test_robustness.py failed once speech got slower)."""
    import warnings

    from matcue.loudness import gated_loudness

    sub = np.array([-1e-12, -1e-12, 0.0, -1e-12, -1e-12, -1e-12], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gated_loudness(sub, 2205) == float("-inf")
