"""A programme expanded into its sessions, week by week: what each one renders,
with which settings, under which file name, and the hash of its inputs (a
session whose inputs are unchanged is not rendered again)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from matcue import __version__
from matcue.routine import Routine
from matcue.routine.progression import has_progression
from matcue.speech.registry import ENGINE_ENV

from .loader import LoadedProgramme
from .model import session_slot


@dataclass(frozen=True)
class PlannedSession:
    """One session of the programme, ready to render."""

    week: int
    """The programme week, 1-based (the podcast's season)."""
    day: int
    """The day of the weekly pattern, 1-based."""
    day_name: str | None
    slot: str
    position: int
    """The session's place within its day, 1-based."""
    number: int
    """Position in the whole programme, 1-based."""
    episode: int
    """Position within its week, 1-based (the podcast's episode number)."""
    routine_arg: str
    """What ``matcue render`` takes for its routine."""
    routine: Routine
    overrides: dict[str, Any]
    """Settings as ``matcue render`` flags give them; ``week`` only for a routine
    with a progression (the others are the same every week)."""
    title: str
    input_hash: str

    @property
    def stem(self) -> str:
        """The file name without extension: week, day, place in the day and slot
        (``w01-d1-2-desk``), so names sort in programme order."""
        return f"w{self.week:02d}-d{self.day}-{self.position}-{self.slot}"


def _input_hash(routine_text: str, overrides: dict[str, Any], extra: dict[str, Any]) -> str:
    """What a session's audio depends on: the routine file, its settings, the
    global settings of the render and matcue's version."""
    blob = json.dumps(
        {
            "routine": routine_text,
            "settings": overrides,
            "render": extra,
            # What engine 'auto' stands for on this machine changes every voice.
            "engine_env": os.environ.get(ENGINE_ENV),
            "matcue": __version__,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def expand(loaded: LoadedProgramme, extra: dict[str, Any] | None = None) -> list[PlannedSession]:
    """Every session of the programme in order (week, day, session). ``extra`` are
    settings given for the whole render (``--engine``, ``--voice``...); they override
    the file's and are part of each input hash."""
    extra = dict(extra or {})
    prog = loaded.programme
    out: list[PlannedSession] = []
    for week in range(1, prog.weeks + 1):
        episode = 0
        for d, day in enumerate(prog.days, start=1):
            for position, session in enumerate(day.sessions, start=1):
                ref = loaded.routines[session.routine]
                episode += 1
                overrides = {
                    **prog.settings.overrides(),
                    **session.settings.overrides(),
                    **extra,
                }
                if has_progression(ref.routine):
                    # Only then does the week change the session (and its hash).
                    overrides["week"] = session.week if session.week is not None else week
                name = session.title or ref.routine.title
                out.append(
                    PlannedSession(
                        week=week,
                        day=d,
                        day_name=day.name,
                        slot=session_slot(session),
                        position=position,
                        number=len(out) + 1,
                        episode=episode,
                        routine_arg=ref.arg,
                        routine=ref.routine,
                        overrides=overrides,
                        title=name,
                        input_hash=_input_hash(ref.text, overrides, extra),
                    )
                )
    return out


def episode_title(session: PlannedSession) -> str:
    """``Week 1, day 2 (Stability day): Morning Back Routine``."""
    day = f"day {session.day}" + (f" ({session.day_name})" if session.day_name else "")
    return f"Week {session.week}, {day}: {session.title}"


def estimated_seconds(sessions: list[PlannedSession]) -> dict[str, float]:
    """Each distinct session's length (by input hash), estimated without speech the
    way ``matcue routines`` and ``--minutes`` measure it."""
    from matcue.estimate import estimate_seconds
    from matcue.settings import merge
    from matcue.source import Source, build_script

    out: dict[str, float] = {}
    for session in sessions:
        if session.input_hash in out:
            continue
        settings = merge(session.routine.defaults, session.overrides)
        source = Source(name=session.routine.name, routine=session.routine)
        script, _ = build_script(source, settings)
        out[session.input_hash] = estimate_seconds(script, settings.rate)
    return out
