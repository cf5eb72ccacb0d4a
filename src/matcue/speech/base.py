"""The speech-engine protocol shared by every engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


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
