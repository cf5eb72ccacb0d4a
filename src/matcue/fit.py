"""Fit a routine to a requested length (``--minutes``).

First every elastic quantity (reps, held durations, rests) is scaled by one
factor, each within sensible bounds (a step's own ``reps_range`` where it has
one); when that cannot reach the target, whole rounds of the routine's main
part are added (the span from its first to its last main step, preceded by a
short transition back to the start), then the factor is fitted again. The
length of each candidate is estimated from the real template output with
speech timed by word count, so the anchored time is exact and the spoken
time close.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .catalog import estimate_seconds
from .cuescript import parse_script
from .settings import Settings
from .templating import render_script_text

TOLERANCE = 0.04
"""Aim within 4% so the real render (speech not estimated) lands within 10%."""
MAX_ROUNDS = 30
SCALE_RANGE = (0.3, 4.0)
REP_BOUNDS = (0.5, 3.0)
HOLD_BOUNDS = (0.5, 2.5)
REST_BOUNDS = (0.5, 3.0)
TRANSITION_BOUNDS = (0.5, 1.0)
"""A transition's own duration (time to fetch a band, to lie down) is only ever
shortened, at most to half, and only for a session that cannot otherwise fit."""
ESTIMATE_WPM_DEFAULT = 190
BISECTIONS = 10
"""Halvings of the scale range: 4/0.3 = 13x narrows to under 0.3% per step."""


def _dur(d: Any, factor: float, bounds: tuple[float, float], whole: bool) -> Any:
    if d is None or d.value == 0:
        return d
    lo, hi = d.value * bounds[0], d.value * bounds[1]
    value = min(max(d.value * factor, lo), hi)
    value = max(1.0, float(round(value))) if whole else round(value, 1)
    limit = {"seconds": 3600.0, "breaths": 200.0, "counts": 200.0}[d.unit]
    return d.model_copy(update={"value": min(value, limit)})


def _reps(step: Any, factor: float, relaxed: bool = False) -> int:
    rng = getattr(step, "reps_range", None)
    if relaxed:
        lo, hi = 1, max(1, int(step.reps * REP_BOUNDS[1]))
    elif rng:
        lo, hi = rng[0], rng[1]
    else:
        lo, hi = (
            max(1, math.ceil(step.reps * REP_BOUNDS[0])),
            max(1, int(step.reps * REP_BOUNDS[1])),
        )
    return int(min(max(round(step.reps * factor), lo), hi, 1000))


def scale_step(step: Any, factor: float, relaxed: bool = False) -> Any:
    """``step`` with its elastic quantities scaled by ``factor``; ``relaxed``
    lets reps go below a step's ``reps_range`` (only to shorten a session
    that cannot otherwise fit)."""
    kind = str(getattr(step.kind, "value", step.kind))
    if kind == "breath":
        return step.model_copy(update={"reps": _reps(step, factor, relaxed)})
    if kind == "hold":
        whole = step.duration.unit != "seconds"
        return step.model_copy(update={"duration": _dur(step.duration, factor, HOLD_BOUNDS, whole)})
    if kind == "reps":
        update = {
            "reps": _reps(step, factor, relaxed),
            "rest": _dur(step.rest, max(factor, 1.0), REST_BOUNDS, step.rest.unit != "seconds"),
        }
        if step.sets > 1:
            update["set_rest"] = _dur(
                step.set_rest, factor, REST_BOUNDS, step.set_rest.unit != "seconds"
            )
        return step.model_copy(update=update)
    if kind == "rest":
        whole = step.duration.unit != "seconds"
        return step.model_copy(update={"duration": _dur(step.duration, factor, REST_BOUNDS, whole)})
    if kind == "transition" and relaxed and step.duration is not None:
        whole = step.duration.unit != "seconds"
        duration = _dur(step.duration, factor, TRANSITION_BOUNDS, whole)
        return step.model_copy(update={"duration": duration})
    return step


def with_rounds(routine: Any, rounds: int) -> Any:
    """``routine`` with ``rounds`` extra rounds of its main part."""
    if rounds <= 0:
        return routine
    from .routine import TransitionStep

    idx = routine.main_indices() or [i for i, s in enumerate(routine.steps)]
    first, last = min(idx), max(idx)
    span = routine.steps[first : last + 1]
    steps = list(routine.steps[: last + 1])
    for r in range(2, rounds + 2):
        back = TransitionStep(
            kind="transition",
            name=f"Round {r}",
            # The name is spoken at the step's start: the text must not say it again.
            text=f"Come back into position for {span[0].display_name.lower()}.",
        )
        steps.append(back)
        for s in span:
            # A step the routine left unnamed stays unnamed: its default name is a
            # chapter title, never spoken, and "Transition (round 2)" would be.
            named = "name" in s.model_fields_set
            steps.append(s.model_copy(update={"name": f"{s.name} (round {r})"}) if named else s)
    steps.extend(routine.steps[last + 1 :])
    return routine.model_copy(update={"steps": steps})


def _scaled(routine: Any, factor: float, relaxed: bool = False) -> Any:
    return routine.model_copy(
        update={"steps": [scale_step(s, factor, relaxed) for s in routine.steps]}
    )


def fit_routine(
    routine: Any, settings: Settings, measure: Callable[[Any], float] | None = None
) -> tuple[Any, list[str]]:
    """Return the fitted routine and a list of human-readable changes."""
    assert settings.minutes is not None
    target = settings.minutes * 60
    plain = replace(settings, minutes=None)
    wpm = settings.rate or ESTIMATE_WPM_DEFAULT

    memo: dict[str, float] = {}

    def length(r: Any) -> float:
        # Reps and counts are whole numbers, so many scale factors give the same
        # routine: measure each distinct routine once.
        key = r.model_dump_json()
        if key not in memo:
            memo[key] = (
                measure(r)
                if measure is not None
                else estimate_seconds(parse_script(render_script_text(r, plain)), wpm)
            )
        return memo[key]

    before = length(routine)
    if abs(before - target) <= TOLERANCE * target:
        return routine, [
            f"--minutes {settings.minutes:g}: already about "
            f"{before / 60:.1f} minutes; nothing changed"
        ]
    best: tuple[float, Any, int, float] | None = None
    if length(_scaled(routine, SCALE_RANGE[0])) > target * (1 + TOLERANCE):
        # Too long even at the shortest sensible scaling: let reps leave their range.
        def relaxed_fit(r: Any) -> tuple[float, Any]:
            lo, hi = SCALE_RANGE
            for _ in range(BISECTIONS):
                mid = math.sqrt(lo * hi)
                if length(_scaled(r, mid, True)) < target:
                    lo = mid
                else:
                    hi = mid
            best = min(
                (_scaled(r, f, True) for f in (lo, hi)), key=lambda c: abs(length(c) - target)
            )
            return abs(length(best) - target), best

        err, fitted = relaxed_fit(routine)
        extra: list[str] = []
        if err > TOLERANCE * target and length(fitted) > target:
            # Last resort: each step's set-up shortened to its first line (taken
            # only if it lands closer: it can overshoot the other way).
            short = routine.model_copy(
                update={
                    "steps": [s.model_copy(update={"setup": s.setup[:1]}) for s in routine.steps]
                }
            )
            short_err, short_fitted = relaxed_fit(short)
            if short_err < err:
                fitted = short_fitted
                extra.append("  set-up instructions shortened to their first line")
        after = length(fitted)
        return fitted, describe_changes(routine, fitted, 0, before, after, settings.minutes, extra)
    for rounds in range(0, MAX_ROUNDS + 1):
        base = with_rounds(routine, rounds)
        lo, hi = SCALE_RANGE
        if rounds > 0 and length(_scaled(base, lo)) > target * (1 + TOLERANCE) and best:
            break  # another round only overshoots
        for _ in range(BISECTIONS):
            mid = math.sqrt(lo * hi)
            if length(_scaled(base, mid)) < target:
                lo = mid
            else:
                hi = mid
        for factor in (lo, hi):
            candidate = _scaled(base, factor)
            err = abs(length(candidate) - target)
            if best is None or err < best[0]:
                best = (err, candidate, rounds, factor)
        assert best is not None  # the loop above always sets it
        if best[0] <= TOLERANCE * target:
            break
        if length(_scaled(base, SCALE_RANGE[1])) < target * (1 - TOLERANCE):
            continue  # even the longest scaling falls short: add a round
        break
    assert best is not None
    _, fitted, rounds, factor = best
    after = length(fitted)
    return fitted, describe_changes(routine, fitted, rounds, before, after, settings.minutes)


def describe_changes(
    original: Any,
    fitted: Any,
    rounds: int,
    before: float,
    after: float,
    minutes: float,
    extra: list[str] | None = None,
) -> list[str]:
    changes = [f"--minutes {minutes:g}: about {before / 60:.1f} -> {after / 60:.1f} minutes"]
    for old, new in zip(original.steps, fitted.steps, strict=False):
        for field_ in ("reps", "duration", "rest", "set_rest"):
            a, b = getattr(old, field_, None), getattr(new, field_, None)
            if a is not None and a != b:
                changes.append(f"  {old.display_name}: {field_.replace('_', ' ')} {a} -> {b}")
    if rounds:
        idx = original.main_indices() or list(range(len(original.steps)))
        names = ", ".join(original.steps[i].display_name for i in idx)
        changes.append(
            f"  added {rounds} more round{'s' if rounds > 1 else ''} of the main part ({names})"
        )
    changes.extend(extra or [])
    if abs(after - minutes * 60) > 0.1 * minutes * 60:
        changes.append(f"  could only reach about {after / 60:.1f} minutes within sensible bounds")
    return changes
