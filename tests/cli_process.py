"""Run ``matcue`` as a user does: a fresh interpreter, the real CLI, a bounded wait."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
