"""--minutes N lands within 10% of N minutes: every built-in at the short end of
the range (5 minutes), where sensible bounds bind hardest, and control across it.
Real speech: the fit estimates speech by word count, the check is the rendered
timeline."""

from __future__ import annotations

import pytest

from matcue.fit import fit_routine
from matcue.pipeline import load_source, prepare, resolve_settings
from matcue.routine import builtin_names, parse_routine
from matcue.settings import Settings

FLOOR_ABOVE_FIVE = {"articulate"}
"""Built-ins whose shortest version within sensible bounds is longer than 5 minutes at
the calm default rate (issue 11: 156 wpm in sessions, was 171 on eSpeak): articulate's
is about 5.6 minutes, measured. For these the fit must say so (the test below)."""


@pytest.mark.parametrize("name", [n for n in builtin_names() if n not in FLOOR_ABOVE_FIVE])
def test_five_minutes_lands_within_ten_percent(name: str) -> None:
    src = load_source(name)
    p = prepare(src, resolve_settings(src, {"minutes": 5}))
    assert abs(p.timeline.duration - 300) <= 30, (p.timeline.duration, p.changes)
    assert not any("could only reach" in c for c in p.changes), p.changes


@pytest.mark.parametrize("name", sorted(FLOOR_ABOVE_FIVE))
def test_five_minutes_out_of_reach_is_said_and_the_shortest_is_made(name: str) -> None:
    """When 5 minutes is out of reach the report says how close it could get, and
    the session is that long (within 10 %), not longer."""
    src = load_source(name)
    p = prepare(src, resolve_settings(src, {"minutes": 5}))
    said = [c for c in p.changes if "could only reach" in c]
    assert said, p.changes
    reach = float(said[0].split("about ")[1].split()[0]) * 60
    assert 300 < reach <= 360, said
    assert abs(p.timeline.duration - reach) <= 0.1 * reach, (p.timeline.duration, said)


@pytest.mark.parametrize("minutes", [7, 10, 15, 20, 30, 45, 60])
def test_control_lands_within_ten_percent_across_the_range(minutes: int) -> None:
    """The set-up instructions are shortened only when that lands closer: at 7
    minutes it used to overshoot to 6.1."""
    src = load_source("control")
    p = prepare(src, resolve_settings(src, {"minutes": minutes}))
    assert abs(p.timeline.duration - 60 * minutes) <= 6 * minutes, (p.timeline.duration, p.changes)


# ---------------------------------------------------------------- the fit cache


@pytest.mark.parametrize(("name", "minutes"), [("thaw", 10), ("control", 60), ("control", 7)])
def test_a_cached_fit_rebuilds_the_very_same_routine(tmp_path, name: str, minutes: int) -> None:
    """A warm render skips the search (dozens of template renders) and must still
    get exactly what the search found: the same routine and the same report."""
    from matcue.fit import FitCache, fit_routine

    src = load_source(name)
    settings = resolve_settings(src, {"minutes": minutes})
    searched = fit_routine(src.routine, settings)
    cache = FitCache(tmp_path)
    first = fit_routine(src.routine, settings, cache=cache)
    assert len(list((tmp_path / "fits").glob("*.json"))) == 1
    again = fit_routine(src.routine, settings, cache=cache)
    for got in (first, again):
        assert got[0].model_dump_json() == searched[0].model_dump_json()
        assert got[1] == searched[1]


def test_the_fit_key_follows_templates_settings_and_routine(tmp_path) -> None:
    from matcue.fit import fit_key

    src = load_source("thaw")
    base = resolve_settings(src, {"minutes": 10})
    keys = {fit_key(src.routine, base)}
    keys.add(fit_key(src.routine, resolve_settings(src, {"minutes": 11})))
    keys.add(fit_key(src.routine, resolve_settings(src, {"minutes": 10, "rate": 150})))
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "kind_say.cue.j2").write_text("{{ step.text }}\n")
    with_templates = resolve_settings(src, {"minutes": 10, "templates": mine})
    keys.add(fit_key(src.routine, with_templates))
    (mine / "kind_say.cue.j2").write_text("{{ step.text }} {{ step.text }}\n")
    keys.add(fit_key(src.routine, with_templates))  # an edited template: a new key
    keys.add(fit_key(load_source("control").routine, base))
    assert len(keys) == 6


def test_a_damaged_fit_entry_is_searched_again(tmp_path) -> None:
    from matcue.fit import FitCache, fit_key, fit_routine

    src = load_source("thaw")
    settings = resolve_settings(src, {"minutes": 10})
    cache = FitCache(tmp_path)
    good = fit_routine(src.routine, settings, cache=cache)
    entry = cache.path_for(fit_key(src.routine, settings))
    for junk in ('{"rounds": "x"', '{"rounds": "x"}', '{"factor": NaN}', "[]", "", "null"):
        entry.write_text(junk)
        got = fit_routine(src.routine, settings, cache=cache)
        assert got[0].model_dump_json() == good[0].model_dump_json() and got[1] == good[1]


def test_a_repeated_step_keeps_its_round_in_the_chapter_not_in_the_voice() -> None:
    """'Round two.' is said once; the step after it is not 'Cat and Cow (round 2).'."""
    from matcue.cuescript import Say, StepMark
    from matcue.pipeline import build_script

    src = load_source("thaw")
    script, changes = build_script(src, resolve_settings(src, {"minutes": 20}))
    assert any("round" in c for c in changes)
    marks = [i.name for i in script.items if isinstance(i, StepMark)]
    assert "Mid-back Cat and Cow (round 2)" in marks
    said = [i.text for i in script.items if isinstance(i, Say)]
    assert "Round two." in said  # numbers are said as words
    assert not any("(round" in t for t in said), [t for t in said if "round" in t]


# ---------------------------------------------------------------- reps_range

LONG_CAT_COW = """\
title: Long Cat-Cow
steps:
  - kind: breath
    name: Cat-Cow
    reps: 60
    reps_range: [55, 60]
    cycle: 12
    cues: {inhale: Lift the chest., exhale: Round the back.}
  - kind: reps
    name: Pelvic tilt
    reps: 8
    reps_range: [6, 10]
    cues: {move: Tilt., release: Back.}
"""


def test_minutes_keeps_reps_range_when_it_can() -> None:
    routine = parse_routine(LONG_CAT_COW, filename="long.yaml")
    fitted, changes = fit_routine(routine, Settings(minutes=15))
    for step in fitted.steps:
        lo, hi = step.reps_range  # type: ignore[attr-defined]
        assert lo <= step.reps <= hi, changes  # type: ignore[attr-defined]
    assert not any("reps_range" in c for c in changes), changes


def test_minutes_says_plainly_when_it_left_reps_range() -> None:
    routine = parse_routine(LONG_CAT_COW, filename="long.yaml")
    fitted, changes = fit_routine(routine, Settings(minutes=5))
    reps = fitted.steps[0].reps  # type: ignore[attr-defined]
    assert reps < 55
    assert f"  to reach 5 minutes, Cat-Cow went to {reps} reps, below its reps_range [55, 60]" in (
        changes
    )
