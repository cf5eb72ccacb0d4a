"""The value types of a routine file: choices, spoken lines, durations and the
session defaults. Every limit comes from :mod:`matcue.limits`."""

from __future__ import annotations

from enum import Enum
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from matcue import phrases
from matcue.limits import (
    BREATH_DEFAULT,
    BREATH_HOLD_RANGE,
    BREATH_RANGE,
    COUNT_DEFAULT,
    COUNT_RANGE,
    CYCLE_RANGE,
    DURATION_LIMITS,
    MAX_LINE,
    MAX_NAME,
    MAX_REPS,
    MAX_SETS,
    MINUTES_RANGE,
    PACE_FACTORS,
    PACE_RANGE,
    PATTERN_MOVE_RANGE,
    PAUSE_DEFAULT,
    PAUSE_RANGE,
    RATE_RANGE,
    TRANSITION_DEFAULT,
    TRANSITION_RANGE,
    VOLUME_RANGE,
    span,
)

from .schema import (
    DURATION_SCHEMA,
    LINES_SCHEMA,
    PACE_SCHEMA,
    PHRASINGS_SCHEMA,
    SET_REPS_SCHEMA,
    SIDES_SCHEMA,
    number,
)
from .text import did_you_mean, fail, num, quote_hint, show


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
EngineName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
"""A speech engine's name (checked against the engines by the settings)."""
Num = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Flag = Annotated[bool, Strict()]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise fail("must not be empty or only spaces")
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


Lines = Annotated[list[Line], BeforeValidator(_to_lines), WithJsonSchema(LINES_SCHEMA)]
"""Text that may be one line or a list of lines; normalised to a list."""

Phrasings = Annotated[
    list[Line], BeforeValidator(_to_lines), Field(min_length=1), WithJsonSchema(PHRASINGS_SCHEMA)
]
"""A cue: one line, or a list of alternative phrasings used in turn (rep 1 the first,
rep 2 the second, ...); normalised to a list of at least one line."""

OptionalPhrasings = Annotated[list[Line], BeforeValidator(_to_lines), WithJsonSchema(LINES_SCHEMA)]
"""An optional cue: like :data:`Phrasings`, and null or an empty list for none."""


# ---------------------------------------------------------------------------
# Duration

_UNITS = tuple(DURATION_LIMITS)


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
            raise fail(_DURATION_EXPECTED + f", got {show(data)}")
        elif isinstance(data, (int, float)):
            unit, value = "seconds", data
        elif isinstance(data, dict):
            if len(data) != 1:
                raise fail(
                    "a duration mapping has exactly one key: seconds, breaths or counts "
                    f"(got {', '.join(map(repr, data)) or 'none'})"
                )
            ((unit, value),) = data.items()
            unit = str(unit)
            if unit not in _UNITS:
                raise fail(
                    f"unknown duration unit {show(unit)}; use seconds, breaths or counts"
                    + did_you_mean(str(unit), _UNITS)
                )
        else:
            raise fail(_DURATION_EXPECTED + f", got {show(data)}")
        where = {"sub": unit} if isinstance(data, dict) else {}
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise fail(f"expected a number, got {show(value)}", **where)
        if unit == "counts" and value != int(value):
            raise fail(f"expected a whole number of counts, got {show(value)}", **where)
        if value < 0:
            raise fail(f"must be 0 or more, got {show(value)}", **where)
        limit = DURATION_LIMITS[unit]
        if value > limit:
            what = (
                "s (1 hour, the limit for a duration)"
                if unit == "seconds"
                else (f"(the limit for {unit} in a duration)")
            )
            raise fail(f"must be at most {num(limit)} {what}, got {show(value)}", **where)
        return {"unit": unit, "value": float(value)}

    def to_seconds(self, breath: float, count: float) -> float:
        """Length in seconds, with ``breath`` seconds per breath cycle and ``count``
        seconds per spoken count. Exact for the decimal numbers given."""
        if self.unit == "seconds":
            return float(self.value)
        return _exact_mul(self.value, breath if self.unit == "breaths" else count)

    def __str__(self) -> str:
        return f"{num(self.value)} {self.unit}"


_DURATION_EXPECTED = (
    "expected a duration: a number of seconds, or {seconds: N}, {breaths: N} or {counts: N}"
)
DurationField = Annotated[Duration, WithJsonSchema(DURATION_SCHEMA)]


def _duration(seconds: float) -> Duration:
    return Duration(unit="seconds", value=seconds)


# ---------------------------------------------------------------------------
# Defaults


PACE_CHOICES = f"'slow', 'normal', 'fast' or a number from {span(PACE_RANGE)}"


def _check_pace(value: Any) -> Any:
    if isinstance(value, Pace):
        return value
    if isinstance(value, str):
        if value in PACE_FACTORS:
            return Pace(value)
        raise fail(
            f"expected {PACE_CHOICES}, got {show(value)}" + did_you_mean(value, list(PACE_FACTORS))
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise fail(f"expected {PACE_CHOICES}, got {show(value)}")
    if not PACE_RANGE[0] <= value <= PACE_RANGE[1]:
        raise fail(f"must be from {span(PACE_RANGE)} (the limits for pace), got {show(value)}")
    return float(value)


# The settings of a session are one type in three layers, by who may set them: a
# routine file's ``defaults:`` (Defaults), a programme's ``settings:`` (those and
# --minutes, --chime, --breath-tone: SessionSettings), and every setting a render
# takes (matcue.settings.Settings, which the flags fill). Each setting is written
# once, in the layer of the first who may set it: its type, range (from
# matcue.limits), default and description.


class Defaults(BaseModel):
    """Session defaults. Command-line flags override them."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    breath: Num = Field(
        default=BREATH_DEFAULT, ge=number(BREATH_RANGE[0]), le=number(BREATH_RANGE[1])
    )
    """Seconds per breath cycle (inhale + exhale), 2..60."""
    pace: Annotated[Pace | float, BeforeValidator(_check_pace), WithJsonSchema(PACE_SCHEMA)] = (
        Pace.normal
    )
    """'slow' (x1.25), 'normal' (x1), 'fast' (x0.8) or a factor 0.25..4; scales every
    anchored interval."""
    verbosity: Verbosity = Verbosity.full
    """How much is said: 'full', 'brief' or 'minimal'."""
    count: Num = Field(default=COUNT_DEFAULT, ge=number(COUNT_RANGE[0]), le=number(COUNT_RANGE[1]))
    """Seconds per spoken count, 0.3..5."""
    transition: Num = Field(
        default=TRANSITION_DEFAULT, ge=TRANSITION_RANGE[0], le=TRANSITION_RANGE[1]
    )
    """Seconds for a transition (including 'switch sides'), 0..120."""
    pause: Num = Field(default=PAUSE_DEFAULT, ge=PAUSE_RANGE[0], le=PAUSE_RANGE[1])
    """Seconds of silence after each flowing spoken line, 0..30."""
    engine: EngineName | None = None
    """Speech engine name: 'pyttsx3', 'espeak-ng' or 'piper'; null = the default engine."""
    voice: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LINE)] | None = None
    """Engine voice id; null = the engine's default voice."""
    rate: Int | None = Field(default=None, ge=RATE_RANGE[0], le=RATE_RANGE[1])
    """Speech rate in words per minute, 60..450; null = the engine's default."""
    volume: Num | None = Field(default=None, gt=VOLUME_RANGE[0], le=VOLUME_RANGE[1])
    """Speech volume, more than 0 and at most 1; null = the engine's default."""

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str | None) -> str | None:
        # A fixed list, so `matcue check` can refuse what render would.
        from matcue.speech import engine_name, unknown_engine_message

        if value is not None and engine_name(value) is None:
            raise fail(unknown_engine_message(value))
        return value

    @property
    def pace_factor(self) -> Fraction:
        """The multiplier for anchored intervals, exactly (a factor as written: 1.1
        is eleven tenths)."""
        if isinstance(self.pace, Pace):
            return PACE_FACTORS[self.pace.value]
        return Fraction(repr(float(self.pace)))


class SessionSettings(Defaults):
    """Settings for a session, as ``matcue render`` flags give them; only those
    written here override the routine's own ``defaults``."""

    minutes: Num | None = Field(default=None, ge=MINUTES_RANGE[0], le=MINUTES_RANGE[1])
    """Fit the session to about this many minutes, 1..240."""
    chime: Flag | None = None
    """A soft bell at step changes and the end (null: on)."""
    breath_tone: Flag | None = None
    """A quiet tone that follows the breath (null: off)."""

    def overrides(self) -> dict[str, Any]:
        """The settings written in the file, as :func:`matcue.settings.merge` takes them
        (a pace and a verbosity as text, as their flags give them)."""
        given = self.model_dump(include=self.model_fields_set, exclude_none=True)
        return {
            key: str(value) if key in ("pace", "verbosity") else value
            for key, value in sorted(given.items())
        }


# ---------------------------------------------------------------------------
# Sides, names, and the words of breath and reps steps


def _check_sides(value: Any) -> Any:
    if value is None:
        return None
    if value == "both":
        return [Side.left, Side.right]
    if isinstance(value, str):
        if value in ("left", "right"):
            return [Side(value)]
        raise fail(f"expected 'both', 'left', 'right' or a list of sides, got {show(value)}")
    if isinstance(value, list):
        if not 1 <= len(value) <= 2 or not all(v in ("left", "right") for v in value):
            raise fail(
                f"expected 'both' or a list of one or two of 'left' and 'right', got {show(value)}"
            )
        if len(set(value)) != len(value):
            raise fail("each side can be listed only once")
        return [Side(v) for v in value]
    raise fail(f"expected 'both', 'left', 'right' or a list of sides, got {show(value)}")


Sides = Annotated[list[Side] | None, BeforeValidator(_check_sides), WithJsonSchema(SIDES_SCHEMA)]


def _check_language(value: Any) -> Any:
    codes = phrases.available()
    if not isinstance(value, str) or value not in codes:
        raise fail(
            f"expected one of {', '.join(codes)} (a language with a phrase catalogue), "
            f"got {show(value)}" + did_you_mean(str(value), codes)
        )
    return value


Language = Annotated[
    str,
    BeforeValidator(_check_language),
    WithJsonSchema({"type": "string", "enum": list(phrases.available())}),
]
"""A language code with a phrase catalogue (:mod:`matcue.phrases`)."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]


class BreathCues(BaseModel):
    """Full cue per breath phase (full verbosity). Each is one line or a list of
    alternative phrasings, used in turn."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    inhale: Phrasings
    """Cue for the in-breath (a line or a list of phrasings used in turn); required."""
    exhale: Phrasings
    """Cue for the out-breath (a line or a list of phrasings used in turn); required."""
    hold_in: OptionalPhrasings = []
    """Cue for the hold at the top (after the inhale); a line or a list of phrasings."""
    hold_out: OptionalPhrasings = []
    """Cue for the hold at the bottom (after the exhale); a line or a list of phrasings."""


class BreathPattern(BaseModel):
    """A breath cycle written as seconds per phase (4-7-8: inhale 4, hold_in 7,
    exhale 8); the cycle is their sum."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    inhale: Num = Field(ge=PATTERN_MOVE_RANGE[0], le=PATTERN_MOVE_RANGE[1])
    """Seconds breathing in, 0.5..60; required."""
    hold_in: Num = Field(default=0.0, ge=BREATH_HOLD_RANGE[0], le=BREATH_HOLD_RANGE[1])
    """Seconds held after the in-breath, 0..60."""
    exhale: Num = Field(ge=PATTERN_MOVE_RANGE[0], le=PATTERN_MOVE_RANGE[1])
    """Seconds breathing out, 0.5..60; required."""
    hold_out: Num = Field(default=0.0, ge=BREATH_HOLD_RANGE[0], le=BREATH_HOLD_RANGE[1])
    """Seconds held after the out-breath, 0..60."""

    def seconds(self) -> dict[str, Fraction]:
        """Each phase's seconds as written, exactly (0.1 is a tenth)."""
        return {k: Fraction(repr(float(v))) for k, v in self.model_dump().items()}

    @property
    def total(self) -> Fraction:
        """The cycle: the phases' sum."""
        return sum(self.seconds().values(), Fraction(0))

    def problems(self, step_fields: set[str]) -> list[tuple[tuple[str, ...], str]]:
        """The pattern's cycle out of range, and the older fields of its step
        (``step_fields``: those the routine set) that it replaces."""
        out: list[tuple[tuple[str, ...], str]] = [
            (
                (other,),
                f"'pattern' gives every phase in seconds; leave out '{other}' "
                "(or write the step without 'pattern')",
            )
            for other in ("cycle", "split", "hold_in", "hold_out")
            if other in step_fields
        ]
        if not CYCLE_RANGE[0] <= self.total <= CYCLE_RANGE[1]:
            out.append(
                (
                    ("pattern",),
                    f"the phases add up to a {num(float(self.total))} s cycle; a breath cycle "
                    f"is {num(CYCLE_RANGE[0])} to {num(CYCLE_RANGE[1])} s",
                )
            )
        return out


class BreathWords(BaseModel):
    """Short phase words for brief and minimal verbosity."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    inhale: Line | None = None
    """Word for the in-breath; null = the language's own (English: 'Breathe in')."""
    exhale: Line | None = None
    """Word for the out-breath; null = the language's own (English: 'Breathe out')."""
    hold_in: Line | None = None
    """Word for the hold at the top; null = the language's own (English: 'Hold')."""
    hold_out: Line | None = None
    """Word for the hold at the bottom; null = the language's own (English: 'Hold')."""


class RepsCues(BaseModel):
    """Full cues for a repetition (full verbosity). Each is one line or a list of
    alternative phrasings, used in turn."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    move: Phrasings
    """Cue to move into the position (a line or a list of phrasings used in turn); required."""
    hold: OptionalPhrasings = []
    """Cue at the start of the hold; a line or a list of phrasings."""
    release: Phrasings
    """Cue to come back (a line or a list of phrasings used in turn); required."""
    rest: OptionalPhrasings = []
    """Cue at the start of the rest; a line or a list of phrasings."""


class Progress(BaseModel):
    """Which marks of progress a step speaks. In YAML ``true`` (all, the default),
    ``false`` (none) or a mapping of the marks to switch."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    countdown: Flag = True
    """The last reps counted down: 'Three to go.' and 'Last one.' (reps and breath steps)."""
    sets: Flag = True
    """Each set announced, the first included: 'Set one of three.' (reps steps with sets)."""
    halfway: Flag = True
    """'Halfway.' in the middle of a long hold (20 s or more) and of a long run of reps (10 or
    more per set)."""


def _check_progress(value: Any) -> Any:
    if isinstance(value, bool):
        return dict.fromkeys(Progress.model_fields, value)
    if isinstance(value, (dict, Progress)):
        return value
    raise fail(
        "expected true, false or a mapping of countdown, sets and halfway (each true or "
        f"false), got {show(value)}"
    )


ProgressField = Annotated[
    Progress,
    BeforeValidator(_check_progress),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, Progress.model_json_schema()]}),
]
"""``true`` (every mark), ``false`` (none) or a :class:`Progress` mapping."""


def progress_marks(value: Progress) -> dict[str, bool]:
    """The marks ``value`` switches on, by name."""
    return value.model_dump()


class RepsWords(BaseModel):
    """Short words for brief and minimal verbosity."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    move: Line | None = None
    """Word to move; null = the language's own (English: 'Now')."""
    hold: Line | None = None
    """Word to hold; null = the language's own (English: 'Hold')."""
    release: Line | None = None
    """Word to come back; null = the language's own (English: 'Release')."""
    rest: Line | None = None
    """Word to rest; null = the language's own (English: 'Rest')."""


def _set_reps(value: Any) -> int | list[int]:
    """A rep count (1..1000), or a list of them, one per set (1..50 sets); every
    problem located at the count it concerns."""
    problems: list[tuple[tuple[int, ...], str]] = []

    def check(v: Any, where: tuple[int, ...], what: str) -> None:
        if isinstance(v, bool) or not isinstance(v, int):
            problems.append((where, f"expected {what}, got {show(v)}" + quote_hint(v, False)))
        elif v < 1:
            problems.append((where, f"must be at least 1, got {show(v)}"))
        elif v > MAX_REPS:
            problems.append(
                (where, f"must be at most {MAX_REPS} (the limit for reps), got {show(v)}")
            )

    if isinstance(value, list):
        if not value:
            problems.append(((), "must not be empty: one whole number per set"))
        elif len(value) > MAX_SETS:
            problems.append(((), f"has {len(value)} sets; the limit for sets is {MAX_SETS}"))
        for i, v in enumerate(value):
            check(v, (i,), "a whole number")
    else:
        check(value, (), "a whole number, or a list of them (one per set)")
    if problems:
        raise fail(problems[0][1], problems=problems)
    return list(value) if isinstance(value, list) else int(value)


SetReps = Annotated[int | list[int], PlainValidator(_set_reps), WithJsonSchema(SET_REPS_SCHEMA)]
"""Repetitions per set: one count for every set, or a list with each set's own."""
