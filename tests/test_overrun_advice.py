"""Overrun warnings: printed once, and advice that is true for the step it names.

Regression for an audit: every warning was printed twice (by logging and by the
report); the advice offered ``--breath`` for transitions, reps and steps that fix
their own cycle, ignored ``--pace`` (``--breath 7`` at pace 0.5 shrank the
window), and could name values outside the options' ranges (``--breath 221``,
``--rate 4410``). Real speech throughout: each suggested value is tried with a
real render and must make its cue fit.
"""

from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from cli_process import run_cli

from matcue.cli.app import flag
from matcue.limits import BREATH_RANGE, COUNT_RANGE, PACE_RANGE, RATE_RANGE
from matcue.pipeline import load_source, prepare, resolve_settings
from matcue.routine.values import Duration

# Every step kind whose window a different option shapes, all too tight at 100 wpm:
# Paced follows --breath (defaults.breath 4 s), Fixed has its own 3 s cycle, Move is
# a 2 s transition, Counted counts at defaults.count 0.3 s, Lift moves for 1 s, and
# Rush (0.25 s for a long sentence) cannot be fixed by any option within its range.
TIGHT = """\
title: Tight
defaults: {breath: 4, count: 0.3, rate: 100}
steps:
  - kind: breath
    name: Paced
    reps: 2
    cues: {inhale: "Breathe in slowly and lift the chest.", exhale: "Out."}
  - kind: breath
    name: Fixed
    reps: 2
    cycle: 3
    cues: {inhale: "Breathe in slowly and lift the chest.", exhale: "Out."}
  - kind: transition
    name: Move
    text: Step the left foot forward between your hands and settle.
    duration: {seconds: 2}
  - kind: hold
    name: Counted
    duration: {counts: 3}
  - kind: reps
    name: Lift
    reps: 1
    move: {seconds: 1}
    cues: {move: "Lift the head, chest and arms slightly.", release: Down.}
  - kind: transition
    name: Rush
    text: >-
      Now roll onto your back, bend both knees, and let your arms rest by your
      sides while the breath settles.
    duration: {seconds: 0.25}
"""

WARNING_RE = re.compile(r"^step '(?P<step>[^']+)'.*?: cue \"(?P<text>[^\"]+)\" overruns")
FIX_RE = re.compile(r"--(breath|count|pace|rate) ([0-9.]+)")
LIMITS = {
    "breath": BREATH_RANGE,
    "count": COUNT_RANGE,
    "pace": PACE_RANGE,
    "rate": RATE_RANGE,
}


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("advice") / "tight.yaml"
    path.write_text(TIGHT, encoding="utf-8")
    return path


def overruns(path: Path, **overrides: object) -> dict[tuple[str, str], str]:
    """(step, cue text) -> the warning, for a real render of ``path`` up to the mix,
    with the settings named as the command line names them."""
    source = load_source(str(path))
    prepared = prepare(source, resolve_settings(source, overrides), spell=flag)
    out = {}
    for warning in prepared.timeline.warnings:
        m = WARNING_RE.match(warning)
        assert m, warning
        out[(m["step"], m["text"])] = warning
    return out


def fixes(warning: str) -> dict[str, str]:
    advice = warning.split(" speed; ", 1)[1]
    return dict(FIX_RE.findall(advice))


def test_the_library_names_a_setting_as_its_caller_spells_it(tight: Path) -> None:
    """Issue 10: the flags are the command line's; a library caller that gives no
    spelling gets the settings as a routine's defaults: name them."""
    source = load_source(str(tight))
    plain = prepare(source, resolve_settings(source, {})).timeline.warnings
    flags = prepare(source, resolve_settings(source, {}), spell=flag).timeline.warnings
    assert plain and not any("--" in w for w in plain)
    assert any("it fits with breath " in w for w in plain)
    assert [w.replace("--", "") for w in flags] == plain


def test_advice_names_only_options_that_shape_the_step(tight: Path) -> None:
    found = overruns(tight)
    by_step = {step: fixes(w) for (step, _text), w in found.items()}
    assert set(by_step) == {"Paced", "Fixed", "Move", "Counted", "Lift", "Rush"}
    assert set(by_step["Paced"]) == {"breath", "pace", "rate"}
    assert set(by_step["Fixed"]) == {"pace", "rate"}  # its own cycle: --breath does nothing
    assert set(by_step["Move"]) == {"pace", "rate"}
    assert set(by_step["Counted"]) == {"count", "pace", "rate"}
    assert set(by_step["Lift"]) == {"pace", "rate"}
    assert by_step["Rush"] == {}  # no flag within its range, only its own duration
    (rush,) = [w for (step, _), w in found.items() if step == "Rush"]
    assert re.search(
        r"; raise 'duration' of step 'Rush' \(line 30\) to [0-9.]+ s; or shorten the cue$", rush
    )
    for values in by_step.values():
        for option, value in values.items():
            low, high = LIMITS[option]
            assert low <= Fraction(value) <= high, (option, value)


def test_each_suggested_value_makes_its_cue_fit(tight: Path) -> None:
    found = overruns(tight)
    tried = 0
    for (step, text), warning in found.items():
        for option, value in fixes(warning).items():
            typed = int(value) if option == "rate" else value if option == "pace" else float(value)
            after = overruns(tight, **{option: typed})
            assert (step, text) not in after, (step, text, option, value, after.get((step, text)))
            tried += 1
    assert tried >= 12


FIELD_RE = re.compile(
    r" speed; (raise|set) '(?P<field>\w+)' of step '(?P<step>[^']+)' \(line (?P<line>\d+)\) "
    r"to (?P<value>[0-9.]+) (?P<unit>s|breaths|counts); "
)


def test_the_routine_field_that_fixes_a_cue_comes_before_the_flags(tight: Path) -> None:
    """The author's own fix first: the step field that shapes the window, with its line,
    and a value that really makes the cue fit (tried here with a real render)."""
    found = overruns(tight)
    fields = {}
    for (step, text), warning in found.items():
        m = FIELD_RE.search(warning)
        if m:
            assert m["step"] == step
            assert warning.index(m[0]) < warning.find(" --") or " --" not in warning
            fields[step] = (m["field"], m["line"], m["value"], text)
    assert {k: v[:2] for k, v in fields.items()} == {
        "Paced": ("cycle", "4"),  # no cycle of its own: 'set' it, at the step's line
        "Fixed": ("cycle", "11"),
        "Move": ("duration", "16"),
        "Lift": ("move", "23"),
        "Rush": ("duration", "30"),
    }
    lines = TIGHT.splitlines()
    assert lines[10].strip().startswith("cycle:") and lines[15].strip().startswith("duration:")
    assert lines[22].strip().startswith("move:") and lines[29].strip().startswith("duration:")
    source = load_source(str(tight))
    routine = source.routine
    assert routine is not None
    index = {s.display_name: i for i, s in enumerate(routine.steps)}
    for step, (field, _line, value, text) in fields.items():
        i = index[step]
        new = float(value) if field == "cycle" else Duration(unit="seconds", value=float(value))
        steps = list(routine.steps)
        steps[i] = steps[i].model_copy(update={field: new})
        changed = replace(source, routine=routine.model_copy(update={"steps": steps}))
        prepared = prepare(changed, resolve_settings(changed, {}))
        matches = [WARNING_RE.match(w) for w in prepared.timeline.warnings]
        still = {(m["step"], m["text"]) for m in matches if m}
        assert (step, text) not in still, (step, field, value)


def test_suggestions_stay_within_the_options_ranges(tight: Path) -> None:
    """The audit's case: --count 0.01 led to --breath 221 and --rate 4410 (limits 60
    and 450; --count 0.01 itself is refused now). At the shortest count allowed and
    a slow voice, no suggestion may leave its option's range, --count's own 0.3 included."""
    found = overruns(tight, count=0.3, rate=60)
    counted = [fixes(w) for (step, _), w in found.items() if step == "Counted"]
    assert counted and all(Fraction(f["count"]) >= Fraction(3, 10) for f in counted)
    for warning in found.values():
        for option, value in fixes(warning).items():
            low, high = LIMITS[option]
            assert low <= Fraction(value) <= high, (option, value, warning)


def test_breath_advice_accounts_for_pace(tight: Path) -> None:
    """At pace 0.5 a 4 s breath gives 1 s inhales: the advice must be a breath that,
    paced, gives the cue its room (the old advice divided by the paced cycle)."""
    found = overruns(tight, pace="0.5")
    warning = found[("Paced", "Breathe in slowly and lift the chest.")]
    breath = fixes(warning)["breath"]
    assert ("Paced", "Breathe in slowly and lift the chest.") not in overruns(
        tight, pace="0.5", breath=float(breath)
    )
    assert float(breath) > 6  # what fits at pace 1 is not enough at pace 0.5


def test_cli_prints_each_warning_once_and_strict_fails(tight: Path, tmp_path: Path) -> None:
    """A real process, so that logging is configured as for a user (in-process,
    pytest's log capture hides a logged duplicate)."""
    r = run_cli(["render", str(tight), "-o", str(tmp_path / "t.mp3")], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "overruns its" in ln]
    # Paced and Fixed once each for both reps ("and 1 more time"), Counted once per
    # count word (three different cues), the rest once: 1+1+1+3+1+1.
    assert len(lines) == 8 and len(set(lines)) == 8, r.stderr
    assert sum("(rep 1, phase inhale, and 1 more time)" in ln for ln in lines) == 2, r.stderr
    assert all(ln.startswith("matcue: warning: step '") for ln in lines), r.stderr
    r = run_cli(["render", str(tight), "--strict", "-o", str(tmp_path / "s.mp3")], tmp_path)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "overruns its" in ln]
    assert len(lines) == 8 and all(ln.startswith("matcue: overrun: step '") for ln in lines)
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s.mp3").exists()


def test_each_what_if_renders_only_the_overrunning_step(
    tight: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the advice rendered and scheduled the whole session for every value
    it tried (135 times for `control --minutes 60`: 7 s of a 14 s render, the `make
    bench` hour 40% slower). A cue's window is made inside its step, so a try renders
    that step alone; the advice is the same (the tests above check its values with
    whole real renders). The spy records the steps of each render."""
    from matcue import advice

    sizes: list[int] = []
    real = advice.render_script_text

    def spy(routine, settings):  # type: ignore[no-untyped-def]
        sizes.append(len(routine.steps))
        return real(routine, settings)

    monkeypatch.setattr(advice, "render_script_text", spy)
    found = overruns(tight)
    assert len(found) == 8 and len(sizes) > 30
    assert set(sizes) == {1}
