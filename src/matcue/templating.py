"""Routine + Settings -> cue-script text, through Jinja templates.

Python works out *when* (every anchored interval, exactly, with the pace
applied); the templates decide *what is said* (wording and verbosity). One
function builds the environment: the user's template folder first, then the
packaged ``scripts_templates``; ``builtin/NAME`` always reaches the packaged
template, so a user template can extend a built-in one.

Every template runs in Jinja's sandbox. Routine text reaches templates only
as data: it is never compiled as template code, and the ``finalize`` hook
escapes every printed value for the cue-script syntax, so text such as
``{{ x }}`` or ``@pause 9`` in a routine is spoken literally. The one
exception is cue-script text a template wrote itself: what ``super()``,
``self.BLOCK()``, a macro, ``caller()`` or a recursive ``loop()`` returns is
:class:`TemplateOutput` and is printed as it is (its own printed values were
escaped when it was rendered). ``{% include %}`` output is never finalized.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from . import phrases
from .cuescript import _format_attrs, escape_text, format_seconds
from .errors import InputError, SettingError
from .estimate import speech_seconds
from .routine import Routine
from .routine.placeholders import fill
from .routine.step_base import Plan
from .settings import Settings
from .spoken import spoken_numbers
from .template_guard import ConfinedLoader, GuardedSandbox, TemplateLimit, render_guarded
from .timing import Seconds, Timing

log = logging.getLogger(__name__)

SESSION_TEMPLATE = "session.cue.j2"


class TemplateOutput(str):
    """Cue-script text rendered by a template (a block, macro, caller or
    recursive loop), as opposed to a value: printed without escaping. Any
    operation on it (joining, a filter) gives a plain string, which is escaped
    again, so user text never slips through by being joined to markup."""

    __slots__ = ()


# Calling one of these runs template code and returns its rendered output.
_TEMPLATE_CALLABLES = (
    jinja2.runtime.Macro,
    jinja2.runtime.BlockReference,
    jinja2.runtime.LoopContext,
)


class _CueEnvironment(GuardedSandbox):
    """The sandbox, with the output of template code marked as such."""

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        rv = super().call(__context, __obj, *args, **kwargs)
        if isinstance(__obj, _TEMPLATE_CALLABLES) and type(rv) is str:
            return TemplateOutput(rv)
        return rv


def _finalize(value: Any) -> Any:
    if isinstance(value, TemplateOutput):
        return value
    if isinstance(value, str) and not isinstance(value, jinja2.runtime.Undefined):
        return escape_text(value)
    if isinstance(value, Fraction):
        return format_seconds(value)
    return value


@jinja2.pass_context
def _sentence(context: Context, text: str) -> str:
    """Routine text as one spoken sentence: numbers written as words in the
    routine's language (:func:`matcue.spoken.spoken_numbers`), a full stop added
    when it has no end mark."""
    text = spoken_numbers(str(text).strip(), str(context.get("language", phrases.REFERENCE)))
    return text if not text or text[-1] in ".!?…:" else text + "."


def _catalogue(context: Context) -> phrases.Catalogue:
    return phrases.catalogue(str(context.get("language", phrases.REFERENCE)))


@jinja2.pass_context
def _number_word(context: Context, n: int) -> str:
    """``n`` as a word in the routine's language."""
    return _catalogue(context).word(n)


@jinja2.pass_context
def _say(context: Context, key: str, turn: int = 0, **params: Any) -> str:
    """A phrase of the routine's language (:meth:`matcue.phrases.Catalogue.say`)."""
    try:
        return _catalogue(context).say(key, turn, **params)
    except KeyError as exc:
        raise LookupError(exc.args[0]) from None


@jinja2.pass_context
def _fits(context: Context, text: str, seconds: Fraction | int) -> bool:
    """True when ``text``, said at the session's rate, fits in ``seconds`` by the
    one word-count estimate (:func:`matcue.estimate.speech_seconds`)."""
    # A number only: a string such as "1e99999999" would make Fraction build the number.
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float, Fraction)):
        raise TypeError(f"fits(text, seconds): seconds must be a number, got {seconds!r:.40}")
    if isinstance(seconds, float) and not math.isfinite(seconds):
        return seconds > 0  # inf: anything fits; nan: nothing does
    rate = context.get("rate")
    return speech_seconds(str(text), rate if isinstance(rate, int) else None) <= Fraction(seconds)


def _attrs(mapping: Mapping[str, Any]) -> str:
    return _format_attrs({k: str(v) for k, v in mapping.items() if v is not None})


def _packaged_dir() -> Path:
    return Path(str(resources.files("matcue.scripts_templates")))


def template_dirs(user_dir: Path | None = None) -> list[Path]:
    """The folders templates come from, the user's (if any) first."""
    return ([Path(user_dir)] if user_dir is not None else []) + [_packaged_dir()]


def build_environment(user_dir: Path | None = None) -> SandboxedEnvironment:
    """The sandboxed Jinja environment: user templates over built-in ones."""
    if user_dir is not None and not user_dir.is_dir():
        raise SettingError.of("templates", f"{user_dir}: not a folder")
    return _environment(str(user_dir) if user_dir is not None else None)


@functools.lru_cache(maxsize=8)
def _environment(user_dir_name: str | None) -> SandboxedEnvironment:
    # One environment per template folder: Jinja then compiles each template
    # once per process (and checks its file's mtime), not once per render.
    user_dir = Path(user_dir_name) if user_dir_name is not None else None
    # Each loader reads only inside its own folder, with a size limit (template_guard).
    builtin = ConfinedLoader(_packaged_dir())
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        loaders.append(ConfinedLoader(user_dir))
    loaders.append(jinja2.PrefixLoader({"builtin": builtin}))
    loaders.append(builtin)
    env = _CueEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        autoescape=False,
    )
    env.filters["sentence"] = _sentence
    env.filters["word"] = _number_word
    env.filters["attrs"] = _attrs
    env.globals["say"] = _say
    env.globals["fits"] = _fits
    return env


# ---------------------------------------------------------------- plan


def _lines(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def breath_cycles(steps: list[Plan]) -> str | None:
    """The breath cycles the session paces, in seconds as heard (pace applied), e.g.
    ``"12, 15"``: a step's own cycle where it fixes one, else ``--breath`` or the
    routine's. None when no step is paced by the breath (then ``--breath`` did nothing)."""
    cycles = sorted({Fraction(p["cycle"]) for p in steps if p.get("cycle") is not None})
    return ", ".join(format_seconds(c) for c in cycles) or None


def _own_words(plan: Plan, catalogue: phrases.Catalogue) -> Plan:
    """Short words a step left out (null), and the chapter title of a step left
    unnamed, filled in from the language's catalogue."""
    words = plan.get("words")
    if isinstance(words, dict):
        plan["words"] = {k: v or catalogue.say(f"word.{k}") for k, v in words.items()}
    for ph in plan.get("phases", ()):
        ph["word"] = ph["word"] or catalogue.say(f"word.{ph['phase']}")
    if plan["unnamed"]:
        # An unnamed say or transition step: its chapter title, in the routine's language.
        plan["name"] = catalogue.say(f"chapter.{plan['kind']}")
    for one in (plan["by_side"] or {}).values():
        _own_words(one, catalogue)
    return plan


def build_context(routine: Routine, settings: Settings) -> dict[str, Any]:
    """The template context: routine facts, settings, and one plan per step (each
    step kind makes its own: :meth:`matcue.routine.step_base.StepBase.plan`)."""
    timing = Timing.of(settings, routine.defaults)
    catalogue = phrases.catalogue(routine.language)
    steps = [
        _own_words(step.plan(i, timing, catalogue.word, catalogue.side), catalogue)
        for i, step in enumerate(routine.steps)
    ]
    # The routine's own lines may say the session's breath cycle too.
    session = {"cycle": timing.cycle}

    def said(text: str | None) -> str | None:
        return None if text is None else fill(text, session, catalogue.word)

    meta = {
        "routine": routine.name or "routine",
        "pace": format_seconds(settings.pace_factor),
        "breath": breath_cycles(steps),
        "verbosity": settings.verbosity.value,
    }
    return {
        "routine": {
            "name": meta["routine"],
            "title": routine.title,
            "summary": routine.summary or "",
            "safety": said(routine.safety),
            "intro": [said(x) for x in _lines(routine.intro)],
            "outro": [said(x) for x in _lines(routine.outro)],
        },
        "steps": steps,
        "language": routine.language,
        "meta": meta,
        "verbosity": settings.verbosity.value,
        "full": settings.verbosity == "full",
        "brief": settings.verbosity == "brief",
        "minimal": settings.verbosity == "minimal",
        "pause": steps[0]["pause"] if steps else timing.pause,
        "pace": Seconds(settings.pace_factor),
        "rate": settings.rate,
    }


def render_script_text(routine: Routine, settings: Settings) -> str:
    """Render the session template for ``routine`` under ``settings``."""
    env = build_environment(settings.templates)
    context = build_context(routine, settings)
    template: jinja2.Template | None = None
    try:
        template = env.get_template(SESSION_TEMPLATE)
        return render_guarded(template, context)
    except jinja2.TemplateNotFound as exc:
        places = [str(settings.templates)] if settings.templates else []
        places.append(str(_packaged_dir()))
        raise InputError(
            f"template '{exc.name}' not found (searched: {', '.join(places)})"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or "<template>"
        raise InputError(f"{where}:{exc.lineno}: template: {exc.message}") from None
    except (
        jinja2.TemplateError,
        jinja2.exceptions.SecurityError,
        TypeError,
        ValueError,
        ArithmeticError,
        LookupError,
        RecursionError,
    ) as exc:
        filename, lineno = _template_location(exc)
        if lineno == "?" and isinstance(exc, TemplateLimit) and exc.where is not None:
            filename, lineno = exc.where  # the time limit struck outside a template frame
        if filename == "<template>" and template is not None and template.filename:
            filename = template.filename  # a limit passed between the template's lines
        if isinstance(exc, RecursionError):
            message = "calls or includes itself too deeply"
        else:
            message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{filename}:{lineno}: template: {message}") from None


def _template_location(exc: BaseException) -> tuple[str, int | str]:
    """File and line of the innermost template frame in ``exc``'s traceback
    (Jinja rewrites tracebacks so template frames carry the template's file)."""
    tb = exc.__traceback__
    found: tuple[str, int | str] = ("<template>", "?")
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.endswith(".j2") or "scripts_templates" in code.co_filename:
            found = (code.co_filename, tb.tb_lineno)
        elif code.co_filename.startswith("<template>"):
            found = (tb.tb_frame.f_globals.get("__jinja_template__", found[0]), tb.tb_lineno)
        tb = tb.tb_next
    return found
