"""The command line's side of rendering: which flags apply to what, the
progress bar on stderr, and a report line per result (the library renders and
reports through callbacks and exceptions; this module writes to the terminal)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import is_stdout
from ..batch import (
    BatchError,
    audio_format,
    is_dir_arg,
    plan_outputs,
    refuse_shared_outputs,
    render_one,
)
from ..errors import InputError, MatcueError
from ..parallel import render_parallel
from ..pipeline import ROUTINE_SETTINGS, RenderResult, is_cue_script
from ..reading import STDIN
from .app import as_flags, bounded, error_lines, flag

ROUTINE_FLAGS: dict[str, str] = {key: "--" + key for key in ROUTINE_SETTINGS}
"""The flags of the settings that only a routine can honour (``ROUTINE_SETTINGS``):
a cue script is rendered as it stands, so none of them can apply to it."""


def routine_flags_given(overrides: dict[str, Any]) -> list[str]:
    """The flags in ``overrides`` that only a routine can honour (see ROUTINE_FLAGS)."""
    return [flag for key, flag in ROUTINE_FLAGS.items() if overrides.get(key) is not None]


def refuse_routine_flags(names: list[str], flags: list[str]) -> None:
    """InputError: ``flags`` cannot apply to the cue scripts ``names`` (all there is
    to render, so the flags would do nothing at all)."""
    them = "it" if len(flags) == 1 else "them"
    what = (
        f"{names[0]} is a cue script, rendered as it stands"
        if len(names) == 1
        else f"{', '.join(names)} are cue scripts, rendered as they stand"
    )
    raise InputError(
        f"{', '.join(flags)}: {'this shapes' if len(flags) == 1 else 'these shape'} how a "
        f"routine becomes a cue script; {what}. Leave {them} out, or make the cue script "
        f"again: matcue script ROUTINE {' '.join(f + ' ...' for f in flags)}"
    )


def routine_flags_warning(name: str, flags: list[str]) -> str:
    """For a cue script in a batch with routines: the flags apply to the routines only."""
    return (
        f"{name}: a cue script is rendered as it stands; "
        f"{', '.join(flags)} {'applies' if len(flags) == 1 else 'apply'} to the routines only"
    )


def _format_duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


class Progress:
    """A one-line progress bar on stderr (only on a terminal, never under --quiet)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.last = -1
        self.stage = ""

    def __call__(self, stage: str, fraction: float) -> None:
        """Show ``fraction`` (0..1) of the whole render, done in ``stage``."""
        if not self.enabled:
            return
        pct = max(int(fraction * 100), self.last)  # never back
        if pct == self.last and stage == self.stage:
            return
        self.last, self.stage = pct, stage
        bar = "#" * (pct // 5) + "-" * (20 - pct // 5)
        sys.stderr.write(f"\r{self.label}: [{bar}] {pct:3d}% {stage:<22}")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.last >= 0:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


def report(result: RenderResult, echo: Callable[[str], None], quiet: bool) -> None:
    """Warnings always; what --minutes changed and what was written unless quiet."""
    for line in bounded([f"matcue: warning: {w}" for w in result.warnings], "warnings"):
        echo(line)
    if quiet:
        return
    for line in bounded([f"matcue: note: {n}" for n in result.notes], "notes"):
        echo(line)
    for change in result.changes:
        echo(f"matcue: {as_flags(change)}")
    extra = f" + {result.transcript.name}" if result.transcript else ""
    where = "standard output" if is_stdout(result.output) else result.output
    echo(f"wrote {where}{extra} ({_format_duration(result.duration)})")


def report_failure(name: str, exc: MatcueError, echo: Callable[[str], None]) -> None:
    """A batch's failed routine, as the command line shows an error (each line
    naming the routine)."""
    for line in error_lines(exc, name):
        echo(line)


def _check_streams(
    names: list[str], output: Path | str | None, timeline_path: Path | str | None
) -> None:
    """Standard input is one routine rendered alone; standard output takes the audio
    of one render, never a terminal's screen."""
    if STDIN in names and len(names) > 1:
        raise InputError("-: standard input can be read for one routine rendered alone")
    if timeline_path is not None and is_stdout(timeline_path):
        raise InputError("--timeline -: standard output is for the audio (-o -); give a file")
    if output is not None and is_stdout(output):
        if len(names) > 1:
            raise InputError("-o -: standard output takes one session; give a folder")
        if sys.stdout.isatty():
            raise InputError(
                "-o -: standard output is a terminal; pipe it into a player "
                "(matcue render thaw -o - | mpv -) or give a file name"
            )


def render_many(
    names: list[str],
    overrides: dict[str, Any],
    *,
    output: Path | str | None,
    timeline_path: Path | str | None,
    transcript: bool,
    quiet: bool,
    echo: Callable[[str], None],
    show_progress: bool,
) -> None:
    """``matcue render``: one routine with a progress bar, or several at once."""
    flags = routine_flags_given(overrides)
    cue_scripts = [n for n in names if is_cue_script(n)] if flags else []
    if cue_scripts and len(cue_scripts) == len(names):
        refuse_routine_flags(cue_scripts, flags)  # they would do nothing at all
    for name in cue_scripts:
        echo(f"matcue: warning: {routine_flags_warning(name, flags)}")
    _check_streams(names, output, timeline_path)
    plan_outputs(names, output, overrides.get("format"))
    if len(names) == 1:
        audio_format(output, overrides.get("format"))  # before any work
    if len(names) > 1 and timeline_path is not None and not is_dir_arg(timeline_path):
        if Path(timeline_path).suffix.lower() == ".json":
            raise InputError(
                f"--timeline {timeline_path}: with several routines, give a folder "
                "(end it with '/')"
            )
    if len(names) > 1:
        refuse_shared_outputs(names)

        if output is not None and not is_dir_arg(output):
            output = f"{output}/"  # a folder (see plan_outputs); keep the slash
        if timeline_path is not None and not is_dir_arg(timeline_path):
            timeline_path = f"{timeline_path}/"
        failures = render_parallel(
            names,
            overrides,
            output=output,
            timeline_path=timeline_path,
            transcript=transcript,
            on_result=lambda _name, result: report(result, echo, quiet),
            on_failure=lambda name, error: report_failure(name, error, echo),
            spell=flag,
        )
        if failures:
            raise BatchError(len(names), failures)
        return
    name = names[0]
    bar = Progress(name, show_progress)
    try:
        result = render_one(name, overrides, output, timeline_path, transcript, bar, spell=flag)
    finally:
        bar.done()
    report(result, echo, quiet)
