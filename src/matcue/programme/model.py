"""The programme file: a plan over weeks (see docs/programme-format.md).

A programme names a length in weeks and a weekly pattern of days; each day has
one or more sessions, each a routine (a built-in name or a file relative to the
plan) with the settings and the week of its progression to render it at.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from matcue.limits import (
    FORMAT_VERSION,
    MAX_DAY_SESSIONS,
    MAX_LINE,
    MAX_NAME,
    MAX_PROGRAMME_DAYS,
    MAX_PROGRAMME_WEEKS,
    MAX_SUMMARY,
    MAX_TITLE,
    WEEK_RANGE,
)
from matcue.routine.text import SLUG_PATTERN, show
from matcue.routine.values import Int, SessionSettings
from matcue.yamlsafe import Path_

Slug = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, pattern=SLUG_PATTERN)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE)]


class SessionPlan(BaseModel):
    """One session of a day."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    routine: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LINE)]
    """A built-in routine name, or a routine file relative to the programme file;
    required."""
    slot: Slug | None = None
    """The session's part of the file name (``w01-d1-1-SLOT.mp3``): lowercase letters,
    digits and '-'; null = the routine's name. Unique within a day."""
    title: Title | None = None
    """Episode title; null = the routine's title."""
    week: Int | None = Field(default=None, ge=WEEK_RANGE[0], le=WEEK_RANGE[1])
    """Week of the routine's progression to use, 1..52; null = the programme's week."""
    settings: SessionSettings = SessionSettings()
    """Settings for this session (over the programme's ``settings``)."""


class DayPlan(BaseModel):
    """One day of the weekly pattern."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: Title | None = None
    """What the day is (``Mobility day``), shown in the calendar and episode titles."""
    sessions: list[SessionPlan] = Field(min_length=1, max_length=MAX_DAY_SESSIONS)
    """The day's sessions in order, 1..6."""


class Programme(BaseModel):
    """A programme: sessions over weeks, rendered as a series and a podcast feed."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    matcue: Int = Field(default=FORMAT_VERSION, ge=1, le=FORMAT_VERSION)
    """Format version; only 1 is valid."""
    name: Slug = "programme"
    """Programme id; defaults to the file name without '.yaml'."""
    title: Title
    """The programme's title (the podcast's title), 1..120 characters; required."""
    summary: Annotated[str, StringConstraints(max_length=MAX_SUMMARY)] = ""
    """One-line description (the podcast's description), at most 200 characters."""
    weeks: Int = Field(ge=1, le=MAX_PROGRAMME_WEEKS)
    """Length in weeks, 1..52; required."""
    settings: SessionSettings = SessionSettings()
    """Settings for every session (a session's own settings override them)."""
    days: list[DayPlan] = Field(min_length=1, max_length=MAX_PROGRAMME_DAYS)
    """The weekly pattern: 1..7 days, each with its sessions; repeated every week."""


def slot_problems(programme: Programme) -> list[tuple[Path_, str]]:
    """Two sessions of a day with one slot would be written to one file."""
    problems: list[tuple[Path_, str]] = []
    for d, day in enumerate(programme.days):
        seen: dict[str, int] = {}
        for s, session in enumerate(day.sessions):
            slot = session_slot(session)
            if slot in seen:
                field = "slot" if session.slot is not None else "routine"
                problems.append(
                    (
                        ("days", d, "sessions", s, field),
                        f"day {d + 1} already has a session {show(slot)} (session "
                        f"{seen[slot] + 1}); give each session of a day its own 'slot'",
                    )
                )
            seen.setdefault(slot, s)
    return problems


def session_slot(session: SessionPlan) -> str:
    """The slot of a session: its own, or made from the routine's name or file name."""
    if session.slot is not None:
        return session.slot
    stem = session.routine.replace("\\", "/").rsplit("/", 1)[-1]
    stem = re.sub(r"\.ya?ml$", "", stem, flags=re.I)
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:MAX_NAME] or "session"


def programme_schema() -> dict[str, Any]:
    """JSON Schema of a programme file (``matcue programme schema``)."""
    schema = TypeAdapter(Programme).json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "matcue programme"
    if "name" in schema.get("required", []):
        schema["required"].remove("name")
    return schema
