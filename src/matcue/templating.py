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
import re
from collections.abc import Mapping
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .cuescript import escape_text, format_seconds, to_fraction
from .errors import InputError
from .routine import BreathWords, RepsWords, SayStep, TransitionStep
from .settings import Settings

log = logging.getLogger(__name__)

SESSION_TEMPLATE = "session.cue.j2"
NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()


class Seconds(Fraction):
    """An exact time in seconds that prints as a short decimal in templates."""

    def __str__(self) -> str:
        return format_seconds(self)

    def _wrap(op: Any) -> Any:
        def method(self, other):  # type: ignore[no-untyped-def]
            result = op(
                Fraction(self), other if not isinstance(other, float) else to_fraction(other)
            )
            return Seconds(result) if isinstance(result, Fraction) else result

        return method

    __add__ = _wrap(Fraction.__add__)
    __radd__ = _wrap(Fraction.__radd__)
    __sub__ = _wrap(Fraction.__sub__)
    __rsub__ = _wrap(Fraction.__rsub__)
    __mul__ = _wrap(Fraction.__mul__)
    __rmul__ = _wrap(Fraction.__rmul__)
    __truediv__ = _wrap(Fraction.__truediv__)
    del _wrap


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


class _CueEnvironment(SandboxedEnvironment):
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


def _sentence(text: str) -> str:
    text = str(text).strip()
    return text if not text or text[-1] in ".!?…:" else text + "."


def _number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def _attrs(mapping: Mapping[str, Any]) -> str:
    from .cuescript import _format_attrs

    return _format_attrs({k: str(v) for k, v in mapping.items() if v is not None})


def _packaged_dir() -> Path:
    return Path(str(resources.files("matcue.scripts_templates")))


_ROUND_SUFFIX = re.compile(r" \(round \d+\)$")
"""What --minutes adds to the chapter title of a step repeated in an extra round;
the round is announced once ("Round 2."), so the step's spoken name leaves it out."""


def template_dirs(user_dir: Path | None = None) -> list[Path]:
    """The folders templates come from, the user's (if any) first."""
    return ([Path(user_dir)] if user_dir is not None else []) + [_packaged_dir()]


def build_environment(user_dir: Path | None = None) -> SandboxedEnvironment:
    """The sandboxed Jinja environment: user templates over built-in ones."""
    if user_dir is not None and not user_dir.is_dir():
        raise InputError(f"--templates: {user_dir}: not a folder")
    return _environment(str(user_dir) if user_dir is not None else None)


@functools.lru_cache(maxsize=8)
def _environment(user_dir_name: str | None) -> SandboxedEnvironment:
    # One environment per template folder: Jinja then compiles each template
    # once per process (and checks its file's mtime), not once per render.
    user_dir = Path(user_dir_name) if user_dir_name is not None else None
    builtin = jinja2.FileSystemLoader(str(_packaged_dir()))
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
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
    return env


# ---------------------------------------------------------------- plan


def _sec(value: Any) -> Seconds:
    return Seconds(to_fraction(value))


def _duration(d: Any, *, pace: Fraction, cycle: Fraction, count: Fraction) -> Seconds:
    """A routine Duration (number = seconds, or seconds/breaths/counts) in
    paced seconds. ``cycle`` and ``count`` are already paced."""
    if d is None:
        return Seconds(0)
    if isinstance(d, (int, float, str, Fraction)):
        return Seconds(to_fraction(d) * pace)
    unit = getattr(d, "unit", "seconds")
    value = to_fraction(getattr(d, "value", 0))
    if unit == "breaths":
        return Seconds(value * cycle)
    if unit == "counts":
        return Seconds(value * count)
    return Seconds(value * pace)


def _unit(d: Any) -> str:
    return "seconds" if d is None or isinstance(d, (int, float)) else getattr(d, "unit", "seconds")


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _cues(obj: Any, keys: tuple[str, ...]) -> dict[str, str | None]:
    if obj is None:
        return {k: None for k in keys}
    if isinstance(obj, Mapping):
        return {k: obj.get(k) for k in keys}
    return {k: getattr(obj, k, None) for k in keys}


COUNTDOWN_COUNTS = 5
"""How many counts ``guide: countdown`` counts down at the end of a hold in seconds."""

# Chapter titles of the kinds whose name is optional: the routine format owns them.
DEFAULT_NAMES: dict[str, str] = {
    kind: cls.default_name
    for kind, cls in (("say", SayStep), ("transition", TransitionStep))
    if cls.default_name
}

# The routine format owns the default phase words; a step's own words override them.
BREATH_WORDS: dict[str, str] = BreathWords().model_dump()
REP_WORDS: dict[str, str] = RepsWords().model_dump()


def plan_step(step: Any, index: int, routine: Any, settings: Settings) -> dict[str, Any]:
    """Exact timings for one step, as plain data for the templates."""
    pace = settings.pace_factor
    d = getattr(routine, "defaults", None)
    breath = to_fraction(
        settings.breath if settings.breath is not None else getattr(d, "breath", None) or 10
    )
    count = (
        to_fraction(
            settings.count if settings.count is not None else getattr(d, "count", None) or 1
        )
        * pace
    )
    transition = (
        to_fraction(
            settings.transition
            if settings.transition is not None
            else getattr(d, "transition", None) or 5
        )
        * pace
    )
    pause = _sec(
        settings.pause
        if settings.pause is not None
        else getattr(d, "pause", None)
        if getattr(d, "pause", None) is not None
        else 1
    )
    cycle = breath * pace
    kind = str(getattr(step.kind, "value", step.kind))
    sides = getattr(step, "sides", None)
    if sides == "both":
        sides = ["left", "right"]
    side_list = [str(getattr(s, "value", s)) for s in sides] if sides else [None]
    name = getattr(step, "name", None) or DEFAULT_NAMES.get(kind, kind.title())
    # A say or transition step the routine left unnamed gets a default name for
    # its chapter, but an invented title is not worth saying aloud.
    given = getattr(step, "model_fields_set", None)
    named = kind not in DEFAULT_NAMES or given is None or "name" in given
    plan: dict[str, Any] = {
        "index": index,
        "kind": kind,
        "name": name,
        "spoken_name": _ROUND_SUFFIX.sub("", name),
        "named": named,
        "setup": _lines(getattr(step, "setup", None)),
        "brief": getattr(step, "brief", None),
        "sides": side_list,
        "alternate": bool(getattr(step, "alternate", False)) and len(side_list) == 2,
        "switch": getattr(step, "switch", None),
        "pause": pause,
        "transition": Seconds(transition),
        "count": Seconds(count),
    }
    dur = dict(pace=pace, cycle=cycle, count=count)
    if kind == "say":
        plan["text"] = _lines(step.text)
        p = getattr(step, "pause", None)
        plan["pause"] = _sec(p) if p is not None else pause
    elif kind == "transition":
        plan["text"] = getattr(step, "text", None)
        dd = getattr(step, "duration", None)
        plan["duration"] = _duration(dd, **dur) if dd is not None else Seconds(transition)
    elif kind == "breath":
        own = getattr(step, "cycle", None)
        c = to_fraction(own) * pace if own is not None else cycle
        hold_in = to_fraction(getattr(step, "hold_in", 0) or 0) * pace
        hold_out = to_fraction(getattr(step, "hold_out", 0) or 0) * pace
        moving = c - hold_in - hold_out
        if moving < 1:
            raise InputError(
                f"step '{name}': with a {format_seconds(c)} s breath cycle its holds "
                f"({format_seconds(hold_in + hold_out)} s) leave less than 1 s to breathe; "
                "use a longer --breath or a slower --pace"
            )
        split = to_fraction(getattr(step, "split", 0.5) or 0.5)
        inhale = moving * split
        exhale = moving - inhale
        cues = _cues(getattr(step, "cues", None), ("inhale", "exhale", "hold_in", "hold_out"))
        words = {
            **BREATH_WORDS,
            **{
                k: v
                for k, v in _cues(getattr(step, "words", None), tuple(BREATH_WORDS)).items()
                if v
            },
        }
        order = [
            ("inhale", inhale),
            ("hold_in", hold_in),
            ("exhale", exhale),
            ("hold_out", hold_out),
        ]
        if (getattr(step, "start", "inhale") or "inhale") == "exhale":
            order = order[2:] + order[:2]
        phases, t = [], Fraction(0)
        for phase, length in order:
            if length > 0:
                phases.append(
                    {
                        "offset": Seconds(t),
                        "length": Seconds(length),
                        "phase": phase,
                        "cue": cues.get(phase),
                        "word": words[phase],
                    }
                )
                t += length
        plan.update(reps=int(step.reps), cycle=Seconds(c), phases=phases)
    elif kind == "hold":
        dd = step.duration
        total = _duration(dd, **dur)
        unit = _unit(dd)
        guide = getattr(step, "guide", None) or {"breaths": "breaths", "counts": "count"}.get(
            unit, "none"
        )
        plan.update(
            duration=total,
            unit=unit,
            guide=guide,
            cues=_lines(getattr(step, "cues", None)),
            release=getattr(step, "release", None),
        )
        countdown: list[dict[str, Any]] = []
        if guide == "breaths" or (guide == "countdown" and unit == "breaths"):
            # One block per breath cycle; a remainder is a last, shorter breath.
            plan["cycle"] = Seconds(cycle)
            n_full = int(total // cycle)
            blocks = [Seconds(cycle)] * n_full
            if total - n_full * cycle > 0:
                blocks.append(Seconds(total - n_full * cycle))
            plan["breaths"] = [
                {
                    "n": i + 1,
                    "left": len(blocks) - i,
                    "length": length,
                    "exhale_at": Seconds(min(cycle / 2, length / 2)),
                }
                for i, length in enumerate(blocks)
            ]
        elif guide == "count":
            n = int(total // count) or 1
            plan["counts"] = [Seconds(count * k) for k in range(n)]
        elif guide == "countdown":
            # Whole counts (of the paced count tempo) ending exactly at the release:
            # every count of a hold in counts, the last few of a hold in seconds.
            n = int(total // count)
            m = n if unit == "counts" else min(n, COUNTDOWN_COUNTS)
            countdown = [{"offset": Seconds(total - count * k), "n": k} for k in range(m, 0, -1)]
        plan["countdown"] = countdown
        reminders = []
        if guide in ("none", "countdown") and "breaths" not in plan:
            # Calm cues share out the time before any countdown.
            span = countdown[0]["offset"] if countdown else total
            cues_ = plan["cues"]
            for k, cue in enumerate(cues_, start=1):
                reminders.append({"offset": Seconds(span * k / (len(cues_) + 1)), "text": cue})
        plan["spread"] = reminders
    elif kind == "reps":
        move = _duration(getattr(step, "move", 2), **dur)
        hold = _duration(getattr(step, "hold", 0), **dur)
        release = _duration(getattr(step, "release", 2), **dur)
        rest = _duration(getattr(step, "rest", 2), **dur)
        set_rest = _duration(getattr(step, "set_rest", 30), **dur)
        hold_unit = _unit(getattr(step, "hold", 0))
        count_aloud = getattr(step, "count", None)
        if count_aloud is None:
            count_aloud = hold_unit == "counts"
        counts = (
            [Seconds(move + count * k) for k in range(int(hold // count))]
            if (count_aloud and hold > 0)
            else []
        )
        cues = _cues(getattr(step, "cues", None), tuple(REP_WORDS))
        words = {
            **REP_WORDS,
            **{k: v for k, v in _cues(getattr(step, "words", None), tuple(REP_WORDS)).items() if v},
        }
        plan.update(
            reps=int(step.reps),
            sets=int(getattr(step, "sets", 1) or 1),
            move=move,
            hold=hold,
            release_time=release,
            rest=rest,
            set_rest=set_rest,
            rep_length=Seconds(move + hold + release + rest),
            counts=counts,
            cues=cues,
            words=words,
        )
    elif kind == "rest":
        total = _duration(step.duration, **dur)
        every = to_fraction(getattr(step, "every", 45) or 45) * pace
        offsets, t = [], every
        # No reminder in the last stretch (half an interval, at most a paced 8 s).
        while t <= total - min(every / 2, 8 * pace):
            offsets.append(Seconds(t))
            t += every
        plan.update(
            duration=total,
            every=Seconds(every),
            offsets=offsets,
            reminders=_lines(getattr(step, "reminders", None)),
        )
    return plan


def breath_cycles(steps: list[dict[str, Any]]) -> str | None:
    """The breath cycles the session paces, in seconds as heard (pace applied), e.g.
    ``"12, 15"``: a step's own cycle where it fixes one, else ``--breath`` or the
    routine's. None when no step is paced by the breath (then ``--breath`` did nothing)."""
    cycles = sorted({Fraction(p["cycle"]) for p in steps if p.get("cycle") is not None})
    return ", ".join(format_seconds(c) for c in cycles) or None


def build_context(routine: Any, settings: Settings) -> dict[str, Any]:
    """The template context: routine facts, settings, and one plan per step."""
    steps = [plan_step(step, i, routine, settings) for i, step in enumerate(routine.steps)]
    meta = {
        "routine": getattr(routine, "name", None) or "routine",
        "pace": format_seconds(settings.pace_factor),
        "breath": breath_cycles(steps),
        "verbosity": settings.verbosity,
    }
    return {
        "routine": {
            "name": meta["routine"],
            "title": routine.title,
            "summary": getattr(routine, "summary", "") or "",
            "safety": getattr(routine, "safety", None),
            "intro": _lines(getattr(routine, "intro", None)),
            "outro": _lines(getattr(routine, "outro", None)),
        },
        "steps": steps,
        "meta": meta,
        "verbosity": settings.verbosity,
        "full": settings.verbosity == "full",
        "brief": settings.verbosity == "brief",
        "minimal": settings.verbosity == "minimal",
        "pause": steps[0]["pause"] if steps else Seconds(1),
        "pace": Seconds(settings.pace_factor),
    }


def render_script_text(routine: Any, settings: Settings) -> str:
    """Render the session template for ``routine`` under ``settings``."""
    env = build_environment(settings.templates)
    context = build_context(routine, settings)
    try:
        template = env.get_template(SESSION_TEMPLATE)
        return template.render(context)
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
    ) as exc:
        filename, lineno = _template_location(exc)
        raise InputError(f"{filename}:{lineno}: template: {exc}") from None


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
