"""Flows, rounds groups and per-set reps (issue 12 items 1 and 8).

A flow keeps the breath unbroken: every movement starts exactly where the one
before ends, across rounds too. The expected times here are worked out from the
routine's numbers (cycle, pace, movement lengths), not read back from the plan.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from cli_process import rendered_timeline
from click.testing import CliRunner
from fakes import FakeSpeechLengths, fake_sound_length

from matcue.cli import main
from matcue.cuescript import Block
from matcue.errors import ValidationError
from matcue.fit import with_rounds
from matcue.routine import FlowStep, RepsStep, parse_routine, routine_schema
from matcue.routine.progression import routine_at_week
from matcue.schedule import schedule
from matcue.source import build_script, load_source, resolve_settings

SR = 22050

SUN = """\
title: Sun salutation
defaults: {breath: 8}
steps:
  - kind: say
    text: Stand at the front of your mat.
  - kind: flow
    name: Sun salutation
    rounds: 3
    movements:
      - {breath: inhale, cue: Reach your arms up., word: Reach up}
      - {breath: exhale, cue: Fold forward., word: Fold}
      - {breath: inhale, cue: "Lift halfway, long spine.", word: Lift}
      - {breath: exhale, cue: Downward dog., word: Dog, duration: {breaths: 1}}
      - {breath: inhale, cue: Step forward and rise up., word: Rise}
      - {breath: exhale, cue: Hands to your heart., word: Heart}
"""
# Half a breath per movement, a whole breath for downward dog: in breaths,
# one round is 0.5 + 0.5 + 0.5 + 1 + 0.5 + 0.5 = 3.5 breaths.
SUN_BREATHS = [Fraction(1, 2)] * 3 + [Fraction(1)] + [Fraction(1, 2)] * 2
SUN_PHASES = ["inhale", "exhale", "inhale", "exhale", "inhale", "exhale"]


def _problems(text: str) -> list[str]:
    with pytest.raises(ValidationError) as info:
        parse_routine(text, filename="r.yaml")
    return info.value.problems


def _script(tmp_path, text: str, **overrides):
    f = tmp_path / "r.yaml"
    f.write_text(text)
    source = load_source(str(f))
    return build_script(source, resolve_settings(source, overrides))[0]


def _phases(script, step: str):
    plan = schedule(
        script,
        sample_rate=SR,
        speech_length=FakeSpeechLengths(SR, 0.1),
        sound_length=fake_sound_length(SR),
    )
    events = plan.timeline.events
    return [e for e in events if e.kind == "phase" and e.step == step], events


@pytest.mark.parametrize(
    "overrides,cycle",
    [
        ({}, Fraction(8)),
        ({"breath": 6.0}, Fraction(6)),
        ({"pace": "slow"}, Fraction(10)),  # 8 s x 1.25
        ({"breath": 5.0, "pace": "1.5"}, Fraction(15, 2)),
    ],
)
def test_flow_phases_follow_each_other_with_no_gap_across_rounds(tmp_path, overrides, cycle):
    """Fake speech lengths: only the timing math is tested here."""
    phases, _ = _phases(_script(tmp_path, SUN, **overrides), "Sun salutation")
    assert [e.phase for e in phases] == SUN_PHASES * 3
    assert [e.rep for e in phases] == [r for r in (1, 2, 3) for _ in SUN_PHASES]
    origin = phases[0].start
    expected, at = [], Fraction(0)
    for _ in range(3):
        for breaths in SUN_BREATHS:
            expected.append(round(at * SR))
            at += breaths * cycle
    assert [e.start - origin for e in phases] == expected
    for before, after in zip(phases, phases[1:], strict=False):
        assert after.start == before.end  # 0 s between phases, rounds included
    assert phases[-1].end - origin == round(at * SR)


def test_a_sun_salutation_rendered_keeps_the_breath_unbroken(tmp_path):
    """A real render (the default engine), read back from the JSON timeline."""
    routine = tmp_path / "sun.yaml"
    routine.write_text(SUN)
    events = rendered_timeline(routine, tmp_path)
    phases = [e for e in events if e["kind"] == "phase" and e["step"] == "Sun salutation"]
    assert [e["phase"] for e in phases] == SUN_PHASES * 3
    origin = phases[0]["start"]
    at = Fraction(0)
    for k, e in enumerate(phases):
        assert round((e["start"] - origin) * SR) == round(at * SR), k
        at += SUN_BREATHS[k % len(SUN_BREATHS)] * 8
    for before, after in zip(phases, phases[1:], strict=False):
        assert round(after["start"] * SR) == round(before["end"] * SR)  # no gap
    said = [e["text"] for e in events if e["kind"] == "speech" and e["step"] == "Sun salutation"]
    assert "Round two. Reach your arms up." in said
    assert "Last round. Reach your arms up." in said
    assert said.count("Reach your arms up.") == 1
    assert not any("Round one" in t for t in said)


def test_round_words_and_verbosity(tmp_path):
    def first_cues(text, **overrides):
        script = _script(tmp_path, text, **overrides)
        blocks = [i for i in script.items if isinstance(i, Block)]
        return [b.lines[0].text for b in blocks], [b.lines[1].text for b in blocks]

    firsts, seconds = first_cues(SUN)
    assert firsts == [
        "Reach your arms up.",
        "Round two. Reach your arms up.",
        "Last round. Reach your arms up.",
    ]
    assert seconds == ["Fold forward."] * 3
    firsts, seconds = first_cues(SUN, verbosity="brief")
    assert firsts == ["Reach your arms up.", "Round two. Reach up.", "Last round. Reach up."]
    assert seconds == ["Fold forward.", "Fold.", "Fold."]
    firsts, _ = first_cues(SUN, verbosity="minimal")
    assert firsts == ["Reach up.", "Round two. Reach up.", "Round three. Reach up."]
    quiet = SUN.replace("    rounds: 3\n", "    rounds: 3\n    count_rounds: false\n")
    firsts, _ = first_cues(quiet)
    assert firsts == ["Reach your arms up."] * 3


def test_flow_on_both_sides_runs_its_rounds_on_each_side(tmp_path):
    text = SUN.replace("    rounds: 3\n", "    rounds: 2\n    sides: both\n")
    phases, events = _phases(_script(tmp_path, text), "Sun salutation")
    assert len(phases) == 2 * 2 * len(SUN_PHASES) + 1  # the switch is a transition phase
    left, switch, right = phases[:12], phases[12], phases[13:]
    assert switch.phase == "transition"
    for side in (left, right):
        for before, after in zip(side, side[1:], strict=False):
            assert after.start == before.end
    assert switch.start == left[-1].end and right[0].start == switch.end


def test_flow_own_cycle_is_not_changed_by_breath_but_by_pace(tmp_path):
    own = SUN.replace("    rounds: 3\n", "    rounds: 1\n    cycle: 6\n")
    for overrides, cycle in (({"breath": 12.0}, 6), ({"pace": "slow"}, Fraction(15, 2))):
        phases, _ = _phases(_script(tmp_path, own, **overrides), "Sun salutation")
        origin, ends, at = phases[0].start, [], Fraction(0)
        for b in SUN_BREATHS:
            at += b * cycle
            ends.append(round(at * SR))
        assert [e.end - origin for e in phases] == ends


def test_minutes_scales_flow_rounds_within_their_range() -> None:
    r = parse_routine(
        SUN.replace("    rounds: 3\n", "    rounds: 3\n    rounds_range: [2, 5]\n"),
        filename="r.yaml",
    )
    flow = r.steps[1]
    assert isinstance(flow, FlowStep)
    assert flow.scaled(2.0).rounds == 5  # the range caps it
    assert flow.scaled(0.1).rounds == 2
    assert flow.scaled(0.1, relaxed=True).rounds == 1
    # 3 rounds of 3.5 breaths of 8 s
    assert flow.anchored_seconds(breath=8, count=1, transition=5) == 84


def test_minutes_fits_a_flow_routine(tmp_path):
    routine = tmp_path / "sun.yaml"
    routine.write_text(SUN)
    result = CliRunner().invoke(main, ["script", str(routine), "--minutes", "4", "-o", "-"])
    assert result.exit_code == 0, result.output
    assert "Sun salutation: rounds 3 ->" in result.output


def test_flow_errors_name_the_line_and_field() -> None:
    text = """\
title: T
steps:
  - kind: flow
    name: F
    rounds: 2
    movements:
      - {breath: inhale, cue: Up., dur: 3}
      - {breath: exhail, cue: Down.}
      - {breath: inhale, cue: Up., duration: 0}
      - {breath: exhale}
"""
    assert _problems(text) == [
        "r.yaml:7: steps[0].movements[0].dur: unknown field 'dur'; the fields here are: "
        "breath, cue, word, duration",
        "r.yaml:8: steps[0].movements[1].breath: expected 'inhale' or 'exhale', got 'exhail'; "
        "did you mean 'exhale'?",
        "r.yaml:9: steps[0].movements[2].duration: a movement must last more than 0",
        "r.yaml:10: steps[0].movements[3].cue: required field is missing",
    ]
    ranged = "title: T\nsteps:\n  - kind: flow\n    name: F\n    rounds: 2\n"
    ranged += "    rounds_range: [3, 6]\n    movements: [{breath: inhale, cue: Up.}]\n"
    assert _problems(ranged) == [
        "r.yaml:5: steps[0].rounds: 2 is outside rounds_range [3, 6]; rounds must lie in it"
    ]


# ---------------------------------------------------------------- rounds groups

CIRCUIT = """\
title: Core circuit
main: [Circuit]
steps:
  - kind: say
    text: Come onto your hands and knees.
  - kind: rounds
    name: Circuit
    rounds: 3
    steps:
      - kind: reps
        name: Bird-dog
        reps: 3
        cues: {move: Reach long., release: Come back.}
        progression: {per_week: {reps: 1}}
      - kind: transition
        text: Lie on your back.
      - kind: hold
        name: Dead bug
        duration: 10
  - kind: rest
    name: Rest
    duration: 30
"""


def test_rounds_group_is_written_out_round_after_round() -> None:
    r = parse_routine(CIRCUIT, filename="r.yaml")
    assert [s.display_name for s in r.steps] == [
        "Instructions",
        "Bird-dog",
        "Transition",
        "Dead bug",
        "Bird-dog (round 2)",
        "Transition",
        "Dead bug (round 2)",
        "Bird-dog (round 3)",
        "Transition",
        "Dead bug (round 3)",
        "Rest",
    ]
    assert r.main_indices() == list(range(1, 10))
    by_step = parse_routine(CIRCUIT.replace("main: [Circuit]", "main: [Dead bug]"), filename="r")
    assert by_step.main_indices() == [3, 6, 9]


def test_each_round_after_the_first_is_announced_and_names_are_spoken_without_it(tmp_path):
    script = _script(tmp_path, CIRCUIT)
    lines = [getattr(i, "text", None) for i in script.items]
    spoken = [t for t in lines if t]
    i2 = spoken.index("Round two.")
    assert spoken[i2 + 1] == "Bird-dog."
    assert spoken.index("Last round.") > i2
    assert "Round one." not in spoken and "Bird-dog (round 2)." not in spoken
    quiet = _script(
        tmp_path, CIRCUIT.replace("    rounds: 3\n", "    rounds: 3\n    count_rounds: false\n")
    )
    assert not [i for i in quiet.items if getattr(i, "text", None) in ("Round two.", "Last round.")]


def test_rounds_group_with_minutes_and_week(tmp_path):
    r = parse_routine(CIRCUIT, filename="r.yaml")
    week3, changes = routine_at_week(r, 3)
    reps = [s.reps for s in week3.steps if isinstance(s, RepsStep)]
    assert reps == [5, 5, 5]
    assert len(changes) == 3
    longer = with_rounds(r, 1)  # --minutes adds a round of the main part
    names = [s.display_name for s in longer.steps]
    assert "Bird-dog (round 2) (round 2)" in names
    plans = [s.plan(0, _timing(r)) for s in longer.steps]
    assert "Bird-dog" in [p["spoken_name"] for p in plans if p["name"].startswith("Bird-dog (")]
    assert all(p["spoken_name"] == "Bird-dog" for p in plans if p["name"].startswith("Bird-dog"))


def _timing(r):
    from matcue.settings import Settings
    from matcue.timing import Timing

    return Timing.of(Settings(), r.defaults)


def test_errors_inside_a_rounds_group_name_the_line_and_field() -> None:
    text = """\
title: T
main: [Nope]
steps:
  - kind: rounds
    rounds: 2
    setup: Begin.
    steps:
      - kind: reps
        name: Bird-dog
        rep: 3
        cues: {move: Reach., release: Back.}
      - kind: rounds
        rounds: 2
        steps: [{kind: say, text: Hi.}]
      - kind: hold
        name: Plank
        duration: {breaths: 900}
"""
    assert _problems(text) == [
        "r.yaml:2: main[0]: no step is named 'Nope'",
        "r.yaml:6: steps[0].setup: unknown field 'setup' for a rounds group (its fields are: "
        "kind, name, rounds, count_rounds, steps); give 'setup' to a step inside it",
        "r.yaml:8: steps[0].steps[0].reps: required field is missing",
        "r.yaml:10: steps[0].steps[0].rep: unknown field 'rep'; did you mean 'reps'?",
        "r.yaml:12: steps[0].steps[1].kind: a rounds group cannot hold another rounds group "
        "(groups nest one level deep); write these steps into the outer group, or make them "
        "a group of their own after it",
        "r.yaml:17: steps[0].steps[2].duration.breaths: must be at most 200 (the limit for "
        "breaths in a duration), got 900",
    ]


def test_cross_checks_inside_a_group_point_into_it() -> None:
    text = """\
title: T
defaults: {breath: 10}
steps:
  - kind: rounds
    rounds: 2
    steps:
      - kind: breath
        name: Box
        reps: 2
        hold_in: 6
        hold_out: 6
        cues: {inhale: In., exhale: Out.}
"""
    [msg] = _problems(text)
    assert msg.startswith("r.yaml:10: steps[0].steps[0].hold_in: hold_in + hold_out (12 s)")


def test_a_group_written_out_past_200_steps_is_refused() -> None:
    inner = "".join(f"      - {{kind: say, text: line {i}}}\n" for i in range(21))
    text = "title: T\nsteps:\n  - kind: rounds\n    rounds: 10\n    steps:\n" + inner
    [msg] = _problems(text)
    assert msg.startswith("r.yaml:2: steps: written out, the rounds make 210 steps; the limit")


def test_schema_has_groups_one_level_deep() -> None:
    schema = routine_schema()
    group = schema["$defs"]["RoundsGroup"]
    inner = group["properties"]["steps"]["items"]["discriminator"]["mapping"]
    assert "rounds" not in inner and "flow" in inner
    top = schema["properties"]["steps"]["items"]["discriminator"]["mapping"]
    assert "rounds" in top
    json.dumps(schema)


# ---------------------------------------------------------------- per-set reps

PYRAMID = """\
title: Pyramid
steps:
  - kind: reps
    name: Bird-dog
    reps: [6, 4, 2]
    reps_range: [2, 10]
    set_rest: 20
    cues: {move: Reach long., release: Come back.}
"""


def test_per_set_reps_make_a_pyramid(tmp_path):
    script = _script(tmp_path, PYRAMID)
    reps = [
        (dict(b.attrs)["set"], dict(b.attrs)["rep"])
        for b in script.items
        if isinstance(b, Block) and "rep" in dict(b.attrs)
    ]
    pyramid = ((1, 6), (2, 4), (3, 2))
    assert reps == [(str(s), str(r)) for s, n in pyramid for r in range(1, n + 1)]
    step = parse_routine(PYRAMID, filename="r.yaml").steps[0]
    assert isinstance(step, RepsStep) and step.sets == 3
    # (6 + 4 + 2) reps of 2 + 0 + 2 + 2 s, and two set rests of 20 s
    assert step.anchored_seconds(breath=10, count=1, transition=5) == 12 * 6 + 2 * 20


def test_per_set_reps_with_minutes_week_and_range() -> None:
    r = parse_routine(PYRAMID, filename="r.yaml")
    step = r.steps[0]
    assert isinstance(step, RepsStep)
    assert step.scaled(1.5).reps == [9, 6, 3]
    assert step.scaled(3.0).reps == [10, 10, 6]  # reps_range caps each set
    grown = PYRAMID.replace(
        "    set_rest: 20\n",
        "    set_rest: 20\n    progression: {per_week: {reps: 2}, max: {reps: 9}}\n",
    )
    week3, changes = routine_at_week(parse_routine(grown, filename="r.yaml"), 3)
    assert week3.steps[0].reps == [9, 8, 6]  # type: ignore[union-attr]
    assert changes == ["week 3: Bird-dog: [9, 8, 6] reps (week 1: [6, 4, 2])"]


def test_per_set_reps_errors() -> None:
    text = """\
title: T
steps:
  - kind: reps
    name: A
    reps: [6, 4]
    sets: 3
    cues: {move: Go., release: Back.}
  - kind: reps
    name: B
    reps: [6, 0, x]
    cues: {move: Go., release: Back.}
  - kind: reps
    name: C
    reps: [12, 4]
    reps_range: [2, 8]
    cues: {move: Go., release: Back.}
  - kind: reps
    name: D
    reps: []
    cues: {move: Go., release: Back.}
"""
    assert _problems(text) == [
        "r.yaml:6: steps[0].sets: reps lists 2 sets (6, 4) but sets is 3; leave sets out or "
        "make it 2",
        "r.yaml:10: steps[1].reps[1]: must be at least 1, got 0",
        "r.yaml:10: steps[1].reps[2]: expected a whole number, got 'x'",
        "r.yaml:14: steps[2].reps[0]: 12 is outside reps_range [2, 8]; reps must lie in it",
        "r.yaml:19: steps[3].reps: must not be empty: one whole number per set",
    ]
    sets = "title: T\nsteps:\n  - kind: reps\n    name: A\n    reps: [6, 4]\n"
    sets += "    cues: {move: Go., release: Back.}\n    progression: {per_week: {sets: 1}}\n"
    assert _problems(sets) == [
        "r.yaml:7: steps[0].progression.per_week.sets: this step gives each set its own reps "
        "(a list), so it cannot gain sets; progress by reps (added to every set) instead",
    ]
