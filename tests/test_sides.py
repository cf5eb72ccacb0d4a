"""Sides with their own words (issue 12, item 2): `{side}` and `{other_side}` in a
sided step's text, said for the side being done; `begin` in place of "Begin on
the left side."; both refused on a step without sides. Expected lines are
written out by hand from the routine below."""

from __future__ import annotations

from pathlib import Path

from cli_process import run_cli

from matcue.cuescript import Block, Say
from matcue.pipeline import build_script, load_source, resolve_settings

ROUTINE = """\
title: Sides
language: {language}
steps:
  - kind: reps
    name: Bird-dog
    sides: both
    alternate: true
    reps: 2
    hold: {{counts: 2}}
    cues:
      move: Reach your {{other_side}} arm forward and your {{side}} leg back.
      release: Bring them back under you.
  - kind: hold
    name: Low lunge
    sides: both
    setup: Lower the {{other_side}} knee to the mat.
    begin: Begin with your {{side}} foot forward.
    switch: "{{side}} foot forward now."
    duration: {{breaths: 2}}
"""


def spoken(tmp_path: Path, language: str = "en") -> list[str]:
    f = tmp_path / "r.yaml"
    f.write_text(ROUTINE.format(language=language), encoding="utf-8")
    source = load_source(str(f))
    script = build_script(source, resolve_settings(source, {}))[0]
    out: list[str] = []
    for item in script.items:
        if isinstance(item, Say):
            out.append(item.text)
        elif isinstance(item, Block):
            out += [line.text for line in item.lines if line.text]
    return out


def test_each_side_says_its_own_words(tmp_path: Path) -> None:
    said = spoken(tmp_path)
    moves = [s for s in said if "arm forward" in s]
    assert moves == [
        "Left side. Reach your right arm forward and your left leg back.",
        "Right side. Reach your left arm forward and your right leg back.",
        "Left side. Reach your right arm forward and your left leg back.",
        "Right side. Reach your left arm forward and your right leg back.",
    ]
    # Before the sides: the first side's words. Then begin, and the switch.
    assert "Lower the right knee to the mat." in said
    assert "Begin with your left foot forward." in said
    assert "Begin on the left side." not in said
    assert "Right foot forward now." in said  # a placeholder opening a line: a capital
    assert not any("{" in s for s in said)


def test_side_words_come_in_the_routines_language(tmp_path: Path) -> None:
    said = spoken(tmp_path, "es")
    assert "Reach your derecho arm forward and your izquierdo leg back." in " ".join(said)


def test_side_placeholders_and_begin_need_sides(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(
        "title: T\nsteps:\n"
        "  - kind: hold\n    name: Plank\n    duration: 10\n"
        "    cues:\n      - Press the {side} hand down.\n"
        "  - kind: hold\n    name: Side plank\n    duration: 10\n    begin: Go.\n",
        encoding="utf-8",
    )
    r = run_cli(["check", f.name], tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        "r.yaml:7: steps[0].cues[0]: {side} names a side, so the step needs 'sides' "
        "(both, left or right)",
        "r.yaml:11: steps[1].begin: 'begin' is said before the first side; add 'sides'",
    ]
