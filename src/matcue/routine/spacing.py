"""Where counts and calm reminders fall inside a step (exact, paced times): the
numbers a breath step counts aloud, and the reminders that keep a long hold
from going silent."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import pairwise
from typing import Any

from matcue.limits import BREATH_COUNT_MIN_SECONDS
from matcue.timing import Seconds


def phase_counts(offset: Fraction, length: Fraction, scale: Fraction) -> list[dict[str, Any]]:
    """The counts of one breath phase said aloud: its seconds as written (rounded to
    whole seconds, so a 4 s inhale counts to four at any --breath and --pace), evenly
    through the phase as heard; the phase's word stands for "one". None when a count
    would be shorter than :data:`BREATH_COUNT_MIN_SECONDS` (too quick to say a number)."""
    n = int(length / scale + Fraction(1, 2))
    if n < 2 or length / n < BREATH_COUNT_MIN_SECONDS:
        return []
    tick = length / n
    return [{"offset": Seconds(offset + tick * k), "n": k + 1} for k in range(1, n)]


def _quiet_fill(points: list[Fraction], end: Fraction, limit: Fraction) -> list[Seconds]:
    """Times for calm reminders so that no silence between the spoken ``points``
    (sorted, the first at 0) and ``end`` is longer than ``limit``: each longer
    stretch gets the fewest reminders that do it, spread evenly through it."""
    out: list[Seconds] = []
    bounds = [*points, end]
    for a, b in pairwise(bounds):
        gap = Fraction(b) - Fraction(a)
        if gap > limit:
            k = math.ceil(gap / limit) - 1
            out.extend(Seconds(a + gap * j / (k + 1)) for j in range(1, k + 1))
    return out


def _shared_out(n: int, start: Fraction, end: Fraction) -> list[Seconds]:
    """``n`` times spread evenly inside (start, end)."""
    return [Seconds(start + (end - start) * k / (n + 1)) for k in range(1, n + 1)]


def calm_lines(
    cues: list[str], span: Fraction, limit: Fraction, mid: Fraction | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A silent hold's lines before ``span`` (its countdown, or its end): the form
    ``cues`` spread evenly; those cues with calm reminders between them where a
    silence would be longer than ``limit`` (full verbosity); and the reminders alone
    for the whole span (brief and minimal, where cues are not said). With a halfway
    mark at ``mid``, each half shares out its own cues, and the mark is a line of
    its own (``mark`` "halfway") that reminders keep clear of. A reminder has
    ``text`` None and ``turn``, its place among the reminders."""
    if mid is None:
        at_cues = _shared_out(len(cues), Fraction(0), span)
        marks: list[dict[str, Any]] = []
    else:
        half = (len(cues) + 1) // 2
        at_cues = _shared_out(half, Fraction(0), mid) + _shared_out(len(cues) - half, mid, span)
        marks = [{"offset": Seconds(mid), "text": None, "mark": "halfway"}]
    spread: list[dict[str, Any]] = [
        {"offset": at, "text": cue, "mark": None} for at, cue in zip(at_cues, cues, strict=True)
    ]
    said_at = sorted([Fraction(0), *at_cues, *(Fraction(m["offset"]) for m in marks)])
    fill = _quiet_fill(said_at, span, limit)
    calm: list[dict[str, Any]] = sorted(
        spread + marks + [{"offset": at, "text": None, "mark": None} for at in fill],
        key=lambda r: Fraction(r["offset"]),
    )
    brief_at = sorted([Fraction(0), *(Fraction(m["offset"]) for m in marks)])
    calm_brief: list[dict[str, Any]] = sorted(
        [dict(m) for m in marks]
        + [{"offset": at, "text": None, "mark": None} for at in _quiet_fill(brief_at, span, limit)],
        key=lambda r: Fraction(r["offset"]),
    )
    for said in (calm, calm_brief):
        turn = 0
        for r in said:
            r["turn"] = turn
            turn += r["text"] is None and r["mark"] is None
    return spread, calm, calm_brief
