"""Regenerate the golden files: `make golden` (then review the diff).

The cue-script goldens pin the exact words and timings each built-in routine
produces at its defaults and at each verbosity, so a template or routine
change shows up as a readable diff in review. The timeline goldens pin the
schedule (every event's start and end) of each built-in at its defaults, at
``--minutes 5`` and at ``--pace slow --verbosity brief``, with speech timed
by the word-count estimate (real voices differ between machines), so a change
to the step kinds, the fitting or the scheduler shows up too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
TIMELINES = GOLDEN / "timelines"
NAMES = ("thaw", "clutch", "retrain", "morning", "desk-break", "control", "articulate")
CASES = [(name, verbosity) for name in NAMES for verbosity in ("full", "brief", "minimal")]
TIMELINE_SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "minutes-5": {"minutes": 5},
    "slow-brief": {"pace": "slow", "verbosity": "brief"},
}
TIMELINE_CASES = [(name, case) for name in NAMES for case in TIMELINE_SETTINGS]


def golden_text(name: str, verbosity: str) -> str:
    from matcue.cuescript import print_script
    from matcue.pipeline import build_script, load_source, resolve_settings

    source = load_source(name)
    script, _ = build_script(source, resolve_settings(source, {"verbosity": verbosity}))
    return print_script(script)


def golden_path(name: str, verbosity: str) -> Path:
    return GOLDEN / f"{name}.{verbosity}.cue"


def timeline_text(name: str, case: str) -> str:
    """The estimated timeline as JSON, one event per line (short, readable diffs)."""
    from matcue.estimate import estimated_timeline
    from matcue.export import timeline_to_json
    from matcue.pipeline import build_script, load_source, resolve_settings

    source = load_source(name)
    settings = resolve_settings(source, TIMELINE_SETTINGS[case])
    script, _ = build_script(source, settings)
    events = timeline_to_json(estimated_timeline(script, settings.rate))
    lines = [json.dumps(event, ensure_ascii=False) for event in events]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def timeline_path(name: str, case: str) -> Path:
    return TIMELINES / f"{name}.{case}.json"


def main() -> int:
    GOLDEN.mkdir(exist_ok=True)
    TIMELINES.mkdir(exist_ok=True)
    for name, verbosity in CASES:
        golden_path(name, verbosity).write_text(golden_text(name, verbosity), encoding="utf-8")
    for name, case in TIMELINE_CASES:
        timeline_path(name, case).write_text(timeline_text(name, case), encoding="utf-8")
    print(f"wrote {len(CASES)} golden cue scripts and {len(TIMELINE_CASES)} timelines to {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
