"""The ``reps`` step kind: repetitions (move, hold, release, rest) in sets. In a
module of its own for size; registered with the other kinds in
:mod:`matcue.routine.steps`."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    Field,
    model_validator,
)

from matcue.limits import COUNTDOWN_COUNTS as COUNTDOWN_COUNTS
from matcue.limits import DURATION_LIMITS as DURATION_LIMITS
from matcue.limits import (
    FIT_REST_BOUNDS,
    HALFWAY_HOLD_SECONDS,
    MAX_SETS,
    REPS_HOLD_DEFAULT,
    REPS_MOVE_DEFAULT,
    REPS_RELEASE_DEFAULT,
    REPS_REST_DEFAULT,
    REPS_SET_REST_DEFAULT,
)
from matcue.timing import Seconds, Timing

from .progression import Growth
from .step_base import (
    Count,
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
    rep_counts,
    scaled_duration,
    scaled_reps,
)
from .values import (
    Duration,
    DurationField,
    Flag,
    Int,
    Lines,
    Name,
    Progress,
    ProgressField,
    RepsCues,
    RepsWords,
    SetReps,
    _duration,
    progress_marks,
)
from .variety import roomiest, turns

if TYPE_CHECKING:  # typing.Self is 3.11+
    from typing_extensions import Self


class RepsStep(StepBase):
    """Repetitions (move, hold, release, rest) in sets."""

    starter_example: ClassVar[str] = """\
    # reps: move, hold, release and rest, repeated, in sets.
    - kind: reps
      name: Bridge
      reps: 5                # or one count per set: [6, 4, 2] (then leave out sets)
      sets: 1
      move: 2                # seconds to lift
      hold: {counts: 3}      # counted aloud because it is in counts
      release: 2
      rest: 3
      setup: Feet flat, hip width apart, arms by your sides.
      cues:
        move: Press through your feet and lift your hips.
        release: Roll down slowly.
        rest: Rest.
    """

    timed: ClassVar[bool] = True
    kind: Literal["reps"]
    """Step kind: 'reps'."""
    name: Name
    """Chapter title; required."""
    reps: SetReps
    """Repetitions per set, 1..1000; required. A list gives each set its own count
    ([6, 4, 2]: three sets of 6, 4 and 2); 'sets' is then its length."""
    reps_range: RepsRange = None
    """[min, max] reps allowed when fitting a session length (--minutes); must contain reps
    (every set's, for a list)."""
    sets: Int = Field(default=1, ge=1, le=MAX_SETS)
    """Number of sets, 1..50; with a list of reps, leave it out or give the list's length."""
    move: DurationField = _duration(REPS_MOVE_DEFAULT)
    """Time to move into the position (default 2 s)."""
    hold: DurationField = _duration(REPS_HOLD_DEFAULT)
    """Time held in the position (default 0)."""
    release: DurationField = _duration(REPS_RELEASE_DEFAULT)
    """Time to come back (default 2 s)."""
    rest: DurationField = _duration(REPS_REST_DEFAULT)
    """Rest after each repetition (default 2 s)."""
    set_rest: DurationField = _duration(REPS_SET_REST_DEFAULT)
    """Rest between sets (default 30 s)."""
    count: Flag | None = None
    """Count aloud during the hold; null = true when the hold is given in counts."""
    alternate: Flag = False
    """With two sides: they take turns rep by rep (left, right, left, ...) instead of
    every rep on one side first; ``reps`` counts each side's. Needs two sides."""
    cues: RepsCues
    """Full cues: move and release required, hold and rest optional."""
    words: RepsWords = RepsWords()
    """Short words used at brief and minimal verbosity."""
    refine: Lines = []
    """Refinement cues, used in turn: at full verbosity one takes the hold or the rest
    (whichever is longer, 3 s or more) every third rep after the first few."""
    progress: ProgressField = Progress()
    """Marks of progress: true (all), false (none) or {countdown, sets, halfway} switches:
    'Three to go.' and 'Last one.', 'Set one of three.' at each set, 'Halfway.' in sets of
    10 reps or more and in holds of 20 s or more."""

    @model_validator(mode="after")
    def _consistent(self) -> RepsStep:
        problems = check_range(self.fit_count())
        if isinstance(self.reps, list):
            if "sets" not in self.model_fields_set:
                self.sets = len(self.reps)
            elif self.sets != len(self.reps):
                problems.append(
                    (
                        ("sets",),
                        f"reps lists {len(self.reps)} sets ({', '.join(map(str, self.reps))}) "
                        f"but sets is {self.sets}; leave sets out or make it {len(self.reps)}",
                    )
                )
        if self.alternate and self.side_count != 2:
            problems.append((("alternate",), "taking turns needs two sides; add 'sides: both'"))
        raise_all(problems)
        return self

    @property
    def takes_turns(self) -> bool:
        return self.alternate and self.side_count == 2

    @property
    def set_reps(self) -> list[int]:
        """The reps of each set, in order."""
        return rep_counts(self.reps) if isinstance(self.reps, list) else [self.reps] * self.sets

    @property
    def count_aloud(self) -> bool:
        """``count``, or true when the hold is given in counts."""
        return self.count if self.count is not None else self.hold.unit == "counts"

    placeholders: ClassVar[tuple[str, ...]] = ("cycle", "reps", "sets")

    def placeholder_values(self, timing: Timing) -> dict[str, Fraction | int]:
        # With a rep count per set ([6, 4, 2]), {reps} is the first set's.
        return {"cycle": timing.cycle, "reps": self.set_reps[0], "sets": self.sets}

    def _spoken_texts(self) -> Iterator[Said]:
        for k, line in enumerate(self.refine):
            yield Said(("refine", k), line)
        yield from cue_texts(self.cues.model_dump(), self.words.model_dump())

    def _plan(self, timing: Timing) -> Plan:
        move = timing.duration(self.move)
        hold = timing.duration(self.hold)
        release = timing.duration(self.release)
        rest = timing.duration(self.rest)
        count = timing.count
        counts = (
            [Seconds(move + count * k) for k in range(int(hold // count))]
            if (self.count_aloud and hold > 0)
            else []
        )
        phrasings: dict[str, list[str]] = {k: list(v) for k, v in self.cues.model_dump().items()}
        marks = progress_marks(self.progress)
        # A refinement takes the hold (unless it is counted) or the rest, whichever is longer.
        at = roomiest({"hold": hold if not counts else 0, "rest": rest})
        return {
            "reps": self.reps,
            "sets": self.sets,
            "set_reps": self.set_reps,
            "move": move,
            "hold": hold,
            "release_time": release,
            "rest": rest,
            "set_rest": timing.duration(self.set_rest),
            "rep_length": Seconds(move + hold + release + rest),
            "counts": counts,
            "cues": {k: v[0] if v else None for k, v in phrasings.items()},
            "phrasings": phrasings,
            "words": self.words.model_dump(),
            "refine": list(self.refine),
            "progress": marks,
            "turns": turns(self.set_reps, phrasings, list(self.refine), at, marks),
            # 'Halfway.' in a long uncounted hold, at its middle (offset in the rep).
            "halfway": (
                Seconds(move + hold / 2)
                if marks["halfway"] and not counts and hold >= HALFWAY_HOLD_SECONDS
                else None
            ),
        }

    def scaled(self, factor: float, relaxed: bool = False) -> Self:
        update: dict[str, Any] = {
            "reps": scaled_reps(self, factor, relaxed),
            # Rests only ever lengthen: a rep is not to be rushed.
            "rest": scaled_duration(self.rest, max(factor, 1.0), FIT_REST_BOUNDS),
        }
        if self.sets > 1:
            update["set_rest"] = scaled_duration(self.set_rest, factor, FIT_REST_BOUNDS)
        return self.model_copy(update=update)

    def fit_values(self) -> dict[str, FitValue]:
        return {"reps": self.reps, "rest": self.rest, "set_rest": self.set_rest}

    def fit_count(self) -> Count:
        return Count("reps", self.reps, self.reps_range)

    def window(self, phase: str | None, in_rep: bool) -> Window | None:
        if phase == "rest" and not in_rep:  # the rest between sets
            return DurationWindow("set_rest", self.set_rest)
        if phase in ("move", "hold", "release", "rest"):
            return DurationWindow(phase, self.durations()[phase])
        return None

    def growth(self) -> Growth:
        return Growth(reps=self.reps, reps_range=self.reps_range, sets=self.sets, hold=self.hold)

    def durations(self) -> dict[str, Duration]:
        return {
            "move": self.move,
            "hold": self.hold,
            "release": self.release,
            "rest": self.rest,
            "set_rest": self.set_rest,
        }

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        def s(d: Duration) -> float:
            return d.to_seconds(breath, count)

        one = s(self.move) + s(self.hold) + s(self.release) + s(self.rest)
        per_side = sum(self.set_reps) * one + (self.sets - 1) * s(self.set_rest)
        return per_side * self.side_count
