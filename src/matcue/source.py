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
from .errors import (
    EngineUnavailable,
    InputError,
    MatcueError,
    SettingError,
    SettingText,
    ValidationError,
)
from .fit import FitCache, fit_routine
from .limits import (
    MAX_CHAPTERS,
    MAX_CUE_SCRIPT_BYTES,
    MAX_DISTINCT_SPEECH_SECONDS,
    MAX_PHRASES,
    MAX_ROUTINE_BYTES,
    MAX_SESSION_SECONDS,
    SPEECH_WPM,
)
from .reading import STDIN, display_name, is_stream, read_input
from .routine import Routine, builtin_names, load_builtin, parse_routine
from .routine.progression import routine_at_week
from .routine.text import hours
from .settings import Settings, merge
from .speech import get_engine, match_voice
from .templating import render_script_text
from .yamlsafe import decode_bytes

CUE_SUFFIXES = (".cue", ".txt")


@dataclass
class Source:
    """What the user asked to render: a routine, or a cue script as it stands."""

    name: str
    routine: Routine | None = None
    script: cuescript.CueScript | None = None
    path: Path | None = None


def _decode_cue_script(data: bytes, name: str) -> str:
    if len(data) > MAX_CUE_SCRIPT_BYTES:
        raise ValidationError(
            [
                f"{name}:1: -: larger than {MAX_CUE_SCRIPT_BYTES // (1024 * 1024)} MiB, "
                "the limit for a cue script"
            ]
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError([f"{name}:{line}: -: not UTF-8 text (byte {exc.start})"]) from None


_READ_LIMIT = max(MAX_CUE_SCRIPT_BYTES, MAX_ROUTINE_BYTES)


def _starts_like_cue_script(arg: str) -> bool:
    """True for a file whose first bytes are the cue-script header (any name). A
    stream (standard input, a FIFO) is read whole, and kept for the render."""
    header = cuescript.HEADER.encode()
    try:
        if is_stream(arg):
            return read_input(arg, limit=_READ_LIMIT).startswith(header)
        with open(arg, "rb") as f:
            return f.read(len(header)) == header
    except (OSError, InputError):
        return False


ROUTINE_SETTINGS = ("pace", "breath", "count", "minutes", "verbosity", "templates", "week")
"""Settings that shape the cue script a routine's templates write. A cue script is
rendered as it stands, so none of them can apply to it (the CLI says so, by flag)."""


def is_cue_script(arg: str) -> bool:
    """True when ``arg`` names a cue script (by its suffix or its first line)."""
    return Path(arg).suffix.lower() in CUE_SUFFIXES or _starts_like_cue_script(arg)


def load_source(arg: str) -> Source:
    """A built-in routine name, a routine file, a cue script file, or ``-``: a routine
    or cue script on standard input. Every file is read once, bounded in size and in
    waiting (:func:`matcue.reading.read_input`)."""
    path = Path(arg)
    if arg == STDIN or path.exists() or path.suffix.lower() in CUE_SUFFIXES:
        name = display_name(arg)
        data = read_input(arg, limit=_READ_LIMIT)
        stdin = arg == STDIN
        if path.suffix.lower() in CUE_SUFFIXES or data.startswith(cuescript.HEADER.encode()):
            text = _decode_cue_script(data, name)
            script = cuescript.parse_script(text, filename=name)
            _check_phrases(script, name, None, text)
            _check_content(script, name, None, text)
            _check_spoken_length(script, name, None)
            stem = (script.meta.get("routine") or "stdin") if stdin else path.stem
            return Source(name=stem, script=script, path=None if stdin else path)
        routine = parse_routine(decode_bytes(data, filename=name), filename=name)
        return Source(name=routine.name or path.stem, routine=routine, path=None if stdin else path)
    if path.suffix.lower() in (".yaml", ".yml") or "/" in arg:
        raise InputError(f"{arg}: no such file")
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


def unspoken_notes(
    source: Source, settings: Settings, script: cuescript.CueScript | None = None
) -> list[str]:
    """The routine's own texts the session leaves unsaid, each ``FILE:LINE: FIELD:
    not spoken...`` with the reason (:mod:`matcue.unspoken`); none for a cue script.
    ``script``: the cue script :func:`build_script` made for ``source`` under
    ``settings``, taken as it is unless ``--minutes`` changed the routine (the notes
    name the file's own steps), so the templates are not rendered again."""
    from .unspoken import unspoken_notes as notes

    routine = source.routine
    if routine is None:
        return []
    if settings.week is not None:
        routine, _changes = routine_at_week(routine, settings.week)
    return notes(routine, settings, script if settings.minutes is None else None)


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
    or a slower --pace (or with --templates that repeat more). Speech counts too, and
    the number of different lines to synthesize is bounded."""
    name = str(source.path or source.name)
    _check_phrases(script, name, routine)
    _check_content(script, f"<cue script of {source.name}>", routine)
    seconds = float(script.timed_seconds())
    if seconds <= MAX_SESSION_SECONDS:
        _check_spoken_length(script, name, settings.rate)
        return
    raise SettingError(
        SettingText(
            "{name}: at breath {b:g} s, count {c:g} s and pace {p:g} the timed parts add up "
            "to about {length}; the limit for a session is 4 hours (a shorter {breath} or "
            "{count}, or a faster {pace}, brings it under)",
            name=name,
            b=settings.breath,
            c=settings.count,
            p=float(settings.pace_factor),
            length=hours(seconds),
        )
    )


def spoken_seconds(script: cuescript.CueScript, rate: int | None = None) -> float:
    """The flowing speech of ``script`` timed by its word count (at ``rate`` words per
    minute, else :data:`~matcue.limits.SPEECH_WPM`); anchored lines take no time of
    their own (their block does)."""
    words = sum(len(item.text.split()) for item in script.items if isinstance(item, cuescript.Say))
    return words * 60 / (rate or SPEECH_WPM)


def _check_spoken_length(script: cuescript.CueScript, name: str, rate: int | None) -> None:
    """A short file of unpaused lines must not make a many-hour session."""
    timed = float(script.timed_seconds())
    spoken = spoken_seconds(script, rate)
    if timed + spoken > MAX_SESSION_SECONDS:
        raise InputError(
            f"{name}: the spoken lines (about {hours(spoken)}) and the timed parts "
            f"({hours(timed)}) add up to more than 4 hours, the limit for a session"
        )


def _too_long(script: cuescript.CueScript) -> bool:
    """Longer than a session may be: the session-length check reports it."""
    return float(script.timed_seconds()) + spoken_seconds(script) > MAX_SESSION_SECONDS


def _check_phrases(
    script: cuescript.CueScript, name: str, routine: Routine | None, text: str = ""
) -> None:
    """At most :data:`~matcue.limits.MAX_PHRASES` different lines to synthesize, and
    at most :data:`~matcue.limits.MAX_DISTINCT_SPEECH_SECONDS` of them by word count
    (every distinct clip is held while the session is mixed), the message naming what
    says the most of them: the step of a routine, or the line of a cue script
    (``text``) where the limit is passed."""
    phrases = script.phrases()
    per_second = SPEECH_WPM / 60
    said = [len(p.split()) / per_second for p in phrases]
    if len(phrases) > MAX_PHRASES:
        limit = f"a session may have at most {MAX_PHRASES} different spoken lines"
        over = f"{len(phrases)} different spoken lines"
        first = MAX_PHRASES
    elif sum(said) > MAX_DISTINCT_SPEECH_SECONDS and not _too_long(script):
        limit = (
            f"a session's different lines may take at most "
            f"{MAX_DISTINCT_SPEECH_SECONDS / 60:.0f} min to say (each is held in memory "
            "while the session is mixed)"
        )
        over = f"different lines that take about {sum(said) / 60:.0f} min to say"
        total = 0.0
        first = next(
            i for i, s in enumerate(said) if (total := total + s) > MAX_DISTINCT_SPEECH_SECONDS
        )
    else:
        return
    if routine is None:
        line = _line_of(text, phrases[first])
        raise ValidationError([f"{name}:{line}: -: {over}; {limit}"])
    per_step: dict[str, int] = {}
    seen: set[str] = set()
    step = ""
    for item in script.items:
        if isinstance(item, cuescript.StepMark):
            step = item.name
        texts = [item.text] if isinstance(item, cuescript.Say) else []
        if isinstance(item, cuescript.Block):
            texts = [line.text for line in item.lines if line.text]
        for text in texts:
            if text not in seen:
                seen.add(text)
                per_step[step] = per_step.get(step, 0) + len(text.split())
    worst = max(per_step, key=lambda k: per_step[k])
    index = next((i for i, st in enumerate(routine.steps) if st.display_name == worst), None)
    field: tuple[str | int, ...] = ("steps", index) if index is not None else ("intro",)
    raise ValidationError(
        [routine.problem(field, f"this part says the most of the session's {over}; {limit}")]
    )


def _check_content(
    script: cuescript.CueScript, name: str, routine: Routine | None, text: str = ""
) -> None:
    """What a render cannot make, found at ``check`` time: a line the engine would
    speak as silence (no letter or digit), more chapters than ID3 can count, a
    session with nothing in it."""
    problems: list[str] = []
    for phrase in script.phrases():
        if not any(ch.isalnum() for ch in phrase):
            message = (
                f"{phrase!r} has no letter or digit to speak; the engine would say nothing "
                "(write it in words, or use @pause)"
            )
            field = _field_saying(routine, phrase) if routine is not None else None
            if routine is not None and field is not None:
                problems.append(routine.problem(field, message))
            else:
                problems.append(f"{name}:{_line_of(text, phrase)}: -: {message}")
    marks = [item for item in script.items if isinstance(item, cuescript.StepMark)]
    if len(marks) > MAX_CHAPTERS:
        where = _line_of(text, f"@step {marks[MAX_CHAPTERS].name}") if text else 1
        problems.append(
            f"{name}:{where}: @step: {len(marks)} steps; an MP3's chapter list holds at most "
            f"{MAX_CHAPTERS}"
        )
    if not script.phrases() and not script.timed_seconds():
        problems.append(f"{name}:1: -: the cue script has nothing to say and no timed parts")
    if problems:
        raise ValidationError(problems)


def _field_saying(routine: Routine, phrase: str) -> tuple[str | int, ...] | None:
    """The routine field whose text is ``phrase`` (the first found), for its line."""
    stack: list[tuple[tuple[str | int, ...], object]] = [((), routine.file_data)]
    while stack:
        path, value = stack.pop(0)
        if isinstance(value, str) and value.strip() and value.strip() in phrase:
            return path
        if isinstance(value, dict):
            stack.extend(((*path, str(k)), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
    return None


def _line_of(text: str, phrase: str) -> int:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if phrase in line:
            return lineno
    return 1


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
        raise SettingError.of("voice", str(exc)) from None


def input_files(source: Source) -> list[tuple[Path, str]]:
    """The file ``source`` was read from, as ``(path, what)`` (none for a built-in):
    no output may replace it (:func:`matcue.atomic.refuse_input`)."""
    if source.path is None:
        return []
    return [(source.path, "the routine" if source.script is None else "the cue script")]


def write_script(script_text: str, path: Path, source: Source | None = None) -> None:
    """Write a cue script to ``path``, never over the file it was made from."""
    inputs = input_files(source) if source is not None else []
    with atomic_output(path, inputs=inputs) as tmp:
        tmp.write_text(script_text, encoding="utf-8")
