"""matcue studio through an in-process HTTP client: pages, editor, settings,
render with progress, the player's files, and the CLI command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from studio_client import BASE, TIMEOUT, events, headers, wait

from starlette.testclient import TestClient  # isort: skip  (after the importorskip)

from matcue.studio import Studio, create_app


@pytest.fixture
def studio(tmp_path: Path) -> Studio:
    app = create_app(tmp_path / "ws")
    yield app
    app.runner.stop()


@pytest.fixture
def client(studio: Studio) -> TestClient:
    return TestClient(studio, base_url=BASE)


def post(client: TestClient, studio: Studio, url: str, **kwargs):
    return client.post(url, headers=headers(studio), follow_redirects=False, **kwargs)


# ---------------------------------------------------------------- library


def test_library_lists_builtins_with_title_summary_and_length(client):
    r = client.get("/")
    assert r.status_code == 200
    assert 'href="/builtin/thaw"' in r.text
    assert "Mid-back and Hip Mobility" in r.text  # thaw's title
    assert "wake up the muscles along the spine" in r.text  # its summary
    assert re.search(r"~7:\d\d", r.text)  # its length at the default settings (~7 min)


def test_duplicate_builtin_into_workspace_then_listed(client, studio):
    r = post(client, studio, "/builtin/thaw/duplicate")
    assert r.status_code == 303 and r.headers["location"] == "/edit/thaw"
    path = studio.workspace.root / "routines" / "thaw.yaml"
    assert "name: thaw" in path.read_text()
    r = post(client, studio, "/builtin/thaw/duplicate")
    assert r.headers["location"] == "/edit/thaw-2"  # never over the first copy
    assert 'href="/edit/thaw-2"' in client.get("/").text


def test_new_routine_from_the_starter_is_valid(client, studio):
    r = post(client, studio, "/new", data={"name": "evening"})
    assert r.headers["location"] == "/edit/evening"
    page = client.get("/edit/evening")
    assert page.status_code == 200
    assert 'id="problems" class="problems" aria-live="polite">\n  </ul>' in page.text
    assert '<svg class="shape"' in page.text  # the timeline picture


def test_new_routine_refuses_a_bad_name(client, studio):
    r = post(client, studio, "/new", data={"name": "Bad Name"})
    assert r.status_code == 400
    assert not list((studio.workspace.root / "routines").iterdir())


# ---------------------------------------------------------------- editor


def test_check_reports_line_field_and_message_as_matcue_check_does(client, studio, tmp_path):
    from click.testing import CliRunner

    from matcue.cli import main

    text = "title: Broken\nsteps:\n  - kind: breath\n    name: A\n    reps: lots\n"
    post(client, studio, "/new", data={"name": "broken"})
    r = post(
        client, studio, "/api/check", data={"kind": "workspace", "name": "broken", "text": text}
    )
    assert r.status_code == 200
    problems = r.json()["problems"]
    f = tmp_path / "broken.yaml"
    f.write_text(text)
    cli = CliRunner().invoke(main, ["check", str(f)])
    assert cli.exit_code == 2
    assert [p["text"].split(":", 1)[1] for p in problems] == [
        line.split(":", 1)[1] for line in cli.output.splitlines()
    ]
    assert (5, "steps[0].reps") in [(p["line"], p["field"]) for p in problems]


def test_check_gives_length_and_shape_under_the_settings(client, studio):
    slow = post(
        client, studio, "/api/check", data={"kind": "builtin", "name": "thaw", "pace": "slow"}
    )
    fast = post(
        client, studio, "/api/check", data={"kind": "builtin", "name": "thaw", "pace": "fast"}
    )
    assert slow.json()["problems"] == [] and fast.json()["problems"] == []
    assert slow.json()["seconds"] > fast.json()["seconds"]
    assert 'class="ph inhale"' in slow.json()["shape"]  # breath phases visible


def test_check_reports_a_bad_setting_with_the_flag_message(client, studio):
    r = post(client, studio, "/api/check", data={"kind": "builtin", "name": "thaw", "pace": "9"})
    assert r.json()["settings_error"].startswith("matcue: --pace:")
    r = post(client, studio, "/api/check", data={"kind": "builtin", "name": "thaw", "breath": "x"})
    assert "--breath" in r.json()["settings_error"]


def test_save_is_atomic_and_keeps_one_backup(client, studio):
    post(client, studio, "/new", data={"name": "mine"})
    path = studio.workspace.root / "routines" / "mine.yaml"
    first = path.read_text()
    r = post(client, studio, "/edit/mine/save", data={"text": "title: Two\nsteps: []\n"})
    assert r.status_code == 200 and r.json()["backup"] == "mine.yaml.bak"
    assert path.read_text() == "title: Two\nsteps: []\n"
    assert (path.parent / "mine.yaml.bak").read_text() == first
    assert r.json()["problems"]  # saved even with problems: nothing typed is lost
    post(client, studio, "/edit/mine/save", data={"text": "title: Three\nsteps: []\n"})
    assert (path.parent / "mine.yaml.bak").read_text() == "title: Two\nsteps: []\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["mine.yaml", "mine.yaml.bak"]


def test_upload_routine_file(client, studio):
    text = (Path(__file__).parent.parent / "src/matcue/library/desk-break.yaml").read_text()
    r = post(client, studio, "/upload", files={"file": ("My Break.yaml", text.encode())})
    assert r.status_code == 303 and r.headers["location"] == "/edit/my-break"
    assert (studio.workspace.root / "routines" / "my-break.yaml").read_text() == text


def test_routine_page_shows_defaults_and_voices(client):
    r = client.get("/builtin/thaw")
    assert r.status_code == 200
    assert 'name="pace"' in r.text and 'id="listen"' in r.text
    # thaw's own breath (12 s) is shown as the routine's value
    assert re.search(r'data-key="breath".*?routine: <b>12(\.0)?</b>', r.text, re.S)


def test_voice_sample_is_a_wav(client):
    r = client.get("/api/voice-sample")
    assert r.status_code == 200
    assert r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and len(r.content) > 10000


# ---------------------------------------------------------------- render and play


def _render(client, studio, **fields) -> str:
    data = {"kind": "builtin", "name": "desk-break", **fields}
    r = post(client, studio, "/render", data=data)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_render_streams_progress_then_plays_with_chapters_and_files(client, studio):
    job = _render(client, studio)
    evs = events(client, job)
    kinds = [k for k, _ in evs]
    assert kinds[-1] == "done" and "progress" in kinds
    percents = [d["percent"] for _, d in evs]
    assert percents == sorted(percents) and percents[-1] == 100
    render_id = evs[-1][1]["render"]
    page = client.get(f"/renders/{render_id}")
    assert page.status_code == 200
    assert f'src="/renders/{render_id}/files/desk-break.mp3"' in page.text
    assert '<track kind="subtitles"' in page.text and "desk-break.vtt" in page.text
    chapters = studio.workspace.renders()[0]["chapters"]
    assert chapters and page.text.count('class="chapter"') == len(chapters)
    assert f'data-start="{chapters[-1]["start"]}"' in page.text
    vtt = client.get(f"/renders/{render_id}/files/desk-break.vtt")
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
    js = client.get(f"/renders/{render_id}/files/desk-break.json?download=1")
    assert js.headers["content-disposition"].startswith("attachment")
    assert isinstance(js.json(), list)
    # past renders, on the library page
    assert f'href="/renders/{render_id}"' in client.get("/").text


def test_audio_is_served_with_range_requests(client, studio):
    render_id = events(client, _render(client, studio))[-1][1]["render"]
    url = f"/renders/{render_id}/files/desk-break.mp3"
    whole = client.get(url).content
    r = client.get(url, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 0-99/{len(whole)}"
    assert r.content == whole[:100]
    r = client.get(url, headers={"Range": f"bytes={len(whole) - 10}-"})
    assert r.status_code == 206 and r.content == whole[-10:]


def test_wav_render_is_a_wav_served_as_audio_wav(client, studio):
    """The format setting reaches the studio's render: the file, its name and the
    type it is served with come from the writer of that format."""
    import io

    import soundfile as sf

    render_id = events(client, _render(client, studio, format="wav"))[-1][1]["render"]
    page = client.get(f"/renders/{render_id}")
    assert f'src="/renders/{render_id}/files/desk-break.wav"' in page.text
    r = client.get(f"/renders/{render_id}/files/desk-break.wav")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    info = sf.info(io.BytesIO(r.content))
    assert info.format == "WAV" and info.duration > 60


def test_studio_render_is_byte_for_byte_matcue_render(client, studio, tmp_path):
    """The studio is a second face on the library: the same settings give the same
    MP3 as `matcue render`."""
    from click.testing import CliRunner

    from matcue.cli import main

    render_id = events(client, _render(client, studio, pace="slow", chime="off"))[-1][1]["render"]
    studio_mp3 = client.get(f"/renders/{render_id}/files/desk-break.mp3").content
    out = tmp_path / "cli" / "desk-break.mp3"
    out.parent.mkdir()
    r = CliRunner().invoke(
        main, ["-q", "render", "desk-break", "--pace", "slow", "--no-chime", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert studio_mp3 == out.read_bytes()


def test_edited_workspace_routine_renders_byte_for_byte_as_the_file(client, studio, tmp_path):
    from click.testing import CliRunner

    from matcue.cli import main

    post(client, studio, "/builtin/desk-break/duplicate")
    path = studio.workspace.root / "routines" / "desk-break.yaml"
    text = path.read_text().replace("title: ", "title: Edited ", 1)
    post(client, studio, "/edit/desk-break/save", data={"text": text})
    job = post(client, studio, "/render", data={"kind": "workspace", "name": "desk-break"})
    render_id = events(client, job.json()["id"])[-1][1]["render"]
    studio_mp3 = client.get(f"/renders/{render_id}/files/desk-break.mp3").content
    out = tmp_path / "cli.mp3"
    r = CliRunner().invoke(main, ["-q", "render", str(path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert studio_mp3 == out.read_bytes()


def test_failed_render_shows_the_cli_message(client, studio):
    from click.testing import CliRunner

    from matcue.cli import main

    job = _render(client, studio, voice="no-such-voice-xyz")
    last = events(client, job)[-1]
    assert last[0] == "failed"
    cli = CliRunner().invoke(main, ["render", "desk-break", "--voice", "no-such-voice-xyz"])
    assert cli.exit_code == 2
    assert last[1]["message"] == cli.output.strip()
    assert not list((studio.workspace.root / "renders").iterdir())  # nothing left behind


class _FinishesRightAfterItsSnapshot:
    """A fake job (timing isolated from any render): it ends, as "failed", just
    after its first snapshot is taken, as a real render may between two reads."""

    def __init__(self, job):  # type: ignore[no-untyped-def]
        self.job = job

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.job, name)

    def snapshot(self):  # type: ignore[no-untyped-def]
        snap = self.job.snapshot()
        if self.job.state == "running":
            self.job.state, self.job.message = "failed", "matcue: it broke"
        return snap


def test_events_end_with_the_final_state_even_when_it_comes_between_reads(client, studio):
    """Regression: the event stream read the job's state twice per step; a job that
    ended between the two reads closed the stream after a "progress" event and no
    final one, so the page never learnt the render had failed (seen under load)."""
    from matcue.studio.jobs import Job

    job = Job(id="race", routine="desk-break", arg="desk-break", name="desk-break", overrides={})
    job.state = "running"
    studio.runner.jobs["race"] = _FinishesRightAfterItsSnapshot(job)
    kinds = [kind for kind, _ in events(client, "race")]
    assert kinds == ["progress", "failed"]


def test_renders_queue_one_at_a_time(client, studio):
    """Two renders of one routine: the second waits for the first."""
    studio.runner.paused.set()
    first, second = _render(client, studio), _render(client, studio, pace="fast")
    assert client.get(f"/jobs/{second}").json()["state"] == "queued"
    studio.runner.paused.clear()
    a, b = wait(studio, first), wait(studio, second)
    assert a.state == b.state == "done"
    assert b.started >= a.finished


def test_cancel_a_queued_render(client, studio):
    studio.runner.paused.set()
    job = _render(client, studio)
    r = post(client, studio, f"/jobs/{job}/cancel")
    assert r.json()["state"] == "cancelled"
    studio.runner.paused.clear()
    assert events(client, job)[-1][0] == "cancelled"


def test_cancel_a_running_render_leaves_nothing(client, studio):
    job = _render(client, studio)  # cancelled at its next progress report
    wait(studio, job, ("running", "done", "failed", "cancelled"))
    post(client, studio, f"/jobs/{job}/cancel")
    assert wait(studio, job).state == "cancelled"
    assert not list((studio.workspace.root / "renders").iterdir())


# ---------------------------------------------------------------- the command


def test_studio_command_serves_the_library(tmp_path):
    """`matcue studio --no-browser --port N` serves the library on 127.0.0.1."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ws = tmp_path / "ws"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "matcue.cli",
            "studio",
            str(ws),
            "--no-browser",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as r:
                    body = r.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert "Mid-back and Hip Mobility" in body
        assert (ws / "routines").is_dir()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert f"serving on http://127.0.0.1:{port}/ (this computer only)" in out


def test_package_data_covers_every_template_and_static_file():
    """The wheel carries the pages: every file under studio/templates and
    studio/static matches the package-data patterns of pyproject.toml."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    folder = root / "src/matcue/studio"
    for sub in ("templates", "static"):
        # Listed as packages of their own (else setuptools warns at every install).
        package = f"matcue.studio.{sub}"
        assert package in config["packages"]
        patterns = config["package-data"][package]
        files = [
            p.relative_to(folder / sub).as_posix() for p in (folder / sub).rglob("*") if p.is_file()
        ]
        assert files
        assert [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []


def test_lan_qr_code_for_the_terminal_and_the_page():
    from matcue.studio.qr import qr_svg, qr_text

    url = "http://192.168.1.10:8765/?token=abc"
    text = qr_text(url)
    assert len(text.splitlines()) > 10 and set(text) & {"█", "▀", "▄"}
    svg = qr_svg(url)
    assert svg.startswith("<svg") and "<script" not in svg


def test_studio_without_its_extra_says_how_to_install_it(monkeypatch):
    """`matcue studio` on an install without the extra: one line, exit 2."""
    import builtins

    from click.testing import CliRunner

    from matcue.cli import main

    real_import = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    r = CliRunner().invoke(main, ["studio", "--no-browser"])
    assert r.exit_code == 2
    assert r.output.strip() == (
        "matcue: the studio needs its extra: pip install 'matcue[studio]' "
        "(or 'make demo' in a clone)"
    )


def test_studio_lan_prints_an_address_with_a_token_that_opens_the_studio(tmp_path):
    """`matcue studio --lan`: the printed address (and its QR code) opens the studio
    from the network address; without the token it is refused."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from matcue.cli.studio import _lan_address

    if _lan_address() == "127.0.0.1":
        pytest.skip("no network address on this machine")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "matcue.cli", "studio", str(tmp_path / "ws"), "--lan"]
    proc = subprocess.Popen(
        [*cmd, "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not any("Ctrl-C" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        url = next(re.search(r"open (http://\S+)", line)[1] for line in lines if "phone" in line)
        assert re.fullmatch(rf"http://[0-9.]+:{port}/\?token=[\w-]{{16,}}", url)
        assert sum("█" in line or "▀" in line for line in lines) > 10  # the QR code
        bare = url.split("?")[0]
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                urllib.request.urlopen(bare, timeout=30)
                raise AssertionError("served without the token")
            except urllib.error.HTTPError as exc:
                assert exc.code == 403
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(url, timeout=30) as r:  # follows to / with the cookie
            assert "Mid-back and Hip Mobility" in r.read().decode()
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_uploaded_bed_renders_as_matcue_render_with_that_file(client, studio, tmp_path):
    """A bed added in the settings is a workspace file; the render equals
    `matcue render --bed FILE` with the same file."""
    import io

    import numpy as np
    import soundfile as sf
    from click.testing import CliRunner

    from matcue.cli import main

    rng = np.random.default_rng(13)
    buf = io.BytesIO()
    sf.write(buf, rng.normal(0, 0.1, 22050 * 3).astype("float32"), 22050, format="WAV")
    r = post(client, studio, "/beds", files={"file": ("rain.wav", buf.getvalue())})
    assert r.status_code == 200 and r.json() == {"bed": "rain.wav"}
    assert studio.workspace.beds() == ["rain.wav"]
    render_id = events(client, _render(client, studio, bed="rain.wav", bed_volume="-30"))[-1][1][
        "render"
    ]
    studio_mp3 = client.get(f"/renders/{render_id}/files/desk-break.mp3").content
    bed = tmp_path / "rain.wav"
    bed.write_bytes(buf.getvalue())
    out = tmp_path / "cli.mp3"
    args = ["-q", "render", "desk-break", "--bed", str(bed), "--bed-volume", "-30", "-o", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert studio_mp3 == out.read_bytes()


def test_past_renders_newest_first(client, studio):
    first = events(client, _render(client, studio, minutes="1"))[-1][1]["render"]
    second = events(client, _render(client, studio, minutes="1.5"))[-1][1]["render"]
    page = client.get("/").text
    assert page.index(f'href="/renders/{second}"') < page.index(f'href="/renders/{first}"')
