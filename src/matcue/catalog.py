"""The built-in routines, described for ``matcue routines``."""

from __future__ import annotations

from fractions import Fraction

from .cuescript import CueScript
from .schedule import schedule
from .settings import merge

ESTIMATE_WPM = 180
"""Speaking rate assumed when estimating lengths without synthesizing: at the
default rate (155 wpm, measured with sentence pauses on a guiding passage) both
the default voice (piper, Joe) and pyttsx3 measure about 180 words per minute of
trimmed speech across the built-ins (short cues carry no pauses): the estimate
is then within 0.05 min of every built-in's rendered length."""
ESTIMATE_RATE = 8000
"""Samples per second used for estimates (the grid does not matter for minutes)."""


def _sound_length(name: str) -> int:
    """A sound's real length (the bells are synthesized, and cached per rate)."""
    from .sounds import sound_length

    try:
        return sound_length(name, ESTIMATE_RATE)
    except Exception:  # noqa: BLE001 - an unknown name is reported by the render
        return 2 * ESTIMATE_RATE


def estimate_seconds(script: CueScript, wpm: int = ESTIMATE_WPM) -> float:
    """The session length with each spoken line estimated from its word count:
    exact for anchored time, close for flowing speech."""

    def speech_length(text: str) -> int:
        words = max(1, len(text.split()))
        return round(Fraction(words * 60, wpm) * ESTIMATE_RATE)

    plan = schedule(
        script,
        sample_rate=ESTIMATE_RATE,
        speech_length=speech_length,
        sound_length=_sound_length,
    )
    return plan.timeline.duration


def describe_builtins() -> list[str]:
    from .pipeline import Source, build_script
    from .routine import builtin_names, load_builtin

    rows = []
    for name in builtin_names():
        routine = load_builtin(name)
        settings = merge(routine.defaults, {})
        script, _ = build_script(Source(name=name, routine=routine), settings)
        minutes = estimate_seconds(script) / 60
        shown = round(minutes * 2) / 2 if minutes < 10 else round(minutes)  # to 30 s, or 1 min
        rows.append((name, f"~{shown:g} min", routine.summary or routine.title))
    width = max((len(r[0]) for r in rows), default=0)
    return [f"{n:<{width}}  {m:>8}  {s}" for n, m, s in rows]
