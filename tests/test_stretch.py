"""Pitch-preserving time stretch and silence trimming (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from matcue.speech import SpeechSettings, get_engine
from matcue.speech.stretch import is_silent, time_stretch, trim_silence

SR = 22050


def tone(freq: float, seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_freq(x: np.ndarray, sr: int) -> float:
    """Zero-crossing count over the middle half: independent of FFT bin size."""
    mid = x[len(x) // 4 : 3 * len(x) // 4]
    crossings = np.flatnonzero((mid[:-1] < 0) & (mid[1:] >= 0))
    return (len(crossings) - 1) * sr / (crossings[-1] - crossings[0])


@pytest.mark.parametrize("factor", [1.05, 1.15, 1.25, 1.4])
def test_length_is_len_over_factor(factor: float) -> None:
    x = tone(220, 2.0)
    y = time_stretch(x, factor, SR)
    assert abs(len(y) - len(x) / factor) <= 0.01 * len(x) / factor


@pytest.mark.parametrize("factor", [1.1, 1.25])
def test_a_220_hz_tone_keeps_its_pitch(factor: float) -> None:
    y = time_stretch(tone(220, 2.0), factor, SR)
    assert dominant_freq(y, SR) == pytest.approx(220, rel=0.02)
    # Resampling would have given 220 * factor: make sure we are not doing that.
    assert abs(dominant_freq(y, SR) - 220 * factor) > 10


def test_stretch_is_deterministic_and_does_not_touch_its_input() -> None:
    x = tone(330, 1.0) + tone(97, 1.0)
    before = x.copy()
    assert np.array_equal(time_stretch(x, 1.2, SR), time_stretch(x, 1.2, SR))
    assert np.array_equal(x, before)


def test_factor_one_is_a_copy_and_bad_factors_are_rejected() -> None:
    x = tone(220, 0.5)
    assert np.array_equal(time_stretch(x, 1.0, SR), x)
    with pytest.raises(ValueError):
        time_stretch(x, 0.0, SR)
    with pytest.raises(ValueError):
        time_stretch(x, float("nan"), SR)


def test_stretched_speech_stays_speech() -> None:
    clip = get_engine("pyttsx3").synthesize("Lift your chest as you breathe in.", SpeechSettings())
    y = time_stretch(clip.samples, 1.2, clip.sample_rate)
    assert len(y) == round(len(clip.samples) / 1.2)
    assert not is_silent(y)
    rms_in = np.sqrt(np.mean(clip.samples.astype(np.float64) ** 2))
    rms_out = np.sqrt(np.mean(y.astype(np.float64) ** 2))
    assert rms_out == pytest.approx(rms_in, rel=0.25)
    # Every quarter of the stretched clip still carries sound (no dropped spans).
    for part in np.array_split(y, 4):
        assert np.max(np.abs(part)) > 0.05


def test_trim_silence_keeps_a_10_ms_margin() -> None:
    body = tone(440, 0.3)
    x = np.concatenate([np.zeros(SR), body, np.zeros(SR // 2)]).astype(np.float32)
    y = trim_silence(x, SR)
    margin = round(0.010 * SR)
    assert len(y) == pytest.approx(len(body) + 2 * margin, abs=3)
    assert np.max(np.abs(y[: margin - 3])) == 0.0


def test_trim_silence_leaves_silence_alone() -> None:
    z = np.zeros(1000, dtype=np.float32)
    assert is_silent(z) and len(trim_silence(z, SR)) == 1000
