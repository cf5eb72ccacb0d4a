"""``matcue programme render`` (issue 15): a tiny two-week programme rendered for
real (pyttsx3, see conftest), its feed read back with feedparser, its chapters
JSON against the MP3's ID3 chapters, and a second run that renders nothing."""

from __future__ import annotations

import calendar
import json
import shutil
import time
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

from matcue.cli import main

BASE = "http://phone.test/back/"

TINY = """\
title: Tiny Core
summary: Two curl-ups that grow by week.
steps:
  - kind: reps
    name: Curl-up
    reps: 2
    move: 1
    hold: 2
    release: 1
    rest: 1
    cues: {move: Lift., release: Down.}
    progression: {per_week: {reps: 2, hold: 5}}
"""
CALM = """\
title: Short Calm
steps:
  - kind: say
    name: Settle
    text: Sit tall and breathe.
  - kind: hold
    name: Stay
    duration: 3
"""
PLAN = """\
title: Tiny Plan
summary: Two weeks of tiny sessions.
weeks: 2
days:
  - name: Core day
    sessions:
      - {routine: tiny.yaml, slot: core}
      - {routine: calm.yaml, slot: calm}
  - sessions:
      - {routine: calm.yaml, slot: calm}
"""
STEMS = [
    "w01-d1-1-core",
    "w01-d1-2-calm",
    "w01-d2-1-calm",
    "w02-d1-1-core",
    "w02-d1-2-calm",
    "w02-d2-1-calm",
]


def _write_plan(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (folder / "calm.yaml").write_text(CALM, encoding="utf-8")
    plan = folder / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    return plan


def _render(plan: Path, out: Path, *more: str):
    return CliRunner().invoke(
        main, ["programme", "render", str(plan), "-o", str(out), "--base-url", BASE, *more]
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("programme")
    plan = _write_plan(root / "plan")
    out = root / "out"
    r = _render(plan, out)
    assert r.exit_code == 0, r.output
    return plan, out, r.output


def test_every_session_is_written_with_transcript_and_chapters(rendered):
    _plan, out, output = rendered
    for stem in STEMS:
        for suffix in (".mp3", ".vtt", ".chapters.json"):
            assert (out / f"{stem}{suffix}").is_file(), stem + suffix
    # The calm sessions share their inputs: one render, linked to the other names.
    assert "3 rendered, 3 linked, 0 already there" in output


def test_the_feed_parses_with_every_episode_duration_chapters_and_transcript(rendered):
    _plan, out, _ = rendered
    feed = feedparser.parse(str(out / "feed.xml"))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Tiny Plan"
    assert feed.feed.itunes_type == "serial"
    assert len(feed.entries) == len(STEMS)
    manifest = json.loads((out / "programme.json").read_text(encoding="utf-8"))["sessions"]
    for entry, stem in zip(feed.entries, STEMS, strict=True):
        week, day = int(stem[1:3]), int(stem[5])
        assert entry.title.startswith(f"Week {week}, day {day}")
        (enclosure,) = entry.enclosures
        assert enclosure.href == f"{BASE}{stem}.mp3"
        assert enclosure.type == "audio/mpeg"
        mp3 = out / f"{stem}.mp3"
        assert int(enclosure.length) == mp3.stat().st_size  # exists, with the stated length
        seconds = MP3(mp3).info.length
        assert abs(int(entry.itunes_duration) - seconds) <= 1
        assert int(entry.itunes_duration) == round(manifest[stem]["duration"])
        assert int(entry.itunes_season) == week
        assert entry.podcast_chapters["url"] == f"{BASE}{stem}.chapters.json"
        assert entry.podcast_chapters["type"] == "application/json+chapters"
        assert entry.podcast_transcript["url"] == f"{BASE}{stem}.vtt"
        assert entry.podcast_transcript["type"] == "text/vtt"
    assert [int(e.itunes_episode) for e in feed.entries] == [1, 2, 3, 1, 2, 3]
    assert len({e.id for e in feed.entries}) == len(STEMS)
    dates = [e.published_parsed for e in feed.entries]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)  # programme order
    assert calendar.timegm(dates[-1]) <= time.time()  # none in the future: apps hide those
    assert any(link.get("rel") == "self" for link in feed.feed.links)


def test_chapters_json_matches_the_id3_chapters(rendered):
    _plan, out, _ = rendered
    for stem in STEMS:
        data = json.loads((out / f"{stem}.chapters.json").read_text(encoding="utf-8"))
        assert data["version"] == "1.2.0"
        frames = sorted(ID3(out / f"{stem}.mp3").getall("CHAP"), key=lambda c: c.start_time)
        assert frames, stem
        assert [(c["startTime"], c["endTime"], c["title"]) for c in data["chapters"]] == [
            (f.start_time / 1000, f.end_time / 1000, f.sub_frames.getall("TIT2")[0].text[0])
            for f in frames
        ]


def test_the_playlist_lists_the_sessions_in_order(rendered):
    _plan, out, _ = rendered
    lines = (out / "playlist.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["#EXTM3U", "#PLAYLIST:Tiny Plan"]
    assert [line for line in lines if not line.startswith("#")] == [f"{s}.mp3" for s in STEMS]
    assert lines[2].startswith("#EXTINF:") and lines[2].endswith(
        ",Week 1, day 1 (Core day): Tiny Core"
    )


def test_week_two_has_the_progression(rendered):
    _plan, out, _ = rendered
    week1 = json.loads((out / "w01-d1-1-core.chapters.json").read_text(encoding="utf-8"))
    week2 = json.loads((out / "w02-d1-1-core.chapters.json").read_text(encoding="utf-8"))
    # 2 reps of 5 s in week 1; 4 reps of 10 s in week 2.
    one = week1["chapters"][0]["endTime"] - week1["chapters"][0]["startTime"]
    two = week2["chapters"][0]["endTime"] - week2["chapters"][0]["startTime"]
    assert two - one >= 4 * 10 - 2 * 5 - 1
    vtt = (out / "w02-d1-1-core.vtt").read_text(encoding="utf-8")
    assert "week: 2" in vtt


def test_a_second_run_renders_nothing_and_a_changed_routine_only_its_sessions(rendered, tmp_path):
    plan_dir, out0, _ = rendered
    plan = _write_plan(tmp_path / "plan")
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    feed = (out / "feed.xml").read_bytes()
    r = _render(plan, out)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1].startswith("0 rendered, 0 linked, 6 already there")
    for name in before:
        if name.endswith((".mp3", ".vtt", ".chapters.json")):
            assert (out / name).stat().st_mtime_ns == before[name], name
    assert (out / "feed.xml").read_bytes() == feed
    # One routine changes: only its two sessions render again.
    (plan.parent / "tiny.yaml").write_text(TINY.replace("reps: 2\n", "reps: 3\n"), "utf-8")
    r = _render(plan, out)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1].startswith("2 rendered, 0 linked, 4 already there")
    assert plan_dir != plan.parent


def test_a_plan_with_a_mistake_is_refused_before_any_work(tmp_path):
    plan = _write_plan(tmp_path / "plan")
    plan.write_text(PLAN.replace("weeks: 2", "weeks: 0"), encoding="utf-8")
    out = tmp_path / "out"
    r = _render(plan, out)
    assert r.exit_code == 2
    assert r.output == f"{plan}:3: weeks: must be at least 1, got 0\n"
    assert not out.exists()


def test_a_folder_with_other_files_is_refused_and_kept(tmp_path):
    plan = _write_plan(tmp_path / "plan")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    r = _render(plan, out)
    assert r.exit_code == 2
    assert "not empty and not a programme folder" in r.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    r = CliRunner().invoke(
        main, ["programme", "render", str(plan), "-o", str(tmp_path / "x"), "--base-url", "ftp:x"]
    )
    assert r.exit_code == 2
    assert "--base-url ftp:x: expected an http:// or https:// address" in r.output
    # A folder of another programme is left alone too.
    (out / "notes.txt").unlink()
    (out / "programme.json").write_text(
        '{"version": 1, "programme": "other", "published": "2026-01-01T00:00:00+00:00", '
        '"sessions": {}}',
        encoding="utf-8",
    )
    r = _render(plan, out)
    assert r.exit_code == 2
    assert r.output == (
        f"matcue: {out}: holds the programme 'other', not 'plan'; render each programme "
        "into its own folder\n"
    )
    (out / "programme.json").write_text('{"version": 1}', encoding="utf-8")
    r = _render(plan, out)
    assert r.exit_code == 2
    assert "programme.json: not a manifest this matcue wrote; remove it" in r.output


def test_studio_lan_serves_the_feed_to_a_phone_with_its_token(rendered, tmp_path):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from matcue.studio import create_app
    from matcue.studio.feedfiles import FeedFolder

    _plan, out, _ = rendered
    # Rendered without --base-url: the studio makes the feed's addresses absolute.
    local = tmp_path / "local"
    shutil.copytree(out, local)
    r = CliRunner().invoke(main, ["programme", "render", str(_plan), "-o", str(local)])
    assert r.exit_code == 0, r.output
    token = "s3cret-token"
    app = create_app(
        tmp_path / "ws",
        lan_token=token,
        lan_hosts={"192.168.1.10"},
        lan_url=f"http://192.168.1.10:8765/?token={token}",
        feed=FeedFolder(local, token),
    )
    try:
        lan_base = "http://192.168.1.10:8765"
        phone = TestClient(app, base_url=lan_base, client=("192.168.1.20", 50000))
        r = phone.get(f"/feed/{token}/feed.xml")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/rss")
        feed = feedparser.parse(r.text)
        assert not feed.bozo and len(feed.entries) == len(STEMS)
        first = feed.entries[0]
        assert first.enclosures[0].href == f"{lan_base}/feed/{token}/{STEMS[0]}.mp3"
        assert first.podcast_transcript["url"] == f"{lan_base}/feed/{token}/{STEMS[0]}.vtt"
        audio = phone.get(first.enclosures[0].href)
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
        assert len(audio.content) == int(first.enclosures[0].length)
        assert phone.get(first.podcast_chapters["url"]).json()["version"] == "1.2.0"
        # Without the token, or for files a render does not write: nothing.
        assert phone.get(f"/feed/wrong/{STEMS[0]}.mp3").status_code == 403
        assert phone.get(f"/feed/{token}/programme.json").status_code == 404
        assert phone.get(f"/feed/{token}/..%2Fplan%2Fplan.yaml").status_code == 404
        # The token in a feed's path opens nothing else.
        assert phone.get(f"/?x=/feed/{token}/").status_code == 403
    finally:
        app.runner.stop()


def test_studio_feed_needs_a_rendered_programme_folder(tmp_path):
    pytest.importorskip("uvicorn")
    r = CliRunner().invoke(main, ["studio", str(tmp_path / "ws"), "--feed", str(tmp_path)])
    assert r.exit_code == 2
    assert r.output == (f"matcue: --feed {tmp_path}: no feed.xml; run 'matcue programme render'\n")
