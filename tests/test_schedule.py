"""Timeline math with a fake engine of known clip lengths: anchors are
sample-exact at any pace, never drift, and overruns never move later anchors."""

from __future__ import annotations

from fractions import Fraction

import pytest
from fakes import FakeSpeechLengths, fake_sound_length
from hypothesis import given, settings
from hypothesis import strategies as st

from matcue.cuescript import AnchoredLine, Block, CueScript, Pause, Say, StepMark, parse_script
from matcue.errors import InputError
from matcue.schedule import schedule

SR = 22050


def breath_script(cycle: Fraction, reps: int, lead: str = "Come to hands and knees.") -> CueScript:
    half = cycle / 2
    items: list = [StepMark("Cat and Cow"), Say(lead), Pause(Fraction(1))]
    for rep in range(1, reps + 1):
        items.append(
            Block(
                cycle,
                (AnchoredLine(Fraction(0), "inhale", "In"), AnchoredLine(half, "exhale", "Out")),
                (("rep", str(rep)),),
            )
        )
    return CueScript(title="t", items=items)


def run(script: CueScript, sr: int = SR, word_seconds: float = 0.3, **kw):
    return schedule(
        script,
        sample_rate=sr,
        speech_length=FakeSpeechLengths(sr, word_seconds),
        sound_length=fake_sound_length(sr),
        **kw,
    )


def test_fifteen_second_cycle_lands_at_exact_offsets():
    plan = run(breath_script(Fraction(15), 40))
    tl = plan.timeline
    inhales = [e for e in tl.events if e.kind == "speech" and e.phase == "inhale"]
    exhales = [e for e in tl.events if e.kind == "speech" and e.phase == "exhale"]
    origin = inhales[0].start
    # The flowing lead-in: 5 words * 0.3 s + 1 s pause, exactly.
    assert origin == round(5 * 0.3 * SR) + SR
    for k, (i, x) in enumerate(zip(inhales, exhales, strict=True)):
        assert i.start == origin + round(Fraction(15) * k * SR)
        assert x.start == origin + round((Fraction(15) * k + Fraction(15, 2)) * SR)
        assert i.rep == k + 1 and i.step == "Cat and Cow"


def test_anchors_do_not_drift_with_a_non_integer_sample_cycle():
    # 7.3 s * 22050 = 160965 samples exactly, but 0.1 s steps at 44.1k... use a
    # rate where a cycle is not a whole number of samples: 10.00001 s at 22050 Hz.
    cycle = Fraction(1000001, 100000)
    plan = run(breath_script(cycle, 500))
    inhales = [e.start for e in plan.timeline.events if e.phase == "inhale" and e.kind == "speech"]
    origin = inhales[0]
    for k, start in enumerate(inhales):
        exact = origin + cycle * k * SR
        assert abs(start - exact) <= Fraction(1, 2)  # rounding of the absolute time only
    # summing rounded cycle lengths instead would have drifted by 500 * 0.2205 samples
    assert inhales[-1] - origin == round(cycle * 499 * SR)


@given(
    cycle=st.fractions(min_value=2, max_value=60).map(lambda f: f.limit_denominator(1000)),
    pace=st.sampled_from(
        [Fraction(4, 5), Fraction(1), Fraction(5, 4), Fraction(3, 2), Fraction(7, 3)]
    ),
    reps=st.integers(min_value=1, max_value=30),
    sr=st.sampled_from([16000, 22050, 44100, 48000]),
)
@settings(max_examples=60, deadline=None)
def test_anchors_are_sample_exact_for_any_pace_and_breath(cycle, pace, reps, sr):
    paced = cycle * pace
    plan = run(breath_script(paced, reps), sr=sr, word_seconds=0.01)
    inhales = [e for e in plan.timeline.events if e.kind == "phase" and e.phase == "inhale"]
    origin = inhales[0].start
    for k, e in enumerate(inhales):
        assert e.start == origin + round(paced * k * sr)
        assert e.end == origin + round((paced * k + paced / 2) * sr)


def test_flowing_lines_take_their_speech_length_plus_pauses():
    script = parse_script("# matcue cue script 1\n@step A\none two three\n@pause 2.5\nfour five\n")
    tl = run(script).timeline
    speech = [e for e in tl.events if e.kind == "speech"]
    assert speech[0].start == 0 and speech[0].end == round(0.9 * SR)
    assert speech[1].start == round(0.9 * SR) + round(2.5 * SR)
    assert tl.length == speech[1].end


def test_flowing_line_between_blocks_starts_a_new_chain():
    script = parse_script(
        "# matcue cue script 1\n@step A\n@block 10\n  0 inhale: in\n@end\nsay this\n"
        "@block 10\n  0 inhale: in\n@end\n"
    )
    tl = run(script).timeline
    starts = [e.start for e in tl.events if e.kind == "phase"]
    assert starts == [0, 10 * SR + round(2 * 0.3 * SR)]


def test_chapters_one_per_step_first_from_zero():
    script = parse_script("# matcue cue script 1\nhello there\n@step A\nx\n@step B\ny\n")
    tl = run(script).timeline
    assert [c.title for c in tl.chapters] == ["A", "B"]
    assert tl.chapters[0].start == 0
    assert tl.chapters[0].end == tl.chapters[1].start
    assert tl.chapters[-1].end == tl.length


def test_overrun_is_sped_up_within_limit_without_moving_anchors():
    # "a b c d e f g h" = 8 words * 0.3 = 2.4 s in a 2.0 s window: needs 1.2x.
    script = parse_script(
        "# matcue cue script 1\n@step A\n@block 4\n  0 inhale: a b c d e f g h\n"
        "  2 exhale: out\n@end\n@block 4\n  0 inhale: in\n@end\n"
    )
    plan = run(script)
    tl = plan.timeline
    first = next(e for e in tl.events if e.kind == "speech")
    assert first.clip in plan.stretches
    assert 1.19 < plan.stretches[first.clip].factor <= 1.25
    assert first.end <= 2 * SR  # fits its window now
    assert [e.start for e in tl.events if e.kind == "speech"] == [0, 2 * SR, 4 * SR]
    assert tl.warnings == []


def test_overrun_beyond_limit_warns_names_step_and_fix_and_strict_fails():
    words = " ".join(["word"] * 12)  # 3.6 s in a 2 s window: 1.8x needed
    text = (
        f"# matcue cue script 1\n@step Lunge\n@block 4 rep=3\n  0 inhale: {words}\n"
        "  2 exhale: out\n@end\n"
    )
    plan = run(parse_script(text))
    assert len(plan.timeline.warnings) == 1
    w = plan.timeline.warnings[0]
    assert "step 'Lunge'" in w and "rep 3" in w and "inhale" in w
    assert "overruns its 2.00 s window by 0.88 s" in w
    # schedule() alone knows nothing of the options that shaped the window
    assert w.endswith("; use a shorter cue or a longer window")
    # the anchored exhale did not move, and the long cue was cut before it
    speech = [e for e in plan.timeline.events if e.kind == "speech"]
    assert speech[1].start == 2 * SR and speech[0].end == 2 * SR
    with pytest.raises(InputError, match="overrun: step 'Lunge'"):
        run(parse_script(text), strict=True)
    advised = run(parse_script(text), advise=lambda found: [f"try {o.step}" for o in found])
    assert advised.timeline.warnings[0].endswith("even at 1.25x speed; try Lunge")


def test_silent_phase_lines_do_not_shorten_the_speech_window():
    # the inhale cue may run over a silent hold marker into the exhale's start
    text = (
        "# matcue cue script 1\n@step A\n@block 6\n  0 inhale: a b c d e f g h\n"
        "  1 hold_in\n  3 exhale: out\n@end\n"
    )
    plan = run(parse_script(text))
    assert plan.stretches == {} and plan.timeline.warnings == []


def test_without_sounds_a_sound_is_silence_for_as_long_as_it_held_the_flow():
    # --no-chime: the timeline must not list sounds the audio will not have, and
    # nothing else may move. A sound's place in the flow becomes a pause.
    script = parse_script(
        "# matcue cue script 1\n@step A\n@sound chime wait=1.5\nHello there.\n"
        "@block 4\n  0 inhale: In.\n@end\n@sound chime-end\n"
    )
    kw = dict(
        sample_rate=SR, speech_length=FakeSpeechLengths(SR), sound_length=fake_sound_length(SR)
    )
    on = schedule(script, **kw).timeline
    off = schedule(script, sounds=False, **kw).timeline
    assert [(e.kind, e.start, e.end) for e in on.events if e.kind == "sound"] == [
        ("sound", 0, 2 * SR),
        ("sound", round(5.5 * SR) + 2 * round(0.3 * SR), round(7.5 * SR) + 2 * round(0.3 * SR)),
    ]
    pauses = [(e.start, e.end) for e in off.events if e.kind == "pause"]
    assert pauses == [(0, round(1.5 * SR)), (on.events[-1].start, on.events[-1].end)]
    assert not [e for e in off.events if e.kind == "sound"]
    assert [e for e in on.events if e.kind != "sound"] == [
        e for e in off.events if e.kind != "pause"
    ]
    assert off.length == on.length
