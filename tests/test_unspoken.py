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


@pytest.mark.parametrize("name", builtin_names())
def test_the_built_in_routines_say_everything_they_give(name):
    """At the default verbosity every text a built-in gives is spoken."""
    missing = find_unspoken(load_builtin(name), Settings())
    assert [m.note for m in missing] == []


@pytest.mark.parametrize("name", builtin_names())
def test_at_brief_a_built_in_leaves_out_only_what_brief_leaves_out_by_design(name):
    """Brief drops calm hold cues, refinements and alternative phrasings on purpose
    (docs/routine-format.md); anything else unspoken would be a fault of the routine."""
    missing = find_unspoken(load_builtin(name), Settings(verbosity="brief"))
    assert all("not spoken at brief verbosity" in m.note for m in missing), [
        m.note for m in missing
    ]


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


def test_a_name_not_announced_or_said_as_spoken_is_not_missed(tmp_path):
    """Regression (found rewriting the built-ins): check reported the name of a step
    with announce: false, and the name of a step with spoken:, as not spoken."""
    code, notes = notes_of(
        """\
        title: T
        steps:
          - kind: transition
            name: Onto your back
            announce: false
            text: Lie down on your back.
          - kind: hold
            name: "Circuit: hip opener"
            spoken: First, a hip opener.
            duration: {breaths: 2}
        """,
        tmp_path,
    )
    assert (code, notes) == (0, [])


def test_a_refinement_is_not_said_in_the_rest_after_a_sets_last_rep(tmp_path):
    """Regression: with the rest as its window, a refinement fell after the last rep,
    when the movement is over; it is left out there, and check says so."""
    code, notes = notes_of(
        """\
        title: T
        steps:
          - kind: reps
            name: Side reach
            reps: 4
            hold: 0
            rest: 3
            cues: {move: Reach long., release: Come back.}
            refine: [Hips stay stacked.]
        """,
        tmp_path,
    )
    assert code == 0
    assert [n.split(": ")[2] for n in notes] == ["steps[0].refine[0]"]


COUNTED = textwrap.dedent(
    """\
    title: Counted
    steps:
      - kind: reps
        name: Pelvic tilt
        reps: 2
        hold: {counts: 2}
        cues:
          move: Tilt the pelvis.
          hold: Keep the ribs soft.
          release: Release.
    """
)


@pytest.fixture
def counted_renders(monkeypatch) -> list[str]:
    """The names of the templates rendered from here on: every render of the cue
    script goes through ``templating.render_guarded`` (the real one still renders)."""
    import matcue.templating as templating

    names: list[str] = []
    real = templating.render_guarded

    def counting_render_guarded(template, context):
        names.append(template.name)
        return real(template, context)

    monkeypatch.setattr(templating, "render_guarded", counting_render_guarded)
    return names


def test_render_renders_the_cue_script_once_and_takes_its_notes_from_it(tmp_path, counted_renders):
    from matcue.pipeline import load_source, render, resolve_settings

    path = tmp_path / "r.yaml"
    path.write_text(COUNTED, encoding="utf-8")
    source = load_source(str(path))
    result = render(source, resolve_settings(source, {}), tmp_path / "r.mp3", transcript=False)
    assert counted_renders == ["session.cue.j2"]
    assert [n.split(": ", 2)[1:] for n in result.notes] == [
        [
            "steps[0].cues.hold",
            "not spoken: the hold is counted aloud, so hold cues are not spoken; set count: false",
        ]
    ]


def test_check_renders_the_cue_script_once(tmp_path, counted_renders):
    code, notes = notes_of(COUNTED, tmp_path)
    assert code == 0 and len(notes) == 1
    assert counted_renders == ["session.cue.j2"]


REFINED = textwrap.dedent(
    """\
    title: Refined
    steps:
      - kind: reps
        name: Pelvic tilt
        reps: 2
        cues:
          move: Tilt the pelvis.
          release: Release.
        refine: [Keep the ribs soft.]
    """
)


def test_notes_under_minutes_are_those_of_the_files_own_routine(tmp_path):
    # --minutes gives the step more reps, enough for its refinement; the notes are
    # about the routine as the file gives it, so the render's fitted script is not
    # taken for them.
    from matcue.pipeline import load_source, resolve_settings
    from matcue.source import build_script, unspoken_notes

    path = tmp_path / "r.yaml"
    path.write_text(REFINED, encoding="utf-8")
    source = load_source(str(path))
    fitted = resolve_settings(source, {"minutes": 3.0})
    script, _changes = build_script(source, fitted)
    assert any("Keep the ribs soft" in line for line in script.phrases())
    notes = unspoken_notes(source, fitted, script)
    assert [n.split(": ", 2)[1] for n in notes] == ["steps[0].refine[0]"]
    assert notes == unspoken_notes(source, resolve_settings(source, {}))
