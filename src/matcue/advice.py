"""What to do about a cue that overruns its anchored window.

An overrun warning names only the options that would make *that* cue fit, each
with a value that does, within the option's allowed range. Which options shape
a window depends on the step (``--breath`` sets the cycle only of breath-paced
steps that do not fix their own; ``--count`` only counted holds; ``--pace``
every timed interval of a routine; a cue script renders as it stands), and on
the templates. So rather than model that, the advice asks the real thing: it
renders the routine again with a candidate value and schedules it with the
clip lengths already known, and offers the smallest value on a grid of round
numbers with which the cue fits (a search that assumes a longer value never
shrinks the window, and only ever offers a value it has seen fit).

The routine's own field comes first: the advice names the field of the step
that shapes the window ("raise 'move' of step 'Lift' (line 42) to 2.5 s"), tried
the same way, before the flags that change the whole session. A field is offered
for a reps step's move, hold, release, rest and set_rest, a breath step's or a
flow's cycle, a transition's duration and the duration of a hold in seconds: each
kind says which (:meth:`~matcue.routine.step_base.StepBase.window`).

The settings are named as the caller spells them (``spell``: the command line
passes its flags, ``--breath 12``; the library's own spelling is the name a
routine's ``defaults:`` writes, ``breath 12``).

Each what-if renders only the overrunning cue's step (a cue's window is made
inside its step's blocks), so trying a value costs a step, not the session: an
hour's routine fitted with ``--minutes`` has its advice in a fraction of a
second. Should the step alone not overrun as it does in the session, its tries
render the session. A cue is known by its step and its labels (``rep 9, set 1,
side left, phase move``), not by its text, which a wider window may change (a
mark said with the full cue instead of the short word).

``--rate`` changes the speech, not the window: the clip's length is taken to
scale inversely with the rate (as espeak-ng's and piper's do, to within a few
percent between 80 and 450 wpm), with a margin on top.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from .cuescript import format_seconds, parse_script, to_fraction
from .errors import MatcueError, Spell, as_written
from .limits import BREATH_RANGE, COUNT_RANGE, CYCLE_RANGE, DURATION_LIMITS, PACE_RANGE, RATE_RANGE
from .routine import Routine
from .routine.step_base import CycleWindow
from .routine.values import Duration
from .schedule import Overrun, schedule
from .settings import Settings
from .templating import render_script_text
from .timing import Timing

RATE_MARGIN = 1.1
"""Head-room on the rate suggestion: espeak-ng's speech shortens a few percent
less than in proportion to the rate (measured: 100 -> 300 wpm gives 1/2.86 of the
length, not 1/3)."""

PACE_STEP = Fraction(1, 20)
COUNT_STEP = Fraction(1, 10)
BREATH_STEP = Fraction(1)

Key = tuple[int, str]
"""An overrunning cue: its step's index and its text."""
Place = tuple[int, str]
"""Where a cue is: its step's index, and its labels (its text when it has none)."""


def _place(o: Overrun) -> Place:
    return (o.step_index, o.where or o.text)


FIELD_STEP = Fraction(1, 2)
"""Grid of a field's suggested seconds."""
FIELD_REACH = 20
"""A field is tried up to this many seconds (or breaths, counts) above its value,
or four times it, whichever is more."""


@dataclass(frozen=True)
class _Option:
    name: str
    """The setting (``breath``), or the routine field (``steps[2].move``)."""
    grid: list[Fraction]
    settings: Callable[[Fraction], Settings]
    routine: Callable[[Fraction], Routine] | None = None
    """The routine with the value in its field (None: the routine as it is)."""


@dataclass(frozen=True)
class _Field:
    """A routine field that shapes an overrunning cue's window."""

    name: str
    unit: str
    option: _Option


def _labels(where: str) -> dict[str, str]:
    """``"rep 3, phase inhale"`` -> ``{"rep": "3", "phase": "inhale"}``."""
    out = {}
    for part in where.split(", "):
        key, _, value = part.partition(" ")
        if value:
            out[key] = value
    return out


def _grid(current: Fraction, step: Fraction, limits: tuple[Fraction, Fraction]) -> list[Fraction]:
    """Multiples of ``step`` above ``current`` within ``limits``."""
    bottom, top = limits
    first = max((current // step + 1) * step, -(-bottom // step) * step)
    out = []
    value = first
    while value <= top:
        out.append(value)
        value += step
    return out


def _show(value: Fraction) -> str:
    return format_seconds(value)


class OverrunAdvisor:
    """``advisor(overruns)`` -> one piece of advice per overrun (for ``schedule(advise=)``).

    ``routine`` is the routine as rendered (after any ``--minutes`` fitting), or
    None for a cue script rendered as it stands; ``lengths`` the clip length in
    samples of every phrase already spoken; ``rate`` the speaking rate in use;
    ``spell`` how the advice names a setting (``--breath`` on the command line).
    """

    def __init__(
        self,
        *,
        routine: Routine | None,
        settings: Settings,
        lengths: Mapping[str, int],
        sound_length: Callable[[str], int],
        rate: int,
        max_speedup: float = 1.25,
        spell: Spell = as_written,
    ) -> None:
        self.spell = spell
        self.routine = routine
        self.fitted = settings.minutes is not None  # steps may differ from the file's
        self.settings = settings.model_copy(update={"minutes": None, "strict": False})
        self.lengths = dict(lengths)
        per_char = [n / len(t) for t, n in self.lengths.items() if t]
        self._per_char = statistics.median(per_char) if per_char else settings.sample_rate / 15
        self.sound_length = sound_length
        self.rate = rate
        self.max_speedup = max_speedup
        self._memo: dict[tuple[str, Fraction, int], set[Place] | None] = {}
        self._faithful: dict[int, bool] = {}
        self._places: dict[int, set[Place]] = {}

    # -- what-if renders

    def _length(self, text: str) -> int:
        known = self.lengths.get(text)
        # A phrase only a changed setting produces: estimated from the voice's pace.
        return known if known is not None else round(len(text) * self._per_char)

    def _overrunning(
        self, name: str, value: Fraction, index: int, routine: Routine, settings: Settings
    ) -> set[Place] | None:
        """Where cues of step ``index`` still overrun with ``routine`` and ``settings``
        (None: it does not render), the option ``name`` set to ``value``."""
        memo_key = (name, value, index)
        if memo_key not in self._memo:
            self._memo[memo_key] = self._run(routine, settings, index, self._alone(index))
        return self._memo[memo_key]

    def _alone(self, index: int) -> bool:
        """True when step ``index`` rendered on its own overruns where it does in
        the session: its what-ifs then render only the step."""
        if index not in self._faithful:
            assert self.routine is not None  # only a routine has options to try
            now = self._run(self.routine, self.settings, index, alone=True)
            self._faithful[index] = now == self._places.get(index, set())
        return self._faithful[index]

    def _run(
        self, routine: Routine, settings: Settings, index: int, alone: bool
    ) -> set[Place] | None:
        """Where cues of step ``index`` overrun, rendering that step ``alone`` or the
        whole ``routine`` (None: it does not render)."""
        if alone:
            routine = routine.model_copy(update={"steps": [routine.steps[index]]})
        try:
            text = render_script_text(routine, settings)
            script = parse_script(text, limit=False)
            plan = schedule(
                script,
                sample_rate=settings.sample_rate,
                speech_length=self._length,
                sound_length=self.sound_length,
                max_speedup=self.max_speedup,
            )
        except MatcueError:
            return None
        places = {_place(o) for o in plan.overruns}
        if alone:
            return {(index, where) for i, where in places if i == 0}
        return {p for p in places if p[0] == index}

    def _smallest(self, option: _Option, group: list[Overrun]) -> Fraction | None:
        """The smallest grid value with which every cue of ``group`` fits (None: not
        even the largest)."""
        assert self.routine is not None  # only a routine has options to try
        index = group[0].step_index
        places = {_place(o) for o in group}

        def fits(i: int) -> bool:
            value = option.grid[i]
            routine = option.routine(value) if option.routine is not None else self.routine
            assert routine is not None
            still = self._overrunning(option.name, value, index, routine, option.settings(value))
            return still is not None and not places & still

        grid = option.grid
        if not grid or not fits(len(grid) - 1):
            return None
        lo, hi = -1, len(grid) - 1  # grid[hi] fits; grid[lo] (or the current value) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                hi = mid
            else:
                lo = mid
        return grid[hi]

    def _options(self) -> list[_Option]:
        if self.routine is None:
            return []  # a cue script renders as it stands: its windows are in the file
        s = self.settings
        timing = Timing.of(s, self.routine.defaults)
        breath, pace = timing.breath, timing.pace
        count = timing.count / pace  # the count setting, not the paced count
        return [
            _Option(
                "breath",
                _grid(breath, BREATH_STEP, BREATH_RANGE),
                lambda v: s.model_copy(update={"breath": float(v)}),
            ),
            _Option(
                "count",
                _grid(count, COUNT_STEP, COUNT_RANGE),
                lambda v: s.model_copy(update={"count": float(v)}),
            ),
            _Option(
                "pace",
                _grid(pace, PACE_STEP, PACE_RANGE),
                lambda v: s.model_copy(update={"pace": float(_show(v))}),
            ),
        ]

    def _field(self, group: list[Overrun]) -> _Field | None:
        """The field of the overrunning cue's step that shapes its window, if any."""
        routine = self.routine
        index = group[0].step_index
        if routine is None or not 0 <= index < len(routine.steps):
            return None
        step = routine.steps[index]
        labels = _labels(group[0].where)
        window = step.window(labels.get("phase"), "rep" in labels)
        if window is None:
            return None
        name = window.field
        timing = Timing.of(self.settings, routine.defaults)
        if isinstance(window, CycleWindow):
            current = to_fraction(window.seconds or timing.breath)
            unit, top = "s", Fraction(CYCLE_RANGE[1])
            step_by = Fraction(1)
        else:
            d = window.duration
            if d is None:  # a transition without its own duration
                d = Duration(unit="seconds", value=float(timing.transition / timing.pace))
            current = to_fraction(d.value)
            top = Fraction(DURATION_LIMITS[d.unit])
            unit = {"seconds": "s", "breaths": "breaths", "counts": "counts"}[d.unit]
            step_by = FIELD_STEP if d.unit == "seconds" else Fraction(1)
        top = min(top, max(current * 4, current + FIELD_REACH))
        grid = _grid(current, step_by, (current, top))
        field_unit = "seconds" if unit == "s" else unit

        def with_value(v: Fraction) -> Routine:
            value: float | Duration = float(v)
            if not isinstance(window, CycleWindow):
                value = Duration(unit=field_unit, value=float(v))  # type: ignore[arg-type]
            steps = list(routine.steps)
            steps[index] = step.model_copy(update={name: value})
            return routine.model_copy(update={"steps": steps})

        option = _Option(f"steps[{index}].{name}", grid, lambda _v: self.settings, with_value)
        return _Field(name, unit, option)

    def _field_fix(self, key: Key, group: list[Overrun]) -> str | None:
        """ "raise 'move' of step 'Lift' (line 12) to 2.5 s", when a value fits."""
        found = self._field(group)
        if found is None:
            return None
        value = self._smallest(found.option, group)
        if value is None:
            return None
        assert self.routine is not None
        step = self.routine.steps[key[0]]
        path = ("steps", key[0], found.name)
        line = "" if self.fitted else f" (line {self.routine.line_of(path)})"
        verb = "raise" if found.name in step.model_fields_set else "set"
        value_text = f"{_show(value)} {found.unit}"
        return f"{verb} '{found.name}' of step '{step.display_name}'{line} to {value_text}"

    def _rate(self, group: list[Overrun]) -> int | None:
        """A rate at which every overrun of ``group`` fits, if one is allowed."""
        if any(o.window <= 0 for o in group):
            return None
        ratio = max(o.needed / o.window for o in group)
        rate = math.ceil(self.rate * ratio * RATE_MARGIN / 5) * 5
        return rate if rate <= RATE_RANGE[1] else None

    def __call__(self, overruns: list[Overrun]) -> list[str]:
        groups: dict[Key, list[Overrun]] = {}
        for o in overruns:
            groups.setdefault((o.step_index, o.text), []).append(o)
        advice: dict[Key, str] = {}
        options = self._options()
        for o in overruns:
            self._places.setdefault(o.step_index, set()).add(_place(o))
        for key, group in groups.items():
            own = self._field_fix(key, group)
            fixes = []
            for option in options:
                value = self._smallest(option, group)
                if value is not None:
                    fixes.append(f"{self.spell(option.name)} {_show(value)}")
            rate = self._rate(group)
            if rate is not None:
                fixes.append(f"{self.spell('rate')} {rate}")
            shorten = (
                "shorten the cue"
                if self.routine is not None
                else "shorten the cue or lengthen its block in the script"
            )
            if fixes:
                listed = ", ".join(fixes[:-1]) + (" or " if len(fixes) > 1 else "") + fixes[-1]
                flags = f"it fits with {listed}; or {shorten}"
                advice[key] = f"{own}; or {flags}" if own else flags
            elif own:
                advice[key] = f"{own}; or {shorten}"
            else:
                advice[key] = f"no option within its allowed range makes it fit: {shorten}"
        return [advice[(o.step_index, o.text)] for o in overruns]
