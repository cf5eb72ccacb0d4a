"""The ``matcue`` command: thin click commands over the library.

Commands parse options and call one library function; domain errors become
one clear message and an exit status (2 for bad input or usage, 1 for other
failures), with no traceback unless ``--debug``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import MatcueError, SettingError, SettingText, ValidationError, spelled
from ..limits import (
    BREATH_RANGE,
    COUNT_RANGE,
    MAX_ERROR_LINES,
    MINUTES_RANGE,
    PACE_RANGE,
    RATE_RANGE,
    SAMPLE_RATE_DEFAULT,
    VERBOSITIES,
    VOLUME_RANGE,
    WEEK_RANGE,
    span,
)
from .interrupts import install_interrupt_handlers

log = logging.getLogger("matcue")


class _State:
    debug = False
    own_process = False
    """True when matcue is the program (``matcue``, ``python -m matcue.cli``), not
    code called in someone else's process (tests, the benchmark)."""


class FlagError(click.ClickException):
    """A bad flag value: one line, ``matcue: --flag: what it accepts, got X``, exit 2
    (click's own usage errors print four lines and no range)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"matcue: {self.message}", err=True)


class Number(click.ParamType):
    """A finite number (or whole number) for the setting ``key``. Text that is no
    such number fails with the flag's accepted range (see ``settings.LIMITS``); the
    range itself is checked with every other setting by the settings model
    (``settings.merge``)."""

    def __init__(self, key: str, *, integer: bool = False) -> None:
        self.key = key
        self.integer = integer
        self.name = "integer" if integer else "number"

    def convert(self, value: Any, _param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:
            number: float = int(text) if self.integer else float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise FlagError(_expected(self.key, text))
        return number


def _expected(key: str, value: str) -> str:
    from ..settings import LIMITS, bitrates

    if key in LIMITS:
        return f"{flag(key)}: {LIMITS[key].detail(value)}"
    return f"{flag(key)}: expected one of {bitrates(SAMPLE_RATE_DEFAULT)} (kbit/s), got {value}"


_FLAGS = {"output": "-o"}
"""Settings whose option is not ``--`` and the setting's name with dashes."""


def flag(setting: str) -> str:
    """The option that gives ``setting`` (``bed_volume`` -> ``--bed-volume``): how
    the command line names a setting in the library's messages
    (:class:`~matcue.errors.SettingText`)."""
    return _FLAGS.get(setting) or "--" + setting.replace("_", "-")


def as_flags(text: str | SettingText) -> str:
    """A library message (or note) as the command line says it: settings as flags."""
    return spelled(text, flag)


def message(exc: MatcueError) -> str:
    """The text of ``exc`` as the command line shows it (settings named as flags)."""
    return exc.spelled(flag) if isinstance(exc, SettingError) else str(exc)


verbosity_option = click.option(
    "--verbosity", type=click.Choice(list(VERBOSITIES)), help="How much is said."
)
week_option = click.option(
    "--week",
    type=Number("week", integer=True),
    help=(
        f"Week of the routine's progression ({span(WEEK_RANGE)}; week 1 is the routine "
        "as written). A routine without progression is the same every week."
    ),
)


def session_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by commands that build a session (``render``, ``script``)."""
    options = [
        click.option(
            "--pace",
            help=(
                f"slow, normal, fast, or a factor from {span(PACE_RANGE)} "
                "(scales every timed interval)."
            ),
        ),
        click.option(
            "--breath",
            type=Number("breath"),
            help=(
                f"Seconds per breath cycle ({span(BREATH_RANGE)}) for breath-paced steps "
                "without their own."
            ),
        ),
        click.option(
            "--minutes",
            type=Number("minutes"),
            help=f"Fit the session to about this many minutes ({span(MINUTES_RANGE)}).",
        ),
        week_option,
        verbosity_option,
        click.option(
            "--templates",
            type=click.Path(path_type=Path),
            help="Folder of your own templates (override built-ins by name).",
        ),
        click.option(
            "--count",
            "count",
            type=Number("count"),
            help=f"Seconds per spoken count ({span(COUNT_RANGE)}).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def voice_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--engine",
            help="Speech engine: auto (default: the bundled piper voice where piper runs, "
            "else pyttsx3), pyttsx3 (the system voices), espeak-ng, piper, or another "
            "registered engine ('matcue voices' lists every engine's voices).",
        ),
        click.option("--voice", help="Voice id (see 'matcue voices')."),
        click.option(
            "--rate",
            type=Number("rate", integer=True),
            help=f"Speaking rate, words per minute ({span(RATE_RANGE)}).",
        ),
        click.option(
            "--volume",
            type=Number("volume"),
            help=f"Speech volume, above {VOLUME_RANGE[0]}, at most {VOLUME_RANGE[1]}.",
        ),
        click.option(
            "--voice-model",
            type=click.Path(path_type=Path),
            help="Voice model file for engines that need one (piper).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def quiet_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-q/--quiet`` after the command name as well as before it (``matcue -q render``)."""
    return click.option("-q", "--quiet", is_flag=True, help="Print only errors.")(f)


def _quiet(ctx: click.Context, quiet: bool) -> bool:
    """True when -q was given before or after the command; then only errors are logged."""
    if quiet and not ctx.obj["quiet"]:
        ctx.obj["quiet"] = True
        if not _State.debug:
            root = logging.getLogger()
            ctx.call_on_close(functools.partial(root.setLevel, root.level))  # for tests
            root.setLevel(logging.ERROR)
    return bool(ctx.obj["quiet"])


def _overrides(**kwargs: Any) -> dict[str, Any]:
    out = {k: v for k, v in kwargs.items() if v is not None}
    if "voice_model" in out:
        out["voice_model"] = str(out["voice_model"])
    return out


def error_lines(exc: MatcueError, name: str | None = None) -> list[str]:
    """What the terminal shows for ``exc``: validation problems as they are (each
    starts with its file and line), other messages after ``matcue:``, naming the
    routine ``name`` (in a batch) where the line does not already."""
    if isinstance(exc, ValidationError):
        return bounded(list(exc.problems))
    lines = message(exc).splitlines() or [""]
    if name is None:
        return bounded([f"matcue: {line}" for line in lines])
    return bounded(
        [
            f"matcue: {line}" if line.startswith(f"{name}:") else f"matcue: {name}: {line}"
            for line in lines
        ]
    )


def bounded(lines: list[str], what: str = "problems") -> list[str]:
    """At most :data:`~matcue.limits.MAX_ERROR_LINES` lines, the last saying how many
    more there were: a file with thousands of problems must not flood the terminal
    (the first ones are what to fix first)."""
    if len(lines) <= MAX_ERROR_LINES:
        return lines
    shown = lines[: MAX_ERROR_LINES - 1]
    rest = len(lines) - len(shown)
    return [*shown, f"matcue: ... and {rest} more {what} (the first ones come first to fix)"]


def check_each(names: tuple[str, ...], check_one: Callable[[str], object]) -> None:
    """``matcue check`` and ``matcue programme check``: check every file, say
    "NAME: ok" for each that passes, and raise one :class:`ValidationError` with
    every problem of the others."""
    problems: list[str] = []
    for name in names:
        try:
            check_one(name)
        except ValidationError as exc:
            problems.extend(exc.problems)
        except MatcueError as exc:
            problems.append(message(exc))
        else:
            click.echo(f"{name}: ok")
    if problems:
        raise ValidationError(problems)


def _fail(exc: MatcueError) -> None:
    for line in error_lines(exc):
        click.echo(line, err=True)
    sys.exit(exc.exit_code)


def handle_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except MatcueError as exc:
            if _State.debug:
                raise
            if _caused_by_interrupt(exc):  # e.g. the encoder stopped by the same Ctrl-C
                _interrupted()
            _fail(exc)
        except KeyboardInterrupt:
            _interrupted()
        except Exception as exc:
            if not _caused_by_interrupt(exc):
                raise
            _interrupted()

    return wrapper


class _LowerLevelFormatter(logging.Formatter):
    """``matcue: warning: ...``, like the warnings a render reports itself."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace(f": {record.levelname}: ", f": {record.levelname.lower()}: ", 1)


def _interrupted() -> None:
    click.echo("matcue: interrupted; earlier files were left as they were.", err=True)
    if _State.own_process:
        # Everything is cleaned up by now (the interrupt unwound through every
        # ``finally``). Leave at once rather than finalize an interpreter whose pipe
        # and meter threads were cut off mid-flight: under load that shutdown
        # sometimes ended by SIGINT (exit -2) after the line above was printed.
        helpers = sys.modules.get("matcue.speech.helpers")
        if helpers is not None:  # os._exit skips atexit: stop speech helpers, remove
            helpers.close_all()  # their scratch folder (else matcue-tts-* are left)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(130)


def _caused_by_interrupt(exc: BaseException) -> bool:
    """True when a KeyboardInterrupt lies behind ``exc``: Python turns one that lands
    inside some of its own machinery into another error (a Ctrl-C during a lazy
    import that defines a dataclass comes out as RuntimeError from __set_name__)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.version_option(package_name="matcue")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """matcue: voice-guided, breath-paced audio sessions from routines.

    \b
    Quick start:
      matcue routines              list the built-in routines
      matcue render thaw           write audio_out/thaw.mp3 and thaw.vtt
      matcue script thaw           print the cue script to read or edit
      matcue render my.cue         render an edited cue script as it stands
    """
    _State.debug = debug
    # Ctrl-C and a kill both unwind (temporary files removed); a second one is ignored.
    restore = install_interrupt_handlers()
    if restore is not None:
        ctx.call_on_close(restore)  # in-process callers (tests) get their handlers back
    level = logging.DEBUG if debug else (logging.ERROR if quiet else logging.WARNING)
    handler = logging.StreamHandler()
    handler.setFormatter(_LowerLevelFormatter("matcue: %(levelname)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    logging.captureWarnings(True)
    ctx.obj = {"quiet": quiet}


def run() -> None:
    """The ``matcue`` program (the console script and ``python -m matcue.cli``)."""
    _State.own_process = True
    main()
