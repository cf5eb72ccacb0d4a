"""Render one or several routines from the command line, with progress and
a one-line report per result."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InputError, MatcueError

DEFAULT_OUT_DIR = Path("audio_out")


def _is_dir_arg(path: Path | None) -> bool:
    return path is not None and (str(path).endswith(("/", "\\")) or path.is_dir())


def plan_outputs(names: list[str], output: Path | None, fmt: str | None) -> list[Path | None]:
    """Where each routine goes; ``None`` = the default audio_out/NAME.EXT."""
    if len(names) > 1 and output is not None and not _is_dir_arg(output):
        raise InputError(
            f"-o {output}: with several routines, -o must be a folder (end it with '/')"
        )
    return [output for _ in names]


def output_path(name: str, output: Path | None, fmt: str) -> Path:
    if output is None:
        return DEFAULT_OUT_DIR / f"{name}.{fmt}"
    if _is_dir_arg(output):
        return output / f"{name}.{fmt}"
    return output


def _format_duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


class Progress:
    """A one-line progress bar on stderr (only on a terminal, never under --quiet)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.last = -1

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        pct = int(fraction * 100)
        if pct == self.last:
            return
        self.last = pct
        bar = "#" * (pct // 5) + "-" * (20 - pct // 5)
        sys.stderr.write(f"\r{self.label}: [{bar}] {pct:3d}% {stage:<22}")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.last >= 0:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


def render_one(
    name: str,
    overrides: dict[str, Any],
    output: Path | None,
    timeline_path: Path | None,
    transcript: bool,
    progress: Callable[[str, float], None] | None = None,
    synth_workers: int = 2,
) -> Any:
    from .pipeline import load_source, render, resolve_settings

    source = load_source(name)
    fmt = overrides.get("format")
    if fmt is None and output is not None and not _is_dir_arg(output):
        if output.suffix.lower() in (".mp3", ".wav"):
            overrides = {**overrides, "format": output.suffix.lower()[1:]}
    settings = resolve_settings(source, overrides)
    out = output_path(source.name, output, settings.format)
    tl = timeline_path
    if tl is not None and _is_dir_arg(tl):
        tl = tl / f"{source.name}.json"
    return render(
        source,
        settings,
        out,
        timeline_path=tl,
        transcript=transcript,
        progress=progress,
        synth_workers=synth_workers,
    )


def render_many(
    names: list[str],
    overrides: dict[str, Any],
    *,
    output: Path | None,
    timeline_path: Path | None,
    transcript: bool,
    quiet: bool,
    echo: Callable[[str], None],
    show_progress: bool,
) -> None:
    plan_outputs(names, output, overrides.get("format"))
    if len(names) > 1 and timeline_path is not None and not _is_dir_arg(timeline_path):
        raise InputError(
            f"--timeline {timeline_path}: with several routines, give a folder (end it with '/')"
        )
    if len(names) > 1:
        from .parallel import render_parallel

        failures = render_parallel(
            names,
            overrides,
            output=output,
            timeline_path=timeline_path,
            transcript=transcript,
            echo=echo,
            quiet=quiet,
        )
        if failures:
            raise (
                failures[0]
                if len(failures) == 1
                else MatcueError(f"{len(failures)} of {len(names)} routines failed")
            )
        return
    name = names[0]
    bar = Progress(name, show_progress)
    try:
        result = render_one(name, overrides, output, timeline_path, transcript, bar)
    finally:
        bar.done()
    report(result, echo, quiet)


def report(result: Any, echo: Callable[[str], None], quiet: bool) -> None:
    """Warnings always; what --minutes changed and what was written unless quiet."""
    for warning in result.warnings:
        echo(f"matcue: warning: {warning}")
    if quiet:
        return
    for change in result.changes:
        echo(f"matcue: {change}")
    extra = f" + {result.transcript.name}" if result.transcript else ""
    echo(f"wrote {result.output}{extra} ({_format_duration(result.duration)})")
