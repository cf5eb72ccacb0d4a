"""The built-in routines, described for ``matcue routines``."""

from __future__ import annotations

from .estimate import estimate_seconds
from .routine import builtin_names, load_builtin
from .settings import merge
from .source import Source, build_script


def describe_builtins() -> list[str]:
    """One line per built-in: its name, its length at its defaults (estimated the
    same way ``--minutes`` measures) and its summary."""
    rows = []
    for name in builtin_names():
        routine = load_builtin(name)
        settings = merge(routine.defaults, {})
        script, _ = build_script(Source(name=name, routine=routine), settings)
        minutes = estimate_seconds(script, settings.rate) / 60
        shown = round(minutes * 2) / 2 if minutes < 10 else round(minutes)  # to 30 s, or 1 min
        rows.append((name, f"~{shown:g} min", routine.summary or routine.title))
    width = max((len(r[0]) for r in rows), default=0)
    return [f"{n:<{width}}  {m:>8}  {s}" for n, m, s in rows]
