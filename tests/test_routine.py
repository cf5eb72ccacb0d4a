"""The routine model and loader: defaults, normalisation, helpers, built-ins, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matcue.errors import InputError, ValidationError
from matcue.routine import (
    ROUTINE_KINDS,
    STEP_KINDS,
    BreathStep,
    Duration,
    Guide,
    HoldStep,
    Pace,
    RepsStep,
    Routine,
    SayStep,
    Side,
    TransitionStep,
    builtin_names,
    load_builtin,
    load_routine,
    parse_routine,
    routine_schema,
)
from matcue.starter import starter_routine

LIBRARY = Path(__file__).parent / "routine_library"

FULL = """\
title: Morning thaw
safety: Move gently.
intro: Lie down.
defaults: {breath: 12, pace: slow, count: 1.1}
main: [Cat and cow]
steps:
  - kind: say
    text: Lie on your back.
  - kind: breath
    name: Cat and cow
    reps: 6
    reps_range: [4, 10]
    hold_in: 2
    cues: {inhale: Lift your chest, exhale: Round your back}
  - kind: transition
  - kind: hold
    name: Lunge
    sides: both
    duration: {breaths: 6}
  - kind: reps
    name: Locust
    reps: 5
    sets: 2
    hold: {counts: 3}
    cues: {move: Lift, release: Lower}
  - kind: rest
    name: Rest
    duration: 120
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ValidationError) as info:
        parse_routine(text, filename="r.yaml")
    return info.value.problems


def test_full_routine_defaults_and_normalisation() -> None:
    r = parse_routine(FULL, filename="some/dir/Morning Thaw.yaml")
    assert r.name == "morning-thaw"  # from the file stem, made into an id
    assert r.matcue == 1
    assert r.intro == ["Lie down."]
    assert r.outro == []
    assert r.defaults.pace is Pace.slow and r.defaults.pace_factor == 1.25
    assert r.defaults.transition == 5 and r.defaults.pause == 1
    say, breath, trans, hold, reps, rest = r.steps
    assert isinstance(say, SayStep) and say.text == ["Lie on your back."]
    assert say.display_name == "Instructions" and trans.display_name == "Transition"
    assert isinstance(trans, TransitionStep) and trans.duration is None
    assert isinstance(breath, BreathStep)
    assert breath.reps_range == (4, 10) and breath.split == 0.5
    assert breath.words.inhale is None and breath.words.hold_in is None  # the catalogue's words
    assert isinstance(hold, HoldStep)
    assert hold.sides == [Side.left, Side.right] and hold.side_count == 2
    assert hold.effective_guide is Guide.breaths
    assert isinstance(reps, RepsStep)
    assert reps.count_aloud is True
    assert reps.set_rest == Duration(unit="seconds", value=30)
    assert reps.words.move is None  # the catalogue's word
    assert reps.cues.move == ["Lift"] and reps.cues.hold == []  # one line: a list of one
    assert reps.refine == [] and reps.progress.countdown is True


def test_name_given_in_file_wins_over_stem() -> None:
    r = parse_routine("name: thaw\n" + FULL, filename="other.yaml")
    assert r.name == "thaw"


def test_main_steps_named_and_default() -> None:
    r = parse_routine(FULL, filename="r.yaml")
    assert [r.steps[i].display_name for i in r.main_indices()] == ["Cat and cow"]
    assert r.main_indices() == [1]
    r2 = parse_routine(FULL.replace("main: [Cat and cow]\n", ""), filename="r.yaml")
    assert r2.main_indices() == [1, 3, 4]  # breath, hold and reps steps


def test_duration_to_seconds_is_exact_for_decimals() -> None:
    assert (
        Duration(unit="counts", value=3).to_seconds(10, 1.1) == 3.3
    )  # 3 * 1.1 = 3.3000000000000003
    assert Duration(unit="breaths", value=6).to_seconds(12.5, 1) == 75.0
    assert Duration(unit="breaths", value=0.1).to_seconds(3, 1) == 0.3
    assert Duration(unit="seconds", value=7.5).to_seconds(99, 99) == 7.5


def test_duration_forms() -> None:
    assert Duration.model_validate(12) == Duration(unit="seconds", value=12)
    assert Duration.model_validate({"breaths": 2.5}) == Duration(unit="breaths", value=2.5)
    assert Duration.model_validate({"counts": 4}).unit == "counts"


def test_breath_phases_add_up_and_respect_start() -> None:
    r = parse_routine(FULL, filename="r.yaml")
    step = r.steps[1]
    assert isinstance(step, BreathStep)
    assert step.phases(12) == [("inhale", 5.0), ("hold_in", 2.0), ("exhale", 5.0)]
    ex = step.model_copy(update={"start": "exhale", "split": 0.4, "hold_in": 0.0})
    assert ex.phases(10) == [("exhale", 6.0), ("inhale", 4.0)]


def test_anchored_estimate() -> None:
    r = parse_routine(FULL, filename="r.yaml")
    # breath 6*12=72; transition 5; hold 6 breaths*12 s*2 sides=144;
    # reps 2 sets*5*(2+3.3+2+2) + 1*30 = 123; rest 120 -> 464, times pace 1.25
    assert r.anchored_seconds() == pytest.approx(464 * 1.25)


def test_template_syntax_in_text_is_plain_data() -> None:
    text = FULL.replace("Lie on your back.", "'{{ 7 * 7 }} {% if x %}y{% endif %}'")
    r = parse_routine(text, filename="r.yaml")
    assert r.steps[0].text == ["{{ 7 * 7 }} {% if x %}y{% endif %}"]  # type: ignore[union-attr]


def test_braces_in_bad_values_are_shown_as_written() -> None:
    bad = FULL.replace("pace: slow", "pace: '{{ message }}'")
    assert problems_of(bad) == [
        "r.yaml:4: defaults.pace: expected 'slow', 'normal', 'fast' or a number from 0.25 to 4,"
        " got '{{ message }}'"
    ]


def test_unknown_kind_lists_the_kinds_without_union_noise() -> None:
    out = problems_of("title: t\nsteps:\n  - kind: yoga\n    name: x\n")
    assert out == [
        "r.yaml:3: steps[0].kind: unknown step kind 'yoga'; the kinds are "
        + ", ".join(ROUTINE_KINDS)
    ]


def test_duration_in_breaths_over_an_hour_uses_the_routine_breath() -> None:
    text = (
        "title: t\ndefaults: {breath: 20}\nsteps:\n"
        "  - {kind: hold, name: h, duration: {breaths: 200}}\n"
    )
    assert problems_of(text) == [
        "r.yaml:4: steps[0].duration: 200 breaths at 20 s per breath is 4000 s; "
        "the limit for a duration is 3600 s (1 hour)"
    ]
    # The same hold is fine at a 10 s breath.
    parse_routine(text.replace("breath: 20", "breath: 10"), filename="r.yaml")


def test_breath_holds_checked_against_defaults_even_beside_other_errors() -> None:
    text = (
        "title: t\nsummary: [x]\nsteps:\n"
        "  - {kind: breath, name: b, reps: 2, hold_in: 6, hold_out: 4,\n"
        "     cues: {inhale: a, exhale: b}}\n"
    )
    out = problems_of(text)
    assert out[0] == "r.yaml:2: summary: expected text, got [x]"
    assert out[1].startswith("r.yaml:4: steps[0].hold_in: hold_in + hold_out (10 s) must leave")


def test_python_objects_are_validated_too() -> None:
    with pytest.raises(Exception):  # noqa: B017 - pydantic's own error for Python callers
        Routine(title="t", steps=[])


def test_yaml_timestamps_and_odd_numbers_stay_text() -> None:
    r = parse_routine(FULL.replace("title: Morning thaw", "title: 2024-01-01"), filename="r.yaml")
    assert r.title == "2024-01-01"


def test_lone_surrogate_text_is_a_validation_error() -> None:
    out = problems_of("title: a\ud800b\nsteps: []\n")
    assert out == [
        "r.yaml:1: -: the text contains a character that is not valid Unicode (U+D800); "
        "save the file as UTF-8 text"
    ]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "bom.yaml"
    f.write_bytes(b"\xef\xbb\xbf" + FULL.encode())
    assert load_routine(f).title == "Morning thaw"


def test_non_ascii_utf8_is_fine(tmp_path: Path) -> None:
    f = tmp_path / "cafe.yaml"
    f.write_text(FULL.replace("Morning thaw", "Café — réveil"), encoding="utf-8")
    assert load_routine(f).title == "Café — réveil"


def test_alias_bomb_refused_before_expansion() -> None:
    # 9 levels of 9 aliases would expand to 9**9 strings; refusing at the first
    # anchor means nothing is built.
    rows = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    rows += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    out = problems_of("\n".join(rows) + "\n")
    assert len(out) == 1 and "anchors and aliases" in out[0] and out[0].startswith("r.yaml:1:")


DEEP = (
    "r.yaml:{line}: steps: the data is nested more than 32 levels deep (the limit); "
    "a routine needs about 5"
)


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
@pytest.mark.parametrize("depth", [40, 5_000, 100_000])
def test_very_deep_nesting_does_not_recurse(loader: str, depth: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Regression: PyYAML 6.0.4 (libyaml 0.2.6) stops deep flow nesting with its own
    text ("exceeded maximum nesting depth") before our 32-level guard sees it, which
    failed this test on fresh machines. The message must be ours whatever the YAML
    library does: 40 levels reach our guard, 5,000 and 100,000 reach libyaml's."""
    import yaml

    import matcue.yamlsafe

    if not hasattr(yaml, loader):
        pytest.skip(f"this PyYAML has no {loader}")
    monkeypatch.setattr(matcue.yamlsafe, "_Loader", getattr(yaml, loader))
    out = problems_of("steps: " + "[" * depth + "\n")
    assert out == [DEEP.format(line=1)]


def test_deep_nesting_is_reported_at_its_line_and_quoted_brackets_do_not_count() -> None:
    text = "title: 'a [[[[ b'\n# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nsteps:\n  " + "[" * 5000
    assert problems_of(text) == [DEEP.format(line=4)]


def test_builtins_from_a_library_folder() -> None:
    assert builtin_names(library=LIBRARY) == ["broken", "calm"]
    r = load_builtin("calm", library=LIBRARY)
    assert r.name == "calm" and r.title == "Calm fixture"
    with pytest.raises(ValidationError) as info:
        load_builtin("broken", library=LIBRARY)
    assert info.value.problems == [
        "library/broken.yaml:3: steps[0].duration: required field is missing"
    ]


def test_unknown_builtin_names_the_builtins() -> None:
    with pytest.raises(InputError) as info:
        load_builtin("clam", library=LIBRARY)
    assert str(info.value) == (
        "no built-in routine named 'clam'; the built-ins are: broken, calm; did you mean 'calm'?"
    )


def test_packaged_library_is_listed_without_error() -> None:
    names = builtin_names()
    assert names == sorted(names)
    assert all(n.isidentifier() or "-" in n for n in names)


def test_schema_has_descriptions_and_kinds() -> None:
    schema = routine_schema()
    json.dumps(schema)  # serialisable
    assert schema["required"] == ["title", "steps"]
    assert schema["additionalProperties"] is False
    kinds = schema["properties"]["steps"]["items"]["discriminator"]["mapping"]
    assert sorted(kinds) == sorted(ROUTINE_KINDS)
    breath = schema["$defs"]["BreathStep"]["properties"]
    assert breath["reps"]["maximum"] == 1000
    assert "breath cycles" in breath["reps"]["description"]
    hold = schema["$defs"]["HoldStep"]["properties"]["duration"]
    assert {"type": "number", "minimum": 0, "maximum": 3600} in hold["anyOf"]


def test_starter_loads_and_shows_every_kind() -> None:
    text = starter_routine("Evening Unwind")
    r = parse_routine(text, filename="evening-unwind.yaml")
    assert r.name == "evening-unwind"
    assert r.safety and "stop" in r.safety
    assert sorted({s.kind for s in r.steps}) == sorted(STEP_KINDS)
    assert [s.kind for s in r.steps].count("say") == 1
    assert text.count("#") > 20  # it explains itself


@pytest.mark.parametrize("name", ["yes", "2024", 'a"b', "  ", "Ünïcode"])
def test_starter_with_awkward_names(name: str) -> None:
    r = parse_routine(starter_routine(name), filename="x.yaml")
    assert r.name


def test_too_many_steps_names_the_limit() -> None:
    steps = "".join(f"  - {{kind: say, text: line {i}}}\n" for i in range(201))
    assert problems_of("title: t\nsteps:\n" + steps) == [
        "r.yaml:2: steps: has 201 items; the limit for steps is 200"
    ]
    parse_routine("title: t\nsteps:\n" + steps.split("\n", 1)[1], filename="r.yaml")  # 200 is fine


def test_str_of_choices_is_the_yaml_word() -> None:
    r = parse_routine(FULL, filename="r.yaml")
    assert str(r.defaults.pace) == "slow" and str(r.defaults.verbosity) == "full"


def test_every_routine_default_reaches_the_settings() -> None:
    """Regression for issue 10: settings.merge copied the routine's defaults through
    a hand-kept list of keys, into a second settings type with strings for enums;
    now a routine's defaults are a layer of the one settings type, so each is a
    setting of the same name and type, and each value given in a file arrives."""
    from matcue.routine import Defaults
    from matcue.routine.values import Pace, Verbosity
    from matcue.settings import Settings, merge

    assert issubclass(Settings, Defaults)
    given = Defaults(
        breath=12, pace=1.1, verbosity="brief", count=2, transition=7, pause=2,
        engine="espeak-ng", voice="en", rate=150, volume=0.5,
    )  # fmt: skip
    settings = merge(given, {})
    assert settings.model_dump(include=set(Defaults.model_fields)) == {
        "breath": 12,
        "pace": 1.1,
        "verbosity": Verbosity.brief,
        "count": 2,
        "transition": 7,
        "pause": 2,
        "engine": "espeak-ng",
        "voice": "en",
        "rate": 150,
        "volume": 0.5,
    }
    # a flag gives a pace and a verbosity as text; the settings hold their types
    flagged = merge(given, {"pace": " Slow ", "verbosity": "minimal"})
    assert (flagged.pace, flagged.verbosity) == (Pace.slow, Verbosity.minimal)
    assert flagged.pace_text == "slow" and merge(None, {"pace": "1.50"}).pace_text == "1.5"


def test_the_settings_choices_are_the_limits_choices() -> None:
    """The Pace and Verbosity enums of the settings type list what limits.py (which
    the CLI's --verbosity choices and messages read) lists, in its order."""
    from matcue.limits import PACE_FACTORS, VERBOSITIES
    from matcue.routine.values import Pace, Verbosity

    assert tuple(v.value for v in Verbosity) == VERBOSITIES
    assert tuple(p.value for p in Pace) == tuple(PACE_FACTORS)


def test_a_flag_is_checked_by_the_field_a_routine_file_is_checked_by() -> None:
    """One settings type: --rate and a routine's defaults.rate share one range, and
    the message reads it from the field (issue 10). The library names the setting;
    the command line names it as its flag."""
    from matcue.cli.app import message
    from matcue.errors import SettingError
    from matcue.routine import Defaults
    from matcue.settings import LIMITS, Settings, merge

    assert Settings.model_fields["rate"].metadata == Defaults.model_fields["rate"].metadata
    assert (LIMITS["rate"].low, LIMITS["rate"].high) == (60, 450)
    assert merge(None, {"rate": 450}).rate == 450
    with pytest.raises(SettingError, match=r"^rate: expected a whole number from 60 to 450") as e:
        merge(None, {"rate": 451})
    assert e.value.setting == "rate"
    assert (
        message(e.value)
        == "--rate: expected a whole number from 60 to 450 words per minute, got 451"
    )
    # several wrong: the first in the order a render checks them
    with pytest.raises(SettingError, match=r"^pace: "):
        merge(None, {"rate": 451, "breath": 1, "pace": "9"})
    with pytest.raises(SettingError, match=r"^breath: "):
        merge(None, {"rate": 451, "breath": 1, "verbosity": "loud"})
    with pytest.raises(SettingError) as e:
        merge(None, {"bed_volume": 3})
    assert str(e.value) == "bed_volume: expected a number from -60 to 0 dB, got 3"
    assert message(e.value) == "--bed-volume: expected a number from -60 to 0 dB, got 3"
