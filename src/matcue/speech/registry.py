"""Which engines there are: the built-in ones and any a package registers.

Adding an engine is its module plus one registration: a line in :data:`BUILTIN`
for an engine shipped with matcue, or, from another package, an entry point in the
``matcue.engines`` group naming its factory::

    [project.entry-points."matcue.engines"]
    myvoice = "my_package.engine:MyEngine"

A factory is called as ``factory(workers=N)`` and returns an object with the
:class:`matcue.speech.base.Engine` methods. Engine modules are imported only when
their engine is asked for, so a missing optional engine costs nothing.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
import os
from importlib import metadata

from matcue.errors import EngineUnavailable, MatcueError
from matcue.speech.base import Engine, EngineFactory, match_voice

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "matcue.engines"

BUILTIN: dict[str, str] = {
    "pyttsx3": "matcue.speech.pyttsx3_engine:Pyttsx3Engine",
    "espeak-ng": "matcue.speech.espeak_cli:EspeakCliEngine",
    "piper": "matcue.speech.piper_engine:PiperEngine",
}
"""Built-in engines: name -> ``module:factory``."""

AUTO = "auto"
"""The default: the bundled natural voice (piper with en_US-joe-medium) where piper
runs, else pyttsx3 (the system's voices)."""

ENGINE_ENV = "MATCUE_ENGINE"
"""Names the engine ``auto`` stands for on this machine (say, ``pyttsx3`` to keep the
system voices without passing --engine every time)."""

ALIASES: dict[str, str] = {"default": AUTO, "espeak": "espeak-ng"}
"""Other spellings :func:`engine_name` accepts (case and spaces aside)."""


def _plugins() -> dict[str, str]:
    """Engines other packages register (name -> ``module:factory``); built-ins win."""
    found: dict[str, str] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in BUILTIN and ep.name != AUTO:
            found[ep.name] = ep.value
    return found


def engine_names() -> tuple[str, ...]:
    """Every engine name, the default (``auto``) first."""
    return (AUTO, *BUILTIN, *sorted(_plugins()))


def engine_name(name: str) -> str | None:
    """The engine ``name`` means (one of :func:`engine_names`), or None for no engine."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in engine_names() else None


def unknown_engine_message(name: str) -> str:
    """What to say about an engine name that is none of :func:`engine_names`."""
    names = engine_names()
    close = difflib.get_close_matches(name.strip().lower(), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown speech engine {name!r}.{hint} Engines: {', '.join(names)}."


def resolve(name: str, voice: str | None = None) -> str:
    """The concrete engine ``name`` stands for: ``auto`` becomes piper where piper and
    the bundled voice are installed, else pyttsx3; with a ``voice`` that piper does
    not have but pyttsx3 does (``gmw/en-us`` in an older routine file), pyttsx3.
    Unknown names raise EngineUnavailable."""
    key = engine_name(name)
    if key is None:
        raise EngineUnavailable(unknown_engine_message(name))
    if key == AUTO:
        from matcue.speech import piper_models

        chosen = os.environ.get(ENGINE_ENV, "").strip()
        if chosen:
            key = engine_name(chosen)
            if key is None or key == AUTO:
                raise EngineUnavailable(f"{ENGINE_ENV}: {unknown_engine_message(chosen)}")
            return key
        if not piper_models.bundled_available():
            return "pyttsx3"
        if voice and not _has_voice("piper", voice) and _has_voice("pyttsx3", voice):
            return "pyttsx3"
        return "piper"
    return key


def _has_voice(name: str, voice: str) -> bool:
    try:
        engine = get_engine(name)
        try:
            match_voice(engine.voices(), voice, name)
        finally:
            engine.close()
    except MatcueError:
        return False
    return True


def _load(target: str) -> EngineFactory:
    module_name, _, attr = target.partition(":")
    factory: EngineFactory = getattr(importlib.import_module(module_name), attr)
    return factory


def get_engine(name: str, *, workers: int = 1, voice: str | None = None) -> Engine:
    """A fresh engine object for ``name`` (``auto`` resolved for ``voice``, see
    :func:`resolve`).

    Raises EngineUnavailable listing the engines for an unknown name, or saying
    how to install a known engine that is missing.
    """
    key = resolve(name, voice)
    target = BUILTIN.get(key) or _plugins().get(key)
    if target is None:  # pragma: no cover - resolve() only returns known names
        raise EngineUnavailable(unknown_engine_message(name))
    try:
        factory = _load(target)
    except ImportError as exc:
        raise EngineUnavailable(f"speech engine {key!r} could not be loaded: {exc}") from exc
    return factory(workers=max(1, int(workers)))


__all__ = [
    "AUTO",
    "BUILTIN",
    "ENGINE_ENV",
    "ENTRY_POINT_GROUP",
    "engine_name",
    "engine_names",
    "get_engine",
    "resolve",
    "unknown_engine_message",
]
