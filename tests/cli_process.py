"""Run ``matcue`` as a user does: a fresh interpreter, the real CLI, a bounded wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TIMEOUT = 240


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matcue.cli", *args],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def rendered_timeline(routine: Path, folder: Path) -> list[dict[str, Any]]:
    """Render ``routine`` with the real CLI (in this process) to an MP3 in ``folder``
    and return the events of its JSON timeline; fails the test if the render fails."""
    from click.testing import CliRunner

    from matcue.cli import main

    out, timeline = folder / f"{routine.stem}.mp3", folder / f"{routine.stem}.json"
    result = CliRunner().invoke(
        main, ["render", str(routine), "-o", str(out), "--timeline", str(timeline)]
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 5000
    events: list[dict[str, Any]] = json.loads(timeline.read_text(encoding="utf-8"))
    return events
