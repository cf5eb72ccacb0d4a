"""Cue script + clip lengths -> Timeline.

Two kinds of time (DESIGN.md, "Time is the product"):

* flowing items (spoken lines, pauses, sounds) take as long as they take;
* anchored blocks have a fixed length and their lines start at fixed offsets.

Consecutive blocks form a *chain*. Every anchored start is computed from the
chain's origin as ``origin + round(exact_seconds * sample_rate)`` where
``exact_seconds`` is an exact ``Fraction``: anchors never drift, however long
the chain, and never depend on earlier clip lengths. A spoken line that does
not fit its window is sped up (at most ``max_speedup``) or reported (an
:class:`Overrun`; ``advise`` says what would make it fit); later anchors never
move.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from .cuescript import Block, Context, CueScript, Pause, Say, Sound, StepMark
from .errors import InputError
from .timeline import Chapter, Event, Timeline, slug, step_ids

log = logging.getLogger(__name__)

INTRO_STEP = "Introduction"
OVERRUN_FIX = "use a shorter cue or a longer window"
"""What to do about an overrun when the caller gives no ``advise`` (which knows
the options that shape each window: see :mod:`matcue.advice`)."""


@dataclass(frozen=True)
class Overrun:
    """A spoken anchored cue that does not fit its window even at the highest speed-up."""

    step: str
    step_index: int
    where: str
    """The labels in force, e.g. ``rep 3, phase inhale`` (may be empty)."""
    text: str
    window: int
    """Samples from the cue's start to the next spoken anchor (or the block's end)."""
    needed: int
    """Samples the cue takes at ``speedup``."""
    sample_rate: int
    speedup: float

    def describe(self) -> str:
        over = (self.needed - self.window) / self.sample_rate
        return (
            f"step '{self.step}'{f' ({self.where})' if self.where else ''}: cue "
            f'"{self.text}" overruns its {self.window / self.sample_rate:.2f} s window by '
            f"{over:.2f} s even at {self.speedup:g}x speed"
        )


def _identified(
    events: list[Event], chapter_starts: list[tuple[str, int]], ids: list[str]
) -> list[Event]:
    """``events`` with their step ids; the opening before the first step joins
    the first chapter (which starts at 0), so events and chapters agree."""
    out = []
    for ev in events:
        if ev.step_index < 0:
            if chapter_starts:
                ev = replace(ev, step=chapter_starts[0][0], step_index=0)
            else:  # no step at all: the whole session is its opening
                ev = replace(ev, step_index=0, step_id=slug(INTRO_STEP))
        if ev.step_index < len(ids):
            ev = replace(ev, step_id=ids[ev.step_index])
        out.append(ev)
    return out


def _grouped_warnings(overruns: list[Overrun], fixes: list[str]) -> list[str]:
    """One warning per distinct problem: the same cue overrunning the same window in
    every rep of a step is said once, with how many more times it happens."""
    groups: dict[tuple[int, str, int, int, str], list[Overrun]] = {}
    for o, fix in zip(overruns, fixes, strict=True):
        groups.setdefault((o.step_index, o.text, o.window, o.needed, fix), []).append(o)
    out = []
    for key, same in groups.items():
        first = same[0]
        if len(same) > 1:
            more = f"and {len(same) - 1} more time{'s' if len(same) > 2 else ''}"
            first = replace(first, where=f"{first.where}, {more}" if first.where else more)
        out.append(f"{first.describe()}; {key[-1]}")
    return out


@dataclass(frozen=True)
class Stretch:
    """A clip that must be sped up (pitch kept) to fit its anchored window."""

    text: str
    factor: float


@dataclass
class Schedule:
    timeline: Timeline
    stretches: dict[str, Stretch] = field(default_factory=dict)
    """Clip key -> what to make for it (keys not here are plain phrase clips)."""
    overruns: list[Overrun] = field(default_factory=list)
    """The cues that do not fit even sped up (each also a warning in the timeline)."""


def stretched_key(text: str, factor: float) -> str:
    return f"x{factor:.4f}:{text}"


def _samples(seconds: Fraction, sample_rate: int) -> int:
    return round(seconds * sample_rate)


def schedule(
    script: CueScript,
    *,
    sample_rate: int,
    speech_length: Callable[[str], int],
    sound_length: Callable[[str], int],
    max_speedup: float = 1.25,
    strict: bool = False,
    sounds: bool = True,
    advise: Callable[[list[Overrun]], list[str]] | None = None,
) -> Schedule:
    """Place every item of ``script`` on the sample grid.

    ``speech_length(text)`` is the length in samples of the (trimmed) clip
    for ``text`` at ``sample_rate``; ``sound_length(name)`` likewise for sounds.
    With ``sounds=False`` (``--no-chime``) no sound is placed: the time each
    would have held the flow is a pause instead, so nothing else moves and the
    timeline lists only what the audio has.
    Overruns become the timeline's warnings (with ``strict``, an InputError), each
    with the advice ``advise`` gives for it (else :data:`OVERRUN_FIX`). Nothing is
    logged here: the caller reports the warnings, once.
    """
    sr = sample_rate
    events: list[Event] = []
    chapter_starts: list[tuple[str, int]] = []
    stretches: dict[str, Stretch] = {}
    overruns: list[Overrun] = []

    cursor = 0
    chain_origin: int | None = None
    chain_offset = Fraction(0)
    step = INTRO_STEP
    step_index = -1
    ctx: dict[str, str] = {}

    def labels(extra: dict[str, str]) -> dict[str, Any]:
        merged = {**ctx, **extra}
        out: dict[str, Any] = {}
        for key in ("rep", "set"):
            if merged.get(key):
                out[key] = int(merged[key])
        for key in ("side", "phase"):
            if merged.get(key):
                out[key] = merged[key]
        return out

    def emit(kind: str, start: int, end: int, lab: dict[str, Any], **fields: Any) -> None:
        """One event of the current step, with the labels in force."""
        events.append(Event(kind, start, end, step, step_index, **fields, **lab))  # type: ignore[arg-type]

    for item in script.items:
        if isinstance(item, StepMark):
            step = item.name
            step_index += 1
            ctx = {}
            chapter_starts.append((step, 0 if step_index == 0 else cursor))
            continue
        if isinstance(item, Context):
            for key, value in item.values:
                if value:
                    ctx[key] = value
                else:
                    ctx.pop(key, None)
            continue
        if not isinstance(item, Block):
            chain_origin = None
        if isinstance(item, Say):
            n = speech_length(item.text)
            emit("speech", cursor, cursor + n, labels({}), text=item.text, clip=item.text)
            cursor += n
        elif isinstance(item, Pause):
            n = _samples(item.seconds, sr)
            if n:
                emit("pause", cursor, cursor + n, labels({}))
            cursor += n
        elif isinstance(item, Sound):
            n = sound_length(item.name)  # also checks the name, chimes on or off
            held = n if item.wait is None else _samples(item.wait, sr)
            if sounds:
                emit("sound", cursor, cursor + n, labels({}), sound=item.name, gain_db=item.gain_db)
            elif held:
                emit("pause", cursor, cursor + held, labels({}))
            cursor += held
        elif isinstance(item, Block):
            if chain_origin is None:
                chain_origin = cursor
                chain_offset = Fraction(0)
            base = chain_offset
            attrs = dict(item.attrs)
            starts = [chain_origin + _samples(base + line.offset, sr) for line in item.lines]
            block_end = chain_origin + _samples(base + item.length, sr)
            spoken = [i for i, line in enumerate(item.lines) if line.text]
            for i, line in enumerate(item.lines):
                start = starts[i]
                window_end = starts[i + 1] if i + 1 < len(item.lines) else block_end
                lab = labels({**attrs, **({"phase": line.phase} if line.phase else {})})
                if line.phase:
                    emit("phase", start, window_end, lab, anchored=True)
                if not line.text:
                    continue
                later = [j for j in spoken if j > i]
                speech_end = starts[later[0]] if later else block_end
                window = speech_end - start
                n = speech_length(line.text)
                key = line.text
                end = start + n
                if n > window:
                    needed = n / window if window > 0 else math.inf
                    factor = min(needed * 1.01, max_speedup)
                    key = stretched_key(line.text, factor)
                    stretches[key] = Stretch(line.text, factor)
                    stretched = math.ceil(n / factor)
                    end = start + stretched
                    if stretched > window:
                        where = ", ".join(f"{k} {v}" for k, v in lab.items())
                        overruns.append(
                            Overrun(
                                step,
                                step_index,
                                where,
                                line.text,
                                window,
                                stretched,
                                sr,
                                max_speedup,
                            )
                        )
                        end = speech_end  # cut, so the next anchored cue stays clear
                emit("speech", start, end, lab, text=line.text, clip=key, anchored=True)
            chain_offset = base + item.length
            cursor = block_end
    warnings: list[str] = []
    if overruns:
        fixes = advise(overruns) if advise is not None else [OVERRUN_FIX] * len(overruns)
        warnings = _grouped_warnings(overruns, fixes)
        if strict:
            raise InputError("\n".join(f"overrun: {m}" for m in warnings))
    length = max([cursor] + [e.end for e in events])
    ids = step_ids([name for name, _start in chapter_starts])
    events = _identified(events, chapter_starts, ids)
    chapters: list[Chapter] = []
    for i, (name, start) in enumerate(chapter_starts):
        end = chapter_starts[i + 1][1] if i + 1 < len(chapter_starts) else length
        chapters.append(Chapter(name, start, end, ids[i]))
    timeline = Timeline(
        sample_rate=sr,
        length=length,
        events=sorted(events, key=lambda e: (e.start, e.kind != "phase")),
        chapters=chapters,
        meta={"title": script.title, **script.meta},
        warnings=warnings,
    )
    return Schedule(timeline, stretches, overruns)
