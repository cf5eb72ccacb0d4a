"""Fit a routine to a requested length (``--minutes``).

First every elastic quantity (reps, held durations, rests) is scaled by one
factor, each within sensible bounds (a step's own ``reps_range`` where it has
one); when that cannot reach the target, whole rounds of the routine's main
part are added (the span from its first to its last main step, preceded by a
short transition back to the start), then the factor is fitted again. The
length of each candidate is estimated from the real template output with
speech timed by word count, so the anchored time is exact and the spoken
time close.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from . import __version__, phrases
from .cuescript import parse_script
from .errors import SettingText
from .estimate import estimate_seconds
from .limits import FIT_SCALE_RANGE
from .routine import Routine, TransitionStep
from .routine.step_base import StepBase
from .settings import Settings
from .speech.cache import JsonEntries
from .templating import render_script_text, template_dirs

TOLERANCE = 0.04
"""Aim within 4% so the real render (speech not estimated) lands within 10%."""
MAX_ROUNDS = 30
SCALE_RANGE = FIT_SCALE_RANGE
BISECTIONS = 10
"""Halvings of the scale range: 4/0.3 = 13x narrows to under 0.3% per step."""


def with_rounds(routine: Routine, rounds: int) -> Routine:
    """``routine`` with ``rounds`` extra rounds of its main part."""
    if rounds <= 0:
        return routine
    idx = routine.main_indices() or [i for i, s in enumerate(routine.steps)]
    first, last = min(idx), max(idx)
    span = routine.steps[first : last + 1]
    steps = list(routine.steps[: last + 1])
    words = phrases.catalogue(routine.language)
    for r in range(2, rounds + 2):
        back = TransitionStep(
            kind="transition",
            # The round's number stays a digit: the name is the chapter's title too.
            name=words.say("round_title", n=str(r)),
            # The name is spoken at the step's start: the text must not say it again.
            # Braces of a name (never spoken as such) must not make a placeholder here.
            text=words.say("round_back", step=_plain(span[0].display_name)),
        )
        steps.append(back)
        for s in span:
            # A step the routine left unnamed stays unnamed: its default name is a
            # chapter title, never spoken, and "Transition (round 2)" would be.
            named = "name" in s.model_fields_set
            title = words.variants("round_step")[0].format(step=s.name, n=r)
            steps.append(s.model_copy(update={"name": title}) if named else s)
    steps.extend(routine.steps[last + 1 :])
    return routine.model_copy(update={"steps": steps})


def _plain(name: str) -> str:
    """``name`` with braces made round, so it reads as text, not a placeholder."""
    return name.replace("{", "(").replace("}", ")")


def _scaled(routine: Routine, factor: float, relaxed: bool = False) -> Routine:
    """Every step scaled its own way (:meth:`matcue.routine.step_base.StepBase.scaled`)."""
    return routine.model_copy(update={"steps": [s.scaled(factor, relaxed) for s in routine.steps]})


@dataclass(frozen=True)
class FitPlan:
    """What fitting decided, enough to rebuild the fitted routine without searching:
    the search renders the templates dozens of times, rebuilding renders none."""

    rounds: int = 0
    factor: float = 1.0
    relaxed: bool = False
    short_setup: bool = False
    before: float = 0.0
    after: float = 0.0
    unchanged: bool = False


def _shortened(routine: Routine) -> Routine:
    return routine.model_copy(
        update={"steps": [s.model_copy(update={"setup": s.setup[:1]}) for s in routine.steps]}
    )


def apply_plan(routine: Routine, plan: FitPlan, minutes: float) -> tuple[Routine, list[str]]:
    """The fitted routine and the changes to report, from a :class:`FitPlan`."""
    if plan.unchanged:
        return routine, [
            SettingText(
                "{minutes} {m:g}: already about {b:.1f} minutes; nothing changed",
                m=minutes,
                b=plan.before / 60,
            )
        ]
    base = _shortened(routine) if plan.short_setup else routine
    fitted = _scaled(with_rounds(base, plan.rounds), plan.factor, plan.relaxed)
    extra = ["  set-up instructions shortened to their first line"] if plan.short_setup else []
    return fitted, describe_changes(
        routine, fitted, plan.rounds, plan.before, plan.after, minutes, extra
    )


def fit_routine(
    routine: Routine,
    settings: Settings,
    measure: Callable[[Routine], float] | None = None,
    cache: FitCache | None = None,
) -> tuple[Routine, list[str]]:
    """Return the fitted routine and a list of human-readable changes. With a
    ``cache`` (and the estimate, not a custom ``measure``), a fit worked out before
    for the same routine, settings, templates and code is reused."""
    assert settings.minutes is not None
    key = None
    if cache is not None and measure is None:
        key = fit_key(routine, settings)
        plan = cache.get(key)
        if plan is not None:
            return apply_plan(routine, plan, settings.minutes)
    plan = search(routine, settings, measure)
    if cache is not None and key is not None:
        cache.put(key, plan)
    return apply_plan(routine, plan, settings.minutes)


def search(
    routine: Routine, settings: Settings, measure: Callable[[Routine], float] | None = None
) -> FitPlan:
    """Find the :class:`FitPlan` for ``settings.minutes``."""
    assert settings.minutes is not None
    target = settings.minutes * 60
    plain = settings.model_copy(update={"minutes": None})

    memo: dict[str, float] = {}

    def length(r: Routine) -> float:
        # Reps and counts are whole numbers, so many scale factors give the same
        # routine: measure each distinct routine once.
        key = r.model_dump_json()
        if key not in memo:
            memo[key] = (
                measure(r)
                if measure is not None
                else estimate_seconds(
                    parse_script(render_script_text(r, plain), limit=False), settings.rate
                )
            )
        return memo[key]

    before = length(routine)
    if abs(before - target) <= TOLERANCE * target:
        return FitPlan(before=before, after=before, unchanged=True)
    if length(_scaled(routine, SCALE_RANGE[0])) > target * (1 + TOLERANCE):
        # Too long even at the shortest sensible scaling: let reps leave their range.
        def relaxed_fit(r: Routine) -> tuple[float, float]:
            """(error, factor) of the best relaxed scaling of ``r``."""
            lo, hi = SCALE_RANGE
            for _ in range(BISECTIONS):
                mid = math.sqrt(lo * hi)
                if length(_scaled(r, mid, True)) < target:
                    lo = mid
                else:
                    hi = mid
            factor = min((lo, hi), key=lambda f: abs(length(_scaled(r, f, True)) - target))
            return abs(length(_scaled(r, factor, True)) - target), factor

        err, factor = relaxed_fit(routine)
        short = False
        if err > TOLERANCE * target and length(_scaled(routine, factor, True)) > target:
            # Last resort: each step's set-up shortened to its first line (taken
            # only if it lands closer: it can overshoot the other way).
            short_err, short_factor = relaxed_fit(_shortened(routine))
            if short_err < err:
                short, factor = True, short_factor
        base = _shortened(routine) if short else routine
        after = length(_scaled(base, factor, True))
        return FitPlan(0, factor, True, short, before, after)
    best: tuple[float, int, float] | None = None
    for rounds in range(0, MAX_ROUNDS + 1):
        base = with_rounds(routine, rounds)
        lo, hi = SCALE_RANGE
        if rounds > 0 and length(_scaled(base, lo)) > target * (1 + TOLERANCE) and best:
            break  # another round only overshoots
        for _ in range(BISECTIONS):
            mid = math.sqrt(lo * hi)
            if length(_scaled(base, mid)) < target:
                lo = mid
            else:
                hi = mid
        for factor in (lo, hi):
            err = abs(length(_scaled(base, factor)) - target)
            if best is None or err < best[0]:
                best = (err, rounds, factor)
        assert best is not None  # the loop above always sets it
        if best[0] <= TOLERANCE * target:
            break
        if length(_scaled(base, SCALE_RANGE[1])) < target * (1 - TOLERANCE):
            continue  # even the longest scaling falls short: add a round
        break
    assert best is not None
    _, rounds, factor = best
    after = length(_scaled(with_rounds(routine, rounds), factor))
    return FitPlan(rounds, factor, False, False, before, after)


FIT_CACHE_VERSION = 1
_CODE = (
    "fit.py",
    "estimate.py",
    "limits.py",
    "timing.py",
    "templating.py",
    "cuescript.py",
    "schedule.py",
    "routine/*.py",
)
"""The modules a fit depends on: their source is part of the key, so a change in
any of them never reuses an old fit."""


def fit_key(routine: Routine, settings: Settings) -> str:
    """A digest of everything a fit depends on: the routine, the settings, the
    templates that render it (built-in and the user's) and the code that searches."""
    h = hashlib.sha256(f"matcue {__version__} fit {FIT_CACHE_VERSION}\n".encode())
    h.update(routine.model_dump_json().encode())
    # Which steps open a round of a rounds group ("Round two.") is not in the dump.
    h.update(repr([s._round for s in routine.steps]).encode())
    h.update(repr(sorted(settings.model_dump().items())).encode())
    here = Path(__file__).parent
    for pattern in _CODE:
        for path in sorted(here.glob(pattern)):
            h.update(path.read_bytes())
    for folder in template_dirs(settings.templates):
        for path in sorted(Path(folder).rglob("*.j2")):
            h.update(f"\n{path.relative_to(folder)}\n".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


class FitCache:
    """Fits worked out before, beside the clip cache (``fits/KEY.json``). Unreadable
    entries are misses; write failures are ignored (as for clips and gains)."""

    def __init__(self, root: Path | None = None) -> None:
        self.entries = JsonEntries("fits", root)

    def path_for(self, key: str) -> Path:
        return self.entries.path_for(key)

    def get(self, key: str) -> FitPlan | None:
        entry = self.entries.read(key)
        try:
            plan = FitPlan(**entry)
        except TypeError:  # not a mapping, or not a plan's fields
            return None
        numbers = (plan.factor, plan.before, plan.after)
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers):
            return None
        flags = (plan.relaxed, plan.short_setup, plan.unchanged)
        if not isinstance(plan.rounds, int) or not 0 <= plan.rounds <= MAX_ROUNDS:
            return None
        if not all(isinstance(x, bool) for x in flags):
            return None
        return plan

    def put(self, key: str, plan: FitPlan) -> None:
        self.entries.write(key, asdict(plan))


def _left_range(old: StepBase, new: StepBase, minutes: float) -> str | None:
    """Said plainly when fitting took a step's reps (a flow's rounds) out of its
    ``reps_range`` (``rounds_range``), which it does only to reach a length the
    range cannot: "to reach 5 minutes, Cat-Cow went to 4 reps, below its
    reps_range [6, 8]"."""
    count, fitted = old.fit_count(), new.fit_count()
    if count is None or fitted is None or count.range is None:
        return None
    (lo, hi), n = count.range, fitted.value
    if not isinstance(n, int) or lo <= n <= hi:
        return None  # a count per set is not reported
    side = "below" if n < lo else "above"
    return (
        f"  to reach {minutes:g} minutes, {old.display_name} went to {n} {count.field}, "
        f"{side} its {count.range_field} [{lo}, {hi}]"
    )


def describe_changes(
    original: Routine,
    fitted: Routine,
    rounds: int,
    before: float,
    after: float,
    minutes: float,
    extra: list[str] | None = None,
) -> list[str]:
    changes: list[str] = [
        SettingText(
            "{minutes} {m:g}: about {b:.1f} -> {a:.1f} minutes",
            m=minutes,
            b=before / 60,
            a=after / 60,
        )
    ]
    for old, new in zip(original.steps, fitted.steps, strict=False):
        fitted_values = new.fit_values()
        for field_, a in old.fit_values().items():
            b = fitted_values.get(field_)
            if a is not None and a != b:
                changes.append(f"  {old.display_name}: {field_.replace('_', ' ')} {a} -> {b}")
        left = _left_range(old, new, minutes)
        if left:
            changes.append(left)
    if rounds:
        idx = original.main_indices() or list(range(len(original.steps)))
        names = ", ".join(original.steps[i].display_name for i in idx)
        changes.append(
            f"  added {rounds} more round{'s' if rounds > 1 else ''} of the main part ({names})"
        )
    changes.extend(extra or [])
    if abs(after - minutes * 60) > 0.1 * minutes * 60:
        changes.append(f"  could only reach about {after / 60:.1f} minutes within sensible bounds")
    return changes
