"""Loading a programme file: YAML -> :class:`Programme`, every problem located
(``FILE:LINE: FIELD: message``, as for routines), the routines it names loaded
and its settings checked; the built-in programmes."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from matcue.errors import InputError, MatcueError, SettingError, ValidationError
from matcue.routine import Routine, builtin_names, load_builtin, parse_routine
from matcue.routine.loader import validate_document
from matcue.routine.text import did_you_mean, show
from matcue.settings import merge
from matcue.yamlsafe import (
    MAX_BYTES,
    LoadedYaml,
    decode_bytes,
    problem,
    read_text_file,
)

from .model import Programme, slot_problems


@dataclass(frozen=True)
class RoutineRef:
    """A routine a programme names, loaded."""

    arg: str
    """What ``matcue render`` takes: a built-in name or the file's path."""
    routine: Routine
    text: str
    """The routine file's text (a session's input hash covers it)."""


@dataclass
class LoadedProgramme:
    """A valid programme, where it came from, and the routines it names."""

    programme: Programme
    filename: str
    folder: Path | None
    """The folder routine paths are relative to (None for a built-in programme)."""
    routines: dict[str, RoutineRef] = field(default_factory=dict)
    """By the ``routine:`` value as written."""


def load_programme(path: Path | str) -> LoadedProgramme:
    """Read, validate and resolve a programme file (or a built-in programme by name).

    Raises :class:`InputError` for a missing file and :class:`ValidationError`
    listing every problem otherwise: the programme's own, those of the routine
    files it names, and settings a session cannot use."""
    arg = str(path)
    if not Path(arg).exists() and arg in builtin_programme_names():
        return load_builtin_programme(arg)
    p = Path(path)
    if not p.exists() and "/" not in arg and not arg.endswith((".yaml", ".yml")):
        names = builtin_programme_names()
        raise InputError(
            f"{arg}: no such file and no built-in programme of that name "
            f"(built-ins: {', '.join(names)})" + did_you_mean(arg, names)
        )
    text = read_text_file(p)
    return parse_programme(text, filename=str(p), folder=p.parent)


def parse_programme(text: str, *, filename: str, folder: Path | None) -> LoadedProgramme:
    """Validate programme YAML ``text``; routine paths are relative to ``folder``."""
    programme, loaded = validate_document(
        text,
        filename=filename,
        model=Programme,
        fields="title:, weeks:, days:, ...",
        default="programme",
    )
    result = LoadedProgramme(programme, filename, folder)
    _resolve(result, loaded)
    return result


def _resolve(result: LoadedProgramme, loaded: LoadedYaml) -> None:
    """Load every routine the programme names and check each session's settings
    against it; all problems together."""
    own: list[tuple[int, str]] = []
    problems: list[str] = []  # those of the routine files, in their own names
    prog = result.programme

    def add(path: tuple[str | int, ...], message: str) -> None:
        line = loaded.line_of(path)
        own.append((line, problem(result.filename, line, path, message)))

    for path, message in slot_problems(prog):
        add(path, message)
    for d, day in enumerate(prog.days):
        for s, session in enumerate(day.sessions):
            at = ("days", d, "sessions", s)
            ref = result.routines.get(session.routine)
            if ref is None:
                try:
                    ref = _load_routine(session.routine, result.folder)
                except ValidationError as exc:
                    problems.extend(p for p in exc.problems if p not in problems)
                    continue
                except MatcueError as exc:
                    add((*at, "routine"), str(exc))
                    continue
                result.routines[session.routine] = ref
            overrides = {**prog.settings.overrides(), **session.settings.overrides()}
            try:
                merge(ref.routine.defaults, overrides)
            except SettingError as exc:
                key = exc.setting
                where = "settings" if key in session.settings.model_fields_set else None
                path = (*at, "settings", key) if where else ("settings", key)
                add(path, exc.detail)
    if own or problems:
        raise ValidationError([text for _, text in sorted(own)] + problems)


def _load_routine(arg: str, folder: Path | None) -> RoutineRef:
    """A built-in routine by name, or a routine file relative to ``folder``."""
    looks_like_file = "/" in arg or "\\" in arg or arg.lower().endswith((".yaml", ".yml"))
    if not looks_like_file:
        names = builtin_names()
        if arg in names:
            routine = load_builtin(arg)
            data = resources.files("matcue.library").joinpath(f"{arg}.yaml").read_bytes()
            return RoutineRef(arg, routine, data.decode("utf-8"))
        raise InputError(
            f"no built-in routine named {show(arg)}; the built-ins are: {', '.join(names)}"
            + did_you_mean(arg, names)
            + " (a routine file is a path ending in .yaml)"
        )
    if folder is None:
        raise InputError("a built-in programme names built-in routines only")
    path = folder / arg
    text = read_text_file(path, display=str(path))
    return RoutineRef(str(path), parse_routine(text, filename=str(path)), text)


def _library() -> resources.abc.Traversable:  # type: ignore[name-defined]
    return resources.files("matcue.programme").joinpath("plans")


def builtin_programme_names() -> list[str]:
    """Names of the built-in programmes (``programme/plans/<name>.yaml``), sorted."""
    return sorted(
        p.name[: -len(".yaml")]
        for p in _library().iterdir()
        if p.name.endswith(".yaml") and p.is_file()
    )


def load_builtin_programme(name: str) -> LoadedProgramme:
    """The built-in programme ``name``."""
    if name not in builtin_programme_names():
        raise InputError(f"no built-in programme named {show(name)}")
    filename = f"programmes/{name}.yaml"
    data = _library().joinpath(f"{name}.yaml").read_bytes()[: MAX_BYTES + 1]
    return parse_programme(decode_bytes(data, filename=filename), filename=filename, folder=None)
