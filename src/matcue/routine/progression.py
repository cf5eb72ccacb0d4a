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

This module only knows steps by what they say they can grow (each kind's
:meth:`~matcue.routine.step_base.StepBase.growth`), so the kinds stay in
:mod:`matcue.routine.steps`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from matcue.limits import DURATION_LIMITS, MAX_REPS, MAX_SETS, WEEK_RANGE
from matcue.yamlsafe import Path_

from .text import fail, num
from .values import Duration, Int, Num

if TYPE_CHECKING:
    from .model import Routine
    from .step_base import StepBase


@dataclass(frozen=True)
class Growth:
    """What a step kind can gain week to week, with the step's values: None where
    the kind does not progress by that amount (a breath step has no sets)."""

    reps: int | list[int] | None = None
    """Its rep count (a breath step's cycles; a reps step's, or one per set)."""
    reps_range: tuple[int, int] | None = None
    """The range ``--minutes`` may choose reps from (it moves along with them)."""
    sets: int | None = None
    hold: Duration | None = None
    """How long it holds (a reps step's ``hold``, a hold step's ``duration``)."""
    hold_field: str = "hold"
    """The field that holds it."""

    @property
    def takes(self) -> tuple[str, ...]:
        """The amounts the kind can progress by."""
        given = (("reps", self.reps), ("sets", self.sets), ("hold", self.hold))
        return tuple(key for key, value in given if value is not None)

    def update(self) -> dict[str, object]:
        """These values by the step's field names (those given)."""
        fields: dict[str, object] = {
            "reps": self.reps,
            "reps_range": self.reps_range,
            "sets": self.sets,
            self.hold_field: self.hold,
        }
        return {k: v for k, v in fields.items() if v is not None}


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
    growth = step.growth()
    takes = growth.takes if growth is not None else ()
    if growth is None or not takes:
        return [
            (
                ("progression",),
                f"a {step.kind} step does not progress; only breath, hold and reps steps do",
            )
        ]
    out: list[tuple[Path_, str]] = []
    parts = (("per_week", prog.per_week), ("max", prog.max))
    for part, amounts in parts:
        for key in amounts.given():
            if key not in takes:
                out.append(
                    (
                        ("progression", part, key),
                        f"a {step.kind} step progresses by {', '.join(takes)} only",
                    )
                )
    hold = growth.hold
    if hold is not None:
        for part, amounts in parts:
            value = amounts.hold
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
    counts: tuple[tuple[str, int | None, int | list[int] | None], ...] = (
        ("reps", prog.max.reps, growth.reps),
        ("sets", prog.max.sets, growth.sets),
    )
    for key, cap, count in counts:
        top = max(count) if isinstance(count, list) else count
        if cap is not None and top is not None and cap < top:
            out.append(
                (
                    ("progression", "max", key),
                    f"{cap} is below the step's week-1 {key} ({top})",
                )
            )
    if isinstance(growth.reps, list):
        for part, amounts in parts:
            if amounts.sets is not None:
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
    growth = step.growth()
    if prog is None or growth is None or prog.steps_at(week) == 0:
        return step
    n = prog.steps_at(week)
    add, cap = prog.per_week, prog.max
    grown = Growth(hold_field=growth.hold_field)  # only what grows
    if add.reps is not None and growth.reps is not None:
        old = growth.reps
        if isinstance(old, list):  # reps per set: every set gains
            reps: int | list[int] = [int(_grown(o, add.reps * n, cap.reps, MAX_REPS)) for o in old]
        else:
            reps = int(_grown(old, add.reps * n, cap.reps, MAX_REPS))
        grown = replace(grown, reps=reps)
        if growth.reps_range is not None:
            # The range --minutes may choose from moves along with the reps.
            lo, hi = growth.reps_range
            new_top, old_top = _top(reps), _top(old)
            gained = new_top - old_top
            top = cap.reps if cap.reps is not None else MAX_REPS
            grown = replace(
                grown,
                reps_range=(
                    min(lo + gained, _low(reps)),
                    max(min(hi + gained, top, MAX_REPS), new_top),
                ),
            )
    if add.sets is not None and growth.sets is not None:
        grown = replace(grown, sets=int(_grown(growth.sets, add.sets * n, cap.sets, MAX_SETS)))
    old_hold = growth.hold
    if add.hold is not None and old_hold is not None:
        value = _grown(old_hold.value, add.hold * n, cap.hold, DURATION_LIMITS[old_hold.unit])
        grown = replace(grown, hold=old_hold.model_copy(update={"value": float(value)}))
    return step.grown(grown)


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
    for old_step, new_step in zip(routine.steps, steps, strict=True):
        old, new = old_step.growth(), new_step.growth()
        if new_step is old_step or old is None or new is None:
            continue
        parts = []
        for key, a, b in (("reps", old.reps, new.reps), ("sets", old.sets, new.sets)):
            if b != a:
                parts.append(f"{b} {key} (week 1: {a})")
        if new.hold != old.hold:
            parts.append(f"{old.hold_field} {new.hold} (week 1: {old.hold})")
        if parts:
            changes.append(f"week {week}: {old_step.display_name}: {', '.join(parts)}")
    return routine.model_copy(update={"steps": steps}), changes
