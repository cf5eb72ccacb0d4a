"""Routine text as it is said: numbers as words, a colon in a step name said as a
full stop while the chapter title keeps it."""

from __future__ import annotations

import pytest

from matcue.cuescript import Say, StepMark, parse_script
from matcue.routine import parse_routine
from matcue.settings import Settings
from matcue.spoken import spoken_numbers
from matcue.templating import render_script_text


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Hold for 30 seconds", "Hold for thirty seconds"),
        ("Breathe 3, 2, 1.", "Breathe three, two, one."),
        ("Rest 1.5 s", "Rest one point five s"),
        ("Work at 50% effort", "Work at fifty percent effort"),
        ("Round 1: Cat-Cow", "Round one: Cat-Cow"),
        # names and ordinals stay as they are
        ("Mind L5 and C7", "Mind L5 and C7"),
        ("The 2nd time", "The 2nd time"),
        ("Order 1234567", "Order 1234567"),
    ],
)
def test_numbers_are_written_as_words(text: str, said: str) -> None:
    assert spoken_numbers(text) == said


def test_other_languages_get_whole_numbers_only() -> None:
    assert spoken_numbers("de 5 a 10 segundos", "es") == "de cinco a diez segundos"
    assert spoken_numbers("1.5", "es") == "1.5"


ROUTINE = """\
title: Numbers
intro: Hold each shape for 30 seconds.
steps:
  - kind: say
    name: "Round 1: Cat-Cow"
    text: Do it 2 times.
"""


def script_of():
    routine = parse_routine(ROUTINE, filename="n.yaml")
    return parse_script(render_script_text(routine, Settings()))


def test_the_cue_script_says_numbers_and_colons_as_words_and_the_chapter_keeps_its_title() -> None:
    script = script_of()
    said = [i.text for i in script.items if isinstance(i, Say)]
    assert "Hold each shape for thirty seconds." in said
    assert "Round one. Cat-Cow." in said
    assert "Do it two times." in said
    assert [i.name for i in script.items if isinstance(i, StepMark)] == ["Round 1: Cat-Cow"]
