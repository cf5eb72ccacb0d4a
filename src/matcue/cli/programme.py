"""``matcue programme``: a plan over weeks, checked, shown as a calendar, and
rendered as a series with a podcast feed and a playlist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .app import (
    _overrides,
    _quiet,
    check_each,
    flag,
    handle_errors,
    main,
    quiet_option,
    voice_options,
)


@main.group()
def programme() -> None:
    """Programmes: routines planned over weeks (see docs/programme-format.md).

    PLAN is a programme file or a built-in programme's name (six-weeks)."""


@programme.command("check")
@click.argument("plans", nargs=-1, required=True)
@handle_errors
def check(plans: tuple[str, ...]) -> None:
    """Validate plans and the routines they name.

    Nothing is rendered; every problem is one FILE:LINE: FIELD: message line."""
    from ..programme import load_programme

    check_each(plans, load_programme)


@programme.command("schema")
@handle_errors
def schema() -> None:
    """Print the programme format's JSON Schema.

    For editor completion and checking of programme files."""
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
    """Print the calendar with session lengths.

    Week by week, each day's sessions, their files and estimated lengths."""
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


@programme.command("render")
@click.argument("plan")
@click.option(
    "-o",
    "--output",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the sessions, feed.xml and playlist.m3u8 (made when its parent exists).",
)
@click.option(
    "--base-url",
    help="Address the folder will be served at (https://example.org/back/), for the feed's "
    "links; default: links relative to the feed.",
)
@voice_options
@quiet_option
@click.pass_context
@handle_errors
def render(
    ctx: click.Context,
    plan: str,
    folder: Path,
    base_url: str | None,
    quiet: bool,
    **options: Any,
) -> None:
    """Render every session, a podcast feed and a playlist.

    Every session of PLAN goes into the folder with its transcript and chapters,
    beside feed.xml and playlist.m3u8. Sessions already rendered from the same
    inputs are kept."""
    from ..programme import load_programme
    from ..programme.feed import check_base_url
    from ..programme.render import render_programme
    from .rendering import report_failure

    quiet = _quiet(ctx, quiet)
    if base_url:
        check_base_url(base_url)  # before any work
    loaded = load_programme(plan)

    def echo(text: str) -> None:
        click.echo(text, err=True)

    def on_session(session: Any, what: str, result: Any) -> None:
        # Kept and linked sessions are only counted: a plan repeats most of them.
        if not quiet and what == "rendered":
            extra = f" ({_minutes(result.duration)})" if result is not None else ""
            echo(f"rendered {session.stem}.mp3{extra}")

    done = render_programme(
        loaded,
        folder,
        extra=_overrides(**options),
        base_url=base_url,
        on_session=on_session,
        on_failure=lambda session, error: report_failure(session.stem, error, echo),
        spell=flag,
    )
    if not quiet:
        echo(
            f"{len(done.rendered)} rendered, {len(done.linked)} linked, {len(done.kept)} "
            f"already there; wrote {done.feed} and {done.playlist}"
        )
    if done.failures:
        from ..batch import BatchError

        raise BatchError(len(done.rendered) + len(done.failures), done.failures)
