"""The routine format: pydantic models, loading with line-aware errors, built-ins.

A routine file is YAML (see ``docs/routine-format.md``; the field table is
``docs/routine-contract.md``). Loading goes: bytes -> :mod:`matcue.yamlsafe`
(plain data + a line for every value) -> :class:`Routine` validation -> every
problem mapped back to ``FILE:LINE: FIELD: message`` and raised together as one
:class:`matcue.errors.ValidationError`.

Routine text is data: nothing here evaluates it (``{{ x }}`` is just text).
"""

from __future__ import annotations

import difflib
import logging
import re
from enum import Enum
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from matcue.errors import InputError, ValidationError
from matcue.yamlsafe import (
    MAX_BYTES,
    LoadedYaml,
    Path_,
    decode_bytes,
    format_path,
    load_yaml_text,
    problem,
    read_text_file,
)

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+, importlib.abc's copy is deprecated
    from importlib.resources.abc import Traversable

logger = logging.getLogger(__name__)

__all__ = [
    "BreathStep",
    "Defaults",
    "Duration",
    "HoldStep",
    "RepsStep",
    "RestStep",
    "Routine",
    "SayStep",
    "Step",
    "STEP_KINDS",
    "TransitionStep",
    "builtin_names",
    "load_builtin",
    "load_routine",
    "parse_routine",
    "routine_schema",
]

# ---------------------------------------------------------------------------
# Limits (named so messages and docs can quote them)

FORMAT_VERSION = 1
MAX_STEPS = 200
MAX_REPS = 1000
MAX_SETS = 50
MAX_LINE = 500
MAX_TITLE = 120
MAX_SUMMARY = 200
MAX_SOURCE = 300
MAX_NAME = 80
MAX_DURATION_SECONDS = 3600.0
MAX_DURATION_BREATHS = 200.0
MAX_DURATION_COUNTS = 200
MAX_TOTAL_SECONDS = 4 * 3600.0
MIN_MOVING_SECONDS = 1.0
PACE_FACTORS = {"slow": 1.25, "normal": 1.0, "fast": 0.8}

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"

UNKNOWN_KIND_MESSAGE = "unknown step kind {kind}; the kinds are {kinds}{hint}"
MISSING_KIND_MESSAGE = "a step needs 'kind:' (one of {kinds})"
SLUG_MESSAGE = (
    "must be a short id of lowercase letters, digits and '-' (like 'morning-thaw'), "
    "starting with a letter or digit"
)
NOT_STEP_MESSAGE = "expected a step: a mapping that starts with 'kind:' and holds its fields"


def _fail(message: str, **ctx: Any) -> PydanticCustomError:
    """A validation error whose text we wrote ourselves (no pydantic prefix)."""
    # The text travels in the context, never in the template, so braces in user
    # values ("{{ name }}") are shown as written.
    return PydanticCustomError("matcue", "{message}", {"message": message, **ctx})


# ---------------------------------------------------------------------------
# Small value types


class _Choice(str, Enum):
    """A fixed choice that prints as its YAML spelling (``str(Pace.slow) == "slow"``)."""

    def __str__(self) -> str:
        return str(self.value)


class Pace(_Choice):
    """Named paces; each scales every anchored interval."""

    slow = "slow"
    normal = "normal"
    fast = "fast"


class Verbosity(_Choice):
    """How much is said."""

    full = "full"
    brief = "brief"
    minimal = "minimal"


class Side(_Choice):
    """A side of the body, for steps done once per side."""

    left = "left"
    right = "right"


class StartPhase(_Choice):
    """Which breath phase opens each cycle."""

    inhale = "inhale"
    exhale = "exhale"


class Guide(_Choice):
    """What is said during a hold."""

    breaths = "breaths"
    count = "count"  # type: ignore[assignment]  # shadows str.count; the YAML word wins
    countdown = "countdown"
    none = "none"


Int = Annotated[int, Strict()]
Num = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Flag = Annotated[bool, Strict()]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise _fail("must not be empty or only spaces")
    return value


Line = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_LINE),
    BeforeValidator(lambda v: _not_blank(v) if isinstance(v, str) else v),
]
"""One spoken line: 1..500 characters."""


def _to_lines(value: Any) -> Any:
    """``str`` -> ``[str]``; ``None`` -> ``[]``; anything else is checked as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


_LINES_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": MAX_LINE},
        {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": MAX_LINE}},
    ]
}
Lines = Annotated[list[Line], BeforeValidator(_to_lines), WithJsonSchema(_LINES_SCHEMA)]
"""Text that may be one line or a list of lines; normalised to a list."""


# ---------------------------------------------------------------------------
# Duration

_UNITS = ("seconds", "breaths", "counts")
_UNIT_LIMITS = {
    "seconds": MAX_DURATION_SECONDS,
    "breaths": MAX_DURATION_BREATHS,
    "counts": MAX_DURATION_COUNTS,
}


def _exact_mul(a: float, b: float) -> float:
    """``a * b`` computed on the decimal values as written, rounded once (3 x 1.1 = 3.3)."""
    return float(Fraction(repr(float(a))) * Fraction(repr(float(b))))


class Duration(BaseModel):
    """A length of time: seconds, a number of breath cycles or a number of counts.

    In YAML either a plain number (seconds) or a mapping with exactly one key:
    ``{seconds: N}``, ``{breaths: N}`` or ``{counts: N}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    unit: Literal["seconds", "breaths", "counts"] = "seconds"
    """What ``value`` counts: seconds, breath cycles, or spoken counts."""
    value: float = 0.0
    """How many of ``unit``."""

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if isinstance(data, Duration):
            return data
        if isinstance(data, dict) and set(data) == {"unit", "value"}:
            unit, value = data["unit"], data["value"]
        elif isinstance(data, bool) or data is None:
            raise _fail(_DURATION_EXPECTED + f", got {_show(data)}")
        elif isinstance(data, (int, float)):
            unit, value = "seconds", data
        elif isinstance(data, dict):
            if len(data) != 1:
                raise _fail(
                    "a duration mapping has exactly one key: seconds, breaths or counts "
                    f"(got {', '.join(map(repr, data)) or 'none'})"
                )
            ((unit, value),) = data.items()
            unit = str(unit)
            if unit not in _UNITS:
                raise _fail(
                    f"unknown duration unit {_show(unit)}; use seconds, breaths or counts"
                    + _did_you_mean(str(unit), _UNITS)
                )
        else:
            raise _fail(_DURATION_EXPECTED + f", got {_show(data)}")
        where = {"sub": unit} if isinstance(data, dict) else {}
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise _fail(f"expected a number, got {_show(value)}", **where)
        if unit == "counts" and value != int(value):
            raise _fail(f"expected a whole number of counts, got {_show(value)}", **where)
        if value < 0:
            raise _fail(f"must be 0 or more, got {_show(value)}", **where)
        limit = _UNIT_LIMITS[unit]
        if value > limit:
            what = (
                "s (1 hour, the limit for a duration)"
                if unit == "seconds"
                else (f"(the limit for {unit} in a duration)")
            )
            raise _fail(f"must be at most {_num(limit)} {what}, got {_show(value)}", **where)
        return {"unit": unit, "value": float(value)}

    def to_seconds(self, breath: float, count: float) -> float:
        """Length in seconds, with ``breath`` seconds per breath cycle and ``count``
        seconds per spoken count. Exact for the decimal numbers given."""
        if self.unit == "seconds":
            return float(self.value)
        return _exact_mul(self.value, breath if self.unit == "breaths" else count)

    def __str__(self) -> str:
        return f"{_num(self.value)} {self.unit}"


_DURATION_EXPECTED = (
    "expected a duration: a number of seconds, or {seconds: N}, {breaths: N} or {counts: N}"
)
_DURATION_SCHEMA: dict[str, Any] = {
    "description": "A plain number of seconds, or a mapping with exactly one key.",
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_DURATION_SECONDS},
        {
            "type": "object",
            "properties": {
                "seconds": {"type": "number", "minimum": 0, "maximum": MAX_DURATION_SECONDS}
            },
            "required": ["seconds"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "breaths": {"type": "number", "minimum": 0, "maximum": MAX_DURATION_BREATHS}
            },
            "required": ["breaths"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "counts": {"type": "integer", "minimum": 0, "maximum": MAX_DURATION_COUNTS}
            },
            "required": ["counts"],
            "additionalProperties": False,
        },
    ],
}
DurationField = Annotated[Duration, WithJsonSchema(_DURATION_SCHEMA)]


def _duration(seconds: float) -> Duration:
    return Duration(unit="seconds", value=seconds)


# ---------------------------------------------------------------------------
# Defaults


def _check_pace(value: Any) -> Any:
    if isinstance(value, Pace):
        return value
    if isinstance(value, str):
        if value in PACE_FACTORS:
            return Pace(value)
        raise _fail(
            f"expected 'slow', 'normal', 'fast' or a number from 0.25 to 4, got {_show(value)}"
            + _did_you_mean(value, list(PACE_FACTORS))
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise _fail(
            f"expected 'slow', 'normal', 'fast' or a number from 0.25 to 4, got {_show(value)}"
        )
    if not 0.25 <= value <= 4:
        raise _fail(f"must be from 0.25 to 4 (the limits for pace), got {_show(value)}")
    return float(value)


_PACE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"enum": list(PACE_FACTORS)},
        {"type": "number", "minimum": 0.25, "maximum": 4},
    ]
}


class Defaults(BaseModel):
    """Session defaults. Command-line flags override them."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    breath: Num = Field(default=10.0, ge=2, le=60)
    """Seconds per breath cycle (inhale + exhale), 2..60."""
    pace: Annotated[Pace | float, BeforeValidator(_check_pace), WithJsonSchema(_PACE_SCHEMA)] = (
        Pace.normal
    )
    """'slow' (x1.25), 'normal' (x1), 'fast' (x0.8) or a factor 0.25..4; scales every
    anchored interval."""
    verbosity: Verbosity = Verbosity.full
    """How much is said: 'full', 'brief' or 'minimal'."""
    count: Num = Field(default=1.0, ge=0.3, le=5)
    """Seconds per spoken count, 0.3..5."""
    transition: Num = Field(default=5.0, ge=0, le=120)
    """Seconds for a transition (including 'switch sides'), 0..120."""
    pause: Num = Field(default=1.0, ge=0, le=30)
    """Seconds of silence after each flowing spoken line, 0..30."""
    engine: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)] | None = None
    """Speech engine name: 'pyttsx3', 'espeak-ng' or 'piper'; null = the default engine."""
    voice: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LINE)] | None = None
    """Engine voice id; null = the engine's default voice."""
    rate: Int | None = Field(default=None, ge=60, le=450)
    """Speech rate in words per minute, 60..450; null = the engine's default."""
    volume: Num | None = Field(default=None, gt=0, le=1)
    """Speech volume, more than 0 and at most 1; null = the engine's default."""

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str | None) -> str | None:
        # A fixed list, so `matcue check` can refuse what render would.
        from matcue.speech import engine_name, unknown_engine_message

        if value is not None and engine_name(value) is None:
            raise _fail(unknown_engine_message(value))
        return value

    @property
    def pace_factor(self) -> float:
        """The multiplier for anchored intervals."""
        if isinstance(self.pace, Pace):
            return PACE_FACTORS[self.pace.value]
        return float(self.pace)


# ---------------------------------------------------------------------------
# Steps


def _check_sides(value: Any) -> Any:
    if value is None:
        return None
    if value == "both":
        return [Side.left, Side.right]
    if isinstance(value, str):
        if value in ("left", "right"):
            return [Side(value)]
        raise _fail(f"expected 'both', 'left', 'right' or a list of sides, got {_show(value)}")
    if isinstance(value, list):
        if not 1 <= len(value) <= 2 or not all(v in ("left", "right") for v in value):
            raise _fail(
                f"expected 'both' or a list of one or two of 'left' and 'right', got {_show(value)}"
            )
        if len(set(value)) != len(value):
            raise _fail("each side can be listed only once")
        return [Side(v) for v in value]
    raise _fail(f"expected 'both', 'left', 'right' or a list of sides, got {_show(value)}")


_SIDES_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "null"},
        {"enum": ["both", "left", "right"]},
        {
            "type": "array",
            "items": {"enum": ["left", "right"]},
            "minItems": 1,
            "maxItems": 2,
            "uniqueItems": True,
        },
    ]
}
Sides = Annotated[list[Side] | None, BeforeValidator(_check_sides), WithJsonSchema(_SIDES_SCHEMA)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LINE)]


class _StepBase(BaseModel):
    """Fields every step kind has."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    default_name: ClassVar[str | None] = None
    timed: ClassVar[bool] = False
    """True for breath/hold/reps steps (the default main part)."""

    setup: Lines = []
    """Spoken before the timed part (flowing), at full and brief verbosity."""
    brief: Line | None = None
    """One short line used instead of 'setup' at minimal verbosity."""
    sides: Sides = None
    """null, 'both' (= [left, right]) or a list of 'left'/'right': the step is done once
    per side."""
    switch: Line | None = None
    """Cue spoken when switching sides; null = the template's default."""

    @property
    def display_name(self) -> str:
        """The chapter title: ``name``, or the kind's default name."""
        return getattr(self, "name", None) or self.default_name or str(getattr(self, "kind", ""))

    @property
    def side_count(self) -> int:
        """How many times the step is done (1, or one per side)."""
        return len(self.sides) if self.sides else 1

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        """Seconds of anchored (fixed-length) time in one pass over all sides,
        before pace scaling. Flowing speech is not included."""
        return 0.0


class SayStep(_StepBase):
    """Spoken lines, one after another (flowing time)."""

    default_name: ClassVar[str | None] = "Instructions"
    kind: Literal["say"]
    """Step kind: 'say'."""
    name: Name = "Instructions"
    """Spoken at the step start and the chapter title; the default 'Instructions' is a chapter
    title only, never spoken."""
    text: Annotated[list[Line], BeforeValidator(_to_lines), WithJsonSchema(_LINES_SCHEMA)] = Field(
        min_length=1
    )
    """The lines spoken one after another (one line or a list); required."""
    pause: Num | None = Field(default=None, ge=0, le=30)
    """Silence after each line in seconds, 0..30; null = defaults.pause."""


class TransitionStep(_StepBase):
    """Time to move into the next position, with an optional spoken cue."""

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

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        one = self.duration.to_seconds(breath, count) if self.duration else transition
        return one * self.side_count


class BreathCues(BaseModel):
    """Full cue per breath phase (full verbosity)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    inhale: Line
    """Cue for the in-breath; required."""
    exhale: Line
    """Cue for the out-breath; required."""
    hold_in: Line | None = None
    """Cue for the hold at the top (after the inhale)."""
    hold_out: Line | None = None
    """Cue for the hold at the bottom (after the exhale)."""


class BreathWords(BaseModel):
    """Short phase words for brief and minimal verbosity."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    inhale: Line = "Breathe in"
    """Word for the in-breath."""
    exhale: Line = "Breathe out"
    """Word for the out-breath."""
    hold_in: Line = "Hold"
    """Word for the hold at the top."""
    hold_out: Line = "Hold"
    """Word for the hold at the bottom."""


def _check_range(step: Any) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    if step.reps_range is not None:
        lo, hi = step.reps_range
        if lo > hi:
            out.append((("reps_range",), f"the minimum {lo} is larger than the maximum {hi}"))
        elif not lo <= step.reps <= hi:
            out.append(
                (("reps",), f"{step.reps} is outside reps_range [{lo}, {hi}]; reps must lie in it")
            )
    return out


def _check_pair(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 2:
            raise _fail(f"expected [min, max]: two whole numbers, got {_show(value)}")
        return tuple(value)
    return value


RepsRange = Annotated[
    tuple[
        Annotated[int, Strict(), Field(ge=1, le=MAX_REPS)],
        Annotated[int, Strict(), Field(ge=1, le=MAX_REPS)],
    ]
    | None,
    BeforeValidator(lambda v: _check_pair(v)),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": MAX_REPS},
                    "minItems": 2,
                    "maxItems": 2,
                },
            ]
        }
    ),
]


def _raise_all(problems: list[tuple[Path_, str]]) -> None:
    """Raise several located problems from one model validator."""
    if problems:
        raise _fail(problems[0][1], problems=problems)


class BreathStep(_StepBase):
    """Breath-paced cycles: each cycle is inhale, optional hold, exhale, optional hold."""

    timed: ClassVar[bool] = True
    kind: Literal["breath"]
    """Step kind: 'breath'."""
    name: Name
    """Chapter title; required."""
    reps: Int = Field(ge=1, le=MAX_REPS)
    """Number of breath cycles, 1..1000; required."""
    reps_range: RepsRange = None
    """[min, max] reps allowed when fitting a session length (--minutes); must contain reps."""
    cycle: Num | None = Field(default=None, ge=2, le=120)
    """Cycle length in seconds for this step, 2..120; null = defaults.breath (or --breath).
    --pace still scales it."""
    split: Num = Field(default=0.5, ge=0.2, le=0.8)
    """Share of the moving time (cycle minus holds) that is inhale, 0.2..0.8."""
    hold_in: Num = Field(default=0.0, ge=0, le=60)
    """Seconds held at the top after the inhale, 0..60 (part of the cycle)."""
    hold_out: Num = Field(default=0.0, ge=0, le=60)
    """Seconds held at the bottom after the exhale, 0..60 (part of the cycle)."""
    start: StartPhase = StartPhase.inhale
    """Which phase opens each cycle: 'inhale' or 'exhale'."""
    cues: BreathCues
    """Full cue per phase: inhale and exhale required, hold_in and hold_out optional."""
    words: BreathWords = BreathWords()
    """Short phase words used at brief and minimal verbosity."""

    @model_validator(mode="after")
    def _consistent(self) -> BreathStep:
        problems = _check_range(self)
        if self.cycle is not None:
            msg = self.moving_problem(self.cycle)
            if msg:
                problems.append((("hold_in",), msg))
        _raise_all(problems)
        return self

    def moving_problem(self, cycle: float) -> str | None:
        """A message when the holds leave less than 1 s of moving time in ``cycle``."""
        if cycle - self.hold_in - self.hold_out < MIN_MOVING_SECONDS:
            return (
                f"hold_in + hold_out ({_num(self.hold_in + self.hold_out)} s) must leave at least "
                f"{_num(MIN_MOVING_SECONDS)} s of moving time in the {_num(cycle)} s breath cycle"
            )
        return None

    def phases(self, cycle: float) -> list[tuple[str, float]]:
        """The phases of one cycle of ``cycle`` seconds, in spoken order, with their
        lengths in seconds (zero-length holds left out). Lengths add up to ``cycle``."""
        moving = cycle - self.hold_in - self.hold_out
        inhale = moving * self.split
        order = [
            ("inhale", inhale),
            ("hold_in", self.hold_in),
            ("exhale", moving - inhale),
            ("hold_out", self.hold_out),
        ]
        if self.start == StartPhase.exhale:
            order = order[2:] + order[:2]
        return [(p, s) for p, s in order if s > 0]

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        return _exact_mul(self.reps, self.cycle or breath) * self.side_count


class HoldStep(_StepBase):
    """A held shape for a set time."""

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

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.value <= 0:
            raise _fail("a hold must last more than 0")
        return value

    @property
    def effective_guide(self) -> Guide:
        """``guide``, or the default for the duration's unit."""
        if self.guide is not None:
            return self.guide
        return {"breaths": Guide.breaths, "counts": Guide.count}.get(self.duration.unit, Guide.none)

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        return self.duration.to_seconds(breath, count) * self.side_count


class RepsCues(BaseModel):
    """Full cues for a repetition (full verbosity)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    move: Line
    """Cue to move into the position; required."""
    hold: Line | None = None
    """Cue at the start of the hold."""
    release: Line
    """Cue to come back; required."""
    rest: Line | None = None
    """Cue at the start of the rest."""


class RepsWords(BaseModel):
    """Short words for brief and minimal verbosity."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    move: Line = "Now"
    """Word to move."""
    hold: Line = "Hold"
    """Word to hold."""
    release: Line = "Release"
    """Word to come back."""
    rest: Line = "Rest"
    """Word to rest."""


class RepsStep(_StepBase):
    """Repetitions (move, hold, release, rest) in sets."""

    timed: ClassVar[bool] = True
    kind: Literal["reps"]
    """Step kind: 'reps'."""
    name: Name
    """Chapter title; required."""
    reps: Int = Field(ge=1, le=MAX_REPS)
    """Repetitions per set, 1..1000; required."""
    reps_range: RepsRange = None
    """[min, max] reps allowed when fitting a session length (--minutes); must contain reps."""
    sets: Int = Field(default=1, ge=1, le=MAX_SETS)
    """Number of sets, 1..50."""
    move: DurationField = _duration(2)
    """Time to move into the position (default 2 s)."""
    hold: DurationField = _duration(0)
    """Time held in the position (default 0)."""
    release: DurationField = _duration(2)
    """Time to come back (default 2 s)."""
    rest: DurationField = _duration(2)
    """Rest after each repetition (default 2 s)."""
    set_rest: DurationField = _duration(30)
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

    @model_validator(mode="after")
    def _consistent(self) -> RepsStep:
        problems = _check_range(self)
        if self.alternate and self.side_count != 2:
            problems.append((("alternate",), "taking turns needs two sides; add 'sides: both'"))
        _raise_all(problems)
        return self

    @property
    def count_aloud(self) -> bool:
        """``count``, or true when the hold is given in counts."""
        return self.count if self.count is not None else self.hold.unit == "counts"

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        def s(d: Duration) -> float:
            return d.to_seconds(breath, count)

        one = s(self.move) + s(self.hold) + s(self.release) + s(self.rest)
        per_side = self.sets * self.reps * one + (self.sets - 1) * s(self.set_rest)
        return per_side * self.side_count


class RestStep(_StepBase):
    """Rest or integration: a long silence with occasional calm reminders."""

    timed: ClassVar[bool] = False
    kind: Literal["rest"]
    """Step kind: 'rest'."""
    name: Name
    """Chapter title; required."""
    duration: DurationField
    """Total length (more than 0); required."""
    every: Num = Field(default=45.0, ge=10, le=600)
    """Seconds between calm reminders, 10..600."""
    reminders: Lines = []
    """Reminders, used in turn; empty = the template's defaults."""

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.value <= 0:
            raise _fail("a rest must last more than 0")
        return value

    def anchored_seconds(self, *, breath: float, count: float, transition: float) -> float:
        return self.duration.to_seconds(breath, count) * self.side_count


_STEP_CLASSES: dict[str, type[_StepBase]] = {
    "say": SayStep,
    "transition": TransitionStep,
    "breath": BreathStep,
    "hold": HoldStep,
    "reps": RepsStep,
    "rest": RestStep,
}
STEP_KINDS: tuple[str, ...] = tuple(_STEP_CLASSES)
"""The valid values of ``kind``."""

Step = Annotated[
    Union[SayStep, TransitionStep, BreathStep, HoldStep, RepsStep, RestStep],  # noqa: UP007
    Field(discriminator="kind"),
]
"""One step of a routine; ``kind`` selects the model."""

AnyStep = Union[SayStep, TransitionStep, BreathStep, HoldStep, RepsStep, RestStep]  # noqa: UP007
_STEP_ADAPTER: TypeAdapter[AnyStep] = TypeAdapter(Step)


# ---------------------------------------------------------------------------
# Routine


def _cross_checks(
    d: Defaults | None,
    steps: list[tuple[int, AnyStep]],
    main: list[str] | None,
    names: list[str],
) -> list[tuple[Path_, str]]:
    """Checks that need the defaults or several steps: ``main`` names, durations in
    breaths/counts against the 1-hour limit, breath holds against defaults.breath.
    Run by the Routine validator and, step by step, when other fields failed
    (``d`` is None when the defaults themselves are invalid)."""
    problems: list[tuple[Path_, str]] = []
    for i, name in enumerate(main or []):
        if name not in names:
            problems.append(
                (("main", i), f"no step is named {_show(name)}" + _did_you_mean(name, names))
            )
    if d is None:
        return problems
    for i, step in steps:
        for field_name in ("duration", "move", "hold", "release", "rest", "set_rest"):
            dur = getattr(step, field_name, None)
            if not isinstance(dur, Duration) or dur.unit == "seconds":
                continue
            secs = dur.to_seconds(d.breath, d.count)
            if secs > MAX_DURATION_SECONDS:
                per = (
                    f"{_num(d.breath)} s per breath"
                    if dur.unit == "breaths"
                    else f"{_num(d.count)} s per count"
                )
                problems.append(
                    (
                        ("steps", i, field_name),
                        f"{dur} at {per} is {_num(secs)} s; the limit for a duration is "
                        f"{_num(MAX_DURATION_SECONDS)} s (1 hour)",
                    )
                )
        if isinstance(step, BreathStep) and step.cycle is None:
            msg = step.moving_problem(d.breath)
            if msg:
                problems.append((("steps", i, "hold_in"), msg + " (defaults.breath)"))
    return problems


def _partial_cross_checks(data: dict[str, Any]) -> list[tuple[Path_, str]]:
    """:func:`_cross_checks` on whatever parts of an invalid routine are valid, so
    that all problems of a file are reported together."""
    try:
        d = Defaults.model_validate(data.get("defaults") or {})
    except PydanticValidationError:
        d = None
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list):
        return []
    good: list[tuple[int, AnyStep]] = []
    for i, item in enumerate(raw_steps):
        try:
            good.append((i, _STEP_ADAPTER.validate_python(item)))
        except PydanticValidationError:
            pass
    names = [
        item.get("name") or (_STEP_CLASSES[item["kind"]].default_name or "")
        for item in raw_steps
        if isinstance(item, dict)
        and isinstance(item.get("kind"), str)
        and item["kind"] in _STEP_CLASSES
    ]
    main = data.get("main")
    if not isinstance(main, list) or not all(isinstance(m, str) for m in main):
        main = None
    return _cross_checks(d, good, main, [n for n in names if isinstance(n, str)])


class Routine(BaseModel):
    """A routine: title, optional framing text, defaults and the steps of the session."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    matcue: Int = Field(default=FORMAT_VERSION, ge=1, le=FORMAT_VERSION)
    """Format version; only 1 is valid."""
    name: Annotated[str, StringConstraints(max_length=MAX_NAME, pattern=SLUG_PATTERN)] = "routine"
    """Routine id, lowercase letters, digits and '-'; defaults to the file name without
    '.yaml'."""
    title: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE)]
    """Spoken title and MP3 title, 1..120 characters; required."""
    summary: Annotated[str, StringConstraints(max_length=MAX_SUMMARY)] = ""
    """One-line description (shown by `matcue routines`), at most 200 characters."""
    source: Annotated[str, StringConstraints(max_length=MAX_SOURCE)] = ""
    """Attribution of the source material, at most 300 characters."""
    safety: Line | None = None
    """Safety line, spoken first at every verbosity."""
    intro: Lines = []
    """Spoken after the title and safety line."""
    outro: Lines = []
    """Spoken at the end."""
    defaults: Defaults = Defaults()
    """Session defaults; command-line flags override them."""
    main: list[Name] | None = None
    """Names of the steps that form the main part (what --minutes repeats or fits);
    null = every breath, hold and reps step."""
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    """The session, 1..200 steps."""

    _filename: str = PrivateAttr(default="<routine>")
    _loaded: LoadedYaml | None = PrivateAttr(default=None)

    def problem(self, path: Path_, message: str) -> str:
        """A problem found after loading (a voice the engine lacks), located like the
        loader's own: ``FILE:LINE: FIELD: message``."""
        line = self._loaded.line_of(path) if self._loaded is not None else 1
        return problem(self._filename, line, path, message)

    @model_validator(mode="after")
    def _whole(self) -> Routine:
        names = [s.display_name for s in self.steps]
        problems = _cross_checks(self.defaults, list(enumerate(self.steps)), self.main, names)
        total = self.anchored_seconds()
        if total > MAX_TOTAL_SECONDS:
            problems.append(
                (
                    ("steps",),
                    f"the timed parts add up to about {_hours(total)}; the limit for a routine "
                    "is 4 hours",
                )
            )
        _raise_all(problems)
        return self

    def anchored_seconds(self) -> float:
        """Estimated length of all anchored (timed) parts at the routine's defaults,
        pace included. Flowing speech is not counted."""
        d = self.defaults
        raw = sum(
            s.anchored_seconds(breath=d.breath, count=d.count, transition=d.transition)
            for s in self.steps
        )
        return raw * d.pace_factor

    def main_indices(self) -> list[int]:
        """0-based indexes of the main-part steps: those named in ``main``, or every
        breath, hold and reps step when ``main`` is null."""
        if self.main is None:
            return [i for i, s in enumerate(self.steps) if s.timed]
        wanted = set(self.main)
        return [i for i, s in enumerate(self.steps) if s.display_name in wanted]

    def main_steps(self) -> list[AnyStep]:
        """The main-part steps, in session order (see :meth:`main_indices`)."""
        return [self.steps[i] for i in self.main_indices()]


# ---------------------------------------------------------------------------
# Loading


def load_routine(path: Path | str) -> Routine:
    """Read, check and validate a routine file.

    ``name`` defaults to the file name without its extension (made into a valid
    id). Raises :class:`InputError` for a missing file or a directory and
    :class:`ValidationError` listing every problem otherwise.
    """
    path = Path(path)
    text = read_text_file(path)
    return parse_routine(text, filename=str(path))


def parse_routine(text: str, *, filename: str) -> Routine:
    """Validate routine YAML ``text``; ``filename`` is used in messages and for the
    default ``name``. Raises :class:`ValidationError` (only) on bad input."""
    loaded = load_yaml_text(text, filename=filename)
    data = loaded.data
    if not isinstance(data, dict):
        raise ValidationError(
            [
                problem(
                    filename,
                    loaded.lines.get((), 1),
                    "-",
                    "expected a mapping of fields (title:, steps:, ...) at the top level, "
                    f"got {_show(data)}",
                )
            ]
        )
    if "name" not in data:
        data = {**data, "name": _slug(Path(filename).stem)}
    try:
        routine = Routine.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(_problems(exc, loaded, data, filename)) from None
    routine._filename = filename
    routine._loaded = loaded
    logger.debug("routine %s: %d steps", routine.name, len(routine.steps))
    return routine


def _slug(stem: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:MAX_NAME]
    return slug or "routine"


def _library(library: Traversable | None) -> Traversable:
    return library if library is not None else resources.files("matcue.library")


def builtin_names(*, library: Traversable | None = None) -> list[str]:
    """Names of the built-in routines (``library/<name>.yaml``), sorted.
    ``library`` replaces the packaged folder (for tests)."""
    return sorted(
        p.name[: -len(".yaml")]
        for p in _library(library).iterdir()
        if p.name.endswith(".yaml") and p.is_file()
    )


def load_builtin(name: str, *, library: Traversable | None = None) -> Routine:
    """Load the built-in routine ``name``; raises :class:`InputError` naming the
    built-ins when there is none by that name."""
    names = builtin_names(library=library)
    if name not in names:
        raise InputError(
            f"no built-in routine named {_show(name)}; the built-ins are: "
            f"{', '.join(names) or '(none)'}" + _did_you_mean(name, names)
        )
    entry = _library(library) / f"{name}.yaml"
    filename = f"library/{name}.yaml"
    data = entry.read_bytes()[: MAX_BYTES + 1]
    return parse_routine(decode_bytes(data, filename=filename), filename=filename)


def routine_schema() -> dict[str, Any]:
    """JSON Schema of a routine file, for editor completion (``matcue schema``)."""
    schema = TypeAdapter(Routine).json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "matcue routine"
    schema.setdefault("required", [])
    if "name" in schema["required"]:
        schema["required"].remove("name")
    return schema


# ---------------------------------------------------------------------------
# Turning pydantic errors into located, plain-English problems


def _show(value: Any) -> str:
    """A short description of a user value for messages."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _num(value)
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            inline = "[" + ", ".join(str(v) for v in value) + "]"
            if len(inline) <= 40:
                return inline
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _hours(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60} min"


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _model_at(path: Path_, data: Any) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` in ``data``."""
    model: type[BaseModel] | None = Routine
    node = data
    i = 0
    while i < len(path):
        seg = path[i]
        if model is Routine and seg == "steps" and i + 1 < len(path):
            item = _get(node, ("steps", path[i + 1]))
            kind = item.get("kind") if isinstance(item, dict) else None
            model = _STEP_CLASSES.get(kind) if isinstance(kind, str) else None
            node = item
            i += 2
            continue
        if model is None or not isinstance(seg, str):
            return None
        subs: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
            (Routine, "defaults"): Defaults,
            (BreathStep, "cues"): BreathCues,
            (BreathStep, "words"): BreathWords,
            (RepsStep, "cues"): RepsCues,
            (RepsStep, "words"): RepsWords,
        }
        model = subs.get((model, seg))
        node = node.get(seg) if isinstance(node, dict) else None
        i += 1
    return model


def _data_path(loc: tuple[Any, ...], data: Any) -> Path_:
    """A pydantic ``loc`` as a path into the user's data: the discriminator tag
    pydantic inserts after a step index (``steps, 2, 'breath', ...``) is dropped."""
    out: list[str | int] = []
    dropped = False
    for seg in loc:
        if (
            not dropped
            and len(out) == 2
            and out[0] == "steps"
            and seg in _STEP_CLASSES
            and isinstance(_get(data, tuple(out)), dict)
            and seg == _get(data, (*out, "kind"))
        ):
            dropped = True
            continue
        out.append(seg)
    return tuple(out)


def _other_kinds_with(field_name: str, kind: Any) -> list[str]:
    return [k for k, cls in _STEP_CLASSES.items() if k != kind and field_name in cls.model_fields]


def _message(err: Any, path: Path_, data: Any) -> tuple[Path_, str]:
    """Plain-English message for one pydantic error (and maybe a refined path)."""
    typ = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    field_name = next((s for s in reversed(path) if isinstance(s, str)), "value")
    if typ == "matcue":
        sub = ctx.get("sub")
        return ((*path, sub) if sub else path), err["msg"]
    if typ == "extra_forbidden":
        key = str(path[-1])
        model = _model_at(path[:-1], data)
        allowed = list(model.model_fields) if model else []
        msg = f"unknown field '{key}'"
        hint = _did_you_mean(key, allowed)
        parent = _get(data, path[:-1])
        kind = (
            parent.get("kind")
            if isinstance(parent, dict) and model in _STEP_CLASSES.values()
            else None
        )
        others = _other_kinds_with(key, kind) if kind else []
        if hint:
            msg += hint
        elif others:
            msg += f" for a {kind} step (it belongs to {_and(others)} steps)"
        elif allowed:
            msg += f"; the fields here are: {', '.join(allowed)}"
        return path, msg
    if typ == "missing":
        return path, "required field is missing"
    if typ in ("union_tag_invalid", "union_tag_not_found"):
        kinds = ", ".join(STEP_KINDS)
        if typ == "union_tag_not_found":
            return (*path, "kind"), MISSING_KIND_MESSAGE.format(kinds=kinds)
        kind = ctx.get("tag")
        shown = _show(_get(data, (*path, "kind")))
        return (*path, "kind"), UNKNOWN_KIND_MESSAGE.format(
            kind=shown, kinds=kinds, hint=_did_you_mean(str(kind), STEP_KINDS)
        )
    if typ == "model_attributes_type" and len(path) == 2 and path[0] == "steps":
        return path, NOT_STEP_MESSAGE + f", got {_show(value)}"
    if typ in ("model_type", "model_attributes_type", "dict_type"):
        return path, f"expected a mapping of fields, got {_show(value)}"
    if typ in ("int_type", "int_parsing", "int_from_float"):
        return path, f"expected a whole number, got {_show(value)}" + _quote_hint(value, False)
    if typ in ("float_type", "float_parsing", "finite_number"):
        return path, f"expected a number, got {_show(value)}" + _quote_hint(value, False)
    if typ in ("bool_type", "bool_parsing"):
        return path, f"expected true or false, got {_show(value)}"
    if typ == "string_type":
        return path, f"expected text, got {_show(value)}" + _quote_hint(value, True)
    if typ in ("list_type", "tuple_type"):
        if path == ("steps",):
            return path, (
                f"expected a list of steps (each starting with '- kind: ...'), got {_show(value)}"
            )
        return path, f"expected a list, got {_show(value)}"
    if typ in ("enum", "literal_error"):
        expected = ctx.get("expected", "")
        hint = _did_you_mean(str(value), _choices(expected))
        return path, f"expected {expected}, got {_show(value)}{hint}"
    if path == ("matcue",) and typ in ("less_than_equal", "greater_than_equal"):
        return path, (
            f"unsupported format version {_show(value)}; this matcue reads version {FORMAT_VERSION}"
        )
    if typ in ("less_than_equal", "less_than"):
        limit = float(ctx.get("le", ctx.get("lt", 0)))
        word = "at most" if typ == "less_than_equal" else "less than"
        return path, (
            f"must be {word} {_num(limit)} (the limit for {field_name}), got {_show(value)}"
        )
    if typ in ("greater_than_equal", "greater_than"):
        limit = float(ctx.get("ge", ctx.get("gt", 0)))
        word = "at least" if typ == "greater_than_equal" else "more than"
        return path, f"must be {word} {_num(limit)}, got {_show(value)}"
    if typ == "string_too_long":
        max_len = ctx.get("max_length")
        return path, (
            f"is {len(value)} characters long; the limit for {field_name} is {max_len} characters"
        )
    if typ == "string_too_short":
        return path, "must not be empty"
    if typ == "string_pattern_mismatch":
        return path, SLUG_MESSAGE + f", got {_show(value)}"
    if typ == "too_short":
        if path == ("steps",):
            return path, "a routine needs at least one step"
        return path, f"must not be empty (at least {ctx.get('min_length')} item)"
    if typ == "too_long":
        max_items = ctx.get("max_length")
        return path, (
            f"has {ctx.get('actual_length')} items; the limit for {field_name} is {max_items}"
        )
    return path, err["msg"]


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _choices(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def _quote_hint(value: Any, want_text: bool) -> str:
    if want_text and isinstance(value, (bool, int, float)):
        return " (put the text in quotes)"
    if not want_text and isinstance(value, str) and re.match(r"\s*[-+]?\.?\d", value):
        return " (write the number without quotes or units)"
    return ""


def _get(data: Any, path: Path_) -> Any:
    node = data
    for seg in path:
        try:
            node = node[seg]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _problems(
    exc: PydanticValidationError, loaded: LoadedYaml, data: Any, filename: str
) -> list[str]:
    located: list[tuple[int, int, str]] = []
    for order, err in enumerate(exc.errors()):
        base = _data_path(tuple(err["loc"]), data)
        ctx = err.get("ctx") or {}
        pairs: list[tuple[Path_, str]]
        if err["type"] == "matcue" and ctx.get("problems"):
            pairs = [((*base, *sub), msg) for sub, msg in ctx["problems"]]
        else:
            pairs = [_message(err, base, data)]
        for path, msg in pairs:
            line = loaded.line_of(path)
            located.append((line, order, problem(filename, line, path, msg)))
    if isinstance(data, dict) and not any(
        e["type"] == "matcue" and e["loc"] == () for e in exc.errors()
    ):
        for path, msg in _partial_cross_checks(data):
            line = loaded.line_of(path)
            located.append((line, 10**6, problem(filename, line, path, msg)))
    located.sort(key=lambda t: (t[0], t[1]))
    seen: set[str] = set()
    out = []
    for _, _, text in located:
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


__all__ += ["format_path", "Pace", "Verbosity", "Side", "StartPhase", "Guide", "AnyStep"]
