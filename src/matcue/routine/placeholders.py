"""Placeholders in routine text: ``{cycle}``, ``{reps}``, ... in a spoken line
are said as the number the session actually uses ("Each full round takes about
{cycle} seconds." follows ``--breath`` and ``--pace``).

Routine text stays data: the substitution is plain Python on the text before any
template sees it (never template code), and only a name in single braces made of
letters and ``_`` is a placeholder; anything else with braces (``{{ x }}``,
``{ x }``) is spoken as written. An unknown name is refused when the routine is
loaded. Which names a step kind offers: its ``placeholders`` (docs/routine-format.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from matcue.yamlsafe import Path_

PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
"""``{name}``, not inside ``{{ }}``."""

SIDE_PLACEHOLDERS = ("side", "other_side")
"""Placeholders of a step done on each side: the side being done, and the other one
("Reach your {other_side} arm forward and your {side} leg back.")."""

NOT_TEXT = frozenset({"kind", "name", "progression", "sides", "start"})
"""Fields whose values are never spoken text with placeholders (``name`` is the
chapter title; ``spoken`` is what is said instead)."""


def names_in(text: str) -> list[str]:
    """The placeholder names in ``text``, in order."""
    return PLACEHOLDER.findall(text)


def texts(value: Any, path: Path_ = ()) -> list[tuple[Path_, str]]:
    """Every string in a dumped field value, with its path below the field."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in texts(v, (*path, i))]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in texts(v, (*path, k))]
    return []


def problems(
    fields: Mapping[str, Any], allowed: tuple[str, ...], skip: frozenset[str] = NOT_TEXT
) -> list[tuple[Path_, str]]:
    """A located problem for every unknown placeholder in ``fields`` (a dumped model)."""
    out: list[tuple[Path_, str]] = []
    shown = ", ".join("{" + a + "}" for a in allowed)
    for field, value in fields.items():
        if field in skip:
            continue
        for path, text in texts(value, (field,)):
            for name in names_in(text):
                if name in SIDE_PLACEHOLDERS and name not in allowed:
                    out.append(
                        (
                            path,
                            f"{{{name}}} names a side, so the step needs 'sides' (both, left "
                            "or right)",
                        )
                    )
                elif name not in allowed:
                    out.append(
                        (
                            path,
                            f"unknown placeholder {{{name}}}; here the placeholders are "
                            f"{shown} (a number the session uses, spoken as words)",
                        )
                    )
    return out


def whole(value: Fraction | float | int) -> int:
    """``value`` rounded to a whole number, halves up (18.75 s is "about nineteen")."""
    return int(Fraction(value) + Fraction(1, 2)) if value >= 0 else -whole(-value)


def fill(text: str, values: Mapping[str, Fraction | int | str], word: Callable[[int], str]) -> str:
    """``text`` with each known placeholder replaced by its value: a number as a word,
    a text (a side's name) as it is, with a capital when it opens the line."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            return m.group(0)
        value = values[m.group(1)]
        if isinstance(value, str):
            return value[:1].upper() + value[1:] if m.start() == 0 else value
        return word(whole(value))

    return PLACEHOLDER.sub(one, text)


def filled(
    value: Any, values: Mapping[str, Fraction | int | str], word: Callable[[int], str]
) -> Any:
    """A dumped field value with :func:`fill` applied to every string in it."""
    if isinstance(value, str):
        return fill(value, values, word)
    if isinstance(value, list):
        return [filled(v, values, word) for v in value]
    if isinstance(value, dict):
        return {k: filled(v, values, word) for k, v in value.items()}
    return value
