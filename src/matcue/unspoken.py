"""Nothing a routine says disappears silently: which of a routine's own texts the
cue script does not speak, and why.

The templates choose what is said: a reps step's ``cues.rest`` needs a rest of
3 s or more, a hold counted aloud has no room for hold cues, calm hold cues are
spoken at full verbosity only, and so on. :func:`find_unspoken` renders the cue
script, collects every text the routine file supplies (title, safety, intro,
outro, step names, setup, brief, switch, cues, words, text, reminders, release)
and reports each one the script never says, with its file, line, field and a
reason in plain words. ``matcue check`` prints them as notes, ``matcue render``
as notices on standard error; neither is an error.

Texts are compared sentence by sentence after the same preparation the
templates give them (numbers as words, a colon said as a full stop), within
their own step, and a cue within its own phase (a reps step's ``cues.rest`` is
found only among the rest cues), so a cue is not taken as said because the same
words are said somewhere else.

Designed alternatives are not reported: short ``words`` where the full cue is
said in their place (full verbosity, or a breath or reps step at minimal), and
``brief`` where ``setup`` is said (or ``setup`` where ``brief`` is, at minimal).
Each step kind lists the texts it may speak, and these alternatives, itself
(:meth:`~matcue.routine.step_base.StepBase.spoken_texts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from . import cuescript
from .cuescript import Block, CueScript, Say, StepMark, format_seconds
from .routine import BreathStep, HoldStep, RepsStep, RestStep, Routine
from .routine.step_base import Plan, Said
from .settings import Settings
from .spoken import spoken_numbers
from .templating import build_context, render_script_text
from .yamlsafe import Path_

REPS_REST_CUE_MIN = 3
"""Seconds of rest a reps step's ``cues.rest`` needs (kind_reps.cue.j2)."""


@dataclass(frozen=True)
class Unspoken:
    """A text of the routine that the cue script does not speak."""

    path: Path_
    text: str
    reason: str
    note: str
    """``FILE:LINE: FIELD: not spoken: reason``."""


@dataclass(frozen=True)
class _Text:
    path: Path_
    text: str
    step: int | None = None
    said: Said | None = None
    """What the step says of it (None: a text of the routine's own)."""

    @property
    def field(self) -> Path_:
        """The path within its step: ``("cues", "move")``, ``("setup", 0)``..."""
        return self.said.field if self.said is not None else self.path

    @property
    def phase(self) -> str | None:
        """The cue phase that speaks it (move, hold, inhale, ...); None: any line of the step."""
        return self.said.phase if self.said is not None else None


# ---------------------------------------------------------------- comparing

_SENTENCE_END = re.compile(r"[.!?…:;]+")
_NOT_WORD = re.compile(r"[^\w]+")


_PLACEHOLDER = re.compile(r"\{\w+\}")
_ANY = "placeholderxq"
"""What a routine placeholder (``{cycle}``, filled in as words) becomes in a
normalised sentence: it matches any words."""


def sentences(text: str, language: str = "en") -> tuple[str, ...]:
    """``text`` as the sentences it is said in, normalised for comparison."""
    said = spoken_numbers(_PLACEHOLDER.sub(_ANY, text), language).lower()
    parts = (_NOT_WORD.sub(" ", p).strip() for p in _SENTENCE_END.split(said))
    return tuple(p for p in parts if p)


class _Heard:
    """The sentences a cue script says: all of them, per step, per step and phase."""

    def __init__(self, script: CueScript, steps: int, language: str) -> None:
        self.language = language
        self.all: set[str] = set()
        self.by_step: dict[int, set[str]] = {}
        self.by_phase: dict[tuple[int, str], set[str]] = {}
        marks = sum(isinstance(item, StepMark) for item in script.items)
        self.per_step = marks == steps  # custom templates may mark steps otherwise
        step = -1
        for item in script.items:
            if isinstance(item, StepMark):
                step += 1
            elif isinstance(item, Say):
                self._add(step, None, item.text)
            elif isinstance(item, Block):
                for line in item.lines:
                    if line.text:
                        self._add(step, line.phase, line.text)

    def _add(self, step: int, phase: str | None, text: str) -> None:
        heard = sentences(text, self.language)
        self.all.update(heard)
        self.by_step.setdefault(step, set()).update(heard)
        if phase is not None:
            self.by_phase.setdefault((step, phase), set()).update(heard)

    def says(self, t: _Text) -> bool:
        if t.step is None or not self.per_step:
            pool = self.all
        elif t.phase is None:
            pool = self.by_step.get(t.step, set())
        else:
            pool = self.by_phase.get((t.step, t.phase), set())
        wanted = sentences(t.text, self.language)
        return all(s in pool or (_ANY in s and _matches(s, pool)) for s in wanted)


def _matches(sentence: str, pool: set[str]) -> bool:
    """A sentence with placeholders said as any of ``pool``."""
    pattern = re.compile(
        r"\s*".join(
            re.escape(p) if p != _ANY else r"[\w ]+?" for p in re.split(f"({_ANY})", sentence) if p
        )
        + "$"
    )
    return any(pattern.match(s) for s in pool)


# ---------------------------------------------------------------- what the routine says


def supplied_texts(routine: Routine) -> list[_Text]:
    """Every text the routine file gives, with its field path (a step a rounds group
    wrote out: once per round, with the group's own path); each step says which of
    its texts its template may speak (:meth:`~matcue.routine.step_base.StepBase.spoken_texts`)."""
    out = [_Text(("title",), routine.title)]
    if routine.safety:
        out.append(_Text(("safety",), routine.safety))
    for field, lines in (("intro", routine.intro), ("outro", routine.outro)):
        out += [_Text((field, i), line) for i, line in enumerate(lines)]
    paths = routine.step_paths()
    for i, step in enumerate(routine.steps):
        out += [_Text((*paths[i], *said.field), said.text, i, said) for said in step.spoken_texts()]
    return out


# ---------------------------------------------------------------- why not


def _seconds(value: Fraction) -> str:
    return format_seconds(cuescript.to_fraction(value))


def _many(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _designed(t: _Text, verbosity: str) -> bool:
    """True when ``t`` is a designed alternative to a text that is said in its place."""
    return t.said is not None and verbosity in t.said.instead_at


def _reason(t: _Text, routine: Routine, settings: Settings, plans: list[Plan]) -> str:
    """Why ``t`` is not said, in plain words (the built-in templates' rules)."""
    v = settings.verbosity
    at = f"not spoken at {v} verbosity"
    if t.step is None:
        if t.path[0] == "intro" and v == "minimal":
            return f"{at}: minimal leaves the introduction out"
        return "the templates do not speak it at these settings"
    step = routine.steps[t.step]
    plan = plans[t.step]
    field = t.field[0]
    phase = t.field[1] if len(t.field) > 1 else None
    if field == "switch":
        if step.takes_turns:
            return "the sides take turns rep by rep (alternate), so there is no switch between them"
        if step.side_count < 2:
            return "the step is done on one side only, so there is no switch of sides"
    if field == "brief":
        return "'brief' is spoken at minimal verbosity only, in place of 'setup'"
    if field == "setup" and v == "minimal":
        return f"{at}: minimal speaks 'brief' in place of 'setup'; give the step a 'brief'"
    if isinstance(step, RepsStep) and field in ("cues", "words"):
        if phase == "hold":
            if plan["hold"] == 0:
                return "the step has no hold (hold: 0), so hold cues are not spoken; give a 'hold'"
            if plan["counts"]:
                return "the hold is counted aloud, so hold cues are not spoken; set count: false"
        if phase == "rest":
            if plan["rest"] == 0:
                return "the step has no rest (rest: 0), so rest cues are not spoken; give a 'rest'"
            if field == "words":
                return "short rest words are not spoken: the rest between reps is quiet"
            if plan["rest"] < REPS_REST_CUE_MIN:
                return (
                    f"the rest is {_seconds(plan['rest'])} s, too short for this cue "
                    f"({REPS_REST_CUE_MIN} s or more); raise 'rest'"
                )
        if field == "words" and v == "brief":
            return f"{at}: the first rep uses the full 'cues', the rest the short 'words'"
    if isinstance(step, HoldStep) and field == "cues":
        guide = plan["guide"]
        if guide == "count":
            return "the hold is counted aloud (guide: count), so its cues are not spoken"
        if v != "full":
            return f"{at}: calm hold cues are spoken at full verbosity only"
        if guide in ("breaths", "countdown") and plan.get("breaths") is not None:
            room = max(len(plan["breaths"]) - 1, 0)
            return (
                f"the hold has {_many(len(plan['breaths']), 'breath')}: room for "
                f"{_many(room, 'cue')} (one on each "
                "breath after the first); lengthen the hold or give fewer cues"
            )
        return (
            "the hold is too short for calm cues (they need twice the count before any countdown)"
        )
    if field == "refine":
        if v != "full":
            return f"{at}: refinements are said at full verbosity only"
        return (
            "the step has too few reps for this refinement (one is said now and then, in "
            "place of a cue); add reps or give fewer refinements"
        )
    if field == "cues" and isinstance(step, (BreathStep, RepsStep)) and len(t.field) > 2:
        if v == "full":
            return (
                "the step has too few reps with full cues for this phrasing (phrasings are "
                "said in turn); add reps or give fewer phrasings"
            )
        return f"{at}: it says only the first phrasing, on the first reps, then the short 'words'"
    if isinstance(step, RestStep) and field == "reminders":
        if v == "minimal":
            return f"{at}: minimal says only 'Still resting'"
        room = len(plan["offsets"])
        return (
            f"the rest has room for {_many(room, 'reminder')} (one every "
            f"{_seconds(plan['every'])} s); lengthen it or shorten 'every'"
        )
    if v != "full":
        return at
    return "the templates do not speak it at these settings"


# ---------------------------------------------------------------- the report


def find_unspoken(
    routine: Routine, settings: Settings, script: CueScript | None = None
) -> list[Unspoken]:
    """Every text of ``routine`` that its cue script under ``settings`` does not
    speak (``script``: that cue script, rendered here when not given)."""
    if script is None:
        text = render_script_text(routine, settings)
        script = cuescript.parse_script(text, filename="<cue script>", limit=False)
    heard = _Heard(script, len(routine.steps), routine.language)
    texts = supplied_texts(routine)
    said = {t.path for t in texts if heard.says(t)}  # in any round of a rounds group
    missing: list[_Text] = []
    for t in texts:
        if t.path not in said and not _designed(t, settings.verbosity):
            said.add(t.path)  # named once
            missing.append(t)
    if not missing:
        return []
    plans = build_context(routine, settings)["steps"]
    out = []
    for t in missing:
        reason = _reason(t, routine, settings, plans)
        message = reason if reason.startswith("not spoken") else f"not spoken: {reason}"
        note = routine.problem(t.path, message)
        out.append(Unspoken(t.path, t.text, reason, note))
    return out


def unspoken_notes(
    routine: Routine, settings: Settings, script: CueScript | None = None
) -> list[str]:
    """:func:`find_unspoken` as note lines, for the routine as its file gives it
    (``--minutes`` repeats and rescales steps; what is left out does not depend
    on it, and the lines must name the file's own steps). ``script``: the cue
    script ``routine`` renders to under ``settings`` without ``--minutes``, when
    the caller has it already (rendered here when not given)."""
    plain = settings.model_copy(update={"minutes": None})
    return [u.note for u in find_unspoken(routine, plain, script)]
