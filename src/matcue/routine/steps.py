"""The step kinds (flow, reps and hold are in modules of their own). Each kind owns
its behaviour in one class:

- its fields, their defaults and their checks (the routine file's format);
- :meth:`~matcue.routine.step_base.StepBase.plan`: what the session template receives for it (exact
  times with the pace applied, as plain data);
- :meth:`~matcue.routine.step_base.StepBase.scaled`: how ``--minutes`` stretches or shrinks it;
- :meth:`~matcue.routine.step_base.StepBase.anchored_seconds`: how long its timed part takes (the
  estimate a routine's 4-hour limit is checked against);
- :meth:`~matcue.routine.step_base.StepBase.spoken_texts`,
  :meth:`~matcue.routine.step_base.StepBase.window`,
  :meth:`~matcue.routine.step_base.StepBase.fit_count`,
  :meth:`~matcue.routine.step_base.StepBase.growth`: the texts it may speak, the field
  that times a cue, the count ``--minutes`` keeps in range, what ``--week`` grows.
  Nothing outside the class reads a kind's fields by name.

Adding a kind: a class here (with its ``starter_example``, and its name in
:data:`AnyStep`, which :data:`STEP_CLASSES` is built from), its template
``kind_KIND.cue.j2`` and its section of docs/routine-format.md. See
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Union, get_args

from pydantic import (
    BeforeValidator,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from matcue.cuescript import format_seconds, to_fraction
from matcue.errors import SettingError, SettingText
from matcue.limits import (
    BREATH_HOLD_RANGE,
    CYCLE_RANGE,
    FIT_REST_BOUNDS,
    FIT_TRANSITION_BOUNDS,
    MAX_REPS,
    MIN_MOVING_SECONDS,
    PAUSE_RANGE,
    REST_EVERY_DEFAULT,
    REST_EVERY_RANGE,
    REST_QUIET_END_SECONDS,
    SPLIT_DEFAULT,
    SPLIT_RANGE,
)
from matcue.limits import COUNTDOWN_COUNTS as COUNTDOWN_COUNTS
from matcue.limits import DURATION_LIMITS as DURATION_LIMITS
from matcue.timing import Seconds, Timing, seconds

from .flow import FlowStep
from .hold import HoldStep as HoldStep
from .progression import Growth
from .reps import RepsStep as RepsStep
from .schema import LINES_SCHEMA
from .spacing import phase_counts
from .step_base import (
    Count,
    CycleWindow,
    DurationWindow,
    FitValue,
    Plan,
    RepsRange,
    Said,
    StepBase,
    Window,
    check_range,
    cue_texts,
    raise_all,
    scaled_duration,
    scaled_reps,
)
from .text import fail, num
from .values import (
    BreathCues,
    BreathPattern,
    BreathWords,
    Duration,
    DurationField,
    Flag,
    Int,
    Line,
    Lines,
    Name,
    Num,
    Progress,
    ProgressField,
    StartPhase,
    _exact_mul,
    _to_lines,
    progress_marks,
)
from .variety import roomiest, turns

if TYPE_CHECKING:  # typing.Self is 3.11+
    from typing_extensions import Self


class SayStep(StepBase):
    """Spoken lines, one after another (flowing time)."""

    starter_example: ClassVar[str] = """\
    # say: lines spoken one after another; they take as long as the speech takes.
    - kind: say
      text:
        - Come onto your hands and knees, wrists under shoulders.
        - Knees under hips, back long and relaxed.
    """

    default_name: ClassVar[str | None] = "Instructions"
    kind: Literal["say"]
    """Step kind: 'say'."""
    name: Name = "Instructions"
    """Spoken at the step start and the chapter title; the default 'Instructions' is a chapter
    title only, never spoken."""
    text: Annotated[list[Line], BeforeValidator(_to_lines), WithJsonSchema(LINES_SCHEMA)] = Field(
        min_length=1
    )
    """The lines spoken one after another (one line or a list); required."""
    pause: Num | None = Field(default=None, ge=PAUSE_RANGE[0], le=PAUSE_RANGE[1])
    """Silence after each line in seconds, 0..30; null = defaults.pause."""

    def _spoken_texts(self) -> Iterator[Said]:
        for k, line in enumerate(self.text):
            yield Said(("text", k), line)

    def _plan(self, timing: Timing) -> Plan:
        return {
            "text": list(self.text),
            "pause": seconds(self.pause) if self.pause is not None else timing.pause,
        }


class TransitionStep(StepBase):
    """Time to move into the next position, with an optional spoken cue."""

    starter_example: ClassVar[str] = """\
    # transition: time to move into the next position.
    - kind: transition
      text: Slowly lower down onto your back.
      duration: 8            # seconds, or {breaths: 2}, or {counts: 5}
    """

    default_name: ClassVar[str | None] = "Transition"
    kind: Literal["transition"]
    """Step kind: 'transition'."""
    name: Name = "Transition"
    """Spoken at the step start and the chapter title; the default 'Transition' is a chapter
    title only, never spoken."""
    text: Line | None = None
    """Spoken at the start of the transition."""
    duration: DurationField | None = None
    """Time to move; null = defaults.transition seconds."""

    placeholders: ClassVar[tuple[str, ...]] = ("cycle", "seconds")

    def placeholder_values(self, timing: Timing) -> dict[str, Fraction | int]:
        return {"cycle": timing.cycle, "seconds": self._plan(timing)["duration"]}

    def _spoken_texts(self) -> Iterator[Said]:
        if self.text is not None:
            yield Said(("text",), self.text)

    def _plan(self, timing: Timing) -> Plan:
        own = self.duration
        return {
            "text": self.text,
            "duration": timing.duration(own) if own is not None else Seconds(timing.transition),
        }

    def scaled(self, factor: float, relaxed: bool = False) -> Self:
        if not relaxed or self.duration is None:
            return self
        duration = scaled_duration(self.duration, factor, FIT_TRANSITION_BOUNDS)
        return self.model_copy(update={"duration": duration})

    def fit_values(self) -> dict[str, FitValue]:
        return {"duration": self.duration}

    def window(self, phase: str | None, in_rep: bool) -> Window | None:
        return DurationWindow("duration", self.duration) if phase == "transition" else None

    def durations(self) -> dict[str, Duration]:
        return {"duration": self.duration} if self.duration is not None else {}

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        one = self.duration.to_seconds(breath, count) if self.duration else transition
        return one * self.side_count


class BreathStep(StepBase):
    """Breath-paced cycles: each cycle is inhale, optional hold, exhale, optional hold."""

    starter_example: ClassVar[str] = """\
    # breath: cycles paced by the breath. Cues are spoken on each phase.
    - kind: breath
      name: Cat and cow
      reps: 6                # number of breath cycles
      reps_range: [4, 10]    # how far --minutes may shrink or grow reps
      split: 0.5             # share of each cycle spent breathing in
      setup: Let your spine follow your breath.
      brief: Cat and cow, with the breath.
      cues:                  # one line, or a list of phrasings used in turn
        inhale:
          - Breathe in, let the belly drop and look forward.
          - Breathe in and lift the chest.
        exhale:
          - Breathe out, round the back and tuck the chin.
          - Breathe out and round up.
      refine:                # said now and then in later cycles, instead of a short word
        - Move from the tailbone.
      words:                 # short words used at brief and minimal verbosity
        inhale: In
        exhale: Out
    """

    timed: ClassVar[bool] = True
    kind: Literal["breath"]
    """Step kind: 'breath'."""
    name: Name
    """Chapter title; required."""
    reps: Int = Field(ge=1, le=MAX_REPS)
    """Number of breath cycles, 1..1000; required."""
    reps_range: RepsRange = None
    """[min, max] reps allowed when fitting a session length (--minutes); must contain reps."""
    cycle: Num | None = Field(default=None, ge=CYCLE_RANGE[0], le=CYCLE_RANGE[1])
    """Cycle length in seconds for this step, 2..120; null = defaults.breath (or --breath).
    --pace still scales it."""
    split: Num = Field(default=SPLIT_DEFAULT, ge=SPLIT_RANGE[0], le=SPLIT_RANGE[1])
    """Share of the moving time (cycle minus holds) that is inhale, 0.2..0.8."""
    hold_in: Num = Field(default=0.0, ge=BREATH_HOLD_RANGE[0], le=BREATH_HOLD_RANGE[1])
    """Seconds held at the top after the inhale, 0..60 (part of the cycle). Without a
    cycle of the step's own, written for defaults.breath: --breath scales it in
    proportion."""
    hold_out: Num = Field(default=0.0, ge=BREATH_HOLD_RANGE[0], le=BREATH_HOLD_RANGE[1])
    """Seconds held at the bottom after the exhale, 0..60 (part of the cycle); scaled by
    --breath as hold_in is."""
    pattern: BreathPattern | None = None
    """The cycle as seconds per phase, e.g. {inhale: 4, hold_in: 7, exhale: 8}, instead of
    cycle, split and holds; a --breath other than the routine's scales it to that cycle."""
    count: Flag = False
    """Count each phase's seconds aloud after its word: 'Breathe in, two, three, four'."""
    start: StartPhase = StartPhase.inhale
    """Which phase opens each cycle: 'inhale' or 'exhale'."""
    cues: BreathCues
    """Full cue per phase: inhale and exhale required, hold_in and hold_out optional."""
    words: BreathWords = BreathWords()
    """Short phase words used at brief and minimal verbosity."""
    refine: Lines = []
    """Refinement cues, used in turn: at full verbosity one replaces the short word of the
    longest phase (3 s or more) every third cycle after the first few."""
    progress: ProgressField = Progress()
    """Marks of progress: true (all), false (none) or {countdown, halfway} switches:
    'Three to go.' and 'Last one.', 'Halfway.' in runs of 10 cycles or more."""

    @model_validator(mode="after")
    def _consistent(self) -> BreathStep:
        problems = check_range(self.fit_count())
        if self.pattern is not None:
            problems += self.pattern.problems(self.model_fields_set)
        elif self.cycle is not None:
            msg = self.moving_problem(self.cycle)
            if msg:
                problems.append((("hold_in",), msg))
        raise_all(problems)
        return self

    def moving_problem(self, cycle: float) -> str | None:
        """A message when the holds leave less than 1 s of moving time in ``cycle``."""
        if cycle - self.hold_in - self.hold_out < MIN_MOVING_SECONDS:
            return (
                f"hold_in + hold_out ({num(self.hold_in + self.hold_out)} s) must leave at least "
                f"{num(MIN_MOVING_SECONDS)} s of moving time in the {num(cycle)} s breath cycle"
            )
        return None

    def phases(
        self, cycle: Fraction | int, pace: Fraction = Fraction(1)
    ) -> list[tuple[str, Fraction]]:
        """The phases of one cycle of ``cycle`` seconds (paced), in spoken order, with
        their exact lengths (zero-length holds left out). Seconds the routine wrote
        (the holds, or every phase of a ``pattern``) are scaled by ``pace``; with the
        scale :meth:`paced_cycle` gives, the lengths add up to ``cycle``."""
        if self.pattern is not None:
            written = self.pattern.seconds()
            lengths = {p: written[p] * pace for p in written}
        else:
            hold_in = to_fraction(self.hold_in) * pace
            hold_out = to_fraction(self.hold_out) * pace
            moving = Fraction(cycle) - hold_in - hold_out
            inhale = moving * to_fraction(self.split)
            lengths = {
                "inhale": inhale,
                "hold_in": hold_in,
                "exhale": moving - inhale,
                "hold_out": hold_out,
            }
        order = ["inhale", "hold_in", "exhale", "hold_out"]
        if self.start == StartPhase.exhale:
            order = order[2:] + order[:2]
        return [(p, lengths[p]) for p in order if lengths[p] > 0]

    def paced_cycle(self, timing: Timing) -> tuple[Fraction, Fraction]:
        """One cycle as heard, and the scale of the seconds the routine wrote in it
        (holds, a pattern's phases): see docs/routine-format.md, breath patterns."""
        if self.pattern is not None:
            written = self.pattern.total
            c = (timing.breath if timing.breath_given else written) * timing.pace
            return c, c / written
        if self.cycle is not None:
            return to_fraction(self.cycle) * timing.pace, timing.pace
        return timing.cycle, timing.pace * timing.breath_scale

    placeholders: ClassVar[tuple[str, ...]] = (
        "cycle",
        "reps",
        "inhale",
        "hold_in",
        "exhale",
        "hold_out",
    )

    def placeholder_values(self, timing: Timing) -> dict[str, Fraction | int]:
        c, scale = self.paced_cycle(timing)
        values: dict[str, Fraction | int] = {p: Fraction(0) for p in self.placeholders}
        values.update(self.phases(c, scale))
        values.update({"cycle": c, "reps": self.reps})
        return values

    def _plan(self, timing: Timing) -> Plan:
        c, scale = self.paced_cycle(timing)
        lengths = self.phases(c, scale)
        holds = sum((n for p, n in lengths if p.startswith("hold")), Fraction(0))
        if c - holds < MIN_MOVING_SECONDS:
            raise SettingError(
                SettingText(
                    "step '{step}': with a {c} s breath cycle its holds ({holds} s) leave "
                    "less than 1 s to breathe; use a longer {breath} or a slower {pace}",
                    step=self.name,
                    c=format_seconds(c),
                    holds=format_seconds(holds),
                )
            )
        cues = self.cues.model_dump()
        words = self.words.model_dump()
        phases, t = [], Fraction(0)
        for phase, length in lengths:
            phases.append(
                {
                    "offset": Seconds(t),
                    "length": Seconds(length),
                    "phase": phase,
                    "cue": cues[phase][0] if cues[phase] else None,
                    "cues": list(cues[phase]),
                    "word": words[phase],
                    "counts": phase_counts(t, length, scale) if self.count else [],
                }
            )
            t += length
        # A tie goes to the later phase: the out-breath has room to listen.
        at = roomiest({p["phase"]: p["length"] for p in reversed(phases)})
        marks = progress_marks(self.progress)
        said = {p["phase"]: p["cues"] for p in phases}
        return {
            "reps": self.reps,
            "cycle": Seconds(c),
            "phases": phases,
            "refine": list(self.refine),
            "progress": marks,
            "turns": turns([self.reps], said, list(self.refine), at, marks)[0],
            "count_aloud": self.count,
        }

    def _spoken_texts(self) -> Iterator[Said]:
        for k, line in enumerate(self.refine):
            yield Said(("refine", k), line)
        yield from cue_texts(self.cues.model_dump(), self.words.model_dump())

    def scaled(self, factor: float, relaxed: bool = False) -> Self:
        return self.model_copy(update={"reps": scaled_reps(self, factor, relaxed)})

    def fit_values(self) -> dict[str, FitValue]:
        return {"reps": self.reps}

    def fit_count(self) -> Count:
        return Count("reps", self.reps, self.reps_range)

    def window(self, phase: str | None, in_rep: bool) -> Window | None:
        return CycleWindow(self.cycle)

    def growth(self) -> Growth:
        return Growth(reps=self.reps, reps_range=self.reps_range)

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        own = float(self.pattern.total) if self.pattern is not None else self.cycle
        return _exact_mul(self.reps, own or breath) * self.side_count


class RestStep(StepBase):
    """Rest or integration: a long silence with occasional calm reminders."""

    starter_example: ClassVar[str] = """\
    # rest: quiet time with an occasional reminder.
    - kind: rest
      name: Rest
      duration: 60
      every: 30              # seconds between reminders
      reminders:
        - Let the breath be easy.
    """

    timed: ClassVar[bool] = False
    kind: Literal["rest"]
    """Step kind: 'rest'."""
    name: Name
    """Chapter title; required."""
    duration: DurationField
    """Total length (more than 0); required."""
    every: Num = Field(default=REST_EVERY_DEFAULT, ge=REST_EVERY_RANGE[0], le=REST_EVERY_RANGE[1])
    """Seconds between calm reminders, 10..600."""
    reminders: Lines = []
    """Reminders, used in turn; empty = the template's defaults."""

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.value <= 0:
            raise fail("a rest must last more than 0")
        return value

    placeholders: ClassVar[tuple[str, ...]] = ("cycle", "seconds")

    def placeholder_values(self, timing: Timing) -> dict[str, Fraction | int]:
        return {"cycle": timing.cycle, "seconds": timing.duration(self.duration)}

    def _spoken_texts(self) -> Iterator[Said]:
        for k, line in enumerate(self.reminders):
            yield Said(("reminders", k), line, "rest")

    def _plan(self, timing: Timing) -> Plan:
        total = timing.duration(self.duration)
        every = to_fraction(self.every) * timing.pace
        offsets, t = [], every
        # No reminder in the last stretch (half an interval, at most a paced 8 s).
        while t <= total - min(every / 2, REST_QUIET_END_SECONDS * timing.pace):
            offsets.append(Seconds(t))
            t += every
        return {
            "duration": total,
            "every": Seconds(every),
            "offsets": offsets,
            "reminders": list(self.reminders),
        }

    def scaled(self, factor: float, relaxed: bool = False) -> Self:
        duration = scaled_duration(self.duration, factor, FIT_REST_BOUNDS)
        return self.model_copy(update={"duration": duration})

    def fit_values(self) -> dict[str, FitValue]:
        return {"duration": self.duration}

    def durations(self) -> dict[str, Duration]:
        return {"duration": self.duration}

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        return self.duration.to_seconds(breath, count) * self.side_count


AnyStep = Union[  # noqa: UP007
    SayStep, TransitionStep, BreathStep, HoldStep, RepsStep, RestStep, FlowStep
]
"""Every step kind: adding a kind is its class above and its name here."""
Step = Annotated[AnyStep, Field(discriminator="kind")]
"""One step of a routine; ``kind`` selects the model."""

STEP_CLASSES: dict[str, type[StepBase]] = {
    get_args(cls.model_fields["kind"].annotation)[0]: cls for cls in get_args(AnyStep)
}
"""Every step kind, by its ``kind:`` value."""
STEP_KINDS: tuple[str, ...] = tuple(STEP_CLASSES)
"""The valid values of ``kind``."""
