"""Session settings: what the user chose, merged over the routine's defaults.

:class:`Settings` is the one settings type: every setting a render takes, typed,
with its range (from :mod:`matcue.limits`), default and description. It is the
last of three layers (see :mod:`matcue.routine.values`): a routine file's
``defaults:`` (:class:`~matcue.routine.values.Defaults`) and a programme's
``settings:`` (:class:`~matcue.routine.values.SessionSettings`) are the settings
those files may set, and :class:`Settings` adds those only the flags give.

Only the options the user actually gave override the routine file (``None``
means "not given"), as in mkdocs' ``load_config``. The flags are checked by the
same model as the files; a problem is a :class:`~matcue.errors.SettingError`
naming the setting and what it accepts (:func:`merge`), which the command line
shows as its flag (``--breath: expected ...``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast, get_args, get_origin

import annotated_types
from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .cuescript import to_fraction
from .errors import SettingError
from .limits import (
    BED_VOLUME_RANGE,
    BITRATE_DEFAULT,
    PACE_FACTORS,
    PACE_RANGE,
    SAMPLE_RATE_DEFAULT,
    VERBOSITIES,
    WEEK_RANGE,
    span,
)
from .mp3 import allowed_bitrates
from .routine.text import num
from .routine.values import Defaults, EngineName, Flag, Int, Num, Pace, SessionSettings
from .speech import unknown_engine_message
from .writers import DEFAULT_FORMAT, formats


class Settings(SessionSettings):
    """Everything that shapes a render. Defaults are matcue's; a routine's
    ``defaults`` and then the command line override them (:func:`merge`).

    The fields a routine file or a programme may set come from
    :class:`~matcue.routine.values.SessionSettings`; here a render's own value
    replaces the files' "not set" (``None``) where one is needed. ``Settings()`` is
    matcue's defaults alone: for a routine, take ``merge(routine.defaults, flags)``
    (its breath, pace, ... are then the routine's where no flag is given)."""

    model_config = ConfigDict(frozen=True)

    engine: EngineName = "auto"
    """The speech engine: auto (the default), pyttsx3, espeak-ng or piper."""
    chime: Flag = True
    """A soft bell at step changes and the end."""
    breath_tone: Flag = False
    """A quiet tone that follows the breath."""
    week: Int | None = Field(default=None, ge=WEEK_RANGE[0], le=WEEK_RANGE[1])
    """Which week of the routine's progression to render (1..52); None = week 1."""
    voice_model: str | None = None
    """A voice model file for engines that need one (piper)."""
    templates: Path | None = None
    """A folder of the user's own templates (overriding built-ins by name)."""
    bed: str | None = None
    """A background bed: pink, brown, or an audio file."""
    bed_volume: Num | None = Field(default=None, ge=BED_VOLUME_RANGE[0], le=BED_VOLUME_RANGE[1])
    """The bed's level in dB relative to speech, -60..0; None = the mixer's."""
    channels: Int = Field(default=1, ge=1, le=2)
    """1 (mono) or 2 (stereo)."""
    sample_rate: Int = SAMPLE_RATE_DEFAULT
    """Samples per second of the audio."""
    bitrate: Int = BITRATE_DEFAULT
    """The MP3 bitrate in kbit/s (constant), one the sample rate allows."""
    format: str = DEFAULT_FORMAT
    """The audio writer (:mod:`matcue.writers`): ``mp3`` or ``wav``."""
    strict: Flag = False
    """A cue that does not fit its timed window is an error."""

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in formats():
            raise ValueError("unknown format")
        return value

    @field_validator("bitrate")
    @classmethod
    def _allowed_bitrate(cls, value: int, info: ValidationInfo) -> int:
        allowed = allowed_bitrates(info.data.get("sample_rate", SAMPLE_RATE_DEFAULT))
        if allowed and value not in allowed:
            raise ValueError("not an MP3 bitrate")
        return value

    @property
    def pace_text(self) -> str:
        """The pace as the tags and transcript record it: its name, or the factor
        (``1.25``)."""
        return str(self.pace) if isinstance(self.pace, Pace) else num(self.pace)


def _show(value: object) -> str:
    """A value as the user typed it (a float without a needless '.0')."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Limit:
    """The accepted range of a numeric setting, as a message reports it (read from
    the field of :class:`Settings`: see :func:`_limit`)."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False
    low_open: bool = False
    """True: ``low`` itself is not accepted (volume 0 would be silence)."""

    def detail(self, value: object) -> str:
        """What the setting accepts and the ``value`` it got (its name goes before)."""
        kind = "a whole number" if self.integer else "a number"
        lo, hi = _show(self.low), _show(self.high)
        span = f"more than {lo} and at most {hi}" if self.low_open else f"from {lo} to {hi}"
        unit = f" {self.unit}" if self.unit else ""
        return f"expected {kind} {span}{unit}, got {_show(value)}"

    def error(self, key: str, value: object) -> SettingError:
        """The error for the setting ``key`` given ``value``."""
        return SettingError.of(key, self.detail(value))


def _limit(key: str, unit: str = "") -> Limit:
    """The range the field ``key`` of :class:`Settings` accepts."""
    field = Settings.model_fields[key]
    low = high = math.nan
    low_open = False
    for item in field.metadata:
        if isinstance(item, annotated_types.Gt):
            low, low_open = float(cast(float, item.gt)), True
        elif isinstance(item, annotated_types.Ge):
            low = float(cast(float, item.ge))
        elif isinstance(item, annotated_types.Le):
            high = float(cast(float, item.le))
    # Int, or Int | None: a member whose type (under Annotated) is int
    members = get_args(field.annotation) or (field.annotation,)
    integer = any((get_args(m)[0] if get_origin(m) is Annotated else m) is int for m in members)
    return Limit(low, high, unit, integer=integer, low_open=low_open)


LIMITS: dict[str, Limit] = {
    "breath": _limit("breath", "seconds"),
    "minutes": _limit("minutes", "minutes"),
    "count": _limit("count", "seconds"),
    "week": _limit("week"),
    "rate": _limit("rate", "words per minute"),
    "volume": _limit("volume"),
    "bed_volume": _limit("bed_volume", "dB"),
}
"""Every numeric setting a flag can give, with its range, in the order a render
checks them (pace and bitrate have rules of their own: a name or factor, and the
MP3 bitrates)."""

PACE_EXPECTED = f"expected {', '.join(PACE_FACTORS)} or a factor from {span(PACE_RANGE)}"


def _pace_flag(value: str) -> Pace | float:
    """A pace given as text: a name (in any case) or a factor written as a decimal
    number."""
    text = value.strip().lower()
    if text in PACE_FACTORS:
        return Pace(text)
    try:
        factor = to_fraction(text)
    except ValueError:
        raise SettingError.of("pace", f"{PACE_EXPECTED}, got {value!r}") from None
    if not PACE_RANGE[0] <= factor <= PACE_RANGE[1]:
        raise SettingError.of("pace", f"{PACE_EXPECTED}, got {value!r}")
    return float(factor)


def _detail(key: str, value: Any, values: dict[str, Any]) -> str:
    """What the setting ``key`` accepts, and the bad ``value`` it got (``values``:
    every setting)."""
    if key in LIMITS:
        return LIMITS[key].detail(value)
    if key == "pace":
        return f"{PACE_EXPECTED}, got {value!r}"
    if key == "verbosity":
        return f"expected one of {', '.join(VERBOSITIES)}, got {value!r}"
    if key == "engine":
        return unknown_engine_message(value)
    if key == "format":
        return f"expected one of {', '.join(formats())}, got {value!r}"
    if key == "channels":
        return f"expected 1 or 2, got {value}"
    rates = bitrates(values.get("sample_rate", SAMPLE_RATE_DEFAULT))
    return f"expected one of {rates} (kbit/s), got {_show(value)}"


def bitrates(sample_rate: int) -> str:
    """The MP3 bitrates ``sample_rate`` allows, as a message lists them."""
    return ", ".join(map(str, allowed_bitrates(sample_rate)))


_CHECK_ORDER = ("pace", *LIMITS, "verbosity", "engine", "format", "channels", "bitrate")
"""The setting reported first when several are wrong."""


def merge(routine_defaults: Defaults | None, overrides: dict[str, Any]) -> Settings:
    """Settings from matcue's defaults, then the routine's, then the user's
    (``None`` values in ``overrides`` mean "not given"). A SettingError naming the
    setting and what it accepts, for the first bad one."""
    given = {k: v for k, v in overrides.items() if v is not None and k in Settings.model_fields}
    if isinstance(given.get("pace"), str):
        given["pace"] = _pace_flag(given["pace"])
    base = routine_defaults.model_dump(exclude_none=True) if routine_defaults is not None else {}
    values = {**base, **given}
    try:
        return Settings(**values)
    except ValidationError as exc:
        bad = {str(error["loc"][0]): error["msg"] for error in exc.errors() if error["loc"]}
        for key in _CHECK_ORDER:
            if key in bad:
                raise SettingError.of(key, _detail(key, values[key], values)) from None
        # a setting without a rule of its own here (a too long voice)
        key, msg = next(iter(bad.items()))
        raise SettingError.of(key, f"{msg}, got {values[key]!r}") from None
