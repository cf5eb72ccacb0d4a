"""Speech: the engine protocol, the engines, the phrase cache and the synthesizer.

Engines are imported lazily by :func:`get_engine`, so choosing espeak-ng never
loads pyttsx3 and a missing optional engine (piper) costs nothing until asked for.
"""

from __future__ import annotations

import difflib
import logging
import shlex

from matcue.errors import EngineUnavailable
from matcue.speech.base import Clip, Engine, SpeechSettings, Voice

logger = logging.getLogger(__name__)

ENGINES: tuple[str, ...] = ("pyttsx3", "espeak-ng", "piper")
"""Engine names, default first."""

DEFAULT_ENGINE = ENGINES[0]

ENGINE_ALIASES: dict[str, str] = {"default": "pyttsx3", "espeak": "espeak-ng"}
"""Other spellings :func:`get_engine` accepts (case and spaces aside)."""


def engine_name(name: str) -> str | None:
    """The engine ``name`` means (one of :data:`ENGINES`), or None for no engine."""
    key = name.strip().lower()
    key = ENGINE_ALIASES.get(key, key)
    return key if key in ENGINES else None


def unknown_engine_message(name: str) -> str:
    """What to say about an engine name that is none of :data:`ENGINES`."""
    close = difflib.get_close_matches(name.strip().lower(), ENGINES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown speech engine {name!r}.{hint} Engines: {', '.join(ENGINES)}."


LIST_VOICES_HINT = "Run `{command}` to list the voices this engine has."


def voices_command(engine: str, model: str | None = None) -> str:
    """The ``matcue voices`` command line that lists ``engine``'s voices (for hints)."""
    command = "matcue voices"
    if engine != DEFAULT_ENGINE:
        command += f" --engine {shlex.quote(engine)}"
    if model:
        command += f" --voice-model {shlex.quote(str(model))}"
    return command


def get_engine(name: str) -> Engine:
    """A fresh engine object for ``name`` (one of :data:`ENGINES`).

    Raises EngineUnavailable listing the engines for an unknown name, or saying
    how to install a known engine that is missing.
    """
    key = engine_name(name)
    if key == "pyttsx3":
        from matcue.speech.pyttsx3_engine import Pyttsx3Engine

        return Pyttsx3Engine()
    if key == "espeak-ng":
        from matcue.speech.espeak_cli import EspeakCliEngine

        return EspeakCliEngine()
    if key == "piper":
        from matcue.speech.piper_engine import PiperEngine

        return PiperEngine()
    raise EngineUnavailable(unknown_engine_message(name))


def list_voices(name: str, settings: SpeechSettings | None = None) -> list[Voice]:
    """The voices engine ``name`` offers (for piper: the speakers of ``settings.model``,
    which it needs; without one, InputError says to pass --voice-model)."""
    engine = get_engine(name)
    if engine.name == "piper":
        from matcue.speech.piper_engine import PiperEngine

        assert isinstance(engine, PiperEngine)
        return engine.voices(settings.model if settings is not None else None)
    return engine.voices()


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


__all__ = [
    "ENGINES",
    "DEFAULT_ENGINE",
    "Clip",
    "Engine",
    "SpeechSettings",
    "Voice",
    "engine_name",
    "get_engine",
    "list_voices",
    "match_voice",
    "voices_command",
]
