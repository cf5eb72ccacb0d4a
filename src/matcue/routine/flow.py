"""The flow step kind (``kind: flow``): movements on breath phases, one round
after another with nothing in between, so the breath rhythm is never broken.
Its place among the kinds is :data:`matcue.routine.steps.AnyStep`."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from matcue.cuescript import to_fraction
from matcue.limits import CYCLE_RANGE, MAX_MOVEMENTS, MAX_ROUNDS
from matcue.timing import Seconds, Timing

from .step_base import (
    Count,
    CycleWindow,
    FitValue,
    Plan,
    RepsRange,
    Said,
    StepBase,
    Window,
    check_range,
    raise_all,
    scaled_count,
)
from .text import fail
from .values import Duration, DurationField, Flag, Int, Line, Name, Num, StartPhase, _exact_mul

if TYPE_CHECKING:  # typing.Self is 3.11+
    from typing_extensions import Self


class FlowMovement(BaseModel):
    """One movement of a flow: done on one breath phase, with its own cue."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    breath: StartPhase
    """The breath this movement is done on: 'inhale' or 'exhale'; required."""
    cue: Line
    """What is said as the movement starts ("Reach your arms up."); required."""
    word: Line | None = None
    """A shorter cue for brief verbosity (after the first round) and minimal
    verbosity; null = the cue."""
    duration: DurationField | None = None
    """How long the movement takes (more than 0); null = half the flow's breath cycle
    (one inhale or one exhale). {breaths: N} counts the flow's own cycle."""

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: Duration | None) -> Duration | None:
        if value is not None and value.value <= 0:
            raise fail("a movement must last more than 0")
        return value


class FlowStep(StepBase):
    """A sequence of movements, one per breath phase, repeated for rounds with
    nothing in between: the breath rhythm is never broken."""

    starter_example: ClassVar[str] = """\
    # flow: movements on the breath, one per in- or out-breath, repeated in rounds
    # with nothing in between ("Round two." is said with the first cue).
    - kind: flow
      name: Cat and cow flow
      rounds: 3
      movements:
        - {breath: inhale, cue: Look forward and let the belly drop.}
        - {breath: exhale, cue: Round the back and tuck the chin.}
        - {breath: inhale, cue: Sit back toward your heels.}
        - {breath: exhale, cue: Come forward onto your hands and knees.}
    """

    timed: ClassVar[bool] = True
    kind: Literal["flow"]
    """Step kind: 'flow'."""
    name: Name
    """Chapter title; required."""
    rounds: Int = Field(ge=1, le=MAX_ROUNDS)
    """How many times the whole sequence is done, 1..100; required."""
    rounds_range: RepsRange = None
    """[min, max] rounds allowed when fitting a session length (--minutes); must contain
    rounds."""
    cycle: Num | None = Field(default=None, ge=CYCLE_RANGE[0], le=CYCLE_RANGE[1])
    """Seconds per full breath (inhale + exhale) in this flow, 2..120; null =
    defaults.breath (or --breath). --pace still scales it."""
    count_rounds: Flag = True
    """Say the round ("Round two.") at the start of every round after the first,
    with the first movement's cue."""
    movements: list[FlowMovement] = Field(min_length=1, max_length=MAX_MOVEMENTS)
    """The movements of one round, in order, 1..50; required."""

    @model_validator(mode="after")
    def _consistent(self) -> FlowStep:
        raise_all(check_range(self.fit_count()))
        return self

    def movement_lengths(self, cycle: Fraction, timing: Timing) -> list[Fraction]:
        """Each movement's exact length with a paced breath cycle of ``cycle``."""
        out = []
        for m in self.movements:
            d = m.duration
            if d is None:
                out.append(cycle / 2)
            elif d.unit == "breaths":
                out.append(to_fraction(d.value) * cycle)
            else:
                out.append(Fraction(timing.duration(d)))
        return out

    def _spoken_texts(self) -> Iterator[Said]:
        # At full verbosity each movement's cue is said, at minimal its word (if given).
        for k, m in enumerate(self.movements):
            cue_gives_way = frozenset({"minimal"}) if m.word else frozenset()
            yield Said(("movements", k, "cue"), m.cue, instead_at=cue_gives_way)
            if m.word:
                yield Said(("movements", k, "word"), m.word, instead_at=frozenset({"full"}))

    def _plan(self, timing: Timing) -> Plan:
        c = to_fraction(self.cycle) * timing.pace if self.cycle is not None else timing.cycle
        movements, t = [], Fraction(0)
        for m, length in zip(self.movements, self.movement_lengths(c, timing), strict=True):
            movements.append(
                {
                    "offset": Seconds(t),
                    "length": Seconds(length),
                    "breath": str(m.breath),
                    "cue": m.cue,
                    "word": m.word or m.cue,
                }
            )
            t += length
        return {
            "rounds": self.rounds,
            "count_rounds": self.count_rounds,
            "cycle": Seconds(c),
            "round_length": Seconds(t),
            "movements": movements,
        }

    def scaled(self, factor: float, relaxed: bool = False) -> Self:
        rounds = scaled_count(self.rounds, self.rounds_range, factor, relaxed)
        return self.model_copy(update={"rounds": min(rounds, MAX_ROUNDS)})

    def fit_values(self) -> dict[str, FitValue]:
        return {"rounds": self.rounds}

    def fit_count(self) -> Count:
        return Count("rounds", self.rounds, self.rounds_range)

    def window(self, phase: str | None, in_rep: bool) -> Window | None:
        return CycleWindow(self.cycle)

    def durations(self) -> dict[str, Duration]:
        return {
            f"movements.{i}.duration": m.duration
            for i, m in enumerate(self.movements)
            if m.duration is not None
        }

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        cycle = self.cycle or breath
        one = 0.0
        for m in self.movements:
            d = m.duration
            one += cycle / 2 if d is None else d.to_seconds(cycle, count)
        return _exact_mul(self.rounds, one) * self.side_count
