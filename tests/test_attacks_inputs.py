"""Attacks on matcue's inputs: bounded in size, time and memory (issue 14).

Before issue 14 each of these was accepted: a short cue script of unpaused
lines made a many-hour session (and gigabytes of audio in memory), a routine
could ask for any number of different lines to synthesize, a cache entry was
read whole whatever its size or kind, and a bed file of any length was decoded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from matcue import sounds
from matcue.cli import main
from matcue.errors import InputError
from matcue.limits import MAX_PHRASES
from matcue.speech.cache import ClipCache

ROOT = Path(__file__).resolve().parent.parent
HEADER = "# matcue cue script 1\n@title Attack\n"


def _check(path: Path) -> list[str]:
    r = CliRunner().invoke(main, ["check", str(path)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    return r.output.splitlines()


def test_a_short_file_of_unpaused_lines_is_not_a_many_hour_session(tmp_path: Path):
    line = " ".join(["go"] * 100)  # 100 words, under the 500-character line limit
    cue = tmp_path / "long.cue"
    cue.write_text(HEADER + "".join(f"{line} {i}.\n" for i in range(1000)), encoding="utf-8")
    assert cue.stat().st_size < 400_000  # small, but about 10 hours of speech
    [message] = _check(cue)
    # Timed by word count at SPEECH_WPM (160 since issue 11's calm rate; 9 h at 180).
    assert message.startswith(f"{cue}: the spoken lines (about 10 h")
    assert "4 hours" in message


def test_a_cue_script_with_too_many_different_lines(tmp_path: Path):
    cue = tmp_path / "many.cue"
    cue.write_text(
        HEADER + "".join(f"Line {i}.\n" for i in range(MAX_PHRASES + 5)), encoding="utf-8"
    )
    # header: 2 lines, so the first line over the limit is line MAX_PHRASES + 3
    assert _check(cue) == [
        f"{cue}:{MAX_PHRASES + 3}: -: {MAX_PHRASES + 5} different spoken lines; "
        f"a session may have at most {MAX_PHRASES} different spoken lines"
    ]


def _routine(tmp_path: Path, setup: list[str]) -> Path:
    lines = "\n".join(f"      - {text}" for text in setup)
    path = tmp_path / "r.yaml"
    path.write_text(
        "matcue: 1\ntitle: Attack\nsafety: Stop if it hurts.\nsteps:\n"
        "  - kind: say\n    name: Fine\n    text: Hello.\n"
        f"  - kind: rest\n    name: Talkative\n    duration: 30\n    setup:\n{lines}\n",
        encoding="utf-8",
    )
    return path


def test_a_routine_with_too_many_different_lines_names_the_step(tmp_path: Path):
    path = _routine(tmp_path, [f"Line {i}." for i in range(MAX_PHRASES + 10)])
    [message] = _check(path)
    assert message.startswith(f"{path}:8: steps[1]") or message.startswith(f"{path}:8: steps.1")
    assert f"at most {MAX_PHRASES} different spoken lines" in message


def test_a_routine_of_long_different_lines_is_bounded_by_their_speech(tmp_path: Path):
    """Issue 14: each distinct clip is held while the session is mixed, so a few
    hundred long different lines (under the phrase limit, inside 4 hours) would hold
    gigabytes. Their speech, timed by word count, is bounded too, naming the step."""
    words = " ".join(["go"] * 60)
    # 130 lines of 61 words and more (numbers are said as words): 44 minutes and more
    path = _routine(tmp_path, [f"{words} {i}." for i in range(130)])
    [message] = _check(path)
    assert message.startswith(f"{path}:8: steps[1]"), message
    # Timed by word count at SPEECH_WPM (160 since issue 11's calm rate: 50 min; 44-46 at 180).
    assert re.search(r"different lines that take about (49|50|51) min to say", message), message
    assert "may take at most 40 min to say" in message, message


def test_a_routine_of_long_lines_is_not_a_many_hour_session(tmp_path: Path):
    words = " ".join(["go"] * 80)
    path = _routine(tmp_path, [f"{words} {i}." for i in range(900)])
    [message] = _check(path)
    # 7 h 50 min at SPEECH_WPM 160 (issue 11's calm rate; 6 h 58 min at 180).
    assert "the spoken lines (about 7 h" in message and "4 hours" in message


def test_a_cache_entry_that_is_a_fifo_is_a_miss_not_a_hang(tmp_path: Path):
    cache = ClipCache(tmp_path)
    cache.put("ab" + "0" * 62, np.zeros(100, dtype=np.float32), 22050)
    path = cache.path_for("ab" + "0" * 62)
    path.unlink()
    os.mkfifo(path)
    assert cache.get("ab" + "0" * 62) is None


def test_an_oversized_cache_entry_is_not_read_whole(tmp_path: Path, monkeypatch, caplog):
    import matcue.speech.cache as cache_mod

    monkeypatch.setattr(cache_mod, "MAX_CACHE_ENTRY_BYTES", 1000)
    cache = ClipCache(tmp_path)
    key = "cd" + "0" * 62
    cache.put(key, np.zeros(10_000, dtype=np.float32), 22050)  # 40 KB
    assert cache.get(key) is None
    assert "corrupt cached clip" in caplog.text


def test_a_bed_longer_than_the_limit_is_refused(tmp_path: Path, monkeypatch):
    bed = tmp_path / "bed.wav"
    sf.write(bed, np.full(16000 * 3, 0.1), 16000)
    monkeypatch.setattr(sounds, "MAX_BED_SECONDS", 2.0)
    with pytest.raises(InputError, match="longer than 0.0333333 minutes"):
        sounds.load_bed_file(bed, 22050)


def test_a_bed_that_is_a_fifo_is_refused(tmp_path: Path):
    bed = tmp_path / "bed.wav"
    os.mkfifo(bed)
    with pytest.raises(InputError, match="not a file"):
        sounds.load_bed_file(bed, 22050)


# ------------------------------------------------------------ refused at check time


@pytest.mark.parametrize("text", ["...", "\U0001f642", "— –"])
def test_a_line_spoken_as_silence_is_refused_at_check(tmp_path: Path, text: str):
    cue = tmp_path / "quiet.cue"
    cue.write_text(f"{HEADER}Hello.\n{text}\n", encoding="utf-8")
    [message] = _check(cue)
    assert message.startswith(f"{cue}:4: -: {text!r} has no letter or digit")


def test_a_routine_line_spoken_as_silence_names_its_field(tmp_path: Path):
    path = _routine(tmp_path, ["Lie down.", "..."])
    [message] = _check(path)
    assert message.startswith(f"{path}:13: steps[1].setup[1]: ")
    assert "no letter or digit" in message


@pytest.mark.parametrize("gain", ["1e400", "400", "nan", "-1e9"])
def test_a_sound_gain_that_overflows_is_refused(tmp_path: Path, gain: str):
    cue = tmp_path / "loud.cue"
    cue.write_text(f"{HEADER}Hello.\n@sound chime gain={gain}\n", encoding="utf-8")
    assert _check(cue) == [f"{cue}:4: @sound.gain: expected -60 to 12 dB, got {gain}"]


def test_more_chapters_than_id3_can_count(tmp_path: Path):
    cue = tmp_path / "chapters.cue"
    cue.write_text(HEADER + "".join(f"@step S{i}\nGo.\n" for i in range(300)), encoding="utf-8")
    assert _check(cue) == [
        f"{cue}:{3 + 2 * 255}: @step: 300 steps; an MP3's chapter list holds at most 255"
    ]


def test_an_empty_cue_script_is_refused(tmp_path: Path):
    cue = tmp_path / "empty.cue"
    cue.write_text("# matcue cue script 1\n", encoding="utf-8")
    assert _check(cue) == [f"{cue}:1: -: the cue script has nothing to say and no timed parts"]


def test_error_output_is_bounded_with_a_count_of_the_rest(tmp_path: Path):
    """A file of a thousand bad lines printed a thousand lines (issue 14)."""
    cue = tmp_path / "bad.cue"
    cue.write_text(HEADER + "@bogus\n" * 1000, encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(cue)])
    assert r.exit_code == 2
    lines = r.output.splitlines()
    assert len(lines) == 30
    assert lines[0] == f"{cue}:3: @bogus: unknown directive"
    assert lines[-1] == "matcue: ... and 971 more problems (the first ones come first to fix)"
