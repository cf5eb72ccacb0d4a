"""Output files: ID3 tags and chapters, WAV, WebVTT, JSON timeline, all-or-nothing writes.

Timelines are built by hand. Checks read the files back with independent readers
(mutagen, ffprobe, soundfile, the test's own ID3 and WebVTT parsers).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mutagen.id3 import CHAP, ID3, TIT2

from matcue.atomic import atomic_output, staged_outputs
from matcue.cli.interrupts import install_interrupt_handlers
from matcue.errors import InputError
from matcue.export import (
    Tags,
    chapters_to_json,
    tags_from_timeline,
    timeline_to_json,
    vtt_text,
    write_timeline_json,
    write_vtt,
)
from matcue.timeline import Chapter, Event, Timeline
from matcue.writers.mp3 import write_mp3
from matcue.writers.wav import write_wav

SR = 22050

# Titles of varied lengths and more than ten chapters: mutagen's size ordering (and
# "chp10" < "chp2") would scramble these.
TITLES = [
    "Arrive",
    "Cat and Cow, slowly",
    "Rest",
    "Low lunge, left side",
    "Lunge right",
    "Locust lifted for three counts",
    "Child's pose",
    "Twist",
    "Bridge",
    "Knees to chest & <breathe>",
    "Supine twist, both sides please",
    "Stillness",
]


def make_timeline() -> Timeline:
    chapters = [Chapter(t, i * 2 * SR, (i + 1) * 2 * SR) for i, t in enumerate(TITLES)]
    events = [
        Event(
            "speech",
            12 * SR,
            12 * SR + 33075,
            "Cat and Cow, slowly",
            1,
            text="Breathe in & lift <gently> --> up",
            clip="c1",
            phase="inhale",
            rep=1,
            set=1,
            anchored=True,
        ),
        Event(
            "phase",
            12 * SR,
            int(19.5 * SR),
            "Cat and Cow, slowly",
            1,
            phase="inhale",
            rep=1,
            anchored=True,
        ),
        Event("speech", 1, 11026, "Arrive", 0, text="Welcome.", clip="c0"),
        Event("sound", 2 * SR, 2 * SR + 4410, "Arrive", 0, sound="chime", gain_db=-6.0),
        Event("pause", 11026, 2 * SR, "Arrive", 0),
        Event(
            "speech",
            3600 * SR + 7,
            3600 * SR + 22057,
            "Stillness",
            11,
            text="Line one.\n\nLine two.",
            clip="c2",
            side="left",
        ),
    ]
    meta = {
        "title": "Thaw",
        "routine": "thaw",
        "pace": "normal",
        "breath": "15",
        "engine": "pyttsx3",
        "voice": "en-gb",
        "verbosity": "full",
        "rate": "180",
    }
    return Timeline(sample_rate=SR, length=3601 * SR, events=events, chapters=chapters, meta=meta)


def write_session(path: Path, timeline: Timeline | None = None) -> Timeline:
    tl = timeline or make_timeline()
    n = 24 * SR
    x = np.zeros(n, dtype=np.float32)
    write_mp3(
        [x[: n // 2], x[n // 2 :]],
        path,
        sample_rate=SR,
        channels=1,
        tags=tags_from_timeline(tl),
        chapters=tl.chapters,
        length=n,
    )
    return tl


def raw_id3_frames(data: bytes) -> tuple[tuple[int, int], list[tuple[str, bytes]], int]:
    """The test's own ID3v2.3 frame walker: (version, frames, end of tag)."""
    assert data[:3] == b"ID3"
    size = data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9]
    pos, end, frames = 10, 10 + size, []
    while pos + 10 <= end and data[pos] != 0:
        fid = data[pos : pos + 4].decode("ascii")
        fsize = int.from_bytes(data[pos + 4 : pos + 8], "big")
        frames.append((fid, data[pos + 10 : pos + 10 + fsize]))
        pos += 10 + fsize
    return (data[3], data[4]), frames, end


def chap_fields(body: bytes) -> tuple[str, int, int, str]:
    eid, rest = body.split(b"\0", 1)
    start, end = int.from_bytes(rest[0:4], "big"), int.from_bytes(rest[4:8], "big")
    sub = rest[16:]
    assert sub[:4] == b"TIT2"
    n = int.from_bytes(sub[4:8], "big")
    payload = sub[10 : 10 + n]
    enc, text = payload[0], payload[1:]
    title = text.decode("utf-16" if enc == 1 else "latin-1").rstrip("\0")
    return eid.decode(), start, end, title


def test_chap_frames_are_chronological_in_the_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "s.mp3"
    write_session(path)
    version, frames, tag_end = raw_id3_frames(path.read_bytes())
    assert version == (3, 0)  # ID3v2.3
    chaps = [chap_fields(body) for fid, body in frames if fid == "CHAP"]
    assert [c[3] for c in chaps] == TITLES
    assert [c[1] for c in chaps] == [i * 2000 for i in range(12)]
    assert [c[2] for c in chaps] == [(i + 1) * 2000 for i in range(12)]
    # CTOC: top-level + ordered, children in chronological order
    ctoc = next(body for fid, body in frames if fid == "CTOC")
    eid, rest = ctoc.split(b"\0", 1)
    assert rest[0] & 0x03 == 0x03 and rest[1] == 12
    children = rest[2:].split(b"\0")[:12]
    assert [c.decode() for c in children] == [c[0] for c in chaps]
    # the Info frame follows the tag directly
    data = path.read_bytes()
    assert data[tag_end] == 0xFF and b"Info" in data[tag_end : tag_end + 40]


def test_plain_mutagen_save_would_scramble_the_chapters() -> None:
    """Regression guard for DESIGN.md's warning: shows why the re-ordering is needed."""
    id3 = ID3()
    for i, t in enumerate(TITLES):
        id3.add(
            CHAP(
                element_id=f"chp{i}",
                start_time=i * 2000,
                end_time=(i + 1) * 2000,
                sub_frames=[TIT2(encoding=3, text=[t])],
            )
        )
    bio = io.BytesIO()
    id3.save(bio, v2_version=3, v1=0)
    _, frames, _ = raw_id3_frames(bio.getvalue())
    assert [chap_fields(b)[3] for f, b in frames if f == "CHAP"] != TITLES


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
def test_ffprobe_lists_chapters_in_order_with_titles_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "s.mp3"
    write_session(path)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_chapters", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = json.loads(out)
    chapters = info["chapters"]
    assert [c["tags"]["title"] for c in chapters] == TITLES
    assert [float(c["start_time"]) for c in chapters] == [i * 2.0 for i in range(12)]
    tags = info["format"]["tags"]
    assert tags["title"] == "Thaw" and tags["artist"] == "matcue"
    assert tags["MATCUE_PACE"] == "normal"


def test_tags_readable_by_mutagen(tmp_path: Path) -> None:
    path = tmp_path / "s.mp3"
    write_session(path)
    id3 = ID3(path)
    assert id3.version[:2] == (2, 3)
    assert id3["TIT2"].text == ["Thaw"]
    assert id3["TPE1"].text == ["matcue"]
    assert id3["TALB"].text == ["matcue sessions"]
    assert id3["TCON"].text == ["Speech"]
    comment = id3.getall("COMM")[0].text[0]
    assert comment.startswith(
        "routine=thaw; pace=normal; breath=15; engine=pyttsx3; voice=en-gb; verbosity=full"
    )
    assert "rate=180" in comment
    assert id3["TXXX:MATCUE_VOICE"].text == ["en-gb"]
    assert id3["TXXX:MATCUE_BREATH"].text == ["15"]
    assert id3["TLEN"].text == ["24000"]


def test_wav_is_16_bit_rounded_with_info_chunk(tmp_path: Path) -> None:
    x = np.array([[0.0, 0.5], [-1.0, 1.0], [0.25, -0.00002], [2.0, -3.0]], dtype=np.float32)
    path = tmp_path / "s.wav"
    write_wav(
        [x[:1], x[1:]],
        path,
        sample_rate=SR,
        channels=2,
        length=4,
        tags=Tags(title="Thaw", comment="pace=1.0"),
    )
    y, rate = sf.read(path, dtype="int16")
    assert rate == SR
    assert y.tolist() == [[0, 16384], [-32768, 32767], [8192, -1], [32767, -32768]]
    with sf.SoundFile(path) as f:
        assert f.subtype == "PCM_16" and f.format == "WAV"
        assert f.title == "Thaw" and f.comment == "pace=1.0"


# ---------------------------------------------------------------- atomic writes


def test_interrupt_mid_write_keeps_earlier_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "s.mp3"
    path.write_bytes(b"earlier render")

    def chunks():
        yield np.zeros(SR, dtype=np.float32)
        yield np.zeros(SR, dtype=np.float32)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_mp3(
            chunks(), path, sample_rate=SR, channels=1, tags=Tags("x"), chapters=[], length=10 * SR
        )
    assert path.read_bytes() == b"earlier render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mp3"]


@pytest.mark.parametrize("exc", [SystemExit(3), ValueError("boom")])
def test_atomic_output_cleans_up_on_any_exception(tmp_path: Path, exc: BaseException) -> None:
    path = tmp_path / "t.json"
    path.write_text("old")
    with pytest.raises(type(exc)), atomic_output(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".t.json.")
        tmp.write_text("half")
        raise exc
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def _spin() -> None:
    for _ in range(10_000):  # Python runs signal handlers between bytecodes
        pass


@contextlib.contextmanager
def _handlers_kept() -> Iterator[None]:
    """The test's own handlers are put back after it. Both signals start at their
    defaults: a suite run as a background job inherits SIGINT *ignored*, and
    install_interrupt_handlers rightly keeps an inherited ignore."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_sigterm_becomes_keyboardinterrupt_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "t.vtt"
    path.write_text("old")
    with _handlers_kept():
        assert install_interrupt_handlers() is not None
        with pytest.raises(KeyboardInterrupt), atomic_output(path) as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
            _spin()
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.vtt"]


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM], ids=["int", "term"])
def test_signals_after_the_first_are_ignored(first: int) -> None:
    """Cleanup is not cut short by a second Ctrl-C, and no late one can kill the
    process after Python restores the default handlers at exit."""
    with _handlers_kept():
        install_interrupt_handlers()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), first)
            _spin()
        for sig in (signal.SIGINT, signal.SIGTERM):
            os.kill(os.getpid(), sig)  # would raise (or kill) if not ignored
            _spin()
            assert signal.getsignal(sig) == signal.SIG_IGN


def test_handlers_are_given_back_when_no_interrupt_came() -> None:
    with _handlers_kept():
        before = signal.getsignal(signal.SIGINT)
        restore = install_interrupt_handlers()
        assert restore is not None
        assert signal.getsignal(signal.SIGINT) != before
        restore()
        assert signal.getsignal(signal.SIGINT) == before


def test_output_folder_one_level_missing_is_created(tmp_path: Path) -> None:
    write_vtt(make_timeline(), tmp_path / "audio_out" / "s.vtt")
    assert (tmp_path / "audio_out" / "s.vtt").read_text().startswith("WEBVTT")


def test_deeper_missing_folder_is_an_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "nope"))):
        write_vtt(make_timeline(), tmp_path / "nope" / "deeper" / "s.vtt")
    assert list(tmp_path.iterdir()) == []


def test_staged_outputs_go_into_place_together(tmp_path: Path) -> None:
    a, b = tmp_path / "a.mp3", tmp_path / "new" / "b.json"
    a.write_text("earlier a")
    with staged_outputs() as outputs:
        ta, tb = outputs.add(a, "-o"), outputs.add(b, "--timeline")
        ta.write_text("new a")
        tb.write_text("new b")
        assert a.read_text() == "earlier a" and not b.exists()  # nothing in place yet
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.mp3", "b.json", "new"]


def test_staged_outputs_leave_everything_as_it_was_on_failure(tmp_path: Path) -> None:
    a = tmp_path / "a.mp3"
    a.write_text("earlier a")
    with pytest.raises(KeyboardInterrupt), staged_outputs() as outputs:
        outputs.add(a, "-o").write_text("new a")
        outputs.add(tmp_path / "made" / "b.json", "--timeline").write_text("new b")
        raise KeyboardInterrupt
    assert a.read_text() == "earlier a"
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp3"]  # the folder made for b too


def test_staged_outputs_roll_back_a_commit_that_fails_half_way(tmp_path: Path) -> None:
    """The second rename fails for real (its target became a folder after it was
    checked): the first target gets its earlier file back."""
    a, b = tmp_path / "a.mp3", tmp_path / "b.vtt"
    a.write_text("earlier a")
    with pytest.raises(OSError), staged_outputs() as outputs:
        outputs.add(a, "-o").write_text("new a")
        outputs.add(b, "the transcript").write_text("new b")
        b.mkdir()
        (b / "keep").write_text("not ours")
    assert a.read_text() == "earlier a"
    assert (b / "keep").read_text() == "not ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp3", "b.vtt"]


def test_staged_outputs_refuse_a_bad_destination_naming_the_flag(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError) as info, staged_outputs() as outputs:
        outputs.add(tmp_path / "a.mp3", "-o")
        outputs.add(tmp_path / "file" / "t.json", "--timeline")
    assert str(info.value) == (
        f"--timeline {tmp_path}/file/t.json: {tmp_path}/file is not a folder; "
        "cannot write output into it"
    )
    with pytest.raises(InputError) as info, staged_outputs() as outputs:
        outputs.add(tmp_path / "a.vtt", "the transcript")
        outputs.add(tmp_path / "a.vtt", "--timeline")
    assert str(info.value) == (
        f"--timeline {tmp_path}/a.vtt: the same file as the transcript {tmp_path}/a.vtt; "
        "give another name"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


# ---------------------------------------------------------------- WebVTT


def parse_vtt(text: str) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    """Minimal WebVTT reader: header NOTE lines and (start, end, text lines) cues."""
    blocks = text.split("\n\n")
    assert blocks[0] == "WEBVTT"
    note = blocks[1].split("\n")
    assert note[0] == "NOTE"
    cues = []
    for block in blocks[2:]:
        lines = [ln for ln in block.split("\n") if ln]
        if not lines:
            continue
        timing = lines[1] if "-->" not in lines[0] else lines[0]
        m = re.fullmatch(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})", timing)
        assert m, f"bad timing line {timing!r}"
        body = lines[lines.index(timing) + 1 :]
        assert body and all("-->" not in ln for ln in body)
        cues.append((m.group(1), m.group(2), body))
    return note[1:], cues


def test_vtt_structure_header_and_cue_times() -> None:
    text = vtt_text(make_timeline())
    note, cues = parse_vtt(text)
    assert note == [
        "title: Thaw",
        "routine: thaw",
        "pace: normal",
        "breath: 15",
        "engine: pyttsx3",
        "voice: en-gb",
        "verbosity: full",
        "rate: 180",  # regression: the rate was in the MP3's tags but not here
        "duration: 01:00:01.000",
    ]
    assert cues == [
        ("00:00:00.000", "00:00:00.500", ["Welcome."]),
        ("00:00:12.000", "00:00:13.500", ["Breathe in &amp; lift &lt;gently&gt; --&gt; up"]),
        ("01:00:00.000", "01:00:01.000", ["Line one.", "Line two."]),
    ]


def test_write_vtt_file_is_utf8_and_equals_vtt_text(tmp_path: Path) -> None:
    tl = make_timeline()
    tl.meta["title"] = "Épaules – détente"
    write_vtt(tl, tmp_path / "s.vtt")
    assert (tmp_path / "s.vtt").read_bytes() == vtt_text(tl).encode("utf-8")


# ---------------------------------------------------------------- JSON


def test_timeline_json_fields(tmp_path: Path) -> None:
    tl = make_timeline()
    write_timeline_json(tl, tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert data == timeline_to_json(tl)
    assert isinstance(data, list) and len(data) == len(tl.events)
    first = data[0]
    assert first == {
        "start": 12.0,
        "end": 13.5,
        "kind": "speech",
        "step": "Cat and Cow, slowly",
        "step_index": 1,
        "step_id": "",
        "text": "Breathe in & lift <gently> --> up",
        "rep": 1,
        "set": 1,
        "phase": "inhale",
        "anchored": True,
    }
    assert data[2] == {
        "start": round(1 / SR, 6),
        "end": 0.500045,
        "kind": "speech",
        "step": "Arrive",
        "step_index": 0,
        "step_id": "",
        "text": "Welcome.",
    }
    assert data[3] == {
        "start": 2.0,
        "end": 2.2,
        "kind": "sound",
        "step": "Arrive",
        "step_index": 0,
        "step_id": "",
        "sound": "chime",
    }
    assert data[4] == {
        "start": 0.500045,
        "end": 2.0,
        "kind": "pause",
        "step": "Arrive",
        "step_index": 0,
        "step_id": "",
    }
    assert data[5]["side"] == "left" and "anchored" not in data[5]


def test_chapters_json() -> None:
    chapters = chapters_to_json(make_timeline())
    assert chapters[1] == {
        "index": 1,
        "id": "",
        "title": "Cat and Cow, slowly",
        "start": 2.0,
        "end": 4.0,
    }
    assert [c["title"] for c in chapters] == TITLES


def test_a_signal_inherited_as_ignored_stays_ignored() -> None:
    """A background job of a non-interactive shell (or nohup) is started with SIGINT
    ignored: Ctrl-C in the terminal is not meant for it, and matcue keeps it so."""
    with _handlers_kept():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        install_interrupt_handlers()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
