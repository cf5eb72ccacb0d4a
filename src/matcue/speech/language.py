"""The voice a routine's language speaks with.

A routine in English renders as it always has (the bundled piper voice where piper
runs, else the system's). A routine in another language, with no voice chosen,
speaks with a voice of that language: an installed piper voice of it (``matcue
voices add``) where piper is the engine, else the system's voice for it (pyttsx3:
eSpeak on Linux), with a notice naming the voice and how to get a natural one.
Never the English bundled voice. A voice that was chosen (``--voice``,
``--voice-model``, ``defaults.voice``) is kept, with a warning when it speaks
another language than the routine's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from matcue.errors import InputError, MatcueError
from matcue.phrases import REFERENCE
from matcue.speech.base import Voice, match_voice
from matcue.speech.registry import AUTO, engine_name, get_engine, resolve

LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "de": "German", "fr": "French"}
"""Names for messages (a language missing here is named by its code)."""

NATURAL_VOICES = {
    "es": "es_ES-davefx-medium",
    "de": "de_DE-thorsten-medium",
    "fr": "fr_FR-siwis-medium",
}
"""The official piper voice (rhasspy/piper-voices) suggested for each language."""


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def add_voice_hint(language: str) -> str:
    """How to get a natural voice for ``language``."""
    voice = NATURAL_VOICES.get(language)
    if voice:
        return f"matcue voices add {voice}"
    return f"matcue voices, then matcue voices add NAME (a {language_name(language)} voice)"


def languages_of(tags: Iterable[str]) -> set[str]:
    """The primary language codes of ``tags`` (``es_ES`` and ``es-419`` are ``es``)."""
    return {re.split(r"[-_]", str(t).strip().lower(), maxsplit=1)[0] for t in tags if t}


def pick_voice(voices: Iterable[Voice], language: str) -> Voice | None:
    """The voice of ``voices`` that speaks ``language``, the language's own
    country first (``es`` or ``es_ES`` before ``es-419``; ``fr-fr`` before ``fr-be``)."""
    home = {language, f"{language}-{language}", f"{language}_{language}"}
    found = [v for v in voices if language in languages_of(v.languages)]
    found.sort(key=lambda v: not any(t.lower() in home for t in v.languages))
    return found[0] if found else None


@dataclass(frozen=True)
class VoiceChoice:
    """The engine and voice a render speaks with, and what to tell the user."""

    engine: str
    voice: str | None
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _voices(engine: str) -> list[Voice]:
    speaker = get_engine(engine)
    try:
        return speaker.voices()
    finally:
        speaker.close()


def _chosen_languages(engine: str, voice: str | None, model: str | None) -> set[str]:
    """The languages the chosen voice speaks, or none where that is not known."""
    try:
        if model:
            from matcue.speech.piper_models import read_config

            _config, data = read_config(Path(model).expanduser())
            code = (data.get("language") or {}).get("code") or (data.get("espeak") or {}).get(
                "voice"
            )
            return languages_of([code]) if code else set()
        assert voice is not None
        concrete = resolve(engine, voice)
        voices = _voices(concrete)
        wanted = match_voice(voices, voice, concrete)
        return next((languages_of(v.languages) for v in voices if v.id == wanted), set())
    except MatcueError:
        return set()  # an unknown voice is reported where the render checks it


def choose_voice(
    language: str, engine: str, voice: str | None, model: str | None = None
) -> VoiceChoice:
    """The engine and voice for a routine in ``language``, given what was asked
    (``engine`` may be ``auto``; ``voice`` and ``model`` None when not chosen)."""
    if voice or model:
        spoken = _chosen_languages(engine, voice, model)
        warnings = []
        if spoken and language not in spoken:
            what = f"voice {voice!r}" if voice else f"voice model {Path(str(model)).name}"
            warnings.append(
                f"the {what} speaks {', '.join(language_name(c) for c in sorted(spoken))}, "
                f"but the routine is in {language_name(language)} (language: {language})"
            )
        return VoiceChoice(engine, voice, warnings=warnings)
    if language == REFERENCE:
        return VoiceChoice(engine, voice)
    name = language_name(language)
    concrete = resolve(engine)
    if concrete == "piper":
        found = pick_voice(_voices("piper"), language)
        if found is not None:
            return VoiceChoice(
                "piper", found.id, notices=[f"{name} routine: speaking with {found.id}"]
            )
        if engine_name(engine) != AUTO:
            raise InputError(
                f"piper has no {name} voice installed for this {name} routine: add one "
                f"with `{add_voice_hint(language)}`, choose one with --voice or "
                "--voice-model, or use --engine pyttsx3"
            )
        concrete = "pyttsx3"  # the system's voice of the language, not English Joe
    found = pick_voice(_voices(concrete), language)
    if found is None:
        return VoiceChoice(
            concrete,
            None,
            warnings=[
                f"{concrete} has no {name} voice on this machine: the {name} routine is "
                f"spoken with its default voice (for a {name} voice: {add_voice_hint(language)})"
            ],
        )
    return VoiceChoice(
        concrete,
        found.id,
        notices=[
            f"{name} routine: speaking with {concrete}'s voice {found.id} ({found.name}); "
            f"for a natural {name} voice: {add_voice_hint(language)}"
        ],
    )


__all__ = [
    "NATURAL_VOICES",
    "VoiceChoice",
    "add_voice_hint",
    "choose_voice",
    "language_name",
    "languages_of",
    "pick_voice",
]
