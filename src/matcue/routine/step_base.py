"""What every step kind has and provides (:class:`StepBase`), and the helpers
the kinds share: scaling a duration or a rep count for ``--minutes``, and
reporting several problems from one validator. The kinds themselves are
:mod:`matcue.routine.steps`."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    WithJsonSchema,
    model_validator,
)

from matcue import phrases
from matcue.limits import DURATION_LIMITS, FIT_REP_BOUNDS, MAX_REPS
from matcue.timing import Seconds, Timing
from matcue.yamlsafe import Path_

from . import placeholders as ph
from .progression import Growth, Progression
from .progression import problems as progression_problems
from .schema import REPS_RANGE_SCHEMA
from .text import fail, show
from .values import Duration, Flag, Line, Lines, Sides

if TYPE_CHECKING:  # typing.Self is 3.11+
    from typing_extensions import Self


class Counted(Protocol):
    """A step with a rep count that --minutes may change within ``reps_range``."""

    @property
    def reps(self) -> int | list[int]: ...
    @property
    def reps_range(self) -> tuple[int, int] | None: ...


@dataclass(frozen=True)
class Count:
    """A step's count that ``--minutes`` scales within a range of the routine's:
    a breath or reps step's ``reps`` (``reps_range``), a flow's ``rounds``
    (``rounds_range``)."""

    field: str
    value: int | list[int]
    """The count (a reps step's may be one per set)."""
    range: tuple[int, int] | None

    @property
    def range_field(self) -> str:
        return f"{self.field}_range"


@dataclass(frozen=True)
class Said:
    """A text of the routine file that a step's template may speak."""

    field: Path_
    """Its path within the step: ``("cues", "move")``, ``("setup", 0)``, ..."""
    text: str
    phase: str | None = None
    """The cue phase that speaks it (move, hold, inhale, ...); None: any line of the step."""
    instead_at: frozenset[str] = frozenset()
    """The verbosities at which the template says another of the step's texts in
    its place, by design (short ``words`` where the full cue is said)."""


@dataclass(frozen=True)
class CycleWindow:
    """The step's ``cycle`` shapes the window of a cue (for the overrun advice)."""

    seconds: float | None
    """The step's own cycle; None: the session's breath."""
    field: str = "cycle"


@dataclass(frozen=True)
class DurationWindow:
    """A duration field of the step shapes the window of a cue (for the overrun advice)."""

    field: str
    duration: Duration | None
    """Its value; None: the session's transition."""


Window = CycleWindow | DurationWindow


def cue_texts(cues: Mapping[str, list[str]], words: Mapping[str, str | None]) -> Iterator[Said]:
    """A breath or reps step's cues (each phrasing: ``cues.move`` for one,
    ``cues.move[k]`` for several), then its short words, by phase (dumped
    models). The template says the words in place of the cues at minimal
    verbosity, and a phase's cue in place of its word at full."""
    for phase, value in cues.items():
        many = len(value) > 1
        for k, line in enumerate(value):
            field: Path_ = ("cues", phase, k) if many else ("cues", phase)
            yield Said(field, line, phase, frozenset({"minimal"}))
    for phase, word in words.items():
        if word:
            instead = frozenset({"full"}) if cues.get(phase) else frozenset()
            yield Said(("words", phase), word, phase, instead)


Plan = dict[str, Any]
"""What a template receives for one step (see docs/templates.md)."""

FitValue = int | list[int] | Duration | None
"""A quantity ``--minutes`` may change: a count (per set), or a duration."""


@functools.lru_cache(maxsize=1)
def _round_suffix() -> re.Pattern[str]:
    """What --minutes adds to the chapter title of a step repeated in an extra round
    (the ``round_step`` phrase of any language: " (round 2)", " (ronda 2)"); the
    round is announced once ("Round 2."), so the step's spoken name leaves it out."""
    forms = set()
    for code in phrases.available():
        for text in phrases.catalogue(code).variants("round_step"):
            suffix = text.split("{step}", 1)[-1]
            forms.add(re.escape(suffix).replace(re.escape("{n}"), r"\d+"))
    return re.compile("(?:" + "|".join(sorted(forms)) + ")+$")


_COLON = re.compile(r"\s*:\s+")


def spoken_name(name: str) -> str:
    """A step name as it is said: without the round --minutes added to the title,
    and a colon (not read aloud) made a pause: "Round 1: Cat-Cow" -> "Round 1. Cat-Cow",
    "Circuit: brace" -> "Circuit. Brace"."""
    parts = _COLON.split(_round_suffix().sub("", name))
    return ". ".join(p[:1].upper() + p[1:] for p in parts)


def scaled_duration(d: Duration, factor: float, bounds: tuple[float, float]) -> Duration:
    """``d`` times ``factor``, kept within ``bounds`` (shares of its own value);
    breaths and counts stay whole, seconds go to a tenth."""
    if d.value == 0:
        return d
    lo, hi = d.value * bounds[0], d.value * bounds[1]
    value = min(max(d.value * factor, lo), hi)
    value = max(1.0, float(round(value))) if d.unit != "seconds" else round(value, 1)
    return d.model_copy(update={"value": min(value, DURATION_LIMITS[d.unit])})


class StepBase(BaseModel):
    """Fields every step kind has, and the behaviour every kind provides."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    starter_example: ClassVar[str]
    """The kind once, as the ``matcue new`` starter shows it (:mod:`matcue.starter`):
    a list item of YAML (indented as the kind's class is; the starter removes the
    indent), with a comment above it saying what the kind is for and comments on
    its fields. It must load: ``tests/test_routine.py`` loads the starter and checks
    it shows every kind."""
    default_name: ClassVar[str | None] = None
    """The chapter title of a step whose ``name`` may be left out; None: ``name`` is
    required. A kind with one needs ``chapter.KIND`` in every phrase catalogue
    (the title in the routine's language)."""
    timed: ClassVar[bool] = False
    """True for breath/hold/reps steps (the default main part)."""
    placeholders: ClassVar[tuple[str, ...]] = ("cycle",)
    """The ``{name}`` placeholders the kind's spoken text may use
    (:meth:`placeholder_values`)."""

    if TYPE_CHECKING:  # every kind declares these two, in its own field order
        kind: str
        name: str

    setup: Lines = []
    """Spoken before the timed part (flowing), at full and brief verbosity."""
    brief: Line | None = None
    """One short line used instead of 'setup' at minimal verbosity."""
    sides: Sides = None
    """null, 'both' (= [left, right]) or a list of 'left'/'right': the step is done once
    per side."""
    switch: Line | None = None
    """Cue spoken when switching sides; null = the template's default ('Switch to the
    right side.'). May say {side} (the side switched to) and {other_side}."""
    begin: Line | None = None
    """Said before the first side instead of 'Begin on the left side.', when naming what
    is on that side is clearer ('Begin with your {side} foot forward.'). Needs sides."""
    progression: Progression | None = None
    """Week-to-week progression, chosen with --week N: per_week amounts (reps, sets,
    hold) added every 'every' weeks after week 1, up to 'max'."""
    spoken: Line | None = None
    """What is said at the step's start instead of its name; the name stays the chapter
    title (and what 'main' refers to)."""
    announce: Flag = True
    """Say the step's name (or 'spoken') at its start; false = the name is only the
    chapter title (a yoga nidra does not announce 'Deep rest.')."""

    _round: tuple[int, int] | None = PrivateAttr(default=None)
    """(round, of rounds) when this step opens a round of a rounds group (after the
    first) that says its rounds."""
    _main_names: frozenset[str] = PrivateAttr(default=frozenset())
    """Names ``main`` may select this step by besides its chapter title: for a step
    written out from a rounds group, the group's name and the step's own name."""

    def in_round(
        self, n: int, of: int, announce: bool, group: str, language: str = phrases.REFERENCE
    ) -> Self:
        """A copy of this step for round ``n`` of ``of`` of the rounds group ``group``:
        its chapter title says the round after the first, in ``language`` (a step the
        routine left unnamed stays unnamed); ``announce`` marks it as opening a round."""
        named = "name" in self.model_fields_set
        title = phrases.catalogue(language).variants("round_step")[0]
        update = {"name": title.format(step=self.name, n=n)} if named and n > 1 else {}
        copy = self.model_copy(update=update)
        copy._round = (n, of) if announce and n > 1 else None
        copy._main_names = frozenset({group, self.name})
        return copy

    @model_validator(mode="after")
    def _progression_fits(self) -> Self:
        problems = progression_problems(self)
        own = self.placeholders + (ph.SIDE_PLACEHOLDERS if self.sides else ())
        problems += ph.problems(self.model_dump(), own)
        if self.begin is not None and not self.sides:
            problems.append((("begin",), "'begin' is said before the first side; add 'sides'"))
        raise_all(problems)
        return self

    @property
    def display_name(self) -> str:
        """The chapter title: ``name`` (a kind's default name where it has one)."""
        return self.name

    @property
    def side_count(self) -> int:
        """How many times the step is done (1, or one per side)."""
        return len(self.sides) if self.sides else 1

    @property
    def takes_turns(self) -> bool:
        """True when two sides alternate rep by rep."""
        return False

    # -- what the template receives

    def plan(
        self,
        index: int,
        timing: Timing,
        word: Callable[[int], str] | None = None,
        side_word: Callable[[str], str] | None = None,
    ) -> Plan:
        """Exact timings for this step, as plain data for the templates. With
        ``word`` (a number as a word in the routine's language), the placeholders
        in its text are filled in with the session's values first; with
        ``side_word`` (a side's name in that language), a step whose text says
        ``{side}`` or ``{other_side}`` gets ``by_side``: its plan for each side."""
        if word is not None:
            filled = self.with_values(timing, word)
            if filled is not self:
                return filled.plan(index, timing, side_word=side_word)
        if side_word is not None and self.sides and self._says_side():
            by_side = {
                str(side): self.for_side(str(side), side_word).plan(index, timing)
                for side in self.sides
            }
            # What is said before the sides (name, set-up) speaks of the first side.
            return {**by_side[str(self.sides[0])], "by_side": by_side}
        name = self.display_name
        # A say or transition step the routine left unnamed gets a default name for
        # its chapter (in the routine's language), but an invented title is not worth
        # saying aloud.
        unnamed = self.default_name is not None and "name" not in self.model_fields_set
        plan: Plan = {
            "index": index,
            "kind": self.kind,
            "name": name,
            "unnamed": unnamed,
            "spoken_name": self.spoken or spoken_name(name),
            "named": self.announce and (not unnamed or self.spoken is not None),
            "setup": list(self.setup),
            "brief": self.brief,
            "sides": [str(s) for s in self.sides] if self.sides else [None],
            "alternate": self.takes_turns,
            "switch": self.switch,
            "begin": self.begin,
            "by_side": None,
            "pause": timing.pause,
            "transition": Seconds(timing.transition),
            "count": Seconds(timing.count),
            "round": {"n": self._round[0], "of": self._round[1]} if self._round else None,
        }
        plan.update(self._plan(timing))
        return plan

    def _says_side(self) -> bool:
        return any(
            name in ph.SIDE_PLACEHOLDERS
            for field, value in self.model_dump().items()
            if field not in ph.NOT_TEXT
            for _, text in ph.texts(value)
            for name in ph.names_in(text)
        )

    def for_side(self, side: str, side_word: Callable[[str], str]) -> Self:
        """This step with ``{side}`` and ``{other_side}`` in its text said for ``side``."""
        other = "right" if side == "left" else "left"
        return self._with({"side": side_word(side), "other_side": side_word(other)}, str)

    def _plan(self, timing: Timing) -> Plan:
        """The kind's own entries of :meth:`plan`."""
        return {}

    # -- the routine's texts it may speak

    def spoken_texts(self) -> Iterator[Said]:
        """Every text of the routine file that the step's template may speak, in the
        order the step has them (``matcue check`` names those the script leaves
        unsaid): what every kind has here, then the kind's own (:meth:`_spoken_texts`)."""
        # The name is said unless announce is false; spoken: is said in its place.
        if self.announce and self.spoken is not None:
            yield Said(("spoken",), self.spoken)
        elif self.announce and "name" in self.model_fields_set:
            yield Said(("name",), spoken_name(self.name))
        # At minimal verbosity 'brief' is said in place of 'setup'; otherwise 'setup'.
        setup_gives_way = frozenset({"minimal"}) if self.brief else frozenset()
        for k, line in enumerate(self.setup):
            yield Said(("setup", k), line, instead_at=setup_gives_way)
        if self.brief:
            instead = frozenset({"full", "brief"}) if self.setup else frozenset()
            yield Said(("brief",), self.brief, instead_at=instead)
        if self.switch:
            yield Said(("switch",), self.switch, "transition")
        yield from self._spoken_texts()

    def _spoken_texts(self) -> Iterator[Said]:
        """The kind's own texts of :meth:`spoken_texts`."""
        return iter(())

    # -- the numbers its text may say

    def placeholder_values(self, timing: Timing) -> dict[str, Fraction | int]:
        """The value of each of the kind's :attr:`placeholders` under ``timing``
        (seconds as heard; spoken rounded to whole numbers): the breath cycle here,
        and what a kind adds (a ``duration`` as ``seconds``, ...)."""
        return {"cycle": timing.cycle}

    def with_values(self, timing: Timing, word: Callable[[int], str]) -> Self:
        """This step with every placeholder in its text replaced by its value as a
        word (itself when its text has none)."""
        return self._with(self.placeholder_values(timing), word)

    def _with(self, values: Mapping[str, Fraction | int | str], word: Callable[[int], str]) -> Self:
        """This step with the placeholders named in ``values`` filled in (numbers as
        ``word`` says them); itself when its text has none."""
        update: dict[str, Any] = {}
        dumped = self.model_dump()
        for field, current in self:  # every field with its value (pydantic's iteration)
            value = dumped[field]
            if field in ph.NOT_TEXT or not any(ph.names_in(t) for _, t in ph.texts(value)):
                continue
            new = ph.filled(value, values, word)
            update[field] = (
                current.model_copy(update=new) if isinstance(current, BaseModel) else new
            )
        return self.model_copy(update=update) if update else self

    # -- how --minutes changes it

    def scaled(self, factor: float, relaxed: bool = False) -> Self:
        """This step with its elastic quantities scaled by ``factor``; ``relaxed``
        lets reps leave a step's ``reps_range`` and transitions shorten (only to
        shorten a session that cannot otherwise fit)."""
        return self

    def fit_values(self) -> dict[str, FitValue]:
        """The quantities :meth:`scaled` may change, by field (for the report)."""
        return {}

    def fit_count(self) -> Count | None:
        """The count :meth:`scaled` keeps within a range of the routine's (unless
        relaxed), if the kind has one."""
        return None

    def window(self, phase: str | None, in_rep: bool) -> Window | None:
        """The field that shapes the time a cue at ``phase`` is spoken in (``in_rep``:
        the cue is inside a repetition), which the overrun advice offers to raise;
        None when no field of the step does."""
        return None

    # -- how --week changes it

    def growth(self) -> Growth | None:
        """What ``--week`` may grow in this kind (its reps, sets, hold), with the
        step's week-1 values; None: the kind does not progress."""
        return None

    def grown(self, growth: Growth) -> Self:
        """This step with the values ``growth`` gives (the fields it names)."""
        return self.model_copy(update=growth.update())

    # -- how long it takes

    def durations(self) -> dict[str, Duration]:
        """The step's durations, by field (checked against the 1-hour limit at the
        routine's breath and count); a field inside a list is written with dots
        (``movements.2.duration``)."""
        return {}

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        """Seconds of anchored (fixed-length) time in one pass over all sides,
        before pace scaling. Flowing speech is not included."""
        return 0.0


def rep_counts(reps: int | list[int]) -> list[int]:
    """``reps`` as a list (one count, or one per set)."""
    return list(reps) if isinstance(reps, list) else [reps]


def check_range(count: Count) -> list[tuple[Path_, str]]:
    """A count (or a count per set) against its range."""
    out: list[tuple[Path_, str]] = []
    field, rng, value = count.field, count.range, count.value
    if rng is not None:
        lo, hi = rng
        if lo > hi:
            out.append(((f"{field}_range",), f"the minimum {lo} is larger than the maximum {hi}"))
            return out
        for i, n in enumerate(rep_counts(value)):
            if not lo <= n <= hi:
                where: Path_ = (field, i) if isinstance(value, list) else (field,)
                out.append(
                    (where, f"{n} is outside {field}_range [{lo}, {hi}]; {field} must lie in it")
                )
    return out


def scaled_count(value: int, rng: tuple[int, int] | None, factor: float, relaxed: bool) -> int:
    """``value`` times ``factor``, within ``rng`` (or sensible bounds)."""
    if relaxed:
        lo, hi = 1, max(1, int(value * FIT_REP_BOUNDS[1]))
    elif rng:
        lo, hi = rng[0], rng[1]
    else:
        lo, hi = (
            max(1, math.ceil(value * FIT_REP_BOUNDS[0])),
            max(1, int(value * FIT_REP_BOUNDS[1])),
        )
    return int(min(max(round(value * factor), lo), hi, MAX_REPS))


def scaled_reps(step: Counted, factor: float, relaxed: bool) -> int | list[int]:
    """``step.reps`` times ``factor``, within its ``reps_range`` (or sensible bounds);
    per-set reps (a list) are each scaled so."""
    if isinstance(step.reps, list):
        return [scaled_count(n, step.reps_range, factor, relaxed) for n in step.reps]
    return scaled_count(step.reps, step.reps_range, factor, relaxed)


def _check_pair(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 2:
            raise fail(f"expected [min, max]: two whole numbers, got {show(value)}")
        return tuple(value)
    return value


RepsRange = Annotated[
    tuple[
        Annotated[int, Strict(), Field(ge=1, le=MAX_REPS)],
        Annotated[int, Strict(), Field(ge=1, le=MAX_REPS)],
    ]
    | None,
    BeforeValidator(lambda v: _check_pair(v)),
    WithJsonSchema(REPS_RANGE_SCHEMA),
]


def raise_all(problems: list[tuple[Path_, str]]) -> None:
    """Raise several located problems from one model validator."""
    if problems:
        raise fail(problems[0][1], problems=problems)
