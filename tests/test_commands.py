"""The routine commands (check, new, schema, routines) and the seeds' numbers
read back from the built-ins' real timelines."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_routine_corpus import expected_problems

from matcue.cli import main
from matcue.pipeline import load_source, prepare, resolve_settings
from matcue.routine import builtin_names, load_routine
from matcue.speech import engine_names

ENGINES = ", ".join(engine_names())
"""Every engine, as the messages list them (the registry's, so adding an engine
changes no test)."""

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "tests" / "corpus").glob("*.yaml"))
BUILTINS = ["thaw", "clutch", "retrain", "morning", "desk-break", "control", "articulate"]


@pytest.mark.parametrize("bad", CORPUS, ids=[p.stem for p in CORPUS])
def test_check_prints_the_expected_problems_and_exits_2(bad, monkeypatch):
    monkeypatch.chdir(ROOT)
    rel = f"tests/corpus/{bad.name}"
    r = CliRunner().invoke(main, ["check", rel])
    expected = expected_problems(bad)
    assert r.exit_code == 2
    assert r.output.splitlines() == expected
    assert "Traceback" not in r.output


def test_check_missing_file_and_folder(tmp_path):
    r = CliRunner().invoke(main, ["check", str(tmp_path / "gone.yaml"), str(tmp_path)])
    assert r.exit_code == 2
    lines = r.output.splitlines()
    assert len(lines) == 2 and "gone.yaml" in lines[0] and str(tmp_path) in lines[1]


def test_check_ok_files_and_builtins(tmp_path):
    r = CliRunner().invoke(
        main, ["check", *[str(ROOT / "src/matcue/library" / f"{n}.yaml") for n in BUILTINS]]
    )
    assert r.exit_code == 0, r.output
    assert r.output.count(": ok") == 7


def test_routines_lists_all_seven_with_summary_and_length():
    r = CliRunner().invoke(main, ["routines"])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(BUILTINS)
    for line in lines:
        assert re.search(r"~\d+(\.5)? min\s+\S", line), line
    assert sorted(builtin_names()) == sorted(BUILTINS)


def test_new_writes_a_starter_that_checks_and_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["new", "my-back"])
    assert r.exit_code == 0, r.output
    routine = load_routine(tmp_path / "my-back.yaml")
    assert routine.name == "my-back" and routine.safety
    assert {str(getattr(s.kind, "value", s.kind)) for s in routine.steps} >= {
        "say",
        "breath",
        "hold",
        "reps",
        "rest",
        "transition",
    }
    before = (tmp_path / "my-back.yaml").read_bytes()
    r = CliRunner().invoke(main, ["new", "my-back"])
    assert r.exit_code == 2 and "already exists" in r.output
    assert (tmp_path / "my-back.yaml").read_bytes() == before
    r = CliRunner().invoke(main, ["new", "Bad Name"])
    assert r.exit_code == 2


def test_schema_is_json_schema_for_the_format():
    r = CliRunner().invoke(main, ["schema"])
    assert r.exit_code == 0
    schema = json.loads(r.output)
    assert "steps" in schema["properties"] and "title" in schema["required"]
    text = json.dumps(schema)
    for kind in ("breath", "hold", "reps", "rest", "transition", "say"):
        assert f'"{kind}"' in text


# ---------------------------------------------------------------- seeds' numbers


@pytest.fixture(scope="module")
def timelines():
    out = {}
    for name in BUILTINS:
        src = load_source(name)
        out[name] = prepare(src, resolve_settings(src, {})).timeline
    return out


def phases(tl, step_prefix, phase):
    sr = tl.sample_rate
    return [
        (e.start / sr, e)
        for e in tl.events
        if e.kind == "phase" and e.step.startswith(step_prefix) and e.phase == phase
    ]


def test_every_builtin_schedules_with_chapters_per_step(timelines):
    for name, tl in timelines.items():
        routine = load_source(name).routine
        assert [c.title for c in tl.chapters] == [s.display_name for s in routine.steps]
        assert tl.warnings == [], (name, tl.warnings)


def test_thaw_numbers(timelines):
    tl = timelines["thaw"]
    cat = phases(tl, "Mid-back", "inhale")
    assert 8 <= len(cat) <= 10
    lunge = phases(tl, "Low lunge", "inhale")
    assert [e.side for _, e in lunge] == ["left"] * 6 + ["right"] * 6
    assert len(phases(tl, "Easy Locust", "move")) == 5


def test_clutch_cycles_last_15_seconds(timelines):
    cat = phases(timelines["clutch"], "Slow Cat", "inhale")
    assert len(cat) >= 5
    gaps = {round(b[0] - a[0], 6) for a, b in zip(cat, cat[1:], strict=False)}
    assert gaps == {15.0}


def test_retrain_ten_tilts_held_three_seconds(timelines):
    tl = timelines["retrain"]
    tilts = phases(tl, "Pelvic tilt", "move")
    assert [e.rep for _, e in tilts] == list(range(1, 11))
    holds = phases(tl, "Pelvic tilt", "hold")
    assert len(holds) == 10
    assert all(abs((e.end - e.start) / tl.sample_rate - 3) < 1e-6 for _, e in holds)


def test_morning_three_sets_of_hinges_after_five_minutes_of_tilts(timelines):
    tl = timelines["morning"]
    sr = tl.sample_rate
    tilt_events = [e for e in tl.events if e.kind == "phase" and e.step.startswith("Pelvic")]
    tilt_time = (max(e.end for e in tilt_events) - min(e.start for e in tilt_events)) / sr
    assert 270 <= tilt_time <= 330
    hinges = phases(tl, "Seated hip hinge", "move")
    assert sorted({e.set for _, e in hinges}) == [1, 2, 3]
    assert min(t for t, _ in hinges) > max(e.end for e in tilt_events) / sr


def test_desk_break_is_two_minutes_of_cat_cow(timelines):
    tl = timelines["desk-break"]
    sr = tl.sample_rate
    cc = [e for e in tl.events if e.kind == "phase" and "Cat" in e.step]
    assert abs((max(e.end for e in cc) - min(e.start for e in cc)) / sr - 120) < 1e-6


# ---------------------------------------------------------------- voices and engines


def test_voices_lists_id_name_languages():
    # `matcue voices` alone is the all-engine table since issue 11 (tested in
    # test_voice_natural.py); one engine's list, id/name/languages, needs --engine.
    r = CliRunner().invoke(main, ["voices", "--engine", "pyttsx3"])
    assert r.exit_code == 0
    rows = [line.split("\t") for line in r.output.splitlines()]
    assert len(rows) > 20 and all(len(row) == 3 for row in rows)
    ids = [row[0] for row in rows]
    assert "gmw/en" in ids and "gmw/en-us" in ids


def test_unknown_engine_names_the_engines():
    r = CliRunner().invoke(main, ["voices", "--engine", "festival"])
    assert r.exit_code == 2
    assert "pyttsx3" in r.output and "espeak-ng" in r.output and "piper" in r.output


def test_unknown_voice_suggests_and_says_how_to_list(tmp_path):
    r = CliRunner().invoke(
        main, ["render", "desk-break", "--voice", "en-uss", "-o", str(tmp_path / "o.mp3")]
    )
    assert r.exit_code == 2
    assert "en-uss" in r.output and "matcue voices" in r.output
    assert not (tmp_path / "o.mp3").exists()


def test_piper_without_a_model_speaks_the_bundled_voice(tmp_path):
    """Before issue 11 this was an error asking for --voice-model; piper now has a
    bundled voice (en_US-joe-medium), named in the transcript."""
    r = CliRunner().invoke(
        main, ["render", "desk-break", "--engine", "piper", "-o", str(tmp_path / "o.mp3")]
    )
    assert r.exit_code == 0, r.output
    assert "\nvoice: en_US-joe-medium\n" in (tmp_path / "o.vtt").read_text(encoding="utf-8")


# ---------------------------------------------------------------- check agrees with render


def _routine(tmp_path, defaults: str) -> Path:
    f = tmp_path / "r.yaml"
    f.write_text(f"title: T\ndefaults:\n{defaults}steps:\n  - kind: say\n    text: Hello.\n")
    return f


@pytest.mark.parametrize(
    ("defaults", "problem"),
    [
        (
            "  engine: bogus\n",
            f"3: defaults.engine: unknown speech engine 'bogus'. Engines: {ENGINES}.",
        ),
        (
            "  voice: nope\n",
            "3: defaults.voice: pyttsx3 has no voice 'nope'. Close matches: ne, nog. "
            "Run `matcue voices --engine pyttsx3` to list the voices this engine has.",
        ),
        ("  volume: 0\n", "3: defaults.volume: must be more than 0, got 0"),
    ],
    ids=["engine", "voice", "volume"],
)
def test_check_refuses_what_render_refuses_with_file_and_line(tmp_path, defaults, problem):
    """`check` used to say ok to an unknown engine or voice (render then failed with
    no file or line) and to volume 0 (which every engine refuses)."""
    f = _routine(tmp_path, defaults)
    expected = [f"{f}:{problem}"]
    r = CliRunner().invoke(main, ["check", str(f)])
    assert (r.exit_code, r.output.splitlines()) == (2, expected)
    out = tmp_path / "r.mp3"
    r = CliRunner().invoke(main, ["render", str(f), "-o", str(out)])
    assert (r.exit_code, r.output.splitlines()) == (2, expected)
    assert not out.exists()


def test_check_and_render_name_the_line_of_an_unknown_sound(tmp_path):
    """docs/cue-script.md promises file:line for every cue-script problem; an unknown
    @sound passed check and failed render with neither."""
    cue = tmp_path / "s.cue"
    cue.write_text("# matcue cue script 1\n@step One\nHello.\n@sound gong wait=1\n")
    expected = [f"{cue}:4: @sound: unknown sound 'gong' (known: chime, chime-end)"]
    r = CliRunner().invoke(main, ["check", str(cue)])
    assert (r.exit_code, r.output.splitlines()) == (2, expected)
    r = CliRunner().invoke(main, ["render", str(cue), "-o", str(tmp_path / "s.mp3")])
    assert (r.exit_code, r.output.splitlines()) == (2, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.cue"]


def test_cue_script_sounds_are_the_sounds_matcue_makes():
    from matcue import cuescript, sounds

    assert cuescript.SOUND_NAMES == sounds.SOUND_NAMES


def test_unknown_engine_flag_is_named(tmp_path):
    out = tmp_path / "o.mp3"
    r = CliRunner().invoke(main, ["render", "thaw", "--engine", "festival", "-o", str(out)])
    assert r.exit_code == 2 and not out.exists()
    assert r.output.splitlines() == [
        f"matcue: --engine: unknown speech engine 'festival'. Engines: {ENGINES}."
    ]
    assert ENGINES.startswith("auto, pyttsx3, espeak-ng, piper")


@pytest.mark.skipif(shutil.which("espeak-ng") is not None, reason="espeak-ng is installed")
def test_check_skips_a_voice_whose_engine_is_not_here(tmp_path):
    """Documented: check cannot list the voices of an engine it cannot start."""
    f = _routine(tmp_path, "  engine: espeak-ng\n  voice: nope\n")
    r = CliRunner().invoke(main, ["check", str(f)])
    assert (r.exit_code, r.output) == (0, f"{f}: ok\n")
