"""Breath patterns in seconds (issue 12, item 7): `pattern:` phases, how --breath
and --pace scale them (and the holds of the older form), and `count: true`.

Every expected time is worked out by hand from the pattern as written, not from
the code: 4-7-8 is 4 + 7 + 8 = 19 s; at --breath 9.5 every phase is halved
(9.5 / 19); at --pace slow every phase is 1.25 times as long."""

from __future__ import annotations

from fractions import Fraction as F
from itertools import pairwise

import pytest
from cli_process import rendered_timeline

from matcue.cuescript import Block
from matcue.errors import ValidationError
from matcue.pipeline import build_script, load_source, resolve_settings
from matcue.routine import parse_routine

FOUR_SEVEN_EIGHT = """\
title: Four seven eight
defaults: {breath: 10}
steps:
  - kind: breath
    name: Four seven eight
    reps: 2
    pattern: {inhale: 4, hold_in: 7, exhale: 8}
    COUNT
    cues: {inhale: In through the nose., hold_in: Hold softly., exhale: Out through the mouth.}
"""

BOX = """\
title: Box
defaults: {breath: 16}
steps:
  - kind: breath
    name: Box
    reps: 2
    pattern: {inhale: 4, hold_in: 4, exhale: 4, hold_out: 4}
    cues: {inhale: In., hold_in: Hold full., exhale: Out., hold_out: Hold empty.}
"""

OLD_BOX = """\
title: Old box
defaults: {breath: 16}
steps:
  - kind: breath
    name: Box
    reps: 1
    CYCLEhold_in: 4
    hold_out: 4
    cues: {inhale: In., exhale: Out.}
"""


def blocks(tmp_path, text: str, **overrides) -> list[Block]:
    f = tmp_path / "r.yaml"
    f.write_text(text)
    source = load_source(str(f))
    script = build_script(source, resolve_settings(source, overrides))[0]
    return [i for i in script.items if isinstance(i, Block)]


def phases(block: Block) -> list[tuple[str | None, F]]:
    return [(line.phase, line.offset) for line in block.lines if line.phase]


def four_seven_eight(count: bool = False) -> str:
    return FOUR_SEVEN_EIGHT.replace("COUNT", "count: true" if count else "")


@pytest.mark.parametrize(
    "overrides,length,starts",
    [
        ({}, 19, [0, 4, 11]),  # as written: the routine's breath (10 s) does not touch it
        ({"breath": 9.5}, F(19, 2), [0, 2, F(11, 2)]),  # every phase halved
        ({"pace": "slow"}, F(95, 4), [0, 5, F(55, 4)]),  # every phase x 1.25
        ({"breath": 9.5, "pace": "2"}, 19, [0, 4, 11]),  # halved, then doubled
        ({"breath": 10}, 19, [0, 4, 11]),  # the routine's own breath changes nothing
    ],
)
def test_four_seven_eight_phases(tmp_path, overrides, length, starts):
    got = blocks(tmp_path, four_seven_eight(), **overrides)
    assert [b.length for b in got] == [length, length]
    assert phases(got[0]) == list(zip(["inhale", "hold_in", "exhale"], starts, strict=True))


@pytest.mark.parametrize(
    "overrides,side",
    [({}, 4), ({"breath": 8}, 2), ({"breath": 9}, F(9, 4)), ({"pace": "fast"}, F(16, 5))],
)
def test_box_pattern_keeps_four_equal_sides(tmp_path, overrides, side):
    got = blocks(tmp_path, BOX, **overrides)
    assert got[0].length == 4 * side
    names = ["inhale", "hold_in", "exhale", "hold_out"]
    assert phases(got[0]) == [(n, side * k) for k, n in enumerate(names)]


def test_old_form_holds_keep_their_share_at_another_breath(tmp_path):
    """The issue's case: box breathing written as holds beside a 16 s session
    breath, --breath 9 gave a 0.5 s inhale beside 4 s holds. Now every phase is
    a quarter of the 9 s cycle."""
    text = OLD_BOX.replace("CYCLE", "")
    assert [o for _, o in phases(blocks(tmp_path, text)[0])] == [0, 4, 8, 12]
    assert [o for _, o in phases(blocks(tmp_path, text, breath=9)[0])] == [
        0,
        F(9, 4),
        F(9, 2),
        F(27, 4),
    ]
    # A step with its own cycle is not paced by --breath: its holds stay as written.
    fixed = OLD_BOX.replace("CYCLE", "cycle: 16\n    ")
    assert [o for _, o in phases(blocks(tmp_path, fixed, breath=9)[0])] == [0, 4, 8, 12]


def test_pattern_refuses_the_older_fields_by_name(tmp_path):
    text = BOX.replace("    reps: 2\n", "    reps: 2\n    cycle: 16\n    hold_in: 2\n")
    with pytest.raises(ValidationError) as err:
        parse_routine(text, filename="box.yaml")
    problems = err.value.problems
    assert any(
        p.startswith("box.yaml:7: steps[0].cycle: 'pattern' gives every phase") for p in problems
    )
    assert any(p.startswith("box.yaml:8: steps[0].hold_in: 'pattern' gives") for p in problems)


def test_pattern_cycle_and_phases_are_checked(tmp_path):
    short = BOX.replace(
        "{inhale: 4, hold_in: 4, exhale: 4, hold_out: 4}", "{inhale: 0.5, exhale: 1}"
    )
    with pytest.raises(ValidationError) as err:
        parse_routine(short, filename="b.yaml")
    assert "the phases add up to a 1.5 s cycle; a breath cycle is 2 to 120 s" in str(err.value)
    tiny = BOX.replace("inhale: 4,", "inhale: 0.2,")
    with pytest.raises(ValidationError) as err:
        parse_routine(tiny, filename="b.yaml")
    assert "steps[0].pattern.inhale" in str(err.value)


def said(block: Block) -> list[tuple[F, str | None]]:
    return [(line.offset, line.text) for line in block.lines]


def test_count_says_each_phases_seconds(tmp_path):
    got = blocks(tmp_path, four_seven_eight(count=True))
    inhale = [(0, "Breathe in."), (1, "Two."), (2, "Three."), (3, "Four.")]
    hold = [(4, "Hold.")] + [
        (4 + k, w)
        for k, w in enumerate(["Two.", "Three.", "Four.", "Five.", "Six.", "Seven."], start=1)
    ]
    exhale = [(11, "Breathe out.")] + [
        (11 + k, w)
        for k, w in enumerate(
            ["Two.", "Three.", "Four.", "Five.", "Six.", "Seven.", "Eight."], start=1
        )
    ]
    assert said(got[0]) == inhale + hold + exhale
    # The numbers are lines of no phase: the phases stay three.
    assert [p for p, _ in phases(got[0])] == ["inhale", "hold_in", "exhale"]


def test_count_follows_the_pace_and_stops_when_too_quick(tmp_path):
    slow = blocks(tmp_path, four_seven_eight(count=True), pace="slow")
    assert said(slow[0])[:4] == [
        (0, "Breathe in."),
        (F(5, 4), "Two."),
        (F(5, 2), "Three."),
        (F(15, 4), "Four."),
    ]
    # At --breath 9.5 a count would last half a second: too quick to say calmly, so
    # the phases are not counted and keep their full cues.
    quick = blocks(tmp_path, four_seven_eight(count=True), breath=9.5)
    assert [t for _, t in said(quick[0])] == [
        "In through the nose.",
        "Hold softly.",
        "Out through the mouth.",
    ]


def test_four_seven_eight_and_box_render(tmp_path):
    """Both patterns through the real engine, mixer and encoder: the timeline's
    phases start where the pattern says."""
    text = four_seven_eight(count=True) + "\n".join(BOX.splitlines()[3:]) + "\n"
    f = tmp_path / "breathing.yaml"
    f.write_text(text)
    events = rendered_timeline(f, tmp_path)
    starts = {}
    for e in events:
        if e["kind"] == "phase":
            starts.setdefault(e["step"], []).append((e["phase"], e["start"]))
    four = starts["Four seven eight"]
    assert [p for p, _ in four] == ["inhale", "hold_in", "exhale"] * 2
    assert [round(b[1] - a[1], 3) for a, b in pairwise(four)] == [4, 7, 8, 4, 7]
    box = starts["Box"]
    assert [round(b[1] - a[1], 3) for a, b in pairwise(box)] == [4] * 7
