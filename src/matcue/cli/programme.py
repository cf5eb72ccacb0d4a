"""``matcue programme``: a plan over weeks, checked, shown as a calendar, and
rendered as a series with a podcast feed and a playlist."""

from __future__ import annotations

import json
from typing import Any

import click

from .app import handle_errors, main


@main.group()
def programme() -> None:
    """Programmes: routines planned over weeks (see docs/programme-format.md).

    PLAN is a programme file or a built-in programme's name (six-weeks)."""


@programme.command("check")
@click.argument("plans", nargs=-1, required=True)
@handle_errors
def check(plans: tuple[str, ...]) -> None:
    """Validate programme files (and the routines they name) without rendering."""
    from ..errors import MatcueError, ValidationError
    from ..programme import load_programme

    problems: list[str] = []
    for plan in plans:
        try:
            load_programme(plan)
        except ValidationError as exc:
            problems.extend(exc.problems)
        except MatcueError as exc:
            problems.append(str(exc))
        else:
            click.echo(f"{plan}: ok")
    if problems:
        raise ValidationError(problems)


@programme.command("schema")
@handle_errors
def schema() -> None:
    """Print the JSON Schema of the programme format (for editor completion)."""
    from ..programme import programme_schema

    click.echo(json.dumps(programme_schema(), indent=2))


def _minutes(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def _hours(seconds: float) -> str:
    h, m = divmod(int(round(seconds / 60)), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


@programme.command("show")
@click.argument("plan")
@handle_errors
def show(plan: str) -> None:
    """Print the calendar: week by week, each day's sessions and their lengths."""
    from ..programme import expand, load_programme
    from ..programme.plan import estimated_seconds

    loaded = load_programme(plan)
    prog = loaded.programme
    sessions = expand(loaded)
    lengths = estimated_seconds(sessions)
    total = sum(lengths[s.input_hash] for s in sessions)
    click.echo(
        f"{prog.title}: {prog.weeks} weeks, {len(sessions)} sessions, about {_hours(total)} in all"
    )
    if prog.summary:
        click.echo(prog.summary)
    rows: dict[tuple[int, int], list[Any]] = {}
    for s in sessions:
        rows.setdefault((s.week, s.day), []).append(s)
    week = 0
    for (w, d), day_sessions in rows.items():
        if w != week:
            week = w
            week_total = sum(lengths[s.input_hash] for s in sessions if s.week == w)
            click.echo(f"\nWeek {w} (about {_hours(week_total)})")
        name = day_sessions[0].day_name
        click.echo(f"  Day {d}" + (f": {name}" if name else ""))
        for s in day_sessions:
            week_note = f", week {s.overrides['week']}" if "week" in s.overrides else ""
            click.echo(
                f"    {s.stem:<24} {_minutes(lengths[s.input_hash]):>6}  "
                f"{s.title} ({s.routine.name}{week_note})"
            )
