"""Batch renders: several routines at once, one per core."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from .errors import MatcueError


def _job(
    name: str,
    overrides: dict[str, Any],
    output: Path | None,
    timeline_path: Path | None,
    transcript: bool,
) -> Any:
    from .batch import render_one

    # One synthesis process per job: the batch itself already fills the cores.
    return render_one(name, overrides, output, timeline_path, transcript, synth_workers=1)


def render_parallel(
    names: list[str],
    overrides: dict[str, Any],
    *,
    output: Path | None,
    timeline_path: Path | None,
    transcript: bool,
    echo: Callable[[str], None],
    quiet: bool,
) -> list[MatcueError]:
    """Render every name; report each result as it finishes. Returns the failures."""
    from .batch import report

    failures: list[MatcueError] = []
    workers = max(1, min(len(names), os.cpu_count() or 1, 4))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(_job, n, overrides, output, timeline_path, transcript): n for n in names
        }
        for future in as_completed(futures):
            name = futures[future]
            try:
                result = future.result()
            except MatcueError as exc:
                failures.append(exc)
                for line in str(exc).splitlines():
                    echo(f"matcue: {name}: {line}" if not line.startswith(name) else line)
                continue
            report(result, echo, quiet)
    return failures
