"""JSON-Schema pieces for the routine types whose validators accept more than
one shape (a line or a list of lines, a number or a one-key mapping, a pace name
or a factor, ``both`` or a list of sides). Built from :mod:`matcue.limits`, so
the schema states the same limits as the validators."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from matcue.limits import (
    DURATION_LIMITS,
    MAX_LINE,
    MAX_REPS,
    MAX_SETS,
    PACE_FACTORS,
    PACE_RANGE,
)


def number(value: float | Fraction) -> int | float:
    """A limit as JSON (and pydantic) writes it: ``2``, not ``2.0``."""
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


LINES_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": MAX_LINE},
        {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": MAX_LINE}},
    ]
}
PHRASINGS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": MAX_LINE},
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_LINE},
        },
    ]
}
"""A required cue: one line or a non-empty list of phrasings."""


def _unit_schema(unit: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            unit: {
                "type": "integer" if unit == "counts" else "number",
                "minimum": 0,
                "maximum": DURATION_LIMITS[unit],
            }
        },
        "required": [unit],
        "additionalProperties": False,
    }


DURATION_SCHEMA: dict[str, Any] = {
    "description": "A plain number of seconds, or a mapping with exactly one key.",
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": DURATION_LIMITS["seconds"]},
        *(_unit_schema(unit) for unit in DURATION_LIMITS),
    ],
}
PACE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"enum": list(PACE_FACTORS)},
        {"type": "number", "minimum": number(PACE_RANGE[0]), "maximum": number(PACE_RANGE[1])},
    ]
}
SIDES_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "null"},
        {"enum": ["both", "left", "right"]},
        {
            "type": "array",
            "items": {"enum": ["left", "right"]},
            "minItems": 1,
            "maxItems": 2,
            "uniqueItems": True,
        },
    ]
}
REPS_RANGE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "null"},
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_REPS},
            "minItems": 2,
            "maxItems": 2,
        },
    ]
}
_REPS_ITEM: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_REPS}
SET_REPS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        _REPS_ITEM,
        {"type": "array", "items": _REPS_ITEM, "minItems": 1, "maxItems": MAX_SETS},
    ]
}
