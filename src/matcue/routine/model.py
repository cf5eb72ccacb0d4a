"""The routine itself: its fields, the checks that need several of them, the
estimate of its timed length, and its JSON Schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from matcue import phrases
from matcue.limits import (
    FORMAT_VERSION,
    MAX_DURATION_SECONDS,
    MAX_NAME,
    MAX_SESSION_SECONDS,
    MAX_SOURCE,
    MAX_STEPS,
    MAX_SUMMARY,
    MAX_TITLE,
)
from matcue.yamlsafe import LoadedYaml, Path_, problem

from .placeholders import problems as placeholder_problems
from .rounds import GROUP_KIND, RoundsGroup, RoutineItem, written_out
from .step_base import raise_all
from .steps import STEP_CLASSES, AnyStep, BreathStep, Step
from .text import SLUG_PATTERN, did_you_mean, hours, num, show
from .values import Defaults, Int, Language, Line, Lines, Name

_STEP_ADAPTER: TypeAdapter[AnyStep] = TypeAdapter(Step)
_STEPS_DESCRIPTION = (
    "The session, 1..200 steps; a 'rounds' group stands for its steps, round after round "
    "(at most 200 steps in all once written out)."
)


def _located(items: list[AnyStep | RoundsGroup]) -> list[tuple[Path_, AnyStep]]:
    """Every step with its path in the file, the steps inside rounds groups included
    (once: as written, before the rounds are written out)."""
    out: list[tuple[Path_, AnyStep]] = []
    for i, item in enumerate(items):
        if isinstance(item, RoundsGroup):
            out.extend((("steps", i, "steps", j), s) for j, s in enumerate(item.steps))
        else:
            out.append((("steps", i), item))
    return out


def _field_path(key: str) -> Path_:
    """A :meth:`durations` key as a path (``movements.2.duration``)."""
    return tuple(int(k) if k.isdigit() else k for k in key.split("."))


def _cross_checks(
    d: Defaults | None,
    steps: list[tuple[Path_, AnyStep]],
    main: list[str] | None,
    names: list[str],
) -> list[tuple[Path_, str]]:
    """Checks that need the defaults or several steps: ``main`` names, durations in
    breaths/counts against the 1-hour limit, breath holds against defaults.breath.
    Run by the Routine validator and, step by step, when other fields failed
    (``d`` is None when the defaults themselves are invalid)."""
    problems: list[tuple[Path_, str]] = []
    for i, name in enumerate(main or []):
        if name not in names:
            problems.append(
                (("main", i), f"no step is named {show(name)}" + did_you_mean(name, names))
            )
    if d is None:
        return problems
    for at, step in steps:
        for field_name, dur in step.durations().items():
            if dur.unit == "seconds":
                continue
            secs = dur.to_seconds(d.breath, d.count)
            if secs > MAX_DURATION_SECONDS:
                per = (
                    f"{num(d.breath)} s per breath"
                    if dur.unit == "breaths"
                    else f"{num(d.count)} s per count"
                )
                problems.append(
                    (
                        (*at, *_field_path(field_name)),
                        f"{dur} at {per} is {num(secs)} s; the limit for a duration is "
                        f"{num(MAX_DURATION_SECONDS)} s (1 hour)",
                    )
                )
        if isinstance(step, BreathStep) and step.cycle is None and step.pattern is None:
            msg = step.moving_problem(d.breath)
            if msg:
                problems.append(((*at, "hold_in"), msg + " (defaults.breath)"))
    return problems


def partial_cross_checks(data: dict[str, Any]) -> list[tuple[Path_, str]]:
    """:func:`_cross_checks` on whatever parts of an invalid routine are valid, so
    that all problems of a file are reported together."""
    try:
        d = Defaults.model_validate(data.get("defaults") or {})
    except PydanticValidationError:
        d = None
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list):
        return []
    raw: list[tuple[Path_, Any]] = []
    names: list[str] = []
    for i, item in enumerate(raw_steps):
        if isinstance(item, dict) and item.get("kind") == GROUP_KIND:
            if isinstance(item.get("name", "Rounds"), str):
                names.append(item.get("name", "Rounds"))
            inner = item.get("steps")
            if isinstance(inner, list):
                raw.extend((("steps", i, "steps", j), s) for j, s in enumerate(inner))
        else:
            raw.append((("steps", i), item))
    good: list[tuple[Path_, AnyStep]] = []
    for at, item in raw:
        try:
            good.append((at, _STEP_ADAPTER.validate_python(item)))
        except PydanticValidationError:
            pass
    names += [
        item.get("name") or (STEP_CLASSES[item["kind"]].default_name or "")
        for _, item in raw
        if isinstance(item, dict)
        and isinstance(item.get("kind"), str)
        and item["kind"] in STEP_CLASSES
    ]
    main = data.get("main")
    if not isinstance(main, list) or not all(isinstance(m, str) for m in main):
        main = None
    return _cross_checks(d, good, main, [n for n in names if isinstance(n, str)])


class Routine(BaseModel):
    """A routine: title, optional framing text, defaults and the steps of the session."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    matcue: Int = Field(default=FORMAT_VERSION, ge=1, le=FORMAT_VERSION)
    """Format version; only 1 is valid."""
    name: Annotated[str, StringConstraints(max_length=MAX_NAME, pattern=SLUG_PATTERN)] = "routine"
    """Routine id, lowercase letters, digits and '-'; defaults to the file name without
    '.yaml'."""
    title: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE)]
    """Spoken title and MP3 title, 1..120 characters; required."""
    summary: Annotated[str, StringConstraints(max_length=MAX_SUMMARY)] = ""
    """One-line description (shown by `matcue routines`), at most 200 characters."""
    source: Annotated[str, StringConstraints(max_length=MAX_SOURCE)] = ""
    """Attribution of the source material, at most 300 characters."""
    language: Language = phrases.REFERENCE
    """Language of the routine: the phrase catalogue its built-in phrases come from
    ('en', 'es', 'de', 'fr'), the language numbers are spoken in, and the default voice."""
    safety: Line | None = None
    """Safety line, spoken first at every verbosity."""
    intro: Lines = []
    """Spoken after the title and safety line."""
    outro: Lines = []
    """Spoken at the end."""
    defaults: Defaults = Defaults()
    """Session defaults; command-line flags override them."""
    main: list[Name] | None = None
    """Names of the steps that form the main part (what --minutes repeats or fits);
    null = every breath, hold, reps and flow step. Naming a rounds group means all its
    steps in every round; naming a step inside one means it in every round."""
    if TYPE_CHECKING:
        # A loaded routine's rounds groups are written out (see _whole): its steps
        # are plain steps, whatever the file had.
        steps: list[AnyStep]
    else:
        steps: list[RoutineItem] = Field(
            min_length=1, max_length=MAX_STEPS, description=_STEPS_DESCRIPTION
        )

    _filename: str = PrivateAttr(default="<routine>")
    _loaded: LoadedYaml | None = PrivateAttr(default=None)

    @property
    def file_data(self) -> object:
        """The plain data of the file the routine was loaded from (None: not loaded
        from a file)."""
        return self._loaded.data if self._loaded is not None else None

    def line_of(self, path: Path_) -> int:
        """The file's line of ``path`` (of its nearest parent when it is not in the
        file; 1 for a routine not loaded from a file)."""
        return self._loaded.line_of(path) if self._loaded is not None else 1

    def step_paths(self) -> list[Path_]:
        """The path in the file of every step of :attr:`steps` (a step a rounds group
        wrote out: the group's step, ``steps[2].steps[0]``, for every round)."""
        plain: list[Path_] = [("steps", i) for i in range(len(self.steps))]
        data = self.file_data
        items = data.get("steps") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return plain
        out: list[Path_] = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get("kind") == GROUP_KIND:
                inner = item.get("steps")
                rounds = item.get("rounds")
                if not isinstance(inner, list) or not isinstance(rounds, int):
                    return plain
                out += [("steps", i, "steps", j) for _ in range(rounds) for j in range(len(inner))]
            else:
                out.append(("steps", i))
        return out if len(out) == len(self.steps) else plain

    def problem(self, path: Path_, message: str) -> str:
        """A problem found after loading (a voice the engine lacks), located like the
        loader's own: ``FILE:LINE: FIELD: message``."""
        line = self._loaded.line_of(path) if self._loaded is not None else 1
        return problem(self._filename, line, path, message)

    @model_validator(mode="after")
    def _whole(self) -> Routine:
        items: list[AnyStep | RoundsGroup] = list(self.steps)
        located = _located(items)
        names = [s.display_name for s in items] + [
            s.display_name for at, s in located if len(at) > 2
        ]
        problems = _cross_checks(self.defaults, located, self.main, names)
        framing = {"safety": self.safety, "intro": self.intro, "outro": self.outro}
        problems += placeholder_problems(framing, ("cycle",), frozenset())
        self.steps = written_out(items, self.language)
        if len(self.steps) > MAX_STEPS:
            problems.append(
                (
                    ("steps",),
                    f"written out, the rounds make {len(self.steps)} steps; the limit for a "
                    f"routine is {MAX_STEPS} (fewer rounds, or fewer steps in each)",
                )
            )
        total = self.anchored_seconds()
        if total > MAX_SESSION_SECONDS:
            problems.append(
                (
                    ("steps",),
                    f"the timed parts add up to about {hours(total)}; the limit for a routine "
                    "is 4 hours",
                )
            )
        raise_all(problems)
        return self

    def anchored_seconds(self) -> float:
        """Estimated length of all anchored (timed) parts at the routine's defaults,
        pace included. Flowing speech is not counted."""
        d = self.defaults
        raw = sum(
            s.anchored_seconds(breath=d.breath, count=d.count, transition=d.transition)
            for s in self.steps
        )
        return raw * float(d.pace_factor)

    def main_indices(self) -> list[int]:
        """0-based indexes of the main-part steps: those named in ``main``, or every
        breath, hold and reps step when ``main`` is null."""
        if self.main is None:
            return [i for i, s in enumerate(self.steps) if s.timed]
        wanted = set(self.main)
        return [
            i
            for i, s in enumerate(self.steps)
            if s.display_name in wanted or wanted & s._main_names
        ]


def routine_schema() -> dict[str, Any]:
    """JSON Schema of a routine file, for editor completion (``matcue schema``)."""
    schema = TypeAdapter(Routine).json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "matcue routine"
    schema.setdefault("required", [])
    if "name" in schema["required"]:
        schema["required"].remove("name")
    return schema
