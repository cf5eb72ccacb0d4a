"""Speech: the engine protocol, the engines, the phrase cache and the synthesizer.

Engines are found through :mod:`matcue.speech.registry` and imported lazily, so
choosing espeak-ng never loads pyttsx3 and a missing optional engine costs nothing
until asked for. Engine modules import :mod:`matcue.speech.base`, never this
package's namespace, so there is no import cycle between them.
"""

from __future__ import annotations

from matcue.speech.base import (
    DEFAULT_RATE,
    LIST_VOICES_HINT,
    Clip,
    Engine,
    SpeechSettings,
    Voice,
    match_voice,
    voices_command,
)
from matcue.speech.registry import (
    AUTO,
    engine_name,
    engine_names,
    get_engine,
    resolve,
    unknown_engine_message,
)

DEFAULT_ENGINE = AUTO


def list_voices(name: str, settings: SpeechSettings | None = None) -> list[Voice]:
    """The voices engine ``name`` offers (for piper: the installed voices, or the
    speakers of ``settings.model`` when one is given)."""
    engine = get_engine(name)
    try:
        return engine.voices(settings.model if settings is not None else None)
    finally:
        engine.close()


__all__ = [
    "AUTO",
    "DEFAULT_ENGINE",
    "DEFAULT_RATE",
    "LIST_VOICES_HINT",
    "Clip",
    "Engine",
    "SpeechSettings",
    "Voice",
    "engine_name",
    "engine_names",
    "get_engine",
    "list_voices",
    "match_voice",
    "resolve",
    "unknown_engine_message",
    "voices_command",
]
