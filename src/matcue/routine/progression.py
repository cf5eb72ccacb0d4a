"""Week-to-week progression: a step's ``progression:`` written once, and the
routine as it is in week N (``--week N``).

Week 1 is the routine as written. Every ``every`` weeks after it, each step with
a progression gains its ``per_week`` amounts (reps, sets, hold), never past its
``max`` caps nor matcue's limits. Which kinds take which amount:

- ``reps``: breath and reps steps (a reps step with a rep count per set adds it to
  every set);
- ``sets``: reps steps;
- ``hold``: reps steps (their ``hold``) and hold steps (their ``duration``), in the
  unit the hold is written in (seconds, breaths or counts).

This module only knows steps by their fields (it imports no step kind), so the
kinds stay in :mod:`matcue.routine.steps`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from matcue.limits import DURATION_LIMITS, MAX_REPS, MAX_SETS, WEEK_RANGE
from matcue.yamlsafe import Path_

from .text import fail, num
from .values import Duration, Int, Num

if TYPE_CHECKING:
    from .model import Routine
    from .step_base import StepBase

HOLD_FIELD: dict[str, str] = {"reps": "hold", "hold": "duration"}
"""The field a ``hold`` increment lengthens, by step kind."""
TAKES: dict[str, tuple[str, ...]] = {
    "breath": ("reps",),
    "reps": ("reps", "sets", "hold"),
    "hold": ("hold",),
}
"""The amounts each step kind can progress by."""


class Amounts(BaseModel):
    """How much a step gains per step of progression, or at most reaches."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    reps: Int | None = Field(default=None, ge=0, le=MAX_REPS)
    """Repetitions (breath cycles for a breath step), 0..1000."""
    sets: Int | None = Field(default=None, ge=0, le=MAX_SETS)
    """Sets (reps steps), 0..50."""
    hold: Num | None = Field(default=None, ge=0, le=DURATION_LIMITS["seconds"])
    """Hold length, 0..3600, in the unit the step's hold is written in (seconds,
    breaths or counts)."""

    def given(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Progression(BaseModel):
    """A step's week-to-week progression: ``per_week`` amounts added every ``every``
    weeks after week 1, up to the ``max`` caps."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    per_week: Amounts
    """What is added each time (reps, sets, hold); required."""
    every: Int = Field(default=1, ge=1, le=WEEK_RANGE[1])
    """Weeks between additions, 1..52: 2 adds in weeks 3, 5, 7, ..."""
    max: Amounts = Amounts()
    """Caps: the step never goes past these (reps, sets, hold)."""

    @model_validator(mode="after")
    def _something(self) -> Progression:
        if not self.per_week.given():
            raise fail("per_week needs at least one of reps, sets, hold")
        return self

    def steps_at(self, week: int) -> int:
        """How many additions have happened by ``week`` (0 in week 1)."""
        return (week - 1) // self.every


def problems(step: StepBase) -> list[tuple[Path_, str]]:
    """What a step's progression asks that its kind cannot do, or caps below the
    step's own week-1 values (paths relative to the step)."""
    prog = step.progression
    if prog is None:
        return []
    takes = TAKES.get(step.kind, ())
    if not takes:
        return [
            (
                ("progression",),
                f"a {step.kind} step does not progress; only breath, hold and reps steps do",
            )
        ]
    out: list[tuple[Path_, str]] = []
    for part in ("per_week", "max"):
        for key in getattr(prog, part).given():
            if key not in takes:
                out.append(
                    (
                        ("progression", part, key),
                        f"a {step.kind} step progresses by {', '.join(takes)} only",
                    )
                )
    hold_field = HOLD_FIELD.get(step.kind)
    if hold_field is not None:
        hold: Duration = getattr(step, hold_field)
        for part in ("per_week", "max"):
            value = getattr(prog, part).hold
            if value is not None and hold.unit == "counts" and value != int(value):
                out.append(
                    (
                        ("progression", part, "hold"),
                        f"the hold is in counts: expected a whole number, got {num(value)}",
                    )
                )
        if prog.max.hold is not None and prog.max.hold < hold.value:
            out.append(
                (
                    ("progression", "max", "hold"),
                    f"{num(prog.max.hold)} is below the hold's week-1 value "
                    f"({num(hold.value)} {hold.unit})",
                )
            )
    for key in ("reps", "sets"):
        cap = getattr(prog.max, key)
        value = getattr(step, key, None)
        top = max(value) if isinstance(value, list) else value
        if cap is not None and key in takes and top is not None and cap < top:
            out.append(
                (
                    ("progression", "max", key),
                    f"{cap} is below the step's week-1 {key} ({top})",
                )
            )
    if isinstance(getattr(step, "reps", None), list):
        for part in ("per_week", "max"):
            if getattr(prog, part).sets is not None:
                out.append(
                    (
                        ("progression", part, "sets"),
                        "this step gives each set its own reps (a list), so it cannot gain "
                        "sets; progress by reps (added to every set) instead",
                    )
                )
    return out


def _grown(value: float, added: float, cap: float | None, limit: float) -> float:
    grown = value + added
    if cap is not None:
        grown = min(grown, max(cap, value))
    return min(grown, limit)


def _top(reps: int | list[int]) -> int:
    return max(reps) if isinstance(reps, list) else reps


def _low(reps: int | list[int]) -> int:
    return min(reps) if isinstance(reps, list) else reps


def step_at_week(step: StepBase, week: int) -> StepBase:
    """``step`` as it is in ``week`` (itself when it has no progression or in week 1)."""
    prog = step.progression
    if prog is None or prog.steps_at(week) == 0:
        return step
    n = prog.steps_at(week)
    add, cap = prog.per_week, prog.max
    update: dict[str, Any] = {}
    for key, limit in (("reps", MAX_REPS), ("sets", MAX_SETS)):
        inc = getattr(add, key)
        if inc is not None:
            old = getattr(step, key)
            if isinstance(old, list):  # reps per set: every set gains
                update[key] = [int(_grown(o, inc * n, getattr(cap, key), limit)) for o in old]
            else:
                update[key] = int(_grown(old, inc * n, getattr(cap, key), limit))
    if "reps" in update and getattr(step, "reps_range", None) is not None:
        # The range --minutes may choose from moves along with the reps.
        lo, hi = step.reps_range  # type: ignore[attr-defined]
        new_top, old_top = _top(update["reps"]), _top(step.reps)  # type: ignore[attr-defined]
        gained = new_top - old_top
        top = cap.reps if cap.reps is not None else MAX_REPS
        update["reps_range"] = (
            min(lo + gained, _low(update["reps"])),
            max(min(hi + gained, top, MAX_REPS), new_top),
        )
    hold_field = HOLD_FIELD.get(step.kind)
    if add.hold is not None and hold_field is not None:
        old_hold: Duration = getattr(step, hold_field)
        value = _grown(old_hold.value, add.hold * n, cap.hold, DURATION_LIMITS[old_hold.unit])
        update[hold_field] = old_hold.model_copy(update={"value": float(value)})
    return step.model_copy(update=update)


def has_progression(routine: Routine) -> bool:
    """True when some step of ``routine`` changes from week to week."""
    return any(s.progression is not None for s in routine.steps)


def routine_at_week(routine: Routine, week: int) -> tuple[Routine, list[str]]:
    """``routine`` as it is in ``week``, and a line per step that changed (what it
    became, and its week-1 value), or one line saying the routine has no progression."""
    if not has_progression(routine):
        return routine, [f"week {week}: this routine has no progression; it is the same every week"]
    steps = [step_at_week(s, week) for s in routine.steps]
    changes = []
    for old, new in zip(routine.steps, steps, strict=True):
        if new is old:
            continue
        parts = []
        for key in ("reps", "sets"):
            if getattr(new, key, None) != getattr(old, key, None):
                parts.append(f"{getattr(new, key)} {key} (week 1: {getattr(old, key)})")
        field_name = HOLD_FIELD.get(old.kind)
        if field_name and getattr(new, field_name) != getattr(old, field_name):
            parts.append(
                f"{field_name} {getattr(new, field_name)} (week 1: {getattr(old, field_name)})"
            )
        if parts:
            changes.append(f"week {week}: {old.display_name}: {', '.join(parts)}")
    return routine.model_copy(update={"steps": steps}), changes
