"""The ``hold`` step kind: a held shape for a set time. In a module of its own
for size; registered with the other kinds in :mod:`matcue.routine.steps`."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from matcue.cuescript import to_fraction
from matcue.limits import (
    COUNTDOWN_COUNTS,
    FIT_HOLD_BOUNDS,
    HALFWAY_HOLD_SECONDS,
    HALFWAY_MIN_BREATHS,
    HOLD_EVERY_RANGE,
    QUIET_LIMIT_SECONDS,
)
from matcue.timing import Seconds, Timing

from .progression import Growth
from .spacing import calm_lines
from .step_base import (
    DurationWindow,
    FitValue,
    Plan,
    Said,
    StepBase,
    Window,
    scaled_duration,
)
from .text import fail
from .values import (
    Duration,
    DurationField,
    Flag,
    Guide,
    Line,
    Lines,
    Name,
    Num,
    Progress,
    ProgressField,
    progress_marks,
)

if TYPE_CHECKING:  # typing.Self is 3.11+
    from typing_extensions import Self


class HoldStep(StepBase):
    """A held shape for a set time."""

    starter_example: ClassVar[str] = """\
    # hold: a shape held for a while. sides: both does it left, then right.
    - kind: hold
      name: Knee to chest
      sides: both
      begin: Begin with your {side} knee.   # {side}, {other_side}: the side being done
      switch: Change to your {side} knee.
      duration: {breaths: 5}
      guide: breaths         # breaths, count, countdown or none
      setup: Draw one knee gently toward your chest.
      cues:
        - Keep the other leg relaxed.
        - Let the lower back soften into the mat.
      release: Let the leg slide back down.
    """

    timed: ClassVar[bool] = True
    kind: Literal["hold"]
    """Step kind: 'hold'."""
    name: Name
    """Chapter title; required."""
    duration: DurationField
    """How long the shape is held (more than 0); required."""
    guide: Guide | None = None
    """What is said during the hold: 'breaths', 'count', 'countdown' or 'none'; null = by the
    duration's unit (breaths -> 'breaths', counts -> 'count', seconds -> 'none')."""
    cues: Lines = []
    """Calm form cues spoken during the hold (full verbosity)."""
    release: Line | None = None
    """Cue spoken at the end of the hold."""
    progress: ProgressField = Progress()
    """Marks of progress: true (all), false (none) or {halfway: ...}: 'Halfway.' in the
    middle of a hold of 20 s or more (guide 'breaths' or 'none'; a count or a countdown is
    its own mark)."""
    hold_here: Flag = True
    """Say 'Hold here.' ('Hold.' at minimal verbosity) at the start of a hold guided by
    'none' or a countdown in seconds; false = start in silence."""
    every: Num | None = Field(default=None, ge=HOLD_EVERY_RANGE[0], le=HOLD_EVERY_RANGE[1])
    """In a hold guided by 'none' or a 'countdown' in seconds: the longest silence,
    in seconds (paced), 10..600, before a calm reminder; null = 20 s (not paced).
    Reminders are spread evenly through each longer silent stretch."""
    reminders: Lines = []
    """Calm reminders for the silent stretches of the hold, used in turn; empty = the
    language's own ('Keep breathing easily.', ...)."""

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.value <= 0:
            raise fail("a hold must last more than 0")
        return value

    @property
    def effective_guide(self) -> Guide:
        """``guide``, or the default for the duration's unit."""
        if self.guide is not None:
            return self.guide
        return {"breaths": Guide.breaths, "counts": Guide.count}.get(self.duration.unit, Guide.none)

    placeholders: ClassVar[tuple[str, ...]] = ("cycle", "seconds")

    def placeholder_values(self, timing: Timing) -> dict[str, Fraction | int]:
        return {"cycle": timing.cycle, "seconds": timing.duration(self.duration)}

    def _spoken_texts(self) -> Iterator[Said]:
        for k, line in enumerate(self.reminders):
            yield Said(("reminders", k), line, "rest")
        # said on a hold, or on the exhales of a hold guided by breaths
        for k, line in enumerate(self.cues):
            yield Said(("cues", k), line)
        if self.release:
            yield Said(("release",), self.release)

    def _plan(self, timing: Timing) -> Plan:
        total = timing.duration(self.duration)
        unit = self.duration.unit
        guide = self.effective_guide.value
        cycle, count = timing.cycle, timing.count
        plan: Plan = {
            "duration": total,
            "unit": unit,
            "guide": guide,
            "cues": list(self.cues),
            "release": self.release,
        }
        countdown: list[dict[str, Any]] = []
        if guide == "breaths" or (guide == "countdown" and unit == "breaths"):
            # One block per breath cycle; a remainder is a last, shorter breath.
            plan["cycle"] = Seconds(cycle)
            n_full = int(total // cycle)
            blocks = [Seconds(cycle)] * n_full
            if total - n_full * cycle > 0:
                blocks.append(Seconds(total - n_full * cycle))
            plan["breaths"] = [
                {
                    "n": i + 1,
                    "left": len(blocks) - i,
                    "length": length,
                    "exhale_at": Seconds(min(cycle / 2, length / 2)),
                }
                for i, length in enumerate(blocks)
            ]
        elif guide == "count":
            n = int(total // count) or 1
            plan["counts"] = [Seconds(count * k) for k in range(n)]
        elif guide == "countdown":
            # Whole counts (of the paced count tempo) ending exactly at the release:
            # every count of a hold in counts, the last few of a hold in seconds.
            n = int(total // count)
            m = n if unit == "counts" else min(n, COUNTDOWN_COUNTS)
            countdown = [{"offset": Seconds(total - count * k), "n": k} for k in range(m, 0, -1)]
        plan["countdown"] = countdown
        spread: list[dict[str, Any]] = []
        calm = calm_brief = spread  # none in a hold that speaks throughout
        halfway: dict[str, Any] | None = None
        long_hold = progress_marks(self.progress)["halfway"] and total >= HALFWAY_HOLD_SECONDS
        if guide == "countdown":
            long_hold = False  # counted down: the countdown is its progress mark
        if guide in ("none", "countdown") and "breaths" not in plan:
            # Cues share out the time before any countdown (a halfway mark splits it in
            # two, each half sharing out its own cues); reminders fill long silences.
            span = countdown[0]["offset"] if countdown else total
            paced = to_fraction(self.every) * timing.pace if self.every is not None else None
            limit = paced or Fraction(QUIET_LIMIT_SECONDS)
            mid = total / 2 if long_hold else None
            spread, calm, calm_brief = calm_lines(plan["cues"], span, limit, mid)
            if mid is not None:
                halfway = {"offset": Seconds(mid)}
        elif guide == "breaths" and long_hold and len(plan["breaths"]) >= HALFWAY_MIN_BREATHS:
            halfway = {"breath": len(plan["breaths"]) // 2 + 1}
        plan["spread"] = spread
        plan["calm"] = calm
        plan["calm_brief"] = calm_brief
        plan["halfway"] = halfway
        plan["hold_here"] = self.hold_here
        plan["reminders"] = list(self.reminders)
        return plan

    def scaled(self, factor: float, relaxed: bool = False) -> Self:
        duration = scaled_duration(self.duration, factor, FIT_HOLD_BOUNDS)
        return self.model_copy(update={"duration": duration})

    def fit_values(self) -> dict[str, FitValue]:
        return {"duration": self.duration}

    def window(self, phase: str | None, in_rep: bool) -> Window | None:
        # A hold in breaths or counts is paced by --breath or --count, not its value.
        if phase == "hold" and self.duration.unit == "seconds":
            return DurationWindow("duration", self.duration)
        return None

    def growth(self) -> Growth:
        return Growth(hold=self.duration, hold_field="duration")

    def durations(self) -> dict[str, Duration]:
        return {"duration": self.duration}

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        return self.duration.to_seconds(breath, count) * self.side_count
