"""The built-ins' cue scripts and timelines equal their reviewed goldens
(`make golden` regenerates them after an intended change)."""

from __future__ import annotations

import json

import pytest
from update_golden import (
    CASES,
    TIMELINE_CASES,
    golden_path,
    golden_text,
    timeline_path,
    timeline_text,
)

from matcue.cuescript import parse_script


@pytest.mark.parametrize("name,verbosity", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_cue_script_matches_golden(name, verbosity):
    expected = golden_path(name, verbosity).read_text(encoding="utf-8")
    assert golden_text(name, verbosity) == expected, "run `make golden` and review the diff"
    parse_script(expected)  # the golden itself is a valid cue script


@pytest.mark.parametrize("name,case", TIMELINE_CASES, ids=[f"{n}-{c}" for n, c in TIMELINE_CASES])
def test_timeline_matches_golden(name, case):
    expected = timeline_path(name, case).read_text(encoding="utf-8")
    assert timeline_text(name, case) == expected, "run `make golden` and review the diff"
    assert json.loads(expected)  # the golden itself is a JSON list of events
