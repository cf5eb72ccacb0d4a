"""Customising a session: pace, breath, verbosity, voices, rate, templates,
user text as data, and --minutes. Timing checks use the real templates and the
real engine's clip lengths (prepare(): no mixing needed)."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeSpeechLengths, fake_sound_length

from matcue.cli import main
from matcue.cuescript import Block
from matcue.errors import InputError
from matcue.pipeline import build_script, load_source, prepare, resolve_settings
from matcue.schedule import schedule

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


@pytest.mark.parametrize("name", ["thaw", "clutch", "retrain", "control"])
def test_pace_scales_every_anchored_interval_exactly(name):
    normal = anchored_intervals(script_for(name))
    slow = anchored_intervals(script_for(name, pace="1.5"))
    assert len(normal) == len(slow) > 10
    assert all(s == n * Fraction(3, 2) for n, s in zip(normal, slow, strict=True))


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
        # clutch fixes a 15 s cycle; --pace still scales it: 22.5 s
        assert e.start - inhales[0].start == round(Fraction(45, 2) * k * SR)


def test_breath_sets_cycles_but_a_fixed_cycle_only_follows_pace():
    blocks = [i for i in script_for("thaw", breath=10).items if isinstance(i, Block)]
    cat = [
        b
        for b in blocks
        if b.lines[0].phase == "inhale" and b.lines[0].text and "Chest" in b.lines[0].text
    ]
    assert cat and all(b.length == 10 for b in cat)
    clutch = [
        b
        for b in script_for("clutch", breath=10).items
        if isinstance(b, Block) and b.lines[0].phase == "inhale"
    ]
    assert clutch and all(b.length == 15 for b in clutch)


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
    assert "{{ 7 * 7 }}." in spoken
    assert "{% for x in range(3) %}x{% endfor %}." in spoken
    assert "@pause 99." in spoken and "{{ ''.__class__ }}." in spoken
    assert not any(getattr(i, "seconds", 0) == 99 for i in s.items)


def test_user_template_overrides_and_extends_builtin(tmp_path):
    (tmp_path / "kind_breath.cue.j2").write_text(
        "{% for rep in range(1, step.reps + 1) %}\n@block {{ step.cycle }} rep={{ rep }}\n"
        "{% for ph in step.phases %}\n  {{ ph.offset }} {{ ph.phase }}: "
        "{{ 'Rise.' if ph.phase == 'inhale' else 'Settle.' }}\n{% endfor %}\n@end\n{% endfor %}\n"
    )
    (tmp_path / "session.cue.j2").write_text(
        '{% extends "builtin/session.cue.j2" %}\n'
        "{% block closing %}That is all for today.\n{{ super() }}{% endblock %}\n"
    )
    s = script_for("thaw", templates=tmp_path)
    texts = [line.text for b in s.items if isinstance(b, Block) for line in b.lines]
    assert "Rise." in texts and "Settle." in texts
    said = [i.text for i in s.items if hasattr(i, "text") and isinstance(i.text, str)]
    assert "That is all for today." in said
    assert said[-1] != "That is all for today."  # super() kept the built-in outro after it


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


def test_documented_template_example_produces_a_valid_restyled_script():
    example = Path(__file__).resolve().parent.parent / "docs" / "examples" / "counting-style"
    s = script_for("thaw", templates=example)
    texts = [line.text for b in s.items if isinstance(b, Block) for line in b.lines]
    assert "Round one, in." in texts and "And out." in texts
    # same timing as the built-in templates: only words changed
    assert [b.length for b in s.items if isinstance(b, Block)] == [
        b.length for b in script_for("thaw").items if isinstance(b, Block)
    ]
