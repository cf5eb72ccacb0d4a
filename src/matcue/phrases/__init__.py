"""Phrase catalogues: every fixed sentence the built-in templates speak, per
language (``<language>.yaml`` beside this module).

A routine's ``language:`` picks the catalogue; templates reach it through
``say("key", n=...)`` and the ``word`` filter (numbers as words in that
language, by num2words). English is the reference: every other catalogue must
have the same keys and the same placeholders (a test checks it). How to add a
language: docs/languages.md.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml
from num2words import num2words

REFERENCE = "en"
"""The catalogue every other one is checked against."""


def available() -> tuple[str, ...]:
    """Language codes with a catalogue, the reference first."""
    found = sorted(
        p.name.removesuffix(".yaml")
        for p in resources.files(__package__).iterdir()
        if p.name.endswith(".yaml")
    )
    return (REFERENCE, *[c for c in found if c != REFERENCE])


@dataclass(frozen=True)
class Catalogue:
    """One language's phrases."""

    language: str
    name: str
    phrases: Mapping[str, str | tuple[str, ...]]
    feminine: Mapping[str, str] = field(default_factory=dict)
    """Number-word endings and their feminine forms (Spanish ``uno: una``), for the
    ``{n:f}`` placeholder before a feminine noun."""

    def variants(self, key: str) -> tuple[str, ...]:
        """Every variant of ``key`` (one for a single sentence)."""
        try:
            value = self.phrases[key]
        except KeyError:
            raise KeyError(f"phrase '{key}' is not in the {self.name} catalogue") from None
        return value if isinstance(value, tuple) else (value,)

    def say(self, key: str, turn: int = 0, **params: Any) -> str:
        """Phrase ``key`` (variant ``turn``, in turn), placeholders filled: numbers
        as words, ``side`` as the side's name; ``{n:f}`` is the feminine number
        word, ``{x:lower}`` the value in lower case. Starts with a capital."""
        options = self.variants(key)
        text = options[int(turn) % len(options)]
        values = {k: self._value(k, v) for k, v in params.items()}
        out = _Filler(self.feminine).vformat(text, (), values) if values else text
        return out[:1].upper() + out[1:]

    def _value(self, name: str, value: Any) -> str:
        if name == "side" and value is not None:
            return self.side(str(value))
        if isinstance(value, int) and not isinstance(value, bool):
            return self.word(value)
        return str(value)

    def side(self, side: str) -> str:
        """The name of ``side`` ('left' or 'right') in this language, as it stands
        inside a sentence (lower case in English)."""
        return str(self.variants(f"side.{side}")[0])

    def word(self, n: int) -> str:
        """``n`` as a word (or words) in this language."""
        return str(num2words(int(n), lang=self.language))


class _Filler(string.Formatter):
    """``str.format`` with the format specs phrases may use: ``f`` (feminine
    number word) and ``lower``."""

    def __init__(self, feminine: Mapping[str, str]) -> None:
        self.feminine = feminine

    def format_field(self, value: Any, format_spec: str) -> str:
        text = str(value)
        if format_spec == "lower":
            return text.lower()
        if format_spec == "f":
            for ending, form in self.feminine.items():
                if text.endswith(ending):
                    return text[: -len(ending)] + form
            return text
        return str(super().format_field(value, format_spec))


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a phrase."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@functools.cache
def catalogue(language: str = REFERENCE) -> Catalogue:
    """The catalogue for ``language`` (a code from :func:`available`)."""
    if language not in available():
        raise KeyError(f"no phrase catalogue for language '{language}'")
    text = resources.files(__package__).joinpath(f"{language}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    phrases = {
        str(k): tuple(str(x) for x in v) if isinstance(v, list) else str(v)
        for k, v in data["phrases"].items()
    }
    feminine = {str(k): str(v) for k, v in (data.get("feminine") or {}).items()}
    return Catalogue(
        language=str(data["language"]), name=str(data["name"]), phrases=phrases, feminine=feminine
    )
