"""Choosing a voice: matching what a user typed against an engine's voices, and
the command that lists them. (Apart from ``matcue.speech`` so that the engines,
which ``matcue.speech`` imports, can use it without importing their importer.)"""

from __future__ import annotations

import difflib
import shlex

from matcue.errors import EngineUnavailable
from matcue.speech.base import Voice

ENGINES: tuple[str, ...] = ("pyttsx3", "espeak-ng", "piper")
"""Engine names, default first."""

DEFAULT_ENGINE = ENGINES[0]

LIST_VOICES_HINT = "Run `{command}` to list the voices this engine has."


def voices_command(engine: str, model: str | None = None) -> str:
    """The ``matcue voices`` command line that lists ``engine``'s voices (for hints)."""
    command = "matcue voices"
    if engine != DEFAULT_ENGINE:
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
    hint = f" Close matches: {', '.join(close)}." if close else ""
    listing = LIST_VOICES_HINT.format(command=voices_command(engine, model))
    raise EngineUnavailable(f"{engine} has no voice {wanted!r}.{hint} {listing}")
