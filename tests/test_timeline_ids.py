"""Timeline events and chapters tell steps apart: a unique step index and a step
id (the name's slug, numbered when names repeat), and the session's opening
belongs to the first chapter under that chapter's own name. Timing uses a fake
engine of known clip lengths (no speech is needed to place events)."""

from __future__ import annotations

from fakes import FakeSpeechLengths, fake_sound_length

from matcue.cuescript import parse_script
from matcue.export import chapters_to_json, timeline_to_json
from matcue.schedule import schedule
from matcue.timeline import slug, step_ids

SR = 8000

SCRIPT = """\
# matcue cue script 1
@title Three moves
@sound chime wait=1
Three moves.
@step Transition
@block 5
  0 transition: Roll onto your back.
@end
@step Cat-Cow
Come onto hands and knees.
@step Transition
@block 5
  0 transition
@end
@step Transition
Stand up.
"""


def fake_timeline():
    script = parse_script(SCRIPT)
    return schedule(
        script,
        sample_rate=SR,
        speech_length=FakeSpeechLengths(SR),
        sound_length=fake_sound_length(SR),
    ).timeline


def test_step_ids_are_slugs_numbered_when_names_repeat():
    assert step_ids(["Transition", "Cat-Cow", "Transition", "Transition"]) == [
        "transition",
        "cat-cow",
        "transition-2",
        "transition-3",
    ]
    # a name that is itself a numbered slug does not take another step's id
    assert step_ids(["Transition", "Transition 2", "Transition"]) == [
        "transition",
        "transition-2",
        "transition-3",
    ]
    assert slug("Round 1: Cat-Cow") == "round-1-cat-cow"
    assert slug("Respiración") == "respiracion"
    assert slug("¡!") == "step"


def test_events_carry_the_step_index_and_id_of_their_chapter():
    tl = fake_timeline()
    chapters = chapters_to_json(tl)
    assert [(c["index"], c["id"], c["title"]) for c in chapters] == [
        (0, "transition", "Transition"),
        (1, "cat-cow", "Cat-Cow"),
        (2, "transition-2", "Transition"),
        (3, "transition-3", "Transition"),
    ]
    for ev in timeline_to_json(tl):
        chapter = chapters[ev["step_index"]]
        assert (ev["step_id"], ev["step"]) == (chapter["id"], chapter["title"])
        assert chapter["start"] <= ev["start"] <= chapter["end"]
    said = {e["text"]: e["step_id"] for e in timeline_to_json(tl) if e["kind"] == "speech"}
    assert said == {
        "Three moves.": "transition",  # the opening is part of the first chapter
        "Roll onto your back.": "transition",
        "Come onto hands and knees.": "cat-cow",
        "Stand up.": "transition-3",
    }


def test_a_script_without_steps_is_all_opening():
    tl = schedule(
        parse_script("# matcue cue script 1\nHello.\n"),
        sample_rate=SR,
        speech_length=FakeSpeechLengths(SR),
        sound_length=fake_sound_length(SR),
    ).timeline
    assert [(e.step, e.step_index, e.step_id) for e in tl.events] == [
        ("Introduction", 0, "introduction")
    ]
