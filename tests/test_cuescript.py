"""The cue-script format: parser, printer, round trip and precise errors."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcue.cuescript import (
    AnchoredLine,
    Block,
    Context,
    CueScript,
    Pause,
    Say,
    Sound,
    StepMark,
    escape_text,
    format_seconds,
    parse_script,
    print_script,
)
from matcue.errors import ValidationError

EXAMPLE = """\
# matcue cue script 1
@title Thaw
@meta routine=thaw pace=1.25 voice="English (Great Britain)"
@sound chime wait=2
Welcome.
@pause 1.5

@step Cat and Cow
@context side=left
Come onto your hands and knees.
@block 15 rep=1
  0 inhale: Breathe in and lift the chest.
  7.5 exhale: Breathe out and round.
@end
@block 3
  0 hold
  1 hold: \\@ sign spoken as is
@end
"""


def test_parse_example():
    s = parse_script(EXAMPLE)
    assert s.title == "Thaw"
    assert s.meta == {"routine": "thaw", "pace": "1.25", "voice": "English (Great Britain)"}
    assert s.items[0] == Sound("chime", Fraction(2))
    assert s.items[1] == Say("Welcome.")
    assert s.items[2] == Pause(Fraction(3, 2))
    assert s.items[3] == StepMark("Cat and Cow")
    assert s.items[4] == Context((("side", "left"),))
    block = s.items[6]
    assert block == Block(
        Fraction(15),
        (
            AnchoredLine(Fraction(0), "inhale", "Breathe in and lift the chest."),
            AnchoredLine(Fraction(15, 2), "exhale", "Breathe out and round."),
        ),
        (("rep", "1"),),
    )
    assert s.items[7].lines[0] == AnchoredLine(Fraction(0), "hold", None)
    assert s.items[7].lines[1].text == "@ sign spoken as is"
    assert s.phrases()[:2] == ["Welcome.", "Come onto your hands and knees."]


def test_print_then_parse_is_identity_on_example():
    s = parse_script(EXAMPLE)
    assert parse_script(print_script(s)) == s
    assert print_script(parse_script(print_script(s))) == print_script(s)


def test_errors_are_all_reported_with_file_line_and_field():
    text = (
        "# matcue cue script 1\n@pase 2\n@pause soon\n@block 0\n  0 inhale: in\n@end\n"
        "@block 10 rep=zero\n  5 inhale: a\n  2 exhale: b\n  12 hold\n@end\n@end\n"
        "@context sied=left\n@block 5\nforgot the offset\n@end\n@block 4\n  0 x: y\n"
    )
    with pytest.raises(ValidationError) as info:
        parse_script(text, filename="my.cue")
    assert info.value.problems == [
        "my.cue:2: @pase: unknown directive; did you mean '@pause'?",
        "my.cue:3: @pause: expected seconds (a number >= 0), got 'soon'",
        "my.cue:4: @block: expected a length in seconds > 0, got '0'",
        "my.cue:7: @block.rep: expected a whole number >= 1, got 'zero'",
        "my.cue:9: block line: offsets must increase within a block",
        "my.cue:10: block line: offset 12 is not inside the block (length 10)",
        "my.cue:12: @end: @end without an open @block",
        "my.cue:13: @context.sied: unknown label 'sied'; did you mean 'side'?",
        "my.cue:15: block line: expected 'OFFSET [phase][: text]' (inside a block every line "
        "starts with its offset in seconds; close the block with @end)",
        "my.cue:17: @block: not closed with @end",
    ]


def test_escape_keeps_user_text_from_becoming_directives():
    assert escape_text("@pause 99") == "\\@pause 99"
    assert escape_text("# not a comment") == "\\# not a comment"
    assert escape_text("two\nlines") == "two lines"
    s = CueScript(items=[Say("@pause 99"), Say("# hi"), Say("\\back")])
    assert parse_script(print_script(s)) == s


def test_format_seconds():
    assert format_seconds(Fraction(15, 2)) == "7.5"
    assert format_seconds(Fraction(12)) == "12"
    assert format_seconds(Fraction(1, 3)) == "0.333333"


# ---- Hypothesis: any script the model can hold prints and parses back equal

text_st = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    )
    .map(lambda t: " ".join(t.split()))
    .filter(bool)
)
secs = st.integers(min_value=0, max_value=10**6).map(lambda n: Fraction(n, 1000))
pos_secs = st.integers(min_value=1, max_value=10**6).map(lambda n: Fraction(n, 1000))
phase_st = st.sampled_from([None, "inhale", "exhale", "hold", "hold_in", "rest", "move"])
ctx_st = st.lists(
    st.sampled_from(
        [
            ("rep", "3"),
            ("set", "2"),
            ("side", "left"),
            ("side", "right"),
            ("phase", "hold"),
            ("side", ""),
        ]
    ),
    max_size=3,
).map(tuple)


@st.composite
def block_st(draw):
    length = draw(pos_secs)
    offsets = sorted(
        set(
            draw(
                st.lists(
                    st.integers(
                        min_value=0, max_value=length.numerator * 1000 // length.denominator - 1
                    ),
                    min_size=1,
                    max_size=5,
                )
            )
        )
    )
    lines = tuple(
        AnchoredLine(Fraction(o, 1000), draw(phase_st), draw(st.one_of(st.none(), text_st)))
        for o in offsets
    )
    return Block(length, lines, draw(ctx_st.map(lambda c: tuple(x for x in c if x[1]))))


item_st = st.one_of(
    text_st.map(Say),
    secs.map(Pause),
    st.builds(Sound, st.sampled_from(["chime", "chime-end"]), st.one_of(st.none(), secs)),
    text_st.map(StepMark),
    ctx_st.map(Context),
    block_st(),
)


@given(
    st.builds(
        CueScript,
        title=st.one_of(st.just(""), text_st),
        meta=st.dictionaries(st.sampled_from(["routine", "pace", "voice"]), text_st, max_size=3),
        items=st.lists(item_st, max_size=12),
    )
)
@settings(max_examples=150, deadline=None)
def test_round_trip_property(script):
    assert parse_script(print_script(script)) == script


def test_a_cue_script_longer_than_four_hours_is_refused_at_the_line_that_passes():
    """Routine files have a 4-hour limit; a cue script rendered as it stands had none."""
    lines = ["# matcue cue script 1", "@title Long"]
    for _ in range(6):
        lines += ["@block 3000", "  0 breathe: In.", "@end"]
    lines += ["@pause 2"]
    with pytest.raises(ValidationError) as info:
        parse_script("\n".join(lines) + "\n", filename="long.cue")
    assert info.value.problems == [
        "long.cue:15: length: the timed parts (blocks, pauses and sound waits) pass 4 hours "
        "here; the limit for a session is 4 hours"
    ]
    parse_script("\n".join(lines[: 2 + 4 * 3]) + "\n")  # four of them: 3 h 20 min, fine
