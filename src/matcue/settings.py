"""Session settings: what the user chose, merged over the routine's defaults.

Only the options the user actually gave override the routine file (``None``
means "not given"), as in mkdocs' ``load_config``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Any

from .cuescript import to_fraction
from .errors import InputError
from .limits import (
    BED_VOLUME_RANGE,
    BREATH_RANGE,
    COUNT_RANGE,
    MINUTES_RANGE,
    PACE_FACTORS,
    PACE_RANGE,
    RATE_RANGE,
    VERBOSITIES,
    VOLUME_RANGE,
    WEEK_RANGE,
    span,
)
from .mp3 import allowed_bitrates
from .routine import Defaults
from .speech import engine_name, unknown_engine_message
from .writers import DEFAULT_FORMAT, formats

DEFAULT_SAMPLE_RATE = 22050


@dataclass(frozen=True)
class Settings:
    """Everything that shapes a render. Defaults are matcue's; a routine's
    ``defaults`` and then the command line override them."""

    pace: str = "normal"
    """slow | normal | fast, or a factor such as 1.25 (scales anchored time)."""
    breath: float | None = None
    """Seconds per breath cycle for breath-paced steps without their own cycle."""
    minutes: float | None = None
    """Fit the session to about this many minutes."""
    week: int | None = None
    """Which week of the routine's progression to render (1..52); None = week 1."""
    verbosity: str = "full"
    engine: str = "auto"
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None
    voice_model: str | None = None
    templates: Path | None = None
    count: float | None = None
    transition: float | None = None
    pause: float | None = None
    chime: bool = True
    breath_tone: bool = False
    bed: str | None = None
    bed_volume: float | None = None
    channels: int = 1
    sample_rate: int = DEFAULT_SAMPLE_RATE
    bitrate: int = 64
    format: str = DEFAULT_FORMAT
    """The audio writer (:mod:`matcue.writers`): ``mp3`` or ``wav``."""
    strict: bool = False

    @property
    def pace_factor(self) -> Fraction:
        return parse_pace(self.pace)


def _show(value: object) -> str:
    """A value as the user typed it (a float without a needless '.0')."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Limit:
    """The accepted range of a numeric setting, as its flag reports it."""

    flag: str
    low: float
    high: float
    unit: str = ""
    integer: bool = False
    low_open: bool = False
    """True: ``low`` itself is not accepted (volume 0 would be silence)."""

    def accepts(self, value: float) -> bool:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False  # NaN and infinities compare false or slip past a range
        if self.integer and value != int(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def message(self, value: object) -> str:
        kind = "a whole number" if self.integer else "a number"
        lo, hi = _show(self.low), _show(self.high)
        span = f"more than {lo} and at most {hi}" if self.low_open else f"from {lo} to {hi}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.flag}: expected {kind} {span}{unit}, got {_show(value)}"


LIMITS: dict[str, Limit] = {
    "breath": Limit("--breath", float(BREATH_RANGE[0]), float(BREATH_RANGE[1]), "seconds"),
    "minutes": Limit("--minutes", *MINUTES_RANGE, "minutes"),
    "count": Limit("--count", float(COUNT_RANGE[0]), float(COUNT_RANGE[1]), "seconds"),
    "week": Limit("--week", *WEEK_RANGE, integer=True),
    "rate": Limit("--rate", *RATE_RANGE, "words per minute", integer=True),
    "volume": Limit("--volume", *VOLUME_RANGE, low_open=True),
    "bed_volume": Limit("--bed-volume", *BED_VOLUME_RANGE, "dB"),
}
"""Every numeric setting a flag can give (``--pace`` and ``--bitrate`` have rules of
their own: a name or factor, and the MP3 bitrates)."""

PACE_MESSAGE = (
    f"--pace: expected {', '.join(PACE_FACTORS)} or a factor from {span(PACE_RANGE)}, got {{value}}"
)


def parse_pace(value: str | float | int) -> Fraction:
    text = str(value).strip().lower()
    if text in PACE_FACTORS:
        return PACE_FACTORS[text]
    try:
        factor = to_fraction(text)
    except ValueError:
        raise InputError(PACE_MESSAGE.format(value=repr(value))) from None
    if not PACE_RANGE[0] <= factor <= PACE_RANGE[1]:
        raise InputError(PACE_MESSAGE.format(value=repr(value)))
    return factor


def from_defaults(defaults: Defaults) -> dict[str, Any]:
    """A routine's ``defaults:`` as settings: every field the routine file may set
    is a setting of the same name (enums as their plain value; unset ones left out)."""
    return {
        # a pace is a name or a factor; Settings keeps it as text, as --pace gives it
        key: str(value) if key == "pace" else value.value if isinstance(value, Enum) else value
        for key, value in defaults.model_dump().items()
        if value is not None
    }


def merge(routine_defaults: Defaults | None, overrides: dict[str, Any]) -> Settings:
    """Settings from matcue's defaults, then the routine's, then the user's
    (``None`` values in ``overrides`` mean "not given")."""
    names = {f.name for f in fields(Settings)}
    base = from_defaults(routine_defaults) if routine_defaults is not None else {}
    given = {k: v for k, v in overrides.items() if v is not None and k in names}
    settings = replace(Settings(), **{**base, **given})
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """InputError naming the flag and what it accepts, for the first bad setting."""
    parse_pace(settings.pace)
    for key, limit in LIMITS.items():
        value = vars(settings)[key]
        if value is not None and not limit.accepts(value):
            raise InputError(limit.message(value))
    if settings.verbosity not in VERBOSITIES:
        raise InputError(
            f"--verbosity: expected one of {', '.join(VERBOSITIES)}, got {settings.verbosity!r}"
        )
    if engine_name(settings.engine) is None:
        raise InputError(f"--engine: {unknown_engine_message(settings.engine)}")
    if settings.format not in formats():
        raise InputError(
            f"--format: expected one of {', '.join(formats())}, got {settings.format!r}"
        )
    if settings.channels not in (1, 2):
        raise InputError(f"--channels: expected 1 or 2, got {settings.channels}")
    allowed = allowed_bitrates(settings.sample_rate)
    if allowed and settings.bitrate not in allowed:
        raise InputError(
            f"--bitrate: expected one of {', '.join(map(str, allowed))} (kbit/s), "
            f"got {_show(settings.bitrate)}"
        )
