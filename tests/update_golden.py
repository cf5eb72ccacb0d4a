"""Regenerate the golden cue scripts: `make golden` (then review the diff).

The goldens pin the exact words and timings each built-in routine produces
at its defaults and at each verbosity, so a template or routine change shows
up as a readable diff in review.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
CASES = [
    (name, verbosity)
    for name in ("thaw", "clutch", "retrain", "morning", "desk-break", "control", "articulate")
    for verbosity in ("full", "brief", "minimal")
]


def golden_text(name: str, verbosity: str) -> str:
    from matcue.cuescript import print_script
    from matcue.pipeline import build_script, load_source, resolve_settings

    source = load_source(name)
    script, _ = build_script(source, resolve_settings(source, {"verbosity": verbosity}))
    return print_script(script)


def golden_path(name: str, verbosity: str) -> Path:
    return GOLDEN / f"{name}.{verbosity}.cue"


def main() -> int:
    GOLDEN.mkdir(exist_ok=True)
    for name, verbosity in CASES:
        golden_path(name, verbosity).write_text(golden_text(name, verbosity), encoding="utf-8")
    print(f"wrote {len(CASES)} golden cue scripts to {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
