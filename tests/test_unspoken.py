"""Nothing a routine says disappears silently: every text of a routine is
spoken, or `matcue check` and `matcue render` name it with the reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcue.cli import main
from matcue.cli.rendering import report
from matcue.pipeline import RenderResult
from matcue.routine import builtin_names, load_builtin, parse_routine
from matcue.settings import Settings
from matcue.timeline import Timeline
from matcue.unspoken import find_unspoken, sentences

DROPS = textwrap.dedent(
    """\
    title: Dropped cues
    steps:
      - kind: reps
        name: Pelvic tilt
        reps: 2
        hold: {counts: 3}
        cues:
          move: Tilt the pelvis.
          hold: Keep the ribs soft.
          release: Release.
          rest: Breathe out slowly.
      - kind: reps
        name: Bridge lift
        reps: 2
        cues:
          move: Lift the hips.
          hold: Stay long through the thighs.
          release: Lower down.
      - kind: hold
        name: Bridge
        duration: {seconds: 30}
        cues:
          - Lengthen through the knees.
        release: Lower down.
      - kind: hold
        name: Plank
        duration: {breaths: 3}
        cues:
          - Press the floor away.
          - Long neck.
          - Soft knees.
      - kind: rest
        name: Quiet
        duration: {seconds: 40}
        every: 20
        reminders:
          - Let the floor hold you.
          - Breath comes and goes.
      - kind: breath
        name: Side breathing
        reps: 2
        cues: {inhale: Breathe into the ribs., exhale: Let them close.}
        switch: Turn to the other side.
    """
)

CLEAN = textwrap.dedent(
    """\
    title: All said
    intro: Welcome to 3 short moves.
    steps:
      - kind: say
        name: "Round 1: Cat-Cow"
        text: Hold each shape for 30 seconds.
      - kind: reps
        name: Pelvic tilt
        reps: 2
        hold: {seconds: 4}
        rest: {seconds: 3}
        sides: both
        switch: Now the other side.
        cues:
          move: Tilt the pelvis.
          hold: Keep the ribs soft.
          release: Release.
          rest: Breathe out slowly.
    """
)


def notes_of(text: str, tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(main, ["check", *args, str(path)])
    return r.exit_code, [line for line in r.output.splitlines() if line.startswith("note:")]


def test_check_names_each_dropped_cue_with_its_line_and_reason(tmp_path):
    code, notes = notes_of(DROPS, tmp_path)
    assert code == 0  # notes, not errors
    r = f"note: {tmp_path / 'r.yaml'}"
    assert notes == [
        f"{r}:9: steps[0].cues.hold: not spoken: the hold is counted aloud, so hold cues "
        "are not spoken; set count: false",
        f"{r}:11: steps[0].cues.rest: not spoken: the rest is 2 s, too short for this cue "
        "(3 s or more); raise 'rest'",
        f"{r}:17: steps[1].cues.hold: not spoken: the step has no hold (hold: 0), so hold "
        "cues are not spoken; give a 'hold'",
        f"{r}:31: steps[3].cues[2]: not spoken: the hold has 3 breaths: room for 2 cues (one "
        "on each breath after the first); lengthen the hold or give fewer cues",
        f"{r}:38: steps[4].reminders[1]: not spoken: the rest has room for 1 reminder (one "
        "every 20 s); lengthen it or shorten 'every'",
        f"{r}:43: steps[5].switch: not spoken: the step is done on one side only, so there "
        "is no switch of sides",
    ]


def test_check_names_cues_left_out_at_a_verbosity(tmp_path):
    _, notes = notes_of(DROPS, tmp_path, "--verbosity", "brief")
    assert any(
        "steps[2].cues[0]: not spoken at brief verbosity: calm hold cues are spoken at full "
        "verbosity only" in n
        for n in notes
    )
    _, notes = notes_of(CLEAN, tmp_path, "--verbosity", "minimal")
    assert [n.split(": ", 2)[2] for n in notes] == [
        "intro[0]: not spoken at minimal verbosity: minimal leaves the introduction out"
    ]


def test_a_routine_that_says_everything_has_no_notes(tmp_path):
    code, notes = notes_of(CLEAN, tmp_path)
    assert code == 0 and notes == []
    _, notes = notes_of(CLEAN, tmp_path, "--verbosity", "brief")
    assert notes == []


def test_a_cue_said_elsewhere_is_still_missed_in_its_own_phase():
    # "Breathe in." is a built-in phrase said in every breath step; as a reps rest cue
    # with a 2 s rest it is still not said, and must be named.
    routine = parse_routine(
        textwrap.dedent(
            """\
            title: T
            steps:
              - kind: breath
                name: Breathe
                reps: 2
                cues: {inhale: Breathe in., exhale: Breathe out.}
              - kind: reps
                name: Tilt
                reps: 2
                cues: {move: Tilt., release: Back., rest: Breathe in.}
            """
        ),
        filename="t.yaml",
    )
    [missing] = find_unspoken(routine, Settings())
    assert missing.path == ("steps", 1, "cues", "rest")


def test_sentences_compare_as_they_are_said():
    assert sentences("Hold for 30 seconds") == sentences("Hold for thirty seconds.")
    assert sentences("Round 1: Cat-Cow") == ("round one", "cat cow")


@pytest.mark.parametrize("verbosity", ["full", "brief"])
@pytest.mark.parametrize("name", builtin_names())
def test_the_built_in_routines_say_everything_they_give(name, verbosity):
    known: dict[tuple[str, str], list[tuple[object, ...]]] = {
        # Calm hold cues are spoken at full verbosity only (kind_hold.cue.j2).
        ("articulate", "brief"): [
            ("steps", 0, "refine", 0),
            *[("steps", 0, "cues", p, k) for p in ("move", "hold", "release") for k in (1, 2)],
            *[("steps", 2, "cues", p, k) for p in ("move", "release") for k in (1, 2)],
            *[("steps", 4, "cues", p, k) for p in ("move", "rest") for k in (1, 2)],
            *[("steps", 6, "cues", k) for k in range(3)],
            ("steps", 7, "refine", 0),
            *[("steps", 7, "cues", p, k) for p in ("move", "rest") for k in (1, 2)],
            ("steps", 8, "refine", 0),
            *[("steps", 8, "cues", p, k) for p in ("move", "release", "rest") for k in (1, 2)],
        ],
        ("thaw", "brief"): [("steps", 2, "cues", k) for k in range(3)],
        # Refinements and alternative phrasings are for full verbosity (kind_reps.cue.j2).
        ("morning", "brief"): [
            *[("steps", 0, "refine", k) for k in range(3)],
            ("steps", 0, "cues", "move", 1),
            ("steps", 0, "cues", "move", 2),
            ("steps", 2, "cues", "move", 1),
            ("steps", 2, "cues", "move", 2),
            ("steps", 2, "cues", "release", 1),
            ("steps", 2, "cues", "release", 2),
        ],
        ("control", "brief"): [
            ("steps", 0, "refine", 0),
            *[("steps", 0, "cues", p, k) for p in ("inhale", "exhale") for k in (1, 2)],
            *[("steps", 1, "cues", "move", k) for k in (1, 2)],
            ("steps", 1, "cues", "hold", 1),
            *[("steps", 1, "cues", "release", k) for k in (1, 2)],
            *[("steps", 3, "cues", p, k) for p in ("move", "release") for k in (1, 2)],
            ("steps", 5, "refine", 0),
            *[("steps", 5, "cues", p, k) for p in ("inhale", "exhale") for k in (1, 2)],
            *[("steps", 7, "cues", "move", k) for k in (1, 2)],
            ("steps", 7, "cues", "hold", 1),
            *[("steps", 7, "cues", "release", k) for k in (1, 2)],
            ("steps", 9, "refine", 0),
            *[("steps", 9, "cues", p, k) for p in ("move", "hold", "release") for k in (1, 2)],
        ],
        ("retrain", "brief"): [
            *[("steps", 0, "refine", k) for k in range(3)],
            *[("steps", 0, "cues", p, k) for p in ("move", "hold", "release") for k in (1, 2)],
            *[("steps", 2, "refine", k) for k in range(2)],
            *[("steps", 2, "cues", p, k) for p in ("inhale", "exhale") for k in (1, 2)],
            *[("steps", 4, "refine", k) for k in range(2)],
            *[("steps", 4, "cues", p, k) for p in ("move", "release") for k in (1, 2)],
        ],
    }
    missing = find_unspoken(load_builtin(name), Settings(verbosity=verbosity))
    assert [m.path for m in missing] == known.get((name, verbosity), []), [m.note for m in missing]


def test_render_reports_the_notes_on_stderr_unless_quiet():
    result = RenderResult(
        output=Path("x.mp3"),
        duration=1.0,
        timeline=Timeline(sample_rate=22050, length=22050),
        notes=["r.yaml:9: steps[0].cues.hold: not spoken: the hold is counted aloud"],
    )
    lines: list[str] = []
    report(result, lines.append, quiet=False)
    assert (
        "matcue: note: r.yaml:9: steps[0].cues.hold: not spoken: the hold is counted aloud" in lines
    )
    lines.clear()
    report(result, lines.append, quiet=True)
    assert lines == []


ROUNDS = textwrap.dedent(
    """\
    title: Rounds
    steps:
      - kind: rounds
        rounds: 2
        steps:
          - kind: reps
            name: Tilt
            reps: 2
            cues:
              move: [Tilt the pelvis., Tip the pelvis., Rock the pelvis., Roll the pelvis.]
              release: Release.
              rest: Breathe out slowly.
    """
)


def test_a_step_in_a_rounds_group_is_named_once_at_its_own_line(tmp_path):
    _, notes = notes_of(ROUNDS, tmp_path)
    fields = [n.split(": ", 2)[2] for n in notes]
    assert [f.split(":")[0] for f in fields] == [
        "steps[0].steps[0].cues.move[2]",
        "steps[0].steps[0].cues.move[3]",
        "steps[0].steps[0].cues.rest",
    ], notes
    assert "too few reps with full cues for this phrasing" in fields[0]
    assert [n.split(": ", 2)[1].rsplit(":", 1)[1] for n in notes] == ["10", "10", "12"]


def test_a_text_with_placeholders_is_found_as_said():
    # "{cycle}" is filled in as words ("fifteen") before the text is said
    routine = parse_routine(
        textwrap.dedent(
            """\
            title: T
            steps:
              - kind: breath
                name: Slow
                cycle: 15
                reps: 2
                setup: Each round takes about {cycle} seconds.
                cues: {inhale: In., exhale: Out.}
            """
        ),
        filename="t.yaml",
    )
    assert find_unspoken(routine, Settings()) == []
