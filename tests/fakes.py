"""Fakes for isolating timing math (named as fakes, per the project rules)."""

from __future__ import annotations


class FakeSpeechLengths:
    """A fake engine's clip lengths: each word lasts ``word_seconds``, so a
    line's length is known exactly without any speech."""

    def __init__(self, sample_rate: int, word_seconds: float = 0.3) -> None:
        self.sample_rate = sample_rate
        self.word_seconds = word_seconds
        self.calls: list[str] = []

    def __call__(self, text: str) -> int:
        self.calls.append(text)
        return round(len(text.split()) * self.word_seconds * self.sample_rate)


def fake_sound_length(sample_rate: int) -> callable:
    return lambda name: 2 * sample_rate


class FakeProgressSink:
    """Stands in for the terminal progress bar: records every ``(stage, fraction)``
    the pipeline reports, so tests can check the bar's course."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def __call__(self, stage: str, fraction: float) -> None:
        self.calls.append((stage, fraction))

    @property
    def values(self) -> list[float]:
        return [f for _, f in self.calls]

    def stages(self) -> list[str]:
        """Stage names in the order they first appear."""
        return list(dict.fromkeys(s for s, _ in self.calls))
