"""What each hold `guide` says, and when (the real templates).

Regression for `guide: countdown`, which used to add only "Five more seconds."
to holds of 10 s or more: an 8 s or {counts: 8} hold said just "Hold here." and
"Release.", and a {breaths: 2} hold lost its breath cues and became a silent
20 s hold. The expected lines are written out so a wording or timing change
shows here; the values (8 s, 8 counts, 2 and 3 breaths, 30 s with two cues) are
the audit's cases plus one long hold where calm cues and countdown share time.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fakes import FakeSpeechLengths, fake_sound_length

from matcue.cuescript import Block
from matcue.pipeline import build_script, load_source, resolve_settings
from matcue.schedule import schedule

SR = 22050


def hold_blocks(tmp_path, duration: str, *, guide: str, extra: str = "", **overrides):
    f = tmp_path / "hold.yaml"
    f.write_text(
        "title: T\ndefaults: {breath: 10}\nsteps:\n"
        f"  - {{kind: hold, name: Plank, duration: {duration}, guide: {guide}{extra}}}\n"
    )
    source = load_source(str(f))
    script = build_script(source, resolve_settings(source, overrides))[0]
    return script, [i for i in script.items if isinstance(i, Block)]


def lines(block: Block) -> list[tuple[Fraction, str | None]]:
    return [(line.offset, line.text) for line in block.lines]


COUNTDOWN_8S = [
    (0, "Hold here."),
    (3, "Five."),
    (4, "Four."),
    (5, "Three."),
    (6, "Two."),
    (7, "One."),
]


def test_countdown_on_seconds_counts_down_the_last_five(tmp_path):
    _, blocks = hold_blocks(tmp_path, "8", guide="countdown")
    assert [b.length for b in blocks] == [8]
    assert lines(blocks[0]) == COUNTDOWN_8S
    _, blocks = hold_blocks(tmp_path, "8", guide="countdown", verbosity="minimal")
    assert lines(blocks[0]) == [(0, "Hold.")] + COUNTDOWN_8S[1:]


def test_countdown_on_a_short_hold_counts_the_whole_hold(tmp_path):
    _, blocks = hold_blocks(tmp_path, "3.5", guide="countdown")
    assert lines(blocks[0]) == [
        (0, None),  # no room to say "Hold here." before the countdown
        (Fraction(1, 2), "Three."),
        (Fraction(3, 2), "Two."),
        (Fraction(5, 2), "One."),
    ]


def test_countdown_on_counts_counts_every_count_down(tmp_path):
    _, blocks = hold_blocks(tmp_path, "{counts: 8}", guide="countdown")
    words = "Eight Seven Six Five Four Three Two One".split()
    assert lines(blocks[0]) == [(k, f"{w}.") for k, w in enumerate(words)]


def test_countdown_on_breaths_counts_the_breaths_down(tmp_path):
    _, blocks = hold_blocks(tmp_path, "{breaths: 2}", guide="countdown")
    assert [lines(b) for b in blocks] == [
        [(0, "Two breaths left. Breathe in."), (5, "Breathe out.")],
        [(0, "Last breath in."), (5, "Breathe out.")],
    ]
    assert [b.phase for b in blocks[0].lines] == ["inhale", "exhale"]
    extra = ", cues: [Shoulders soft., Breathe wide.]"
    _, blocks = hold_blocks(tmp_path, "{breaths: 3}", guide="countdown", extra=extra)
    assert [lines(b) for b in blocks] == [
        [(0, "Three breaths left. Breathe in."), (5, "Breathe out.")],
        [(0, "Two breaths left. Breathe in."), (5, "Shoulders soft.")],
        [(0, "Last breath in."), (5, "Breathe wide.")],
    ]
    _, blocks = hold_blocks(tmp_path, "{breaths: 2}", guide="countdown", verbosity="minimal")
    assert [lines(b) for b in blocks] == [
        [(0, "Two, breathe in."), (5, "Breathe out.")],
        [(0, "One, breathe in."), (5, "Breathe out.")],
    ]


def test_countdown_leaves_calm_cues_before_the_countdown(tmp_path):
    extra = ", cues: [Shoulders soft., Breathe wide.]"
    _, blocks = hold_blocks(tmp_path, "30", guide="countdown", extra=extra)
    assert lines(blocks[0]) == [
        (0, "Hold here."),
        (Fraction("8.333333"), "Shoulders soft."),  # 25/3 and 50/3, as the script prints them
        (Fraction("16.666667"), "Breathe wide."),
        (25, "Five."),
        (26, "Four."),
        (27, "Three."),
        (28, "Two."),
        (29, "One."),
    ]
    _, blocks = hold_blocks(tmp_path, "30", guide="countdown", extra=extra, verbosity="brief")
    said = lines(blocks[0])
    # cues: full only; without them the 25 s before the countdown is too long a silence
    # (more than QUIET_LIMIT_SECONDS), so one calm reminder comes halfway through it
    assert said[:2] == [(0, "Hold here."), (Fraction(25, 2), "Keep breathing easily.")]
    assert [t for _, t in said[2:]] == ["Five.", "Four.", "Three.", "Two.", "One."]


@pytest.mark.parametrize("duration", ["8", "30", "{counts: 8}", "{breaths: 2}"])
def test_countdown_scales_with_pace_and_lands_on_exact_samples(tmp_path, duration):
    _, normal = hold_blocks(tmp_path, duration, guide="countdown")
    script, slow = hold_blocks(tmp_path, duration, guide="countdown", pace="1.5")
    assert [lines(b) for b in slow] == [
        [(offset * Fraction(3, 2), text) for offset, text in lines(b)] for b in normal
    ]
    plan = schedule(
        script,
        sample_rate=SR,
        speech_length=FakeSpeechLengths(SR, 0.1),
        sound_length=fake_sound_length(SR),
    )
    timed = [e for e in plan.timeline.events if e.kind == "speech" and e.anchored]
    origin = next(e.start for e in plan.timeline.events if e.kind == "phase")
    expected, at = [], Fraction(0)
    for b in slow:
        expected += [round((at + offset) * SR) for offset, text in lines(b) if text]
        at += b.length
    assert [e.start - origin for e in timed] == expected


@pytest.mark.parametrize(
    "duration,guide,expected",
    [
        ("8", "none", [(0, "Hold here.")]),
        ("{counts: 3}", "count", [(0, "One."), (1, "Two."), (2, "Three.")]),
        ("3", "count", [(0, "One."), (1, "Two."), (2, "Three.")]),
        ("{breaths: 1}", "breaths", [(0, "Breathe in deeply."), (5, "Breathe out.")]),
    ],
)
def test_the_other_guides_are_unchanged(tmp_path, duration, guide, expected):
    _, blocks = hold_blocks(tmp_path, duration, guide=guide)
    assert lines(blocks[0]) == expected
