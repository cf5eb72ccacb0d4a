"""How long a cue script takes, without synthesizing: the one estimate behind
``matcue routines``, ``--minutes`` fitting and the progress bar's shares.

Anchored time is exact (the real scheduler places every block); each spoken
line is timed from its word count at :data:`matcue.limits.SPEECH_WPM` words per
minute, or at the ``--rate`` given.
"""

from __future__ import annotations

from fractions import Fraction

from .cuescript import CueScript
from .limits import SPEECH_WPM
from .schedule import schedule
from .sounds import sound_length
from .timeline import Timeline

ESTIMATE_RATE = 8000
"""Samples per second used for estimates (the grid does not matter for minutes)."""


def _sound_length(name: str) -> int:
    """A sound's real length (the bells are synthesized, and cached per rate)."""
    try:
        return sound_length(name, ESTIMATE_RATE)
    except Exception:  # noqa: BLE001 - an unknown name is reported by the render
        return 2 * ESTIMATE_RATE


def speech_seconds(text: str, rate: int | None = None) -> Fraction:
    """How long ``text`` takes to say, from its word count at ``rate`` words per
    minute (None: the default voice's :data:`~matcue.limits.SPEECH_WPM`). The
    templates ask it too (``fits``), to keep a composed cue within its window."""
    words = max(1, len(text.split()))
    return Fraction(words * 60, rate or SPEECH_WPM)


def estimated_timeline(script: CueScript, rate: int | None = None) -> Timeline:
    """The session's timeline with each spoken line timed from its word count at
    ``rate`` words per minute (the ``--rate`` in use; None: the default voice's
    :data:`~matcue.limits.SPEECH_WPM`): exact for anchored time, close for
    flowing speech."""

    def speech_length(text: str) -> int:
        return round(speech_seconds(text, rate) * ESTIMATE_RATE)

    plan = schedule(
        script,
        sample_rate=ESTIMATE_RATE,
        speech_length=speech_length,
        sound_length=_sound_length,
    )
    return plan.timeline


def estimate_seconds(script: CueScript, rate: int | None = None) -> float:
    """The session length by :func:`estimated_timeline`, in seconds."""
    return estimated_timeline(script, rate).duration
