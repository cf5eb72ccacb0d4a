"""The words of routine messages: how a user's value is shown, suggestions, and
the validation error whose text we wrote ourselves."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic_core import PydanticCustomError

from matcue.yamlsafe import Path_

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"

UNKNOWN_KIND_MESSAGE = "unknown step kind {kind}; the kinds are {kinds}{hint}"
MISSING_KIND_MESSAGE = "a step needs 'kind:' (one of {kinds})"
SLUG_MESSAGE = (
    "must be a short id of lowercase letters, digits and '-' (like 'morning-thaw'), "
    "starting with a letter or digit"
)
NOT_STEP_MESSAGE = "expected a step: a mapping that starts with 'kind:' and holds its fields"


def fail(message: str, **ctx: Any) -> PydanticCustomError:
    """A validation error whose text we wrote ourselves (no pydantic prefix)."""
    # The text travels in the context, never in the template, so braces in user
    # values ("{{ name }}") are shown as written.
    return PydanticCustomError("matcue", "{message}", {"message": message, **ctx})


def show(value: Any) -> str:
    """A short description of a user value for messages."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return num(value)
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            inline = "[" + ", ".join(str(v) for v in value) + "]"
            if len(inline) <= 40:
                return inline
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def num(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def hours(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60} min"


def did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def and_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def choices(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def quote_hint(value: Any, want_text: bool) -> str:
    if want_text and isinstance(value, (bool, int, float)):
        return " (put the text in quotes)"
    if not want_text and isinstance(value, str) and re.match(r"\s*[-+]?\.?\d", value):
        return " (write the number without quotes or units)"
    return ""


def get_path(data: Any, path: Path_) -> Any:
    node = data
    for seg in path:
        try:
            node = node[seg]
        except (KeyError, IndexError, TypeError):
            return None
    return node
