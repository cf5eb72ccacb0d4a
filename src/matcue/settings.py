"""Session settings: what the user chose, merged over the routine's defaults.

Only the options the user actually gave override the routine file (``None``
means "not given"), as in mkdocs' ``load_config``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from .cuescript import to_fraction
from .errors import InputError
from .speech.base import RATE_LIMITS

PACES: dict[str, Fraction] = {"slow": Fraction(5, 4), "normal": Fraction(1), "fast": Fraction(4, 5)}
VERBOSITIES = ("full", "brief", "minimal")
FORMATS = ("mp3", "wav")
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
    engine: str = "pyttsx3"
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
    format: str = "mp3"
    strict: bool = False

    @property
    def pace_factor(self) -> Fraction:
        return parse_pace(self.pace)


def parse_pace(value: str | float | int) -> Fraction:
    text = str(value).strip().lower()
    if text in PACES:
        return PACES[text]
    try:
        factor = to_fraction(text)
    except ValueError:
        raise InputError(
            f"--pace: expected slow, normal, fast or a factor such as 1.25, got {value!r}"
        ) from None
    if not PACE_LIMITS[0] <= factor <= PACE_LIMITS[1]:
        raise InputError(f"--pace: the factor must be between 0.25 and 4, got {value!r}")
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
    parse_pace(settings.pace)
    if settings.breath is not None:
        b = to_fraction(settings.breath)
        if not BREATH_LIMITS[0] <= b <= BREATH_LIMITS[1]:
            raise InputError(f"--breath: must be between 2 and 60 seconds, got {settings.breath:g}")
    if settings.verbosity not in VERBOSITIES:
        raise InputError(
            f"--verbosity: expected one of {', '.join(VERBOSITIES)}, got {settings.verbosity!r}"
        )
    if settings.minutes is not None and not 1 <= settings.minutes <= 240:
        raise InputError(f"--minutes: must be between 1 and 240, got {settings.minutes:g}")
    if settings.rate is not None and not RATE_LIMITS[0] <= settings.rate <= RATE_LIMITS[1]:
        raise InputError(
            f"--rate: must be between {RATE_LIMITS[0]} and {RATE_LIMITS[1]} words per minute, "
            f"got {settings.rate}"
        )
    if settings.volume is not None and not 0 <= settings.volume <= 1:
        raise InputError(f"--volume: must be between 0 and 1, got {settings.volume:g}")
    if settings.format not in FORMATS:
        raise InputError(f"--format: expected mp3 or wav, got {settings.format!r}")
    if settings.channels not in (1, 2):
        raise InputError(f"--channels: expected 1 or 2, got {settings.channels}")
