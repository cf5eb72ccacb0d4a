"""Programme files (issue 15): validation with FILE:LINE: FIELD messages, the
built-in programme's structure (expanded, not rendered), and the calendar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from matcue.cli import main
from matcue.errors import ValidationError
from matcue.programme import (
    builtin_programme_names,
    episode_title,
    expand,
    load_programme,
    parse_programme,
)

ROOT = Path(__file__).resolve().parent.parent

PLAN = """\
matcue: 1
title: Two Easy Weeks
weeks: 2
settings:
  pace: slowly
days:
  - name: Mobility day
    sessions:
      - routine: morning
      - routine: desk-brake
      - routine: morning
        settings: {breath: 100, colour: red}
  - sessions:
      - routine: gone.yaml
"""


def test_builtin_programme_six_weeks_of_morning_desk_and_alternating_evenings():
    assert builtin_programme_names() == ["six-weeks"]
    loaded = load_programme("six-weeks")
    prog = loaded.programme
    assert prog.weeks == 6
    sessions = expand(loaded)
    assert len(sessions) == 6 * 6 * 3
    stems = [s.stem for s in sessions]
    assert sorted(stems) == stems and len(set(stems)) == len(stems)  # names sort in order
    assert stems[:3] == ["w01-d1-1-morning", "w01-d1-2-desk", "w01-d1-3-evening"]
    week1 = [s for s in sessions if s.week == 1]
    assert {s.routine.name for s in week1 if s.slot == "morning"} == {"morning"}
    assert {s.routine.name for s in week1 if s.slot == "desk"} == {"desk-break"}
    evenings = [s.routine.name for s in week1 if s.slot == "evening"]
    assert evenings == ["thaw", "control"] * 3  # mobility and stability days in turn
    assert [s.day_name for s in week1 if s.slot == "evening"][:2] == [
        "Mobility day",
        "Stability day",
    ]
    # The morning hinges progress by week; routines without progression are the same
    # every week, so they share one input hash (rendered once).
    mornings = [s for s in sessions if s.slot == "morning" and s.day == 1]
    assert [s.overrides["week"] for s in mornings] == [1, 2, 3, 4, 5, 6]
    assert all("week" not in s.overrides for s in sessions if s.slot == "desk")
    assert len({s.input_hash for s in sessions}) == 6 + 3
    assert [(s.week, s.episode) for s in sessions[:4]] == [(1, 1), (1, 2), (1, 3), (1, 4)]
    assert episode_title(sessions[4]) == "Week 1, day 2 (Stability day): Desk Break"


def test_a_plan_with_mistakes_is_refused_with_file_line_field(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    r = CliRunner().invoke(main, ["programme", "check", str(path)])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        f"{path}:5: settings.pace: expected 'slow', 'normal', 'fast' or a number from 0.25 "
        "to 4, got 'slowly'; did you mean 'slow'?",
        f"{path}:12: days[0].sessions[2].settings.breath: must be at most 60 (the limit for "
        "breath), got 100",
        f"{path}:12: days[0].sessions[2].settings.colour: unknown field 'colour'; the fields "
        "here are: breath, pace, verbosity, count, transition, pause, engine, voice, rate, "
        "volume, minutes, chime, breath_tone",
    ]
    fixed = PLAN.replace("slowly", "slow").replace("{breath: 100, colour: red}", "{breath: 6}")
    path.write_text(fixed, encoding="utf-8")
    r = CliRunner().invoke(main, ["programme", "check", str(path)])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        f"{path}:10: days[0].sessions[1].routine: no built-in routine named 'desk-brake'; the "
        "built-ins are: articulate, clutch, control, desk-break, morning, retrain, thaw; did "
        "you mean 'desk-break'? (a routine file is a path ending in .yaml)",
        f"{path}:11: days[0].sessions[2].routine: day 1 already has a session 'morning' "
        "(session 1); give each session of a day its own 'slot'",
        f"{path}:14: days[1].sessions[0].routine: {tmp_path / 'gone.yaml'}: no such file",
    ]


def test_routine_files_report_their_own_lines(tmp_path):
    (tmp_path / "bad.yaml").write_text("title: Bad\nsteps:\n  - kind: say\n", encoding="utf-8")
    text = """\
title: T
weeks: 1
days:
  - sessions:
      - routine: morning
        settings: {pace: slow}
      - routine: bad.yaml
      - routine: gone.yaml
"""
    with pytest.raises(ValidationError) as info:
        parse_programme(text, filename="p.yaml", folder=tmp_path)
    problems = info.value.problems
    # The programme's own problems first, then those of the routine files it names.
    assert problems[0] == (
        f"p.yaml:8: days[0].sessions[2].routine: {tmp_path / 'gone.yaml'}: no such file"
    )
    assert problems[1].startswith(f"{tmp_path / 'bad.yaml'}:3: steps[0].text: ")
    assert len(problems) == 2


def test_show_prints_the_calendar_with_lengths():
    r = CliRunner().invoke(main, ["programme", "show", "six-weeks"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("Six Weeks for a Stiff Lower Back: 6 weeks, 108 sessions, about ")
    assert sum(line.startswith("Week ") for line in lines) == 6
    assert "  Day 2: Stability day" in lines
    row = next(line for line in lines if "w05-d1-1-morning" in line)
    assert "(morning, week 5)" in row
    # The week-5 morning has two more hinges per set than week 1: it is longer.
    week1 = next(line for line in lines if "w01-d1-1-morning" in line)
    assert row.split()[1] > week1.split()[1]


def test_schema_covers_the_programme_and_the_docs_example_loads(tmp_path):
    r = CliRunner().invoke(main, ["programme", "schema"])
    schema = json.loads(r.output)
    assert schema["title"] == "matcue programme"
    assert {"title", "weeks", "days"} <= set(schema["required"])
    doc = (ROOT / "docs" / "programme-format.md").read_text(encoding="utf-8")
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    data = yaml.safe_load(example)
    for field in ("matcue", "title", "summary", "weeks", "settings", "days"):
        assert f"`{field}`" in doc
    (tmp_path / "my-curl-ups.yaml").write_text(
        "title: Curl-ups\nsteps:\n  - {kind: say, text: Hello.}\n", encoding="utf-8"
    )
    loaded = parse_programme(example, filename="plan.yaml", folder=tmp_path)
    assert len(expand(loaded)) == 2 * 3 and data["weeks"] == 2


def test_the_wheel_carries_every_package_and_the_builtin_plans():
    """Regression: pyproject.toml lists its packages by hand, and matcue.writers was
    missing, so an installed wheel could not render. Every folder of src/matcue with
    Python files must be listed, and the built-in plans matched by package-data."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    src = ROOT / "src"
    packages = {
        ".".join(p.parent.relative_to(src).parts)
        for p in (src / "matcue").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert sorted(packages - set(config["packages"])) == []
    # A folder that only holds data is listed as a package of its own too: setuptools
    # otherwise prints a screenful of "Package would be ignored" warnings for it
    # during every install (`make demo` on a fresh clone).
    assert "matcue.programme.plans" in config["packages"]
    plans = [p.name for p in (src / "matcue/programme/plans").iterdir()]
    patterns = config["package-data"]["matcue.programme.plans"]
    assert plans and all(any(fnmatch.fnmatch(n, pat) for pat in patterns) for n in plans)
