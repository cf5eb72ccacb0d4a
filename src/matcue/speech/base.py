"""The speech-engine protocol shared by every engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from matcue.errors import InputError
from matcue.limits import RATE_RANGE

RATE_LIMITS = RATE_RANGE
"""Speaking rates (words per minute) matcue accepts, from the command line, a routine
or a library caller: espeak-ng speaks no slower than 80 wpm and becomes hard to follow
above 450, whatever it is asked."""


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    languages: tuple[str, ...] = ()
    gender: str | None = None


@dataclass(frozen=True)
class Clip:
    """Mono PCM, float32 in [-1, 1], at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class SpeechSettings:
    engine: str = "pyttsx3"
    voice: str | None = None
    """Engine-specific voice id; None = the engine's default."""
    rate: int | None = None
    """Words per minute; None = the engine's default."""
    volume: float | None = None
    """0..1; None = the engine's default."""
    model: str | None = None
    """Path to a voice model file (piper)."""
    extra: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    name: str

    def version(self) -> str:
        """A string that changes whenever the engine's output could change.

        It goes into cache keys."""
        ...

    def voices(self) -> list[Voice]: ...

    def synthesize(self, text: str, settings: SpeechSettings) -> Clip:
        """Speak ``text``. Raises SpeechError naming the text on failure or empty output."""
        ...


def check_rate(rate: int | None) -> None:
    """Reject a speaking rate outside :data:`RATE_LIMITS` (every engine calls this)."""
    if rate is not None and not RATE_LIMITS[0] <= rate <= RATE_LIMITS[1]:
        raise InputError(
            f"speech rate must be {RATE_LIMITS[0]}..{RATE_LIMITS[1]} words per minute, got {rate}"
        )
