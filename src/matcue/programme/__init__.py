"""Programmes: a plan over weeks (:mod:`.model`, :mod:`.loader`), expanded into
sessions (:mod:`.plan`), rendered as a series with a podcast feed and a playlist
(:mod:`.render`, :mod:`.feed`). See docs/programme-format.md.

The library never writes to the terminal; ``matcue programme`` is
:mod:`matcue.cli.programme`.
"""

from __future__ import annotations

from .loader import (
    LoadedProgramme,
    builtin_programme_names,
    load_builtin_programme,
    load_programme,
    parse_programme,
)
from .model import Programme, programme_schema
from .plan import PlannedSession, episode_title, expand

__all__ = [
    "LoadedProgramme",
    "PlannedSession",
    "Programme",
    "builtin_programme_names",
    "episode_title",
    "expand",
    "load_builtin_programme",
    "load_programme",
    "parse_programme",
    "programme_schema",
]
