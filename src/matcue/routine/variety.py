"""Which phrasing each rep of a breath or reps step gets at full verbosity.

A cue may list alternative phrasings and a step may list refinement cues. At
full verbosity a set tapers: its first :data:`~matcue.limits.TAPER_FULL_FIRST`
reps get the full cues, then every third rep does (the phrasings used in turn
across the whole step); the reps between get the short forms, a refinement cue
taking one window every third rep. A cue of at most
:data:`~matcue.limits.SHORT_CUE_WORDS` words is its own short form. The result
is plain data for the templates (``turns``, see docs/templates.md): the choice
is made once here, so every template (and a user's) words the same rep alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from matcue.limits import (
    COUNTDOWN_FROM,
    HALFWAY_REPS,
    REFINE_MIN_SECONDS,
    SHORT_CUE_WORDS,
    TAPER_FULL_FIRST,
)

_EVERY = 3


def is_full_turn(k: int) -> bool:
    """True when rep ``k`` of a set (0-based) gets the full cues."""
    return k < TAPER_FULL_FIRST or k % _EVERY == TAPER_FULL_FIRST % _EVERY


def mark(k: int, reps: int, marks: dict[str, bool]) -> str | None:
    """The progress phrase (a catalogue key) for rep ``k`` (0-based) of a set of ``reps``:
    'last_one', 'three_to_go', 'halfway' or None."""
    left = reps - k
    if marks.get("countdown") and left == 1 and reps >= 3:
        return "last_one"
    if marks.get("countdown") and left == 3 and reps >= COUNTDOWN_FROM:
        return "three_to_go"
    if marks.get("halfway") and reps >= HALFWAY_REPS and k == reps // 2:
        return "halfway"
    return None


def turns(
    set_reps: list[int],
    phrasings: dict[str, list[str]],
    refine: list[str],
    refine_at: str | None,
    marks: dict[str, bool],
) -> list[list[dict[str, Any]]]:
    """Per set (``set_reps``: each set's rep count), per rep: ``{"n": rep, "full": bool,
    "cues": {field: text or None}, "refine": text or None, "mark": key or None}``.
    ``cues[field]`` None means "say the short word"; a refinement replaces the cue of
    ``refine_at``; ``mark`` is the progress phrase to say first (a catalogue key, see
    :func:`mark`)."""
    out: list[list[dict[str, Any]]] = []
    full_n = 0  # full turns so far, across sets: the phrasings go round in turn
    refine_n = 0
    for reps in set_reps:
        one_set = []
        for k in range(reps):
            full = is_full_turn(k)
            cues: dict[str, str | None] = {}
            for field, lines in phrasings.items():
                if not lines:
                    cues[field] = None
                elif full:
                    cues[field] = lines[full_n % len(lines)]
                else:
                    line = lines[k % len(lines)]
                    cues[field] = line if len(line.split()) <= SHORT_CUE_WORDS else None
            said = None
            # Not in the rest after a set's last rep: the movement is over by then.
            last_rest = refine_at == "rest" and k == reps - 1
            if not full and refine and refine_at and k % _EVERY == 0 and not last_rest:
                said = refine[refine_n % len(refine)]
                refine_n += 1
                cues[refine_at] = said
            full_n += full
            one_set.append(
                {
                    "n": k + 1,
                    "full": full,
                    "cues": cues,
                    "refine": said,
                    "mark": mark(k, reps, marks),
                }
            )
        out.append(one_set)
    return out


def roomiest(windows: Mapping[str, Fraction | int]) -> str | None:
    """The window a refinement goes to: the longest of ``windows`` (name -> seconds, in
    order; a tie goes to the first), if it is at least REFINE_MIN_SECONDS."""
    best = None
    for name, length in windows.items():
        if length >= REFINE_MIN_SECONDS and (best is None or length > windows[best]):
            best = name
    return best
