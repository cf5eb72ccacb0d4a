"""The Timeline: the single truth about when everything happens.

The scheduler writes it; the mixer, the WebVTT transcript, the JSON timeline
and the ID3 chapters are all written from it, so they agree. All positions are
integer sample offsets at ``Timeline.sample_rate``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

EventKind = Literal["speech", "pause", "sound", "phase"]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    """What happens: spoken line, silence, a non-speech sound, or a breath/hold phase window."""
    start: int
    """First sample (inclusive)."""
    end: int
    """Last sample + 1 (exclusive). For speech, where the (possibly sped-up) clip ends."""
    step: str
    """Name of the step (chapter) this event belongs to."""
    step_index: int
    """0-based index of the step in the session (the chapter index); unique, where
    names may repeat. The session's opening (before the first step) belongs to the
    first chapter: index 0 and the first step's name and id."""
    text: str | None = None
    """The spoken text (speech events only)."""
    clip: str | None = None
    """Key of the audio clip in the clip store (speech events only)."""
    sound: str | None = None
    """Name of the sound, e.g. ``chime`` (sound events only)."""
    phase: str | None = None
    """Breath or movement phase: inhale, exhale, hold, move, release, rest, count..."""
    rep: int | None = None
    """1-based repetition within the step (and set)."""
    set: int | None = None
    """1-based set number."""
    side: str | None = None
    """``left`` or ``right`` for sided steps."""
    anchored: bool = False
    """True when the start was fixed by an anchored block, not by speech length."""
    gain_db: float = 0.0
    """Relative level for sounds."""
    step_id: str = ""
    """The step's id: its name as a slug, unique in the session ("transition",
    "transition-2", ...; see :func:`step_ids`)."""


@dataclass(frozen=True)
class Chapter:
    title: str
    start: int
    end: int
    id: str = ""
    """The step id of the chapter's step (:func:`step_ids`)."""


def slug(name: str) -> str:
    """``name`` as an id: lowercase ASCII letters, digits and '-' ("Round 1: Cat-Cow"
    -> "round-1-cat-cow", "Respiración" -> "respiracion"); "step" when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "step"


def step_ids(names: list[str]) -> list[str]:
    """A unique id per step: the slug of its name, the second and later steps of
    the same slug numbered ("transition", "transition-2", "transition-3")."""
    seen: dict[str, int] = {}
    taken = set()
    out = []
    for name in names:
        base = slug(name)
        n = seen.get(base, 0) + 1
        ident = base if n == 1 else f"{base}-{n}"
        while ident in taken:  # a name that is itself "transition-2"
            n += 1
            ident = f"{base}-{n}"
        seen[base] = n
        taken.add(ident)
        out.append(ident)
    return out


@dataclass
class Timeline:
    sample_rate: int
    length: int
    """Total length in samples (the session's end)."""
    events: list[Event] = field(default_factory=list)
    chapters: list[Chapter] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    """Title, routine, pace, breath, engine, voice... travels into tags and headers."""
    warnings: list[str] = field(default_factory=list)

    def seconds(self, samples: int) -> float:
        return samples / self.sample_rate

    @property
    def duration(self) -> float:
        return self.length / self.sample_rate
