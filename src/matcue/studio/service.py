"""Every call the studio makes into the matcue library, in one place.

The studio is a second face on the library, not a second implementation: it
loads, checks and renders routines with the same functions the ``matcue``
commands call (``load_source``/``resolve_settings``/``build_script``/
``check_voice`` from the pipeline, ``render_one`` from the batch module that
``matcue render`` goes through, the starter of ``matcue new``). Keeping them
all here means a change in the library touches this one module.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError, MatcueError, SettingError, ValidationError, spelled

ROUTINE_MAX_BYTES = 1024 * 1024
"""The routine file limit of the library (``yamlsafe.MAX_BYTES``)."""
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
"""A routine name the studio accepts in a URL or a form: also a safe file name."""
_PROBLEM_RE = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<field>[^:]+): (?P<message>.*)$", re.S)

SETTING_KEYS = (
    "pace",
    "breath",
    "minutes",
    "verbosity",
    "voice",
    "rate",
    "chime",
    "breath_tone",
    "bed",
    "bed_volume",
    "format",
)
"""The settings the studio offers, by their library name (the flags of ``matcue render``)."""
_NUMBERS = {"breath": float, "minutes": float, "rate": int, "bed_volume": float}
BED_CHOICES = ("pink", "brown")


@dataclass
class Problem:
    """One problem of a routine: the library's ``file:line: field: message``, split."""

    text: str
    line: int | None = None
    field: str = "-"
    message: str = ""


@dataclass
class RoutineInfo:
    name: str
    title: str
    summary: str
    seconds: float | None
    problems: list[Problem] = field(default_factory=list)


def split_problem(text: str) -> Problem:
    m = _PROBLEM_RE.match(text)
    if not m:
        return Problem(text=text, message=text)
    return Problem(text=text, line=int(m["line"]), field=m["field"], message=m["message"])


def spell(setting: str) -> str:
    """How the studio names a setting in a message: as the flag of ``matcue
    render`` that gives it (``bed_volume`` -> ``--bed-volume``). The form's fields
    post the same settings, and the studio shows the messages the command line
    prints, so one text serves a user of both; naming the form's own labels
    instead would be this function."""
    return "--" + setting.replace("_", "-")


def _text(exc: MatcueError) -> str:
    return exc.spelled(spell) if isinstance(exc, SettingError) else str(exc)


def problems_of(exc: MatcueError) -> list[Problem]:
    """The problems a library error reports, each as the CLI prints it."""
    if isinstance(exc, ValidationError):
        return [split_problem(p) for p in exc.problems]
    return [Problem(text=f"matcue: {line}", message=line) for line in _text(exc).splitlines()]


def one_line(exc: MatcueError) -> str:
    """The message ``matcue render`` prints for ``exc`` (see cli.app._fail)."""
    if isinstance(exc, ValidationError):
        return "\n".join(exc.problems)
    return "\n".join(f"matcue: {line}" for line in _text(exc).splitlines())


# ---------------------------------------------------------------- routines


def builtin_names() -> list[str]:
    from ..routine import builtin_names as names

    return names()


def builtin_text(name: str) -> str:
    if name not in builtin_names():
        raise InputError(f"{name}: no built-in routine of that name")
    return (resources.files("matcue.library") / f"{name}.yaml").read_text(encoding="utf-8")


def load(arg: str) -> Any:
    """``pipeline.load_source``: a built-in name or a routine file path."""
    from ..pipeline import load_source

    return load_source(arg)


def estimate_seconds(source: Any, overrides: dict[str, Any] | None = None) -> float:
    """The session length ``matcue routines`` shows, at the given settings."""
    from ..estimate import estimate_seconds as estimate
    from ..pipeline import build_script, resolve_settings

    settings = resolve_settings(source, overrides or {})
    script, _ = build_script(source, settings)
    return estimate(script, settings.rate)


def info(arg: str, name: str) -> RoutineInfo:
    """Title, summary and length of a built-in or a workspace routine file."""
    try:
        source = load(arg)
        routine = source.routine
        return RoutineInfo(
            name=name,
            title=routine.title or name,
            summary=routine.summary or "",
            seconds=estimate_seconds(source),
        )
    except MatcueError as exc:
        return RoutineInfo(
            name=name, title=name, summary="", seconds=None, problems=problems_of(exc)
        )


def starter(name: str) -> str:
    """The commented starter routine of ``matcue new``."""
    from ..starter import starter_routine

    return starter_routine(name)


def check_text(text: str, filename: str, overrides: dict[str, Any] | None = None) -> list[Problem]:
    """The problems ``matcue check`` reports for a routine file with ``text``: the
    same steps (load, settings, cue script, voice), on text not yet saved."""
    from ..pipeline import Source, build_script, check_voice, resolve_settings
    from ..routine import parse_routine

    if len(text.encode("utf-8")) > ROUTINE_MAX_BYTES:
        return [
            Problem(
                text=f"{filename}:1: -: larger than {ROUTINE_MAX_BYTES // 1024} KiB",
                line=1,
                message=f"larger than {ROUTINE_MAX_BYTES // 1024} KiB",
            )
        ]
    try:
        routine = parse_routine(text, filename=filename)
        source = Source(name=routine.name, routine=routine, path=Path(filename))
        settings = resolve_settings(source, overrides or {})
        build_script(source, settings)
        check_voice(source, settings, engine_required=False)
    except MatcueError as exc:
        return problems_of(exc)
    return []


def save_text(path: Path, text: str) -> Path | None:
    """Write ``text`` to ``path`` atomically, keeping the previous version as
    ``NAME.yaml.bak`` (one backup). Returns the backup's path, if any."""
    from ..atomic import atomic_output

    backup = None
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        with atomic_output(backup) as tmp:
            shutil.copyfile(path, tmp)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    return backup


# ---------------------------------------------------------------- shape


@dataclass
class Bar:
    start: float
    end: float
    label: str
    kind: str


@dataclass
class Shape:
    seconds: float
    steps: list[Bar]
    phases: list[Bar]


def shape(source: Any, overrides: dict[str, Any] | None = None) -> Shape:
    """The session's steps and breath phases along time, from the same schedule the
    length estimate of ``matcue routines`` uses (speech estimated from word counts)."""
    from ..estimate import estimated_timeline
    from ..pipeline import build_script, resolve_settings

    settings = resolve_settings(source, overrides or {})
    script, _ = build_script(source, settings)
    tl = estimated_timeline(script, settings.rate)
    sr = tl.sample_rate
    steps = [Bar(c.start / sr, c.end / sr, c.title, "step") for c in tl.chapters]
    phases = [
        Bar(e.start / sr, e.end / sr, e.phase or "", e.phase or "")
        for e in tl.events
        if e.kind == "phase" and e.phase
    ]
    return Shape(seconds=tl.duration, steps=steps, phases=phases)


# ---------------------------------------------------------------- settings


def default_settings(source: Any) -> dict[str, Any]:
    """matcue's defaults merged with the routine's: what a render uses when the
    user changes nothing."""
    from ..pipeline import resolve_settings

    s = resolve_settings(source, {})
    return {
        "pace": s.pace_text,
        "breath": s.breath,
        "minutes": s.minutes,
        "verbosity": s.verbosity.value,
        "voice": s.voice,
        "rate": s.rate,
        "chime": s.chime,
        "breath_tone": s.breath_tone,
        "bed": s.bed,
        "bed_volume": s.bed_volume,
        "format": s.format,
    }


def parse_overrides(form: dict[str, str], bed_dir: Path | None = None) -> dict[str, Any]:
    """Settings from a form (empty = not given), checked as ``matcue render`` checks
    its flags. A bed other than pink/brown names a file in ``bed_dir``."""
    from ..settings import LIMITS, merge

    out: dict[str, Any] = {}
    for key in SETTING_KEYS:
        raw = (form.get(key) or "").strip()
        if raw == "":
            continue
        if key in ("chime", "breath_tone"):
            if raw not in ("on", "off"):
                raise SettingError.of(key, f"expected on or off, got {raw!r}")
            out[key] = raw == "on"
        elif key in _NUMBERS:
            try:
                out[key] = _NUMBERS[key](raw)
            except ValueError:
                detail = LIMITS[key].detail(raw) if key in LIMITS else "not a number"
                raise SettingError.of(key, detail) from None
        elif key == "bed":
            if raw == "none":
                continue
            if raw not in BED_CHOICES:
                if bed_dir is None or not NAME_FILE_RE.fullmatch(raw):
                    raise SettingError.of(
                        "bed", f"expected pink, brown or an uploaded file, got {raw!r}"
                    )
                path = bed_dir / raw
                if not path.is_file() or path.is_symlink():
                    raise SettingError.of("bed", f"no uploaded bed named {raw!r}")
                raw = str(path)
            out[key] = raw
        else:
            out[key] = raw
    merge(None, out)  # the checks of settings.merge, with the setting's message
    return out


NAME_FILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""An uploaded file's name as kept in the workspace (no folders, no leading dot)."""


# ---------------------------------------------------------------- voices


def voices(engine: str = "pyttsx3") -> list[tuple[str, str]]:
    """(id, name) of the engine's voices, as ``matcue voices`` lists them."""
    from ..speech import SpeechSettings, list_voices

    try:
        return [(v.id, v.name) for v in list_voices(engine, SpeechSettings(engine=engine))]
    except MatcueError:
        return []


def voice_sample(voice: str | None, rate: int | None, text: str) -> bytes:
    """A WAV of ``text`` spoken with ``voice`` through the render's synthesizer."""
    import numpy as np
    import soundfile as sf

    from ..pipeline import speech_settings
    from ..settings import merge
    from ..speech.synth import Synthesizer

    settings = merge(None, {"voice": voice, "rate": rate})
    with Synthesizer(
        speech_settings(settings), sample_rate=settings.sample_rate, cache=None, workers=0
    ) as synth:
        clip = np.asarray(synth.get(text), dtype=np.float32)
    buf = io.BytesIO()
    sf.write(buf, clip, settings.sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# ---------------------------------------------------------------- render


class Cancelled(Exception):
    """Raised from the progress callback to stop a render (it unwinds like Ctrl-C:
    the staged outputs are removed, nothing half-written stays)."""


@dataclass
class Rendered:
    output: Path
    title: str
    duration: float
    chapters: list[dict[str, Any]]
    warnings: list[str]
    changes: list[str]
    transcript: Path | None
    timeline_json: Path | None


def render(
    arg: str,
    overrides: dict[str, Any],
    output: Path,
    timeline_path: Path,
    progress: Callable[[str, float], None],
) -> Rendered:
    """Render as ``matcue render ARG -o OUTPUT --timeline TIMELINE`` does (the same
    ``batch.render_one``), with ``progress(stage, fraction)`` reporting as it goes."""
    from ..batch import render_one

    result = render_one(arg, overrides, output, timeline_path, True, progress, spell=spell)
    sr = result.timeline.sample_rate
    return Rendered(
        output=result.output,
        title=result.timeline.meta.get("title", ""),
        duration=result.duration,
        chapters=[
            {"title": c.title, "start": c.start / sr, "end": c.end / sr}
            for c in result.timeline.chapters
        ],
        warnings=list(result.warnings),
        changes=[spelled(c, spell) for c in result.changes],
        transcript=result.transcript,
        timeline_json=result.timeline_json,
    )
