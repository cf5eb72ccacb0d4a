"""End to end with real parts: the real pyttsx3 engine, the real mixer and
encoder, and an independent decoder (soundfile's libsndfile/mpg123)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from matcue.cli import main
from matcue.writers import suffix_list

SR = 22050


@pytest.fixture(scope="module")
def thaw(tmp_path_factory):
    out = tmp_path_factory.mktemp("thaw")
    result = CliRunner().invoke(
        main, ["render", "thaw", "-o", str(out / "thaw.mp3"), "--timeline", str(out / "t.json")]
    )
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "t.json").read_text()), result.output


def test_render_writes_mp3_vtt_and_timeline(thaw):
    out, events, output = thaw
    assert (out / "thaw.mp3").stat().st_size > 10_000
    assert re.search(r"wrote .*thaw\.mp3 \+ thaw\.vtt \(\d+:\d\d\)", output)
    kinds = {e["kind"] for e in events}
    assert {"speech", "pause", "sound", "phase"} <= kinds
    for e in events:
        assert e["end"] >= e["start"] >= 0
        assert isinstance(e["step"], str)


def test_mp3_decodes_to_the_timeline_length(thaw):
    out, events, _ = thaw
    audio, rate = sf.read(out / "thaw.mp3", dtype="float32")
    assert rate == SR
    end = max(e["end"] for e in events)
    assert abs(len(audio) / rate - end) <= 0.020
    assert np.abs(audio).max() <= 1.0
    assert np.sqrt(np.mean(audio**2)) > 0.005  # not silent


def test_cat_cow_phases_are_exactly_one_cycle_apart(thaw):
    _, events, _ = thaw
    cat = [e for e in events if e["kind"] == "phase" and e["step"] == "Mid-back Cat and Cow"]
    inhales = [e for e in cat if e["phase"] == "inhale"]
    exhales = [e for e in cat if e["phase"] == "exhale"]
    assert 8 <= len(inhales) <= 10 and len(exhales) == len(inhales)
    assert [e["rep"] for e in inhales] == list(range(1, len(inhales) + 1))
    start = inhales[0]["start"]
    for k, (i, x) in enumerate(zip(inhales, exhales, strict=True)):
        # 12 s cycle (thaw's default breath), split evenly; sample-exact at 22050 Hz
        assert round((i["start"] - start) * SR) == round(12 * k * SR)
        assert round((x["start"] - start) * SR) == round((12 * k + 6) * SR)


def test_lunge_both_sides_and_five_locust_lifts(thaw):
    _, events, _ = thaw
    lunge = [
        e
        for e in events
        if e["kind"] == "phase" and e["step"] == "Low lunge" and e["phase"] == "inhale"
    ]
    assert [e["side"] for e in lunge] == ["left"] * 6 + ["right"] * 6
    assert [e["rep"] for e in lunge] == list(range(1, 7)) * 2
    lifts = [
        e
        for e in events
        if e["kind"] == "phase" and e["step"] == "Easy Locust" and e["phase"] == "move"
    ]
    assert [e["rep"] for e in lifts] == [1, 2, 3, 4, 5]
    counts = [
        e
        for e in events
        if e["kind"] == "speech" and e["step"] == "Easy Locust" and e.get("phase") == "hold"
    ]
    assert [c["text"] for c in counts[:3]] == ["One.", "Two.", "Three."]


def test_speech_onsets_are_heard_where_the_timeline_says(thaw):
    """Decode the MP3 and find every speech onset that follows a clear
    silence within 30 ms of its timeline start."""
    out, events, _ = thaw
    audio, rate = sf.read(out / "thaw.mp3", dtype="float32")
    sounding = [e for e in events if e["kind"] in ("speech", "sound")]
    errors = []
    for e in (e for e in events if e["kind"] == "speech"):
        s = e["start"]
        if any(o is not e and o["start"] < s and o["end"] > s - 0.3 for o in sounding):
            continue  # no clear silence before it
        i0 = int((s - 0.3) * rate)
        seg = np.abs(audio[i0 : int((s + 0.3) * rate)])
        env = np.convolve(seg, np.ones(22) / 22, "same")  # 1 ms smoothing
        floor = env[: int(0.25 * rate)].max()
        k = int(np.argmax(env > max(4 * floor, 0.005)))
        errors.append(k / rate - 0.3)
    errors = np.abs(np.array(errors))
    assert len(errors) >= 40
    assert np.mean(errors <= 0.030) >= 0.95, sorted(errors)[-5:]


def test_vtt_has_one_cue_per_spoken_line_with_real_times(thaw):
    out, events, _ = thaw
    vtt = (out / "thaw.vtt").read_text()
    assert vtt.startswith("WEBVTT")
    assert "routine: thaw" in vtt and "engine: pyttsx3" in vtt and "breath: 12" in vtt
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n(.+)", vtt)
    speech = [e for e in events if e["kind"] == "speech"]
    assert len(cues) == len(speech)

    def secs(t: str) -> float:
        h, m, s = t.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    for (a, b, text), e in zip(cues, speech, strict=True):
        assert abs(secs(a) - e["start"]) < 0.001 and abs(secs(b) - e["end"]) < 0.001
        assert text == e["text"]


# ---------------------------------------------------------------- CLI errors


def test_missing_routine_is_a_clear_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["render", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2
    assert "nope.yaml" in r.output and "Traceback" not in r.output


def test_unknown_builtin_lists_the_builtins():
    r = CliRunner().invoke(main, ["render", "thwa"])
    assert r.exit_code == 2
    assert "thwa: no built-in routine of that name" in r.output and "thaw" in r.output


def test_bad_routine_names_file_line_field_and_leaves_existing_output(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: Bad\nsteps:\n  - kind: breath\n    name: X\n    reps: -2\n"
        "    cues: {inhale: in, exhale: out}\n"
    )
    target = tmp_path / "bad.mp3"
    target.write_bytes(b"earlier file")
    r = CliRunner().invoke(main, ["render", str(bad), "-o", str(target)])
    assert r.exit_code == 2
    assert re.search(rf"{re.escape(str(bad))}:5: steps\[0\]\.reps: ", r.output), r.output
    assert target.read_bytes() == b"earlier file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp3", "bad.yaml"]


def test_bad_option_value_exits_2():
    r = CliRunner().invoke(main, ["render", "thaw", "--pace", "quick"])
    assert r.exit_code == 2
    assert "--pace" in r.output and "Traceback" not in r.output


def test_several_routines_need_a_folder(tmp_path):
    r = CliRunner().invoke(main, ["render", "thaw", "clutch", "-o", str(tmp_path / "x.mp3")])
    assert r.exit_code == 2 and "must be a folder" in r.output


def test_cue_script_renders_as_it_stands(tmp_path):
    cue = tmp_path / "mine.cue"
    cue.write_text(
        "# matcue cue script 1\n@title Mine\n@step One\nHello.\n"
        "@block 4 rep=1\n  0 inhale: In.\n  2 exhale: Out.\n@end\n"
    )
    r = CliRunner().invoke(
        main,
        [
            "render",
            str(cue),
            "-o",
            str(tmp_path / "mine.wav"),
            "--timeline",
            str(tmp_path / "m.json"),
            "--no-chime",
        ],
    )
    assert r.exit_code == 0, r.output
    audio, rate = sf.read(tmp_path / "mine.wav")
    events = json.loads((tmp_path / "m.json").read_text())
    phases = [e for e in events if e["kind"] == "phase"]
    assert [p["phase"] for p in phases] == ["inhale", "exhale"]
    assert abs(phases[1]["start"] - phases[0]["start"] - 2) < 1e-6
    assert abs(len(audio) / rate - max(e["end"] for e in events)) < 0.001


def test_bad_cue_script_reports_every_problem(tmp_path):
    cue = tmp_path / "bad.cue"
    cue.write_text("# matcue cue script 1\n@pase 2\n@block 3\n  5 inhale: x\n@end\n")
    r = CliRunner().invoke(main, ["render", str(cue)])
    assert r.exit_code == 2
    assert f"{cue}:2: @pase: unknown directive; did you mean '@pause'?" in r.output
    assert f"{cue}:4: block line: offset 5 is not inside the block (length 3)" in r.output


# ------------------------------------------------------- routine flags on a cue script

SMALL_CUE = (
    "# matcue cue script 1\n@title Small\n@step One\nHello.\n"
    "@block 4 rep=1\n  0 inhale: In.\n  2 exhale: Out.\n@end\n"
)


@pytest.mark.parametrize(
    ("command", "flags", "line"),
    [
        (
            "render",
            ["--minutes", "3", "--pace", "slow"],
            "--pace, --minutes: these shape how a routine becomes a cue script; {cue} is a "
            "cue script, rendered as it stands. Leave them out, or make the cue script "
            "again: matcue script ROUTINE --pace ... --minutes ...",
        ),
        (
            "render",
            ["--count", "2"],
            "--count: this shapes how a routine becomes a cue script; {cue} is a cue script, "
            "rendered as it stands. Leave it out, or make the cue script again: "
            "matcue script ROUTINE --count ...",
        ),
        (
            "script",
            ["--verbosity", "brief"],
            "--verbosity: this shapes how a routine becomes a cue script; {cue} is a cue "
            "script, rendered as it stands. Leave it out, or make the cue script again: "
            "matcue script ROUTINE --verbosity ...",
        ),
    ],
)
def test_routine_flags_on_a_cue_script_are_refused(tmp_path, command, flags, line):
    """`render thaw.cue --minutes 3 --pace slow` used to exit 0 at full length, without a
    word: the flags cannot apply to a script rendered as it stands."""
    cue = tmp_path / "mine.cue"
    cue.write_text(SMALL_CUE)
    out = tmp_path / "mine.mp3"
    r = CliRunner().invoke(main, [command, str(cue), *flags, "-o", str(out)])
    assert r.exit_code == 2
    assert r.output.splitlines() == ["matcue: " + line.format(cue=cue)]
    assert not out.exists()


def test_routine_flags_in_a_batch_with_cue_scripts_warn_and_apply_to_the_routines(tmp_path):
    from mutagen.id3 import ID3

    cue = tmp_path / "mine.cue"
    cue.write_text(SMALL_CUE)
    routine = tmp_path / "small.yaml"
    routine.write_text(
        "title: Small\nsteps:\n  - kind: breath\n    name: B\n    reps: 2\n    cycle: 4\n"
        "    cues: {inhale: In., exhale: Out.}\n"
    )
    out = tmp_path / "out"
    args = ["render", str(routine), str(cue), "-o", f"{out}/", "--no-transcript"]
    r = CliRunner().invoke(main, [*args, "--pace", "2", "--timeline", f"{out}/"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == (
        f"matcue: warning: {cue}: a cue script is rendered as it stands; "
        "--pace applies to the routines only"
    )
    # the routine is paced, the cue script is not (and its tags do not claim it was)
    assert ID3(out / "small.mp3")["TXXX:MATCUE_PACE"].text == ["2"]
    pace = ID3(out / "mine.mp3").get("TXXX:MATCUE_PACE")  # the script's own, if it says
    assert pace is None or pace.text != ["2"]
    phases = [e for e in json.loads((out / "mine.json").read_text()) if e["kind"] == "phase"]
    assert abs(phases[1]["start"] - phases[0]["start"] - 2) < 1e-6
    blocks = [e for e in json.loads((out / "small.json").read_text()) if e["kind"] == "phase"]
    assert abs(blocks[1]["start"] - blocks[0]["start"] - 4) < 1e-6  # 4 s cycle at pace 2


# ------------------------------------------------------- format and extension


NAME_IT = f"name a {suffix_list()} file (or a folder, ending in '/')"
"""The registry's extensions (".mp3 or .wav"), so adding a format changes no test."""


@pytest.mark.parametrize(
    ("args", "line"),
    [
        # used to write MP3 data into x.ogg
        (
            ["-o", "x.ogg"],
            f"-o x.ogg: unknown audio extension '.ogg'; {NAME_IT}",
        ),
        (
            ["-o", "x.vtt"],
            f"-o x.vtt: unknown audio extension '.vtt'; {NAME_IT}",
        ),
        (
            ["-o", "session"],
            f"-o session: no extension; {NAME_IT}",
        ),
        # used to write a WAV into y.mp3
        (
            ["--format", "wav", "-o", "y.mp3"],
            "--format wav: -o y.mp3 names an MP3 file; leave --format out or name a .wav file",
        ),
        (
            ["--format", "mp3", "-o", "y.wav"],
            "--format mp3: -o y.wav names a WAV file; leave --format out or name a .mp3 file",
        ),
    ],
)
def test_output_extension_and_format_must_agree(tmp_path, monkeypatch, args, line):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["render", "desk-break", *args])
    assert r.exit_code == 2
    assert r.output.splitlines() == [f"matcue: {line}"]
    assert list(tmp_path.iterdir()) == []


def test_format_follows_the_extension_in_any_case(tmp_path):
    cue = tmp_path / "mine.cue"
    cue.write_text(SMALL_CUE)
    for name, fmt in (("a.WAV", "WAV"), ("b.Mp3", "MP3")):
        r = CliRunner().invoke(main, ["render", str(cue), "-o", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
        assert sf.info(str(tmp_path / name)).format == fmt


# ------------------------------------------------------- all or nothing


@pytest.fixture
def earlier(tmp_path, monkeypatch):
    """A folder holding an earlier render's audio and transcript, and an empty cache of
    this test's own (so a render that did any speech would leave entries in it)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "dd.mp3").write_bytes(b"earlier audio")
    (out / "dd.vtt").write_text("earlier transcript")
    cache = tmp_path / "cache"
    monkeypatch.setenv("MATCUE_CACHE_DIR", str(cache))
    return out, cache


def _untouched(out):
    assert (out / "dd.mp3").read_bytes() == b"earlier audio"
    assert (out / "dd.vtt").read_text() == "earlier transcript"
    assert sorted(p.name for p in out.iterdir()) == ["dd.mp3", "dd.vtt"]


@pytest.mark.parametrize("where", ["proc", "under-a-file"])
def test_unwritable_timeline_is_refused_before_any_work_and_nothing_is_replaced(
    earlier, tmp_path, where
):
    """`-o out/dd.mp3 --timeline /proc/t.json` exited 1 after dd.mp3 and dd.vtt had
    already replaced the earlier ones."""
    out, cache = earlier
    if where == "proc":
        if not Path("/proc").is_dir():
            pytest.skip("no /proc")
        timeline = Path("/proc/t.json")
        problem = "cannot write in /proc: No such file or directory"
    else:
        (tmp_path / "afile").write_text("x")
        timeline = tmp_path / "afile" / "t.json"
        problem = f"{tmp_path / 'afile'} is not a folder; cannot write output into it"
    r = CliRunner().invoke(
        main, ["render", "desk-break", "-o", str(out / "dd.mp3"), "--timeline", str(timeline)]
    )
    assert r.exit_code == 2
    assert r.output.splitlines() == [f"matcue: --timeline {timeline}: {problem}"]
    _untouched(out)
    assert not cache.exists()  # refused before any speech


def test_a_render_that_fails_midway_replaces_nothing(earlier, tmp_path):
    out, _ = earlier
    f = tmp_path / "tight.yaml"
    f.write_text(
        "title: T\nsteps:\n  - kind: breath\n    name: Tight\n    reps: 2\n    cycle: 3\n"
        "    cues: {inhale: Breathe in slowly and fully while you lift the chest and "
        "lengthen the spine, exhale: out}\n"
    )
    args = ["render", str(f), "-o", str(out / "dd.mp3"), "--timeline", str(out / "new/t.json")]
    r = CliRunner().invoke(main, [*args, "--strict"])
    assert r.exit_code == 2 and "overrun: step 'Tight'" in r.output
    _untouched(out)  # the folder made for the timeline is gone again too


def test_a_transcript_that_cannot_be_written_keeps_the_earlier_audio(tmp_path, monkeypatch):
    """The audio used to be written (over the earlier file) before the transcript
    failed; now the transcript's destination is checked first."""
    monkeypatch.setenv("MATCUE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "dd.mp3").write_bytes(b"earlier audio")
    (tmp_path / "dd.vtt").mkdir()
    r = CliRunner().invoke(main, ["render", "desk-break", "-o", str(tmp_path / "dd.mp3")])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        f"matcue: the transcript {tmp_path / 'dd.vtt'}: is a folder; give a file name"
    ]
    assert (tmp_path / "dd.mp3").read_bytes() == b"earlier audio"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dd.mp3", "dd.vtt"]


@pytest.mark.parametrize("where", ["before", "after-long", "after-short"])
def test_quiet_works_before_and_after_the_command(tmp_path, where):
    """`matcue render ... --quiet` failed with "No such option"; only `matcue -q render`
    worked."""
    cue = tmp_path / "mine.cue"
    cue.write_text(SMALL_CUE)
    render = ["render", str(cue), "-o", str(tmp_path / "q.mp3")]
    args = {
        "before": ["-q", *render],
        "after-long": [*render, "--quiet"],
        "after-short": [*render, "-q"],
    }[where]
    r = CliRunner().invoke(main, args)
    assert (r.exit_code, r.output) == (0, "")
    assert (tmp_path / "q.mp3").stat().st_size > 0
    r = CliRunner().invoke(main, render)
    assert r.output.startswith("wrote ")  # what --quiet leaves out


def test_script_quiet_leaves_out_what_minutes_changed():
    r = CliRunner().invoke(main, ["script", "control", "--minutes", "10"])
    assert r.exit_code == 0 and r.stderr.startswith("matcue: --minutes 10: about ")
    r = CliRunner().invoke(main, ["script", "control", "--minutes", "10", "--quiet"])
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout.startswith("# matcue cue script 1\n")
