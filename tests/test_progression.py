"""Week-to-week progression (issue 12 item 8, issue 15): a step's
``progression:`` written once, chosen with ``--week N``."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from matcue.cli import main
from matcue.cuescript import print_script
from matcue.routine import parse_routine
from matcue.routine.progression import routine_at_week
from matcue.source import build_script, load_source, resolve_settings

CURL_UP = """\
title: Curl-up
steps:
  - kind: reps
    name: Curl-up
    reps: 6
    reps_range: [4, 8]
    move: 2
    hold: 10
    release: 2
    rest: 3
    cues: {move: Lift a little., release: Lower slowly.}
    progression:
      per_week: {reps: 2, hold: 5}
      max: {reps: 12}
  - kind: hold
    name: Side bridge
    duration: {breaths: 3}
    progression: {per_week: {hold: 1}, every: 2}
  - kind: breath
    name: Breathe
    reps: 4
    cues: {inhale: In., exhale: Out.}
"""


@pytest.fixture
def curl_up(tmp_path):
    path = tmp_path / "curl-up.yaml"
    path.write_text(CURL_UP, encoding="utf-8")
    return path


def _blocks(script_text: str, step: str) -> list[str]:
    """The @block lines of the step named ``step`` in a cue script."""
    part = script_text.split(f"@step {step}\n", 1)[1].split("@step ", 1)[0]
    return re.findall(r"^@block .*$", part, flags=re.M)


def _script(path, week=None):
    source = load_source(str(path))
    settings = resolve_settings(source, {"week": week})
    script, changes = build_script(source, settings)
    return print_script(script), changes


def test_week_3_has_four_more_reps_and_ten_more_seconds_of_hold(curl_up):
    week1, changes1 = _script(curl_up)
    week3, changes3 = _script(curl_up, 3)
    assert changes1 == []
    one, three = _blocks(week1, "Curl-up"), _blocks(week3, "Curl-up")
    assert len(one) == 6 and len(three) == 10
    # A rep is move 2 + hold + release 2 + rest 3: 17 s in week 1, 27 s in week 3.
    assert one[0].startswith("@block 17 ") and three[0].startswith("@block 27 ")
    assert "week 3: Curl-up: 10 reps (week 1: 6), hold 20 seconds (week 1: 10 seconds)" in (
        changes3
    )


def test_caps_every_and_reps_range_follow_the_weeks(curl_up):
    routine = parse_routine(CURL_UP, filename="curl-up.yaml")
    week10, _ = routine_at_week(routine, 10)
    curl, bridge, breath = week10.steps
    assert curl.reps == 12  # capped by max.reps, not 6 + 18
    assert curl.hold.value == 55  # no cap on hold: 10 + 9 * 5
    assert curl.reps_range == (10, 12)  # [4, 8] moved up by 6, within the cap
    assert bridge.duration.value == 3 + 4  # every 2 weeks: weeks 3, 5, 7, 9
    assert breath is routine.steps[2]  # no progression: untouched
    week1, changes = routine_at_week(routine, 1)
    assert week1.steps == routine.steps and changes == []


def test_without_progression_week_changes_nothing_and_says_so():
    plain, _ = _script("thaw")
    week5, changes = _script("thaw", 5)
    assert changes == ["week 5: this routine has no progression; it is the same every week"]
    assert week5 == plain


def test_cli_week_on_script_check_and_range(curl_up):
    runner = CliRunner()
    r = runner.invoke(main, ["script", str(curl_up), "--week", "3"])
    assert r.exit_code == 0, r.output
    assert "matcue: week 3: Curl-up: 10 reps" in r.output
    r = runner.invoke(main, ["check", str(curl_up), "--week", "52"])
    assert r.exit_code == 0 and r.output.strip().endswith(": ok")
    r = runner.invoke(main, ["script", str(curl_up), "--week", "53"])
    assert r.exit_code == 2
    assert "--week: expected a whole number from 1 to 52, got 53" in r.output


BAD = """\
title: Bad
steps:
  - kind: say
    text: Hello.
    progression: {per_week: {reps: 1}}
  - kind: breath
    name: B
    reps: 6
    cues: {inhale: In., exhale: Out.}
    progression:
      per_week: {hold: 5}
  - kind: reps
    name: R
    reps: 6
    hold: {counts: 3}
    cues: {move: Up., release: Down.}
    progression:
      per_week: {hold: 1.5}
      max: {reps: 3}
  - kind: hold
    name: H
    duration: 10
    progression: {per_week: {}}
"""


def test_a_progression_a_step_cannot_take_is_refused_at_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(path)])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        f"{path}:5: steps[0].progression: a say step does not progress; only breath, hold "
        "and reps steps do",
        f"{path}:11: steps[1].progression.per_week.hold: a breath step progresses by reps only",
        f"{path}:18: steps[2].progression.per_week.hold: the hold is in counts: expected a "
        "whole number, got 1.5",
        f"{path}:19: steps[2].progression.max.reps: 3 is below the step's week-1 reps (6)",
        f"{path}:23: steps[3].progression: per_week needs at least one of reps, sets, hold",
    ]


def test_the_schema_describes_progression():
    from matcue.routine import routine_schema

    text = str(routine_schema())
    assert "per_week" in text and "'every'" in text
