"""Gain envelopes of the mix: breath tone, bed ducking, session fades.

Each is a pure function of the absolute sample index, so any chunking of the
session gives the same samples. Each has two forms: over a contiguous range
``[c0, c1)`` (what the mixer uses, chunk by chunk) and at any sorted sample
positions (what the loudness model uses to sample a whole session sparsely).
The range form is the position form at ``arange(c0, c1)``, so both give the
same values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcue.timeline import Event

BREATH_PHASES = ("inhale", "exhale", "hold_in", "hold_out", "hold")


def _rise(u: np.ndarray) -> np.ndarray:
    """Raised-cosine ramp 0 -> 1 over u in [0, 1]."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(u, 0.0, 1.0))


def _span(pos: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """Indices ``[i0, i1)`` of the sorted ``pos`` with ``lo <= pos < hi``."""
    i0, i1 = np.searchsorted(pos, (lo, hi), side="left")
    return int(i0), int(i1)


def _positions(c0: int, c1: int) -> np.ndarray:
    return np.arange(c0, c1, dtype=np.float64)


# --- breath tone ---------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    level_start: float
    level_end: float
    fade_head: bool
    fade_tail: bool


def breath_segments(events: list[Event], sample_rate: int) -> list[Segment]:
    """Turn phase events into tone-envelope segments.

    inhale 0 -> 1, exhale 1 -> 0, hold_in stays up, hold_out stays silent, a plain
    ``hold`` keeps whatever level the previous phase ended on. Where a segment
    does not continue seamlessly from its neighbour, a 20 ms fade avoids a click.
    """
    phases = sorted(
        (e for e in events if e.kind == "phase" and e.phase in BREATH_PHASES and e.end > e.start),
        key=lambda e: (e.start, e.end),
    )
    joint = int(round(0.05 * sample_rate))
    raw: list[tuple[int, int, float, float]] = []
    prev_end, prev_level = -(10**18), 0.0
    for e in phases:
        if e.phase == "inhale":
            a, b = 0.0, 1.0
        elif e.phase == "exhale":
            a, b = 1.0, 0.0
        elif e.phase == "hold_in":
            a = b = 1.0
        elif e.phase == "hold_out":
            a = b = 0.0
        else:  # plain hold: keep the previous phase's level if it just ended
            a = b = prev_level if e.start - prev_end <= joint else 0.0
        raw.append((e.start, e.end, a, b))
        prev_end, prev_level = e.end, b
    segs: list[Segment] = []
    for i, (s, end, a, b) in enumerate(raw):
        if a == 0.0 and b == 0.0:
            continue
        prev_ok = i > 0 and raw[i - 1][1] == s and raw[i - 1][3] == a
        next_ok = i + 1 < len(raw) and raw[i + 1][0] == end and raw[i + 1][2] == b
        segs.append(Segment(s, end, a, b, a > 0 and not prev_ok, b > 0 and not next_ok))
    return segs


def breath_envelope_at(segments: list[Segment], pos: np.ndarray, sample_rate: int) -> np.ndarray:
    """Breath-tone amplitude (0..1) at the sorted absolute sample positions ``pos``."""
    env = np.zeros(len(pos))
    edge = max(1, int(round(0.02 * sample_rate)))
    for seg in segments:
        i0, i1 = _span(pos, seg.start, seg.end)
        if i0 >= i1:
            continue
        idx = pos[i0:i1]
        u = (idx - seg.start) / (seg.end - seg.start)
        v = seg.level_start + (seg.level_end - seg.level_start) * _rise(u)
        if seg.fade_head:
            v *= _rise((idx - seg.start) / edge)
        if seg.fade_tail:
            v *= _rise((seg.end - 1 - idx) / edge)
        np.maximum(env[i0:i1], v, out=env[i0:i1])
    return env


def breath_envelope(segments: list[Segment], c0: int, c1: int, sample_rate: int) -> np.ndarray:
    """Breath-tone amplitude (0..1) for absolute samples ``[c0, c1)``."""
    return breath_envelope_at(segments, _positions(c0, c1), sample_rate)


# --- bed ducking ---------------------------------------------------------------


def duck_envelope_at(
    intervals: np.ndarray, pos: np.ndarray, attack: int, release: int
) -> np.ndarray:
    """How far (0..1) the bed is ducked at the sorted absolute sample positions ``pos``.

    1 inside each speech interval, raised-cosine ramps of ``attack`` samples
    before and ``release`` samples after; overlapping ramps take the maximum.
    ``intervals`` is an ``(m, 2)`` array of ``[start, end)`` sorted by start.
    """
    d = np.zeros(len(pos))
    if len(intervals) == 0 or len(pos) == 0:
        return d
    first, last = float(pos[0]), float(pos[-1])
    starts = intervals[:, 0]
    # Any interval that reaches the positions starts before last + 1 + attack.
    hi = int(np.searchsorted(starts, last + 1 + attack, side="left"))
    sel = intervals[:hi]
    sel = sel[sel[:, 1] + release > first]
    for s, e in sel:
        i0, i1 = _span(pos, int(s) - attack, int(e) + release)
        if i0 >= i1:
            continue
        idx = pos[i0:i1]
        v = np.ones(i1 - i0)
        if attack > 0:
            v = np.minimum(v, _rise((idx - (s - attack)) / attack))
        if release > 0:
            v = np.minimum(v, _rise((e + release - 1 - idx) / release))
        np.maximum(d[i0:i1], v, out=d[i0:i1])
    return d


def duck_envelope(intervals: np.ndarray, c0: int, c1: int, attack: int, release: int) -> np.ndarray:
    """:func:`duck_envelope_at` for absolute samples ``[c0, c1)``."""
    return duck_envelope_at(intervals, _positions(c0, c1), attack, release)


# --- session and bed fades -------------------------------------------------------


def edge_fades_at(pos: np.ndarray, length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Gain of fades at both ends of a ``length``-sample session, at positions ``pos``."""
    g = np.ones(len(pos))
    if fade_in > 0:
        g *= _rise((pos + 0.5) / fade_in)
    if fade_out > 0:
        g *= _rise((length - pos - 0.5) / fade_out)
    return g


def edge_fades(c0: int, c1: int, length: int, fade_in: int, fade_out: int) -> np.ndarray | None:
    """Gain for session-level fades over ``[c0, c1)``; None when the chunk needs none."""
    if c0 >= fade_in and c1 <= length - fade_out:
        return None
    return edge_fades_at(_positions(c0, c1), length, fade_in, fade_out)
