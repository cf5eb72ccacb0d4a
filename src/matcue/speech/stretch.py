"""Sample-level helpers for speech clips: silence trimming and time stretching.

Both are plain numpy so they are deterministic and testable without an engine.
``time_stretch`` lets a cue that is slightly too long for its anchored window be
spoken a little faster without sounding higher (WSOLA keeps the pitch, unlike
resampling, which would turn the voice into a chipmunk).
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

TRIM_THRESHOLD_DB = -45.0
"""Samples quieter than this, relative to the clip's peak, count as silence."""

TRIM_MARGIN_S = 0.010
"""Silence kept before the first and after the last audible sample."""

SILENCE_PEAK = 1e-4
"""A clip whose peak is below this (about -80 dBFS) is silent."""


def is_silent(samples: np.ndarray) -> bool:
    """True when ``samples`` is empty or has no sample above :data:`SILENCE_PEAK`."""
    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK


EDGE_FADE_S = 0.002
"""The shortest fade at a clip's ends: where the sound starts (or stops) on the
first (or last) sample, as eSpeak's clips can, with no margin to fade over, 2 ms
of the sound itself are faded so the clip does not start with a click."""

TRIM_TAIL_DB = -60.0
"""Where a clip's end is found, relative to its peak: lower than the start's
threshold, so a voice's decay (up to 25 ms above -45 dB, measured) is never cut."""


def _fade(samples: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """Raised-cosine fades over the first ``n_in`` and last ``n_out`` samples, so a
    trimmed clip starts and ends on silence (no click at either end)."""
    out = np.array(samples, dtype=np.float32, copy=True)
    if n_in > 0:
        out[:n_in] *= (0.5 - 0.5 * np.cos(np.pi * np.arange(n_in) / n_in)).astype(np.float32)
    if n_out > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_out, 0, -1) / n_out)
        out[len(out) - n_out :] *= ramp.astype(np.float32)
    return out


def trim_silence(
    samples: np.ndarray,
    sample_rate: int,
    *,
    margin: float = TRIM_MARGIN_S,
    threshold_db: float = TRIM_THRESHOLD_DB,
    tail_db: float = TRIM_TAIL_DB,
) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``margin`` seconds on each side,
    and fade the kept margins in and out.

    Engines pad their output with silence of varying length; trimming it means a
    cue starts when the timeline places it, not some tens of milliseconds later.
    The start is where the clip first passes ``threshold_db`` (relative to its
    peak), the end where it last passes ``tail_db``; the fades cover only the
    margins, which lie below those levels, so no audible sound is removed.
    A silent clip is returned unchanged (callers decide whether that is an error).
    """
    samples = np.asarray(samples)
    if is_silent(samples):
        return samples
    level = np.abs(samples)
    peak = float(np.max(level))
    loud = np.flatnonzero(level > peak * 10.0 ** (threshold_db / 20.0))
    tail = np.flatnonzero(level > peak * 10.0 ** (tail_db / 20.0))
    keep = int(round(margin * sample_rate))
    start = max(0, int(loud[0]) - keep)
    end = min(len(samples), int(tail[-1]) + 1 + keep)
    edge = int(round(EDGE_FADE_S * sample_rate))
    n_in = max(int(loud[0]) - start, edge)
    n_out = max(end - (int(tail[-1]) + 1), edge)
    kept = samples[start:end]
    n_in = min(n_in, len(kept) // 2)
    n_out = min(n_out, len(kept) - n_in)
    return _fade(kept, n_in, n_out)


def time_stretch(samples: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """Speed ``samples`` up by ``factor`` while keeping the pitch (WSOLA).

    The output has ``round(len(samples) / factor)`` samples. ``factor`` > 1
    shortens, < 1 lengthens; 1 returns a copy. Deterministic: no randomness, the
    same input always gives the same output.

    Waveform-similarity overlap-add: output frames (Hann window, 50 % overlap)
    are copied from the input at ``factor`` times the output hop, each shifted by
    up to a quarter frame to the position whose waveform best continues the
    previous frame, which avoids the phase jumps that make plain OLA warble.
    """
    if factor <= 0 or not np.isfinite(factor):
        raise ValueError(f"stretch factor must be a positive number, got {factor!r}")
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("time_stretch expects mono samples (a 1-D array)")
    n_out = int(round(len(x) / factor))
    if factor == 1.0 or len(x) == 0:
        return x.copy()

    frame = max(16, 2 * int(round(0.025 * sample_rate / 2)))  # ~25 ms, even
    hop = frame // 2
    tol = frame // 4
    window = np.hanning(frame + 1)[:-1].astype(np.float64)  # periodic: sums to 1 at 50 %

    pad = frame + tol
    xp = np.concatenate([np.zeros(pad), x.astype(np.float64), np.zeros(pad + frame + hop)])
    n_frames = n_out // hop + 2
    out = np.zeros(n_frames * hop + frame)
    weight = np.zeros_like(out)

    prev = pad
    limit = len(xp) - frame
    for k in range(n_frames):
        nominal = pad + int(round(k * hop * factor))
        nominal = min(nominal, limit - tol)
        if k == 0:
            pos = nominal
        else:
            natural = min(prev + hop, limit)
            target = xp[natural : natural + frame]
            lo = max(0, nominal - tol)
            region = xp[lo : nominal + tol + frame]
            if np.any(target) and len(region) >= frame:
                corr = np.correlate(region, target, mode="valid")
                pos = lo + int(np.argmax(corr))
            else:
                pos = nominal
        out[k * hop : k * hop + frame] += xp[pos : pos + frame] * window
        weight[k * hop : k * hop + frame] += window
        prev = pos

    # The first frame starts `pad` samples into xp, i.e. at input sample 0, so
    # the output is aligned with the input's start.
    weight[weight < 1e-6] = 1.0
    y = out / weight
    return y[:n_out].astype(np.float32)
