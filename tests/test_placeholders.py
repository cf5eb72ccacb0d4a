"""Routine text that says the session's numbers (issue 12, item 10): `{cycle}`
and the other placeholders follow --breath and --pace, are spoken as words in
the routine's language, and an unknown one is refused when the routine loads.
Routine text stays data: braces that are not a placeholder are spoken as written."""

from __future__ import annotations

import pytest

from matcue.cuescript import Block, Say
from matcue.errors import ValidationError
from matcue.pipeline import build_script, load_source, resolve_settings
from matcue.routine import parse_routine


def spoken(source_name: str, **overrides) -> list[str]:
    source = load_source(source_name)
    script = build_script(source, resolve_settings(source, overrides))[0]
    out = [i.text for i in script.items if isinstance(i, Say)]
    for block in (i for i in script.items if isinstance(i, Block)):
        out += [line.text for line in block.lines if line.text]
    return out


def round_line(lines: list[str]) -> str:
    return next(x for x in lines if x.startswith("Each full round"))


def test_clutch_says_its_cycle_as_heard():
    # Its Cat and Cow's 15 s cycle is the routine's breath: --pace scales it (18.75 s)
    # and --breath replaces it.
    assert round_line(spoken("clutch")).startswith("Each full round takes about fifteen seconds.")
    assert "about nineteen seconds" in round_line(spoken("clutch", pace="slow"))
    assert "about twelve seconds" in round_line(spoken("clutch", pace="0.8"))
    assert "about twelve seconds" in round_line(spoken("clutch", breath=12))
    assert "about eight seconds" in round_line(spoken("clutch", breath=8))


def write(tmp_path, body: str) -> str:
    f = tmp_path / "r.yaml"
    f.write_text(body)
    return str(f)


ROUTINE = """\
title: T
safety: Breathe about once every {cycle} seconds.
defaults: {breath: 10}
steps:
  - kind: breath
    name: Easy breathing
    setup: Each breath takes {cycle} seconds, {reps} times.
    reps: 6
    cues: {inhale: "In for {inhale}.", exhale: "Out for {exhale}."}
  - kind: hold
    name: Plank
    setup: Hold for {seconds} seconds.
    duration: 30
    release: "Release. Braces stay: {{ cycle }} and { cycle }."
"""


def test_placeholders_follow_breath_and_pace(tmp_path):
    path = write(tmp_path, ROUTINE)
    said = spoken(path)
    assert "Breathe about once every ten seconds." in said
    assert "Each breath takes ten seconds, six times." in said
    assert "In for five." in said and "Out for five." in said
    assert "Hold for thirty seconds." in said
    said = spoken(path, breath=12)
    assert "Each breath takes twelve seconds, six times." in said
    assert "In for six." in said
    said = spoken(path, breath=12, pace="slow")  # 15 s breaths, a 37.5 s hold
    assert "Each breath takes fifteen seconds, six times." in said
    assert "Hold for thirty-eight seconds." in said
    assert "Release. Braces stay: {{ cycle }} and { cycle }." in said


def test_placeholders_follow_fitting(tmp_path):
    said = spoken(write(tmp_path, ROUTINE), minutes=5)
    line = next(x for x in said if x.startswith("Each breath takes"))
    assert "six times" not in line  # --minutes changed the reps, and the line with them


def test_numbers_are_words_in_the_routines_language(tmp_path):
    from matcue import phrases

    if "de" not in phrases.available():
        pytest.skip("no German catalogue on this branch")
    said = spoken(write(tmp_path, "language: de\n" + ROUTINE))
    assert "Each breath takes zehn seconds, sechs times." in said


@pytest.mark.parametrize(
    "where,text,field",
    [
        ("step", "setup: Hold for {secs} seconds.", "steps[0].setup[0]"),
        ("step", "cues: ['Breathe {cycles}.']", "steps[0].cues[0]"),
        ("step", "setup: '{reps} times.'", "steps[0].setup[0]"),  # a hold has no reps
        ("top", "intro: ['Every {seconds} seconds.']", "intro[0]"),
    ],
)
def test_unknown_placeholders_are_refused_with_file_line_and_field(where, text, field):
    step = "  - kind: hold\n    name: Plank\n    duration: 30\n"
    if where == "step":
        body = "title: T\nsteps:\n" + step + "    " + text + "\n"
        line = 6
    else:
        body = "title: T\n" + text + "\nsteps:\n" + step
        line = 2
    with pytest.raises(ValidationError) as err:
        parse_routine(body, filename="r.yaml")
    (problem,) = err.value.problems
    assert problem.startswith(f"r.yaml:{line}: {field}: unknown placeholder {{")
    assert "the placeholders are {cycle}" in problem
