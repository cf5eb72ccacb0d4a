"""The core commands: render, script, routines, check, new, schema, voices."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from ..limits import BED_VOLUME_RANGE, BITRATE_DEFAULT, SAMPLE_RATE_DEFAULT, span
from ..mp3 import allowed_bitrates
from ..writers import default_suffix, formats, suffix_list
from .app import (
    Number,
    _overrides,
    _quiet,
    as_flags,
    check_each,
    handle_errors,
    main,
    quiet_option,
    session_options,
    verbosity_option,
    voice_options,
    week_option,
)

_BITRATES = allowed_bitrates(SAMPLE_RATE_DEFAULT)
"""The MP3 bitrates ``--bitrate`` takes at the default sample rate."""


@main.command()
@click.argument("routines", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(),  # a str keeps a trailing '/' that marks a folder; Path drops it
    help=(
        f"Output file, {suffix_list()} (the extension sets the format), or a folder "
        f"(ending in /) for several routines, or - for standard output. "
        f"Default: audio_out/NAME{default_suffix()}"
    ),
)
@click.option(
    "--timeline",
    "timeline_path",
    type=click.Path(),
    help="Also write the schedule as a JSON list of events (a folder for several routines).",
)
@click.option("--format", "fmt", type=click.Choice(formats()), help="Audio format.")
@click.option("--no-transcript", is_flag=True, help="Do not write the .vtt transcript.")
@session_options
@voice_options
@click.option("--chime/--no-chime", default=None, help="Soft bell at step changes and the end.")
@click.option(
    "--breath-tone",
    is_flag=True,
    default=None,
    help="A quiet tone that swells with each inhale and fades with each exhale.",
)
@click.option("--bed", help="Background bed: pink, brown, or an audio file.")
@click.option(
    "--bed-volume",
    type=Number("bed_volume"),
    help=f"Bed level in dB relative to speech, {span(BED_VOLUME_RANGE)} (default -24).",
)
@click.option("--stereo", is_flag=True, default=None, help="Write a stereo file (default mono).")
@click.option(
    "--bitrate",
    type=Number("bitrate", integer=True),
    help=(
        "MP3 bitrate in kbit/s (constant), "
        f"{span((_BITRATES[0], _BITRATES[-1]))}. Default {BITRATE_DEFAULT}."
    ),
)
@click.option(
    "--strict",
    is_flag=True,
    default=None,
    help="Treat a cue that does not fit its timed window as an error.",
)
@quiet_option
@click.pass_context
@handle_errors
def render(
    ctx: click.Context,
    routines: tuple[str, ...],
    output: Path | None,
    timeline_path: Path | None,
    fmt: str | None,
    no_transcript: bool,
    stereo: bool | None,
    quiet: bool,
    **options: Any,
) -> None:
    """Render ROUTINES (built-in names, routine files, cue scripts; - reads standard input)."""
    from .rendering import render_many  # the pipeline (numpy, engines) only when needed

    quiet = _quiet(ctx, quiet)
    overrides = _overrides(format=fmt, channels=2 if stereo else None, **options)
    render_many(
        list(routines),
        overrides,
        output=output,
        timeline_path=timeline_path,
        transcript=not no_transcript,
        quiet=quiet,
        echo=lambda s: click.echo(s, err=True),
        show_progress=not quiet and sys.stderr.isatty(),
    )


@main.command()
@click.argument("routine")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write to a file (- prints it)."
)
@session_options
@quiet_option
@click.pass_context
@handle_errors
def script(
    ctx: click.Context, routine: str, output: Path | None, quiet: bool, **options: Any
) -> None:
    """Print the cue script for ROUTINE (edit it, then 'matcue render FILE.cue')."""
    from ..cuescript import print_script
    from ..source import (
        build_script,
        input_files,
        load_source,
        resolve_settings,
        write_script,
    )
    from .rendering import refuse_routine_flags, routine_flags_given

    source = load_source(routine)
    if output and str(output) != "-":  # before any work, not only when writing
        from ..atomic import refuse_input

        refuse_input(output, "-o", input_files(source))
    overrides = _overrides(**options)
    flags = routine_flags_given(overrides)
    if source.script is not None and flags:
        refuse_routine_flags([routine], flags)
    settings = resolve_settings(source, overrides)
    cue, changes = build_script(source, settings)
    if not _quiet(ctx, quiet):
        for change in changes:
            click.echo(f"matcue: {as_flags(change)}", err=True)
    text = print_script(cue)
    if output and str(output) != "-":
        write_script(text, output, source)
    else:
        click.echo(text, nl=False)


@main.command()
@handle_errors
def routines() -> None:
    """List the built-in routines with their length at the default pace."""
    from ..catalog import describe_builtins

    for line in describe_builtins():
        click.echo(line)


@main.command()
@click.argument("files", nargs=-1, required=True)
@week_option
@verbosity_option
@handle_errors
def check(files: tuple[str, ...], week: int | None, verbosity: str | None) -> None:
    """Validate routine files (or cue scripts) without rendering (at --week N: the
    routine as it is that week). Notes name every text of a routine that is not
    spoken (at --verbosity V, default the routine's), with the reason; they are not
    errors."""
    from ..source import build_script, check_voice, load_source, resolve_settings, unspoken_notes

    def check_one(name: str) -> None:
        source = load_source(name)
        if source.routine is not None:
            settings = resolve_settings(source, _overrides(week=week, verbosity=verbosity))
            script, _changes = build_script(source, settings)
            check_voice(source, settings, engine_required=False)
            for note in unspoken_notes(source, settings, script):
                click.echo(f"note: {note}")

    check_each(files, check_one)


@main.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Where to write (default NAME.yaml). An existing file is never overwritten.",
)
@handle_errors
def new(name: str, output: Path | None) -> None:
    """Write a commented starter routine NAME.yaml to edit."""
    from ..errors import InputError
    from ..starter import starter_routine

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise InputError(f"{name!r}: a routine name uses lowercase letters, digits and '-'")
    path = output or Path(f"{name}.yaml")
    if path.exists():
        raise InputError(f"{path}: already exists; not overwritten (choose another name or -o)")
    from ..atomic import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(starter_routine(name), encoding="utf-8")
    click.echo(f"wrote {path}; check it with: matcue check {path}")


@main.command()
@handle_errors
def schema() -> None:
    """Print the JSON Schema of the routine format (for editor completion)."""
    from ..routine import routine_schema

    click.echo(json.dumps(routine_schema(), indent=2))
