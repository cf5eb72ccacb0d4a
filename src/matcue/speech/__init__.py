"""Speech: the engine protocol, the engines, the phrase cache and the synthesizer.

Engines are imported lazily by :func:`get_engine`, so choosing espeak-ng never
loads pyttsx3 and a missing optional engine (piper) costs nothing until asked for.
"""

from __future__ import annotations

import difflib
import logging

from matcue.errors import EngineUnavailable
from matcue.speech.base import Clip, Engine, SpeechSettings, Voice
from matcue.speech.voices import DEFAULT_ENGINE, ENGINES, match_voice, voices_command

logger = logging.getLogger(__name__)

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
