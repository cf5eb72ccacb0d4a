"""What to render and its cue script: a routine or a cue script (``load_source``),
the settings it renders with (``resolve_settings``), and the cue script a
routine's templates write, fitted to ``--minutes`` (``build_script``).

Apart from :mod:`matcue.pipeline` so that the commands that only make or check a
cue script (``script``, ``check``, ``routines``) do not load the audio stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import cuescript
from .atomic import atomic_output
from .errors import EngineUnavailable, InputError, MatcueError, ValidationError
from .fit import FitCache, fit_routine
from .limits import MAX_SESSION_SECONDS
from .routine import Routine, builtin_names, load_builtin, load_routine
from .routine.progression import routine_at_week
from .routine.text import hours
from .settings import Settings, merge
from .speech import get_engine, match_voice
from .templating import render_script_text

CUE_SUFFIXES = (".cue", ".txt")


@dataclass
class Source:
    """What the user asked to render: a routine, or a cue script as it stands."""

    name: str
    routine: Routine | None = None
    script: cuescript.CueScript | None = None
    path: Path | None = None


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError([f"{path}:{line}: -: not UTF-8 text (byte {exc.start})"]) from None


def _starts_like_cue_script(path: Path) -> bool:
    """True for a file whose first bytes are the cue-script header (any name)."""
    try:
        with path.open("rb") as f:
            return f.read(len(cuescript.HEADER)) == cuescript.HEADER.encode()
    except OSError:
        return False


ROUTINE_SETTINGS = ("pace", "breath", "count", "minutes", "verbosity", "templates", "week")
"""Settings that shape the cue script a routine's templates write. A cue script is
rendered as it stands, so none of them can apply to it (the CLI says so, by flag)."""


def is_cue_script(arg: str) -> bool:
    """True when ``arg`` names a cue script (by its suffix or its first line)."""
    path = Path(arg)
    return path.suffix.lower() in CUE_SUFFIXES or _starts_like_cue_script(path)


def load_source(arg: str) -> Source:
    """A built-in routine name, a routine file, or a cue script file."""
    path = Path(arg)
    if is_cue_script(arg):
        if not path.exists():
            raise InputError(f"{arg}: no such file")
        text = _read_text(path)
        script = cuescript.parse_script(text, filename=str(path))
        name = script.meta.get("routine") or path.stem
        return Source(name=path.stem if path.stem else name, script=script, path=path)
    if path.exists() or path.suffix.lower() in (".yaml", ".yml") or "/" in arg:
        routine = load_routine(path)
        return Source(name=routine.name or path.stem, routine=routine, path=path)
    names = builtin_names()
    if arg in names:
        routine = load_builtin(arg)
        return Source(name=arg, routine=routine)
    raise InputError(
        f"{arg}: no built-in routine of that name and no such file "
        f"(built-ins: {', '.join(names)}; see 'matcue routines')"
    )


def resolve_settings(source: Source, overrides: dict[str, Any]) -> Settings:
    """matcue's defaults, then the routine's, then ``overrides``. For a cue script the
    routine-shaping settings are dropped (checked and reported by the callers), so its
    tags do not claim a pace or length it was not made with."""
    if source.script is not None:
        overrides = {k: v for k, v in overrides.items() if k not in ROUTINE_SETTINGS}
        return merge(None, overrides)
    assert source.routine is not None
    return merge(source.routine.defaults, overrides)


def build_script(source: Source, settings: Settings) -> tuple[cuescript.CueScript, list[str]]:
    """The cue script for ``source`` (fitted to ``settings.minutes`` when
    given) and the list of changes the fitting made."""
    script, changes, _routine = _build_script(source, settings)
    return script, changes


def _build_script(
    source: Source, settings: Settings
) -> tuple[cuescript.CueScript, list[str], Routine | None]:
    """:func:`build_script`, and the routine as rendered (None for a cue script)."""
    if source.script is not None:
        return source.script, [], None
    routine = source.routine
    assert routine is not None
    changes: list[str] = []
    if settings.week is not None:
        routine, changes = routine_at_week(routine, settings.week)
    if settings.minutes is not None:
        routine, fitted = fit_routine(routine, settings, cache=FitCache())
        changes += fitted
    text = render_script_text(routine, settings)
    try:
        script = cuescript.parse_script(
            text, filename=f"<cue script of {source.name}>", limit=False
        )
    except ValidationError as exc:
        raise InputError(
            "the templates produced an invalid cue script:\n" + "\n".join(exc.problems)
        ) from None
    _check_session_length(source, routine, settings, script)
    return script, changes, routine


def _check_session_length(
    source: Source, routine: Routine, settings: Settings, script: cuescript.CueScript
) -> None:
    """The routine file's 4-hour limit, applied to the session the flags made: a
    routine within it at its own defaults can pass it at a longer --breath or --count
    or a slower --pace (or with --templates that repeat more)."""
    seconds = float(script.timed_seconds())
    if seconds <= MAX_SESSION_SECONDS:
        return
    breath = settings.breath if settings.breath is not None else routine.defaults.breath
    count = settings.count if settings.count is not None else routine.defaults.count
    raise InputError(
        f"{source.path or source.name}: at breath {breath:g} s, count {count:g} s and pace "
        f"{float(settings.pace_factor):g} the timed parts add up to about {hours(seconds)}; "
        "the limit for a session is 4 hours (a shorter --breath or --count, or a faster "
        "--pace, brings it under)"
    )


def check_voice(source: Source, settings: Settings, *, engine_required: bool = True) -> None:
    """Refuse a voice the engine does not have, before any speech, naming where it
    was chosen: the routine file's ``defaults.voice`` (file:line) or ``--voice``.

    With ``engine_required`` False (``matcue check``) a voice is only checked when
    its engine can be started here and lists its voices without further input:
    pyttsx3, or espeak-ng where the program is installed; piper's voices live in
    the model file given at render time."""
    if not settings.voice:
        return
    try:
        engine = get_engine(settings.engine, voice=settings.voice)
        voices = engine.voices(settings.voice_model)
    except MatcueError:
        if engine_required:
            raise
        return
    try:
        match_voice(voices, settings.voice, engine.name)
    except EngineUnavailable as exc:
        routine = source.routine
        if routine is not None and routine.defaults.voice == settings.voice:
            raise ValidationError([routine.problem(("defaults", "voice"), str(exc))]) from None
        raise InputError(f"--voice: {exc}") from None


def write_script(script_text: str, path: Path) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(script_text, encoding="utf-8")
