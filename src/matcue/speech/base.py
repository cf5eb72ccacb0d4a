"""The speech-engine protocol shared by every engine, and the helpers engines share
for choosing a voice (kept here, not in ``matcue.speech``, so no engine imports the
package that imports it)."""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from matcue.errors import EngineUnavailable, InputError
from matcue.limits import DEFAULT_RATE as DEFAULT_RATE  # re-exported for the engines
from matcue.limits import RATE_RANGE

RATE_LIMITS = RATE_RANGE
"""Speaking rates (words per minute) matcue accepts (see :data:`matcue.limits.RATE_RANGE`)."""

CALIBRATION_TEXT = (
    "Hold.",
    "Five.",
    "Two.",
    "Tilt.",
    "Four.",
    "Hinge.",
    "Breathe in.",
    "Sit tall.",
    "Sit up.",
    "Ease back.",
    "Breathe easy.",
    "Slowly back.",
    "Last breath in.",
    "Rest, buttocks soft.",
    "Grow long again.",
    "Knee to chest.",
    "Stay there, breathing softly.",
    "Let the lower hand lift.",
    "Slide the leg back out.",
    "Arm travels over your head.",
    "Lower the leg with control.",
    "Press the hips forward to stand.",
    "Heels press down, sit up tall.",
    "Breathe out slowly, the whole body settling.",
    "Let the front of your hips go soft.",
    "Three simple movements, done slowly and with control.",
    "Stay on your back and slide both legs out long.",
    "Find the spot where your pelvis lies easily and nothing needs to work.",
    "Hold the shape lightly, then return the same way. Slow and small, never pushed.",
    "Start the movement at the very base of your spine. Tip the sacrum so a gentle "
    "arch travels up your back, one piece at a time.",
)
"""The cues words per minute are measured on (calibration and tests), taken from the
built-in routines in the proportions a session has them (by words: about one in eight
in cues of one or two words, a third in cues of three to seven, the rest longer, a few
of two sentences). Each is spoken on its own, as a session speaks its cues, and the
rate is their words over the seconds of their trimmed clips: what a listener hears.
(Issue 11 audit: a calibration on one long passage, its sentence pauses included, put
sessions at ``--rate 150`` at 155 wpm on Joe and 166 on eSpeak.)"""


ESPEAK_WPM_FACTOR = 1.15
"""How much faster than its rate setting eSpeak NG speaks :data:`CALIBRATION_TEXT`
(each cue on its own, trimmed; measured 1.149-1.151 at settings 120, 150 and 180):
the pyttsx3 and espeak-ng engines ask it for ``rate / ESPEAK_WPM_FACTOR``. (It was
1.04, fitted on one passage whose sentence pauses, longer with eSpeak, hid part of
its speed: sessions at ``--rate 150`` came out at 159-172 wpm.)"""


def words_per_minute(text: str, seconds: float) -> float:
    """Words in ``text`` per minute of ``seconds`` (its trimmed clip's length)."""
    return len(text.split()) * 60.0 / seconds


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    languages: tuple[str, ...] = ()
    gender: str | None = None
    quality: str | None = None
    """The voice's quality class where the engine has one (piper: x_low..high)."""
    licence: str | None = None
    """The voice's own licence where known (piper voices carry one in their model card)."""
    installed: bool = True
    """False for a voice that can be added (``matcue voices add``) but is not here."""


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
    engine: str = "auto"
    voice: str | None = None
    """Engine-specific voice id; None = the engine's default."""
    rate: int | None = None
    """Words per minute; None = :data:`DEFAULT_RATE`."""
    volume: float | None = None
    """0..1; None = the engine's default."""
    model: str | None = None
    """Path to a voice model file (piper)."""
    extra: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    """What matcue needs from a speech engine. An engine is made by its factory
    (:class:`EngineFactory`), registered in :mod:`matcue.speech.registry`."""

    name: str

    def version(self) -> str:
        """A string that changes whenever the engine's output could change.

        It goes into cache keys."""
        ...

    def voices(self, model: str | None = None) -> list[Voice]:
        """The voices this engine can speak with (``model``: a voice model file for
        engines that take one; others ignore it)."""
        ...

    def synthesize(self, text: str, settings: SpeechSettings) -> Clip:
        """Speak ``text``. Raises SpeechError naming the text on failure or empty output."""
        ...

    def default_rate(self) -> int:
        """Words per minute when ``settings.rate`` is None."""
        ...

    def default_voice(self) -> str | None:
        """The voice spoken when none is chosen (for tags and transcripts)."""
        ...

    def describe(self, settings: SpeechSettings) -> dict[str, str]:
        """What a render with ``settings`` speaks with, for tags and the transcript:
        at least ``voice``; engines with model files add ``model``."""
        ...

    def helper_pids(self) -> list[int]:
        """Process ids of the engine's helper processes (none may outlive close)."""
        ...

    def close(self, *, kill: bool = False) -> None:
        """Stop the helper processes; ``kill`` stops a phrase in progress."""
        ...


class EngineFactory(Protocol):
    """An engine class (or any callable) registered under a name: ``workers`` is how
    many phrases the synthesizer may ask for at once."""

    def __call__(self, *, workers: int = 1) -> Engine: ...


def check_rate(rate: int | None) -> None:
    """Reject a speaking rate outside :data:`RATE_LIMITS` (every engine calls this)."""
    if rate is not None and not RATE_LIMITS[0] <= rate <= RATE_LIMITS[1]:
        raise InputError(
            f"speech rate must be {RATE_LIMITS[0]}..{RATE_LIMITS[1]} words per minute, got {rate}"
        )


def check_volume(volume: float | None) -> None:
    """Reject a volume outside (0, 1]."""
    if volume is not None and not 0.0 < volume <= 1.0:
        raise InputError(f"speech volume must be in (0, 1], got {volume}")


LIST_VOICES_HINT = "Run `{command}` to list the voices this engine has."


def voices_command(engine: str, model: str | None = None) -> str:
    """The ``matcue voices`` command line that lists ``engine``'s voices (for hints)."""
    command = "matcue voices"
    if engine != "auto":
        command += f" --engine {shlex.quote(engine)}"
    if model:
        command += f" --voice-model {shlex.quote(str(model))}"
    return command


def match_voice(voices: list[Voice], wanted: str, engine: str, model: str | None = None) -> str:
    """Map a user's voice choice to a voice id.

    Accepts the id (``gmw/en-us``), its last part (``en-us``) or the name
    (``English (America)``), case-insensitively. An unknown voice raises
    EngineUnavailable naming a few close matches and the command that lists
    the voices (with ``model``, the voice model's speakers).
    """
    key = wanted.strip().casefold()
    for v in voices:
        if key == v.id.casefold():
            return v.id
    for v in voices:
        if key in (v.id.rsplit("/", 1)[-1].casefold(), v.name.casefold()):
            return v.id
    names = sorted(
        {v.id.rsplit("/", 1)[-1] for v in voices}
        | {v.id for v in voices}
        | {v.name for v in voices}
    )
    close = difflib.get_close_matches(wanted, names, n=4, cutoff=0.5)
    # A part of an id is a likely way to name a voice too: `joe` for
    # en_US-joe-medium, `scotland` for gmw/en-gb-scotland.
    parts = [v.id for v in voices if key and key in re.split(r"[-_/ ]", v.id.casefold())]
    close = list(dict.fromkeys([*parts[:4], *close]))[:4]
    hint = f" Close matches: {', '.join(close)}." if close else ""
    listing = LIST_VOICES_HINT.format(command=voices_command(engine, model))
    raise EngineUnavailable(f"{engine} has no voice {wanted!r}.{hint} {listing}")
