"""Session settings: what the user chose, merged over the routine's defaults.

Only the options the user actually gave override the routine file (``None``
means "not given"), as in mkdocs' ``load_config``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from .cuescript import to_fraction
from .errors import InputError
from .speech.base import RATE_LIMITS
from .writers import DEFAULT_FORMAT, formats

PACES: dict[str, Fraction] = {"slow": Fraction(5, 4), "normal": Fraction(1), "fast": Fraction(4, 5)}
VERBOSITIES = ("full", "brief", "minimal")
PACE_LIMITS = (Fraction(1, 4), Fraction(4))
BREATH_LIMITS = (Fraction(2), Fraction(60))
COUNT_LIMITS = (Fraction(3, 10), Fraction(5))
"""Seconds per spoken count a routine may set (``defaults.count``)."""
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
    "breath": Limit("--breath", float(BREATH_LIMITS[0]), float(BREATH_LIMITS[1]), "seconds"),
    "minutes": Limit("--minutes", 1, 240, "minutes"),
    "count": Limit("--count", float(COUNT_LIMITS[0]), float(COUNT_LIMITS[1]), "seconds"),
    "rate": Limit("--rate", RATE_LIMITS[0], RATE_LIMITS[1], "words per minute", integer=True),
    "volume": Limit("--volume", 0, 1, low_open=True),
    "bed_volume": Limit("--bed-volume", -60, 0, "dB"),
}
"""Every numeric setting a flag can give (``--pace`` and ``--bitrate`` have rules of
their own: a name or factor, and the MP3 bitrates)."""

PACE_MESSAGE = "--pace: expected slow, normal, fast or a factor from 0.25 to 4, got {value}"


def parse_pace(value: str | float | int) -> Fraction:
    text = str(value).strip().lower()
    if text in PACES:
        return PACES[text]
    try:
        factor = to_fraction(text)
    except ValueError:
        raise InputError(PACE_MESSAGE.format(value=repr(value))) from None
    if not PACE_LIMITS[0] <= factor <= PACE_LIMITS[1]:
        raise InputError(PACE_MESSAGE.format(value=repr(value)))
    return factor


def merge(routine_defaults: Any, overrides: dict[str, Any]) -> Settings:
    """Settings from matcue's defaults, then the routine's, then the user's
    (``None`` values in ``overrides`` mean "not given")."""
    names = {f.name for f in fields(Settings)}
    base: dict[str, Any] = {}
    for key in (
        "pace",
        "breath",
        "verbosity",
        "engine",
        "voice",
        "rate",
        "volume",
        "count",
        "transition",
        "pause",
    ):
        value = getattr(routine_defaults, key, None) if routine_defaults is not None else None
        value = getattr(value, "value", value)  # str-based enums -> their plain value
        if value is not None:
            base[key] = value if key != "pace" else str(value)
    given = {k: v for k, v in overrides.items() if v is not None and k in names}
    settings = replace(Settings(), **{**base, **given})
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """InputError naming the flag and what it accepts, for the first bad setting."""
    parse_pace(settings.pace)
    for key, limit in LIMITS.items():
        value = getattr(settings, key)
        if value is not None and not limit.accepts(value):
            raise InputError(limit.message(value))
    if settings.verbosity not in VERBOSITIES:
        raise InputError(
            f"--verbosity: expected one of {', '.join(VERBOSITIES)}, got {settings.verbosity!r}"
        )
    from .speech import engine_name, unknown_engine_message

    if engine_name(settings.engine) is None:
        raise InputError(f"--engine: {unknown_engine_message(settings.engine)}")
    if settings.format not in formats():
        raise InputError(
            f"--format: expected one of {', '.join(formats())}, got {settings.format!r}"
        )
    if settings.channels not in (1, 2):
        raise InputError(f"--channels: expected 1 or 2, got {settings.channels}")
    from .mp3 import allowed_bitrates

    allowed = allowed_bitrates(settings.sample_rate)
    if allowed and settings.bitrate not in allowed:
        raise InputError(
            f"--bitrate: expected one of {', '.join(map(str, allowed))} (kbit/s), "
            f"got {_show(settings.bitrate)}"
        )
