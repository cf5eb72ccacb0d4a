"""Long silences never feel broken (issue 12, item 6): calm reminders in long
holds, `every:` and `reminders:`, `hold_here: false`, and `announce: false` /
`spoken:` for what a step's start says. Expected times are worked out by hand:
a silent stretch longer than the limit gets the fewest reminders that leave no
silence longer than it, spread evenly."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcue.cuescript import Block, Say, StepMark
from matcue.limits import QUIET_LIMIT_SECONDS
from matcue.pipeline import build_script, load_source, resolve_settings


def script_of(tmp_path, steps: str, **overrides):
    f = tmp_path / "r.yaml"
    f.write_text("title: T\ndefaults: {breath: 10}\nsteps:\n" + steps)
    source = load_source(str(f))
    return build_script(source, resolve_settings(source, overrides))[0]


def hold_lines(tmp_path, fields: str, **overrides) -> list[tuple[F, str | None]]:
    script = script_of(tmp_path, f"  - {{kind: hold, name: Plank, {fields}}}\n", **overrides)
    (block,) = [i for i in script.items if isinstance(i, Block)]
    return [(line.offset, line.text) for line in block.lines]


def test_a_long_silent_hold_gets_reminders_every_twenty_seconds(tmp_path):
    assert hold_lines(tmp_path, "duration: 60, progress: false") == [
        (0, "Hold here."),
        (20, "Keep breathing easily."),
        (40, "Stay with it, nice and steady."),
    ]
    # 20 s of silence is not too long: nothing is added to a 20 s hold.
    assert hold_lines(tmp_path, "duration: 20, progress: false") == [(0, "Hold here.")]


def test_every_sets_the_spacing_and_follows_the_pace(tmp_path):
    fields = "duration: 60, every: 15, reminders: [Jaw soft., Eyes soft.], progress: false"
    assert hold_lines(tmp_path, fields) == [
        (0, "Hold here."),
        (15, "Jaw soft."),
        (30, "Eyes soft."),
        (45, "Jaw soft."),
    ]
    slow = hold_lines(tmp_path, fields, pace="slow")  # 75 s, every 18.75 s
    assert [t for t, _ in slow] == [0, F(75, 4), F(75, 2), F(225, 4)]


def test_the_halfway_mark_is_a_line_the_reminders_keep_clear_of(tmp_path):
    """The merge of progress marks and calm reminders: "Halfway." at 30 s of a 60 s
    hold counts as spoken, so each 30 s half gets one reminder in its middle (not
    one at 20 s and 40 s, 10 s from the mark), and the cues share out each half."""
    assert hold_lines(tmp_path, "duration: 60") == [
        (0, "Hold here."),
        (15, "Keep breathing easily."),
        (30, "Halfway."),
        (45, "Stay with it, nice and steady."),
    ]
    assert hold_lines(tmp_path, "duration: 60, cues: [Jaw soft., Eyes soft.]") == [
        (0, "Hold here."),
        (15, "Jaw soft."),
        (30, "Halfway."),
        (45, "Eyes soft."),
    ]
    # minimal says no progress marks: the reminders still keep the silences short.
    minimal = hold_lines(tmp_path, "duration: 60", verbosity="minimal")
    assert minimal == [(0, "Hold."), (15, "Still holding."), (45, "Still holding.")]


def test_reminders_stay_out_of_the_countdown_and_between_the_cues(tmp_path):
    fields = "duration: 70, guide: countdown, cues: [Shoulders soft.]"
    assert hold_lines(tmp_path, fields) == [
        (0, "Hold here."),
        (F(65, 4), "Keep breathing easily."),  # halfway to the cue at 32.5 s
        (F(65, 2), "Shoulders soft."),  # the cue halfway to the countdown at 65 s
        (F(195, 4), "Stay with it, nice and steady."),
        (65, "Five."),
        (66, "Four."),
        (67, "Three."),
        (68, "Two."),
        (69, "One."),
    ]
    # brief: no cues, so the 65 s before the countdown has three reminders.
    brief = hold_lines(tmp_path, fields, verbosity="brief")
    assert [t for t, _ in brief[:4]] == [0, F(65, 4), F(65, 2), F(195, 4)]
    minimal = hold_lines(tmp_path, fields, verbosity="minimal")
    assert [x for _, x in minimal[:4]] == [
        "Hold.",
        "Still holding.",
        "Still holding.",
        "Still holding.",
    ]


@settings(max_examples=40, deadline=None)
@given(
    seconds=st.integers(min_value=1, max_value=600),
    every=st.one_of(st.none(), st.integers(min_value=10, max_value=120)),
    guide=st.sampled_from(["none", "countdown"]),
    cues=st.integers(min_value=0, max_value=3),
)
def test_no_silence_is_longer_than_the_limit(tmp_path_factory, seconds, every, guide, cues):
    tmp_path = tmp_path_factory.mktemp("h")
    fields = f"duration: {seconds}, guide: {guide}, cues: {[f'Cue {i}.' for i in range(cues)]}"
    if every is not None:
        fields += f", every: {every}"
    said = hold_lines(tmp_path, fields)
    limit = every or QUIET_LIMIT_SECONDS
    times = [t for t, text in said if text] + [F(seconds)]
    countdown = [
        t
        for t, text in said
        if text and text.rstrip(".") in ("Five", "Four", "Three", "Two", "One")
    ]
    if seconds >= 2:
        assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= limit
    reminders = [
        t
        for t, text in said
        if text and text.startswith(("Keep", "Stay", "Let", "Soften", "Steady"))
    ]
    if countdown:
        assert all(t < countdown[0] for t in reminders)  # never within the countdown
    assert all(0 < t < seconds for t in reminders)


def test_hold_here_false_starts_in_silence(tmp_path):
    assert hold_lines(tmp_path, "duration: 10, hold_here: false") == [(0, None)]
    lines = hold_lines(tmp_path, "duration: 8, guide: countdown, hold_here: false")
    assert lines[0] == (0, None)
    assert [t for _, t in lines[1:]] == ["Five.", "Four.", "Three.", "Two.", "One."]


def test_announce_and_spoken(tmp_path):
    steps = (
        "  - {kind: rest, name: Deep rest, announce: false, duration: 30}\n"
        "  - {kind: hold, name: Bridge (90 s), spoken: Lift into your bridge, duration: 10}\n"
        "  - {kind: hold, name: Plank, duration: 10}\n"
    )
    script = script_of(tmp_path, steps)
    chapters = [i.name for i in script.items if isinstance(i, StepMark)]
    assert chapters == ["Deep rest", "Bridge (90 s)", "Plank"]
    spoken = [i.text for i in script.items if isinstance(i, Say)]
    assert "Deep rest." not in spoken
    assert "Lift into your bridge." in spoken and "Bridge (90 s)." not in spoken
    assert "Plank." in spoken


@pytest.mark.parametrize("verbosity", ["full", "brief", "minimal"])
def test_the_built_ins_have_no_hold_silent_for_longer_than_the_limit(verbosity):
    """Every silent hold of every built-in, at every verbosity."""
    from matcue.routine import builtin_names

    for name in builtin_names():
        source = load_source(name)
        script = build_script(source, resolve_settings(source, {"verbosity": verbosity}))[0]
        for block in (i for i in script.items if isinstance(i, Block)):
            if not block.lines or block.lines[0].phase != "hold":
                continue
            times = [line.offset for line in block.lines if line.text] + [block.length]
            assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= QUIET_LIMIT_SECONDS
