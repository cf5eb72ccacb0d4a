"""Render one or several routines: where each one's files go, and one render.

The command line's side (progress bar, reports, which flags apply) is
:mod:`matcue.cli.rendering`; several renders at once are :mod:`matcue.parallel`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .atomic import writes_through
from .errors import InputError, MatcueError, SettingError, SettingText, Spell, as_written
from .pipeline import RenderResult, load_source, render, resolve_settings
from .writers import format_for_suffix, suffix_list, writer_for

DEFAULT_OUT_DIR = Path("audio_out")


def is_dir_arg(path: Path | str | None) -> bool:
    """A folder: ends in a slash (only a ``str`` keeps it; ``Path`` drops it) or exists."""
    return path is not None and (str(path).endswith(("/", "\\")) or Path(path).is_dir())


def plan_outputs(names: list[str], output: Path | str | None, fmt: str | None) -> list[Path | None]:
    """Where each routine goes; ``None`` = the default audio_out/NAME.EXT.

    With several routines ``-o`` names a folder: one that exists, one written with
    a trailing slash, or any name without an audio suffix (the folder is created
    when its parent exists). ``-o x.mp3`` with several routines is an error.
    """
    if output is None:
        return [None for _ in names]
    if len(names) > 1 and not is_dir_arg(output):
        if format_for_suffix(output) is not None:
            raise InputError(
                f"-o {output}: with several routines, -o must be a folder (end it with '/')"
            )
    return [Path(output) for _ in names]


def audio_format(output: Path | str | None, fmt: str | None) -> str | None:
    """The audio format a render writes: ``--format``, or the one ``-o FILE`` names by
    its extension. An -o file must end in one of the writers' extensions
    (:mod:`matcue.writers`, any case); an extension that disagrees with --format is an
    error, never a WAV inside a file called .mp3."""
    if output is None or is_dir_arg(output):
        return fmt
    named = format_for_suffix(output)
    if named is None and writes_through(output):
        return fmt  # standard output, /dev/null, a FIFO: --format (default MP3)
    if named is None:
        suffix = Path(output).suffix.lower()
        what = f"unknown audio extension {suffix!r}" if suffix else "no extension"
        raise SettingError(
            SettingText(
                "{output} {path}: {what}; name a {suffixes} file (or a folder, ending in '/')",
                path=output,
                what=what,
                suffixes=suffix_list(),
            )
        )
    if fmt is not None and fmt != named:
        raise SettingError(
            SettingText(
                "{format} {fmt}: {output} {path} names {label} file; "
                "leave {format} out or name a {suffix} file",
                fmt=fmt,
                path=output,
                label=writer_for(named).label,
                suffix=writer_for(fmt).suffixes[0],
            )
        )
    return named


def output_path(name: str, output: Path | str | None, fmt: str) -> Path:
    if output is None:
        return DEFAULT_OUT_DIR / f"{name}{writer_for(fmt).suffixes[0]}"
    if is_dir_arg(output):
        return Path(output) / f"{name}{writer_for(fmt).suffixes[0]}"
    return Path(output)


def render_one(
    name: str,
    overrides: dict[str, Any],
    output: Path | str | None,
    timeline_path: Path | str | None,
    transcript: bool,
    progress: Callable[[str, float], None] | None = None,
    synth_workers: int = 2,
    spell: Spell = as_written,
) -> RenderResult:
    """Render the routine or cue script ``name`` to its output (see :func:`output_path`);
    ``spell`` names a setting in the overrun advice (:func:`matcue.pipeline.render`)."""
    fmt = audio_format(output, overrides.get("format"))
    source = load_source(name)
    settings = resolve_settings(source, {**overrides, "format": fmt})
    out = output_path(source.name, output, settings.format)
    tl = Path(timeline_path) if timeline_path is not None else None
    if timeline_path is not None and is_dir_arg(timeline_path):
        tl = Path(timeline_path) / f"{source.name}.json"
    return render(
        source,
        settings,
        out,
        timeline_path=tl,
        transcript=transcript,
        progress=progress,
        synth_workers=synth_workers,
        spell=spell,
    )


def refuse_shared_outputs(names: list[str]) -> None:
    """A batch writes NAME.EXT for each routine into one folder: two with the same
    name (the same routine twice, or two files whose routines are both called
    'morning') would overwrite each other, the last one winning. Refused before any
    work. An input that does not load is left to fail in its own render."""
    first: dict[str, str] = {}
    for arg in names:
        try:
            name = load_source(arg).name
        except MatcueError:
            continue
        if name in first:
            raise InputError(
                f"{first[name]} and {arg} would both be written as '{name}' in the same "
                "folder; render them separately, or give one routine another 'name'"
            )
        first[name] = arg


class BatchError(MatcueError):
    """Some routines of a batch failed (each already reported as it finished).

    Exit status 2 when every failure is bad input (a typo in a name, an invalid
    routine), so scripts can tell "fix your files" from "something broke"; 1 as
    soon as one failure is of another kind."""

    def __init__(self, total: int, failures: list[tuple[str, MatcueError]]) -> None:
        self.failures = failures
        names = ", ".join(name for name, _ in failures)
        super().__init__(f"{len(failures)} of {total} routines failed: {names}")
        self.exit_code = 2 if all(e.exit_code == 2 for _, e in failures) else 1

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (0, self.failures))
