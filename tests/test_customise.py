"""Customising a session: pace, breath, verbosity, voices, rate, templates,
user text as data, and --minutes. Timing checks use the real templates and the
real engine's clip lengths (prepare(): no mixing needed)."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeSpeechLengths, fake_sound_length

from matcue.cli import main
from matcue.cuescript import Block, Say, Sound, StepMark, parse_script
from matcue.errors import InputError
from matcue.fit import with_rounds
from matcue.pipeline import Source, build_script, load_source, prepare, resolve_settings
from matcue.schedule import schedule
from matcue.starter import starter_routine
from matcue.templating import render_script_text

SR = 22050


def script_for(name: str, **overrides):
    source = load_source(name)
    return build_script(source, resolve_settings(source, overrides))[0]


def anchored_intervals(script) -> list[Fraction]:
    """Every block length and every offset inside a block, in order."""
    out: list[Fraction] = []
    for item in script.items:
        if isinstance(item, Block):
            out.append(item.length)
            out.extend(line.offset for line in item.lines)
    return out


# Every built-in, and a routine whose set rest and rest sit at the edges where a
# fixed (unpaced) lead time or margin would add, drop or move a cue.
EDGES = """\
title: Edges
steps:
  - {kind: reps, name: Hinge, reps: 1, sets: 2, set_rest: 10, cues: {move: Go., release: Back.}}
  - {kind: rest, name: Rest, duration: 60, every: 45}
"""


@pytest.mark.parametrize(
    "name", ["thaw", "clutch", "retrain", "control", "morning", "desk-break", "articulate", "edges"]
)
@pytest.mark.parametrize("pace", ["0.5", "0.8", "1.5", "2"])
def test_pace_scales_every_anchored_interval_exactly(name, pace, tmp_path):
    # morning's "Get ready for set N" once sat a fixed 5 s before the end of the
    # set rest, so at pace 1.5 it came 25 s after "Rest between sets." instead of
    # 22.5 s; the rest reminders used a fixed 8 s margin before the end.
    if name == "edges":
        (tmp_path / "edges.yaml").write_text(EDGES)
        name = str(tmp_path / "edges.yaml")
    normal = anchored_intervals(script_for(name))
    paced = anchored_intervals(script_for(name, pace=pace))
    assert len(normal) == len(paced) > 10
    assert all(p == n * Fraction(pace) for n, p in zip(normal, paced, strict=True))


def test_pace_keeps_scheduled_anchors_exact_in_samples():
    plan = schedule(
        script_for("clutch", pace="1.5"),
        sample_rate=SR,
        speech_length=FakeSpeechLengths(SR, 0.2),
        sound_length=fake_sound_length(SR),
    )
    inhales = [
        e
        for e in plan.timeline.events
        if e.kind == "phase" and e.phase == "inhale" and e.step == "Slow Cat and Cow"
    ]
    assert len(inhales) >= 6
    for k, e in enumerate(inhales):
        # clutch's breath is 15 s; --pace scales it: 22.5 s
        assert e.start - inhales[0].start == round(Fraction(45, 2) * k * SR)


def test_breath_sets_cycles_but_a_fixed_cycle_only_follows_pace():
    blocks = [i for i in script_for("thaw", breath=10).items if isinstance(i, Block)]
    cat = [
        b
        for b in blocks
        if b.lines[0].phase == "inhale" and b.lines[0].text and "Chest" in b.lines[0].text
    ]
    assert cat and all(b.length == 10 for b in cat)
    # desk-break's Cat-Cow fixes its own 10 s cycle (two minutes in twelve breaths)
    desk = [
        b
        for b in script_for("desk-break", breath=6).items
        if isinstance(b, Block) and b.lines[0].phase == "inhale"
    ]
    assert desk and all(b.length == 10 for b in desk)
    # clutch's 15 s is the routine's own breath, so --breath changes it
    clutch = [
        b
        for b in script_for("clutch", breath=10).items
        if isinstance(b, Block) and b.lines[0].phase == "inhale"
    ]
    assert clutch and all(b.length == 10 for b in clutch)


def words(script) -> int:
    n = 0
    for item in script.items:
        if hasattr(item, "text") and isinstance(item.text, str):
            n += len(item.text.split())
        if isinstance(item, Block):
            n += sum(len(line.text.split()) for line in item.lines if line.text)
    return n


def test_minimal_says_at_most_60_percent_of_full_on_clutch():
    full = words(script_for("clutch", verbosity="full"))
    brief = words(script_for("clutch", verbosity="brief"))
    minimal = words(script_for("clutch", verbosity="minimal"))
    assert minimal <= 0.6 * full, (minimal, full)
    assert minimal < brief < full


def test_brief_gives_full_cues_first_then_phase_words():
    blocks = [
        i
        for i in script_for("thaw", verbosity="brief").items
        if isinstance(i, Block) and i.lines[0].phase == "inhale"
    ]
    cat = blocks[:8]
    assert "Chest" in cat[0].lines[0].text and "Chest" in cat[1].lines[0].text
    assert cat[2].lines[0].text == "Breathe in." and cat[2].lines[1].text == "Breathe out."


def test_routine_text_is_spoken_literally_never_evaluated(tmp_path):
    f = tmp_path / "inj.yaml"
    f.write_text(
        'title: "{{ 7 * 7 }}"\nsafety: "{% for x in range(3) %}x{% endfor %}"\n'
        'steps:\n  - kind: say\n    text:\n      - "@pause 99"\n      - "{{ \'\'.__class__ }}"\n'
    )
    s = script_for(str(f))
    spoken = [i.text for i in s.items if hasattr(i, "text") and isinstance(i.text, str)]
    assert "{{ seven * seven }}." in spoken  # its numbers said as words, never computed
    assert "{% for x in range(three) %}x{% endfor %}." in spoken
    assert "@pause ninety-nine." in spoken and "{{ ''.__class__ }}." in spoken
    assert not any(getattr(i, "seconds", 0) == 99 for i in s.items)


def script_text(name: str, **overrides) -> str:
    source = load_source(name)
    return render_script_text(source.routine, resolve_settings(source, overrides))


def test_user_template_overrides_and_extends_builtin(tmp_path):
    # Regression: super() used to come back escaped as one spoken line
    # ("\@context @pause 1 ... @sound chime-end"): the outro became one long cue
    # and the end chime was lost. The session template is the snippet in
    # docs/templates.md, verbatim; the rendered script is compared in full.
    kind_only, both = tmp_path / "kind", tmp_path / "both"
    for folder in (kind_only, both):
        folder.mkdir()
        (folder / "kind_breath.cue.j2").write_text(
            "{% for rep in range(1, step.reps + 1) %}\n@block {{ step.cycle }} rep={{ rep }}\n"
            "{% for ph in step.phases %}\n  {{ ph.offset }} {{ ph.phase }}: "
            "{{ 'Rise.' if ph.phase == 'inhale' else 'Settle.' }}\n{% endfor %}\n@end\n"
            "{% endfor %}\n"
        )
    doc = (Path(__file__).resolve().parent.parent / "docs" / "templates.md").read_text()
    snippet = re.search(r"```jinja\n(\{% extends .*?)```", doc, re.S)
    assert snippet is not None
    (both / "session.cue.j2").write_text(snippet.group(1))

    s = script_for("thaw", templates=both)
    texts = [line.text for b in s.items if isinstance(b, Block) for line in b.lines]
    assert "Rise." in texts and "Settle." in texts
    assert [i.name for i in s.items if isinstance(i, Sound)][-1] == "chime-end"
    overridden = script_text("thaw", templates=kind_only)
    head, sep, tail = overridden.rpartition("@context\n@pause 1\n")
    assert sep and tail.endswith("@sound chime-end\n")
    expected = head + "That is all for today.\n" + sep + tail
    assert script_text("thaw", templates=both) == expected


def spoken(script) -> list[str]:
    """Every spoken line, flowing or anchored, in order."""
    out: list[str] = []
    for item in script.items:
        if isinstance(item, Say):
            out.append(item.text)
        elif isinstance(item, Block):
            out.extend(line.text for line in item.lines if line.text)
    return out


def test_unnamed_say_and_transition_steps_speak_no_invented_title(tmp_path):
    # Regression: the `matcue new` starter opens with an unnamed say step, so every
    # starter session said "Instructions." aloud, and "Transition." for its
    # unnamed transition. The default names stay as chapter titles only.
    f = tmp_path / "starter.yaml"
    f.write_text(starter_routine("starter"))
    for verbosity in ("full", "brief", "minimal"):
        s = script_for(str(f), verbosity=verbosity)
        said = spoken(s)
        assert "Instructions." not in said and "Transition." not in said
        marks = [i.name for i in s.items if isinstance(i, StepMark)]
        assert marks[:3] == ["Instructions", "Cat and cow", "Transition"]
        first = s.items.index(StepMark("Instructions"))
        assert next(i for i in s.items[first:] if isinstance(i, Say)).text == (
            "Come onto your hands and knees, wrists under shoulders."
        )
        assert "Cat and cow." in said  # names the routine gives are still spoken
    # nor in the extra rounds that --minutes adds
    rounds = with_rounds(load_source(str(f)).routine, 1)
    s = build_script(Source("starter", rounds), resolve_settings(Source("starter", rounds), {}))[0]
    said = spoken(s)
    assert not [t for t in said if t.startswith(("Instructions", "Transition"))]
    assert "Round two." in said and "Cat and cow (round 2)." not in said  # said once
    assert StepMark("Cat and cow (round 2)") in s.items  # the chapter keeps the round
    g = tmp_path / "named.yaml"
    g.write_text(
        "title: T\nsteps:\n  - {kind: say, name: Instructions, text: hi}\n"
        "  - {kind: transition, name: Transition}\n"
    )
    assert spoken(script_for(str(g)))[1:] == ["Instructions.", "hi.", "Transition."]


def test_an_extra_round_is_announced_once():
    # Regression: the transition into an extra --minutes round was named "Round 2"
    # and its text began "Round 2." too, so the listener heard "Round 2. Round 2.
    # Come back into position ...".
    thaw = load_source("thaw").routine
    rounds = with_rounds(thaw, 2)
    source = Source("thaw", rounds)
    said = spoken(build_script(source, resolve_settings(source, {}))[0])
    for r in ("two", "three"):  # numbers are said as words
        assert [t for t in said if f"Round {r}" in t] == [f"Round {r}."]
        at = said.index(f"Round {r}.")
        assert said[at + 1].startswith("Come back into position for ")


def test_macros_callers_includes_and_self_blocks_pass_their_markup_through(tmp_path):
    (tmp_path / "bits.cue.j2").write_text("@pause 2\nIncluded.\n")
    (tmp_path / "session.cue.j2").write_text(
        '{% extends "builtin/session.cue.j2" %}\n'
        "{% macro beat(text) %}@pause 3\n{{ text }}\n{% endmacro %}\n"
        "{% macro wrap() %}@context phase=rest\n{{ caller() }}{% endmacro %}\n"
        "{% block closing %}{{ beat(routine.title) }}"
        "{% call wrap() %}@pause 4\n{% endcall %}"
        '{% include "bits.cue.j2" %}'
        "{{ self.opening() }}{% endblock %}\n"
    )
    f = tmp_path / "r.yaml"
    f.write_text('title: "@pause 99"\nsteps:\n  - {kind: say, name: S, text: hi}\n')
    text = script_text(str(f), templates=tmp_path)
    closing = text[text.index("@pause 3\n") :]
    assert closing == (
        "@pause 3\n\\@pause 99\n"  # the macro's markup, with the routine's title still escaped
        "@context phase=rest\n@pause 4\n"  # caller() inside a macro
        "@pause 2\nIncluded.\n"  # include
        "@sound chime wait=2\n\\@pause ninety-nine.\n@pause 1\n"  # self.opening()
    )
    said = [i.text for i in parse_script(text).items if isinstance(i, Say)]
    # the sentence filter says its number as a word; the macro prints the title as it is
    assert said.count("@pause 99") == 1 and said.count("@pause ninety-nine.") == 2


def test_user_text_joined_to_template_markup_is_still_escaped(tmp_path):
    # Only the direct result of super(), a macro or caller() is markup; once it is
    # joined with other text the whole value is ordinary text again.
    (tmp_path / "session.cue.j2").write_text(
        '{% extends "builtin/session.cue.j2" %}\n'
        "{% macro m() %}@pause 5{% endmacro %}\n"
        "{% block closing %}{{ m() ~ ' ' ~ routine.title }}\n{% endblock %}\n"
    )
    f = tmp_path / "r.yaml"
    f.write_text('title: "@pause 99"\nsteps:\n  - {kind: say, name: S, text: hi}\n')
    assert script_text(str(f), templates=tmp_path).endswith("\\@pause 5 @pause 99\n")


def test_user_template_error_names_file_and_line(tmp_path):
    (tmp_path / "kind_rest.cue.j2").write_text("line one\n{{ step.nosuchfield }}\n")
    with pytest.raises(InputError, match=r"kind_rest\.cue\.j2:2: template: .*nosuchfield"):
        script_for("clutch", templates=tmp_path)
    (tmp_path / "kind_rest.cue.j2").write_text("ok\n{% if %}\n")
    with pytest.raises(InputError, match=r"kind_rest\.cue\.j2:2: template: "):
        script_for("clutch", templates=tmp_path)


def test_user_templates_run_in_the_sandbox(tmp_path):
    (tmp_path / "kind_say.cue.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    f = tmp_path / "r.yaml"
    f.write_text("title: T\nsteps:\n  - kind: say\n    text: hi\n")
    with pytest.raises(InputError, match=r"kind_say\.cue\.j2:1: template: .*unsafe"):
        script_for(str(f), templates=tmp_path)


def test_cli_templates_folder_must_exist(tmp_path):
    r = CliRunner().invoke(main, ["script", "thaw", "--templates", str(tmp_path / "none")])
    assert r.exit_code == 2 and "not a folder" in r.output


# ---------------------------------------------------------------- real engine


def test_two_voices_give_different_audio_and_identical_anchors():
    import numpy as np

    src = load_source("desk-break")
    a = prepare(src, resolve_settings(src, {"voice": "gmw/en"}))
    b = prepare(src, resolve_settings(src, {"voice": "gmw/en-us"}))
    anchors_a = [
        e.start - a.timeline.events[0].start for e in a.timeline.events if e.kind == "phase"
    ]
    chain_a = [x - anchors_a[0] for x in anchors_a]
    anchors_b = [e.start for e in b.timeline.events if e.kind == "phase"]
    chain_b = [x - anchors_b[0] for x in anchors_b]
    assert chain_a == chain_b and len(chain_a) >= 24
    assert list(a.clips) == list(b.clips)  # the same lines are spoken...
    differ = 0
    for text in a.clips:
        ca, cb = a.clips[text], b.clips[text]
        n = min(len(ca), len(cb))
        differ += len(ca) != len(cb) or not np.allclose(ca[:n], cb[:n], atol=1e-3)
    assert differ == len(a.clips)  # ...every one of them in a different voice


def test_rate_120_speaks_markedly_slower_than_220():
    src = load_source("desk-break")
    slow = prepare(src, resolve_settings(src, {"rate": 120}))
    fast = prepare(src, resolve_settings(src, {"rate": 220}))
    line = next(t for t in slow.clips if len(t.split()) >= 6)
    assert len(slow.clips[line]) > 1.5 * len(fast.clips[line])


def test_minutes_10_on_thaw_lands_within_a_minute():
    src = load_source("thaw")
    p = prepare(src, resolve_settings(src, {"minutes": 10}))
    assert abs(p.timeline.duration - 600) <= 60, p.timeline.duration
    assert any("minutes" in c for c in p.changes)


def test_minutes_60_on_control_lands_within_six_minutes():
    src = load_source("control")
    p = prepare(src, resolve_settings(src, {"minutes": 60}))
    assert abs(p.timeline.duration - 3600) <= 360, p.timeline.duration
    assert any("round" in c for c in p.changes)


def test_overrun_strict_fails_with_the_step_and_fix(tmp_path):
    f = tmp_path / "long.yaml"
    long_cue = "Breathe in slowly and fully while you lift the chest and lengthen the spine"
    f.write_text(
        "title: T\nsteps:\n  - kind: breath\n    name: Tight\n    reps: 2\n    cycle: 3\n"
        f'    cues: {{inhale: "{long_cue}", exhale: out}}\n'
    )
    r = CliRunner().invoke(main, ["render", str(f), "--strict", "-o", str(tmp_path / "o.mp3")])
    assert r.exit_code == 2, r.output
    assert "overrun: step 'Tight'" in r.output and "--pace" in r.output
    assert "--breath" not in r.output  # the step fixes its own 3 s cycle
    assert not (tmp_path / "o.mp3").exists()
    r = CliRunner().invoke(main, ["render", str(f), "-o", str(tmp_path / "o.mp3")])
    assert r.exit_code == 0 and "warning: step 'Tight'" in r.output
    assert Path(tmp_path / "o.mp3").exists()
    assert re.search(r"overruns its 1\.50 s window by \d+\.\d\d s", r.output)


def test_get_ready_for_the_next_set_keeps_its_paced_place_in_the_timeline_json(tmp_path):
    # Regression: the cue sat a fixed 5 s before the end of the set rest, so
    # --pace 1.5 moved it from 15 s to 25 s after "Rest between sets." (not 22.5 s).
    f = tmp_path / "sets.yaml"
    f.write_text(
        "title: Sets\nsteps:\n  - kind: reps\n    name: Hinge\n    reps: 1\n    sets: 2\n"
        "    set_rest: 20\n    cues: {move: Lean forward., release: Sit tall.}\n"
    )
    gaps = {}
    for pace in ("1", "1.5"):
        tl = tmp_path / f"{pace}.json"
        out = tmp_path / f"{pace}.mp3"
        args = ["render", str(f), "--pace", pace, "-o", str(out), "--timeline", str(tl)]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        start = {e["text"]: e["start"] for e in json.loads(tl.read_text()) if "text" in e}
        gaps[pace] = start["Get ready for set two."] - start["Rest between sets."]
    assert gaps["1"] == pytest.approx(15, abs=1e-6)
    assert gaps["1.5"] == pytest.approx(22.5, abs=1e-6)


def test_documented_template_example_produces_a_valid_restyled_script():
    example = Path(__file__).resolve().parent.parent / "docs" / "examples" / "counting-style"
    s = script_for("thaw", templates=example)
    texts = [line.text for b in s.items if isinstance(b, Block) for line in b.lines]
    assert "Round one, in." in texts and "And out." in texts
    # same timing as the built-in templates: only words changed
    assert [b.length for b in s.items if isinstance(b, Block)] == [
        b.length for b in script_for("thaw").items if isinstance(b, Block)
    ]


# ---------------------------------------------------------------- numeric flags

MPEG2_BITRATES = "8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160"  # at 22050 Hz


@pytest.mark.parametrize(
    ("args", "line"),
    [
        # nan and inf used to reach cuescript.to_fraction and end in a traceback (exit 1)
        (
            ["render", "desk-break", "--breath", "nan"],
            "--breath: expected a number from 2 to 60 seconds, got nan",
        ),
        (
            ["render", "desk-break", "--breath", "inf"],
            "--breath: expected a number from 2 to 60 seconds, got inf",
        ),
        (
            ["script", "thaw", "--breath", "nan"],
            "--breath: expected a number from 2 to 60 seconds, got nan",
        ),
        (
            ["render", "desk-break", "--pace", "inf"],
            "--pace: expected slow, normal, fast or a factor from 0.25 to 4, got 'inf'",
        ),
        (
            ["render", "desk-break", "--pace", "nan"],
            "--pace: expected slow, normal, fast or a factor from 0.25 to 4, got 'nan'",
        ),
        (
            ["render", "desk-break", "--count", "nan"],
            "--count: expected a number from 0.3 to 5 seconds, got nan",
        ),
        (
            ["render", "desk-break", "--count", "inf"],
            "--count: expected a number from 0.3 to 5 seconds, got inf",
        ),
        # --count had no range: 0 dropped the Locust hold, -1 broke the templates' script,
        # 1000 got round the 4-hour limit. The routine file's limits apply.
        (
            ["render", "thaw", "--count", "0"],
            "--count: expected a number from 0.3 to 5 seconds, got 0",
        ),
        (
            ["render", "thaw", "--count", "-1"],
            "--count: expected a number from 0.3 to 5 seconds, got -1",
        ),
        (
            ["render", "thaw", "--count", "1000"],
            "--count: expected a number from 0.3 to 5 seconds, got 1000",
        ),
        (
            ["script", "thaw", "--count", "0.29"],
            "--count: expected a number from 0.3 to 5 seconds, got 0.29",
        ),
        (
            ["render", "desk-break", "--minutes", "inf"],
            "--minutes: expected a number from 1 to 240 minutes, got inf",
        ),
        (
            ["render", "desk-break", "--minutes", "nan"],
            "--minutes: expected a number from 1 to 240 minutes, got nan",
        ),
        (
            ["render", "desk-break", "--rate", "nan"],
            "--rate: expected a whole number from 60 to 450 words per minute, got nan",
        ),
        (
            ["render", "desk-break", "--rate", "1000"],
            "--rate: expected a whole number from 60 to 450 words per minute, got 1000",
        ),
        (
            ["render", "desk-break", "--volume", "nan"],
            "--volume: expected a number more than 0 and at most 1, got nan",
        ),
        (
            ["render", "desk-break", "--volume", "0"],
            "--volume: expected a number more than 0 and at most 1, got 0",
        ),
        (
            ["render", "desk-break", "--bed-volume", "inf"],
            "--bed-volume: expected a number from -60 to 0 dB, got inf",
        ),
        (
            ["render", "desk-break", "--bed-volume", "12"],
            "--bed-volume: expected a number from -60 to 0 dB, got 12",
        ),
        (
            ["render", "desk-break", "--bitrate", "nan"],
            f"--bitrate: expected one of {MPEG2_BITRATES} (kbit/s), got nan",
        ),
        (
            ["render", "desk-break", "--bitrate", "65"],
            f"--bitrate: expected one of {MPEG2_BITRATES} (kbit/s), got 65",
        ),
    ],
)
def test_numeric_flag_out_of_range_is_one_line_naming_flag_and_range(
    args, line, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert r.output.splitlines() == [f"matcue: {line}"]
    assert list(tmp_path.iterdir()) == []  # refused before any work: nothing written


def test_count_at_its_limits_keeps_the_counted_hold():
    for count in (0.3, 5):
        s = script_for("thaw", count=count)
        locust = [
            line
            for b in s.items
            if isinstance(b, Block)
            for line in b.lines
            if line.phase == "hold"
        ]
        assert locust, count


LONG_ROUTINE = (
    "title: Long\nsteps:\n  - kind: breath\n    name: Many\n    reps: 1000\n"
    "    cues: {inhale: In, exhale: Out}\n  - kind: hold\n    name: Counted\n"
    "    duration: {counts: 200}\n"
)


@pytest.mark.parametrize(
    ("flags", "where"),
    [
        (["--breath", "20"], "breath 20 s, count 1 s and pace 1"),
        (["--pace", "4"], "breath 10 s, count 1 s and pace 4"),
        (["--breath", "14", "--count", "5"], "breath 14 s, count 5 s and pace 1"),
    ],
)
def test_session_length_limit_holds_whatever_the_flags(tmp_path, flags, where):
    """2 h 50 min of timed parts at the file's own breath passes the routine's 4-hour
    limit; the flags used to stretch it past that unchecked."""
    f = tmp_path / "long.yaml"
    f.write_text(LONG_ROUTINE)
    assert CliRunner().invoke(main, ["script", str(f)]).exit_code == 0
    r = CliRunner().invoke(main, ["script", str(f), *flags])
    assert r.exit_code == 2, r.output[-300:]
    (line,) = r.output.splitlines()
    assert line.startswith(f"matcue: {f}: at {where} the timed parts add up to about ")
    assert line.endswith(
        "the limit for a session is 4 hours "
        "(a shorter --breath or --count, or a faster --pace, brings it under)"
    )
