"""Attacks on the studio (issue 13, point 7), each of which must fail: a foreign
Host header, cross-site requests, paths out of the workspace through every
parameter, oversized uploads, script in user text, and a LAN client without the
token. Driven in process through Starlette's TestClient."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from studio_client import BASE, ORIGIN, events, headers

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


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the workspace that no request may read or overwrite."""
    f = tmp_path / "secret.txt"
    f.write_text("SECRET-CONTENT\n")
    return f


def post(client, studio, url, **kwargs):
    return client.post(url, headers=headers(studio), follow_redirects=False, **kwargs)


# ---------------------------------------------------------------- Host header


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example"])
def test_foreign_host_header_is_refused(client, host):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1."""
    r = client.get("/", headers={"Host": host})
    assert r.status_code == 400
    assert "Mid-back" not in r.text


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765"])
def test_local_host_headers_are_served(client, host):
    assert client.get("/", headers={"Host": host}).status_code == 200


# ---------------------------------------------------------------- cross-site requests


def test_change_without_origin_is_refused(client, studio):
    r = client.post("/new", data={"name": "x", "csrf": studio.csrf_token})
    assert r.status_code == 403
    assert not (studio.workspace.root / "routines" / "x.yaml").exists()


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "null"])
def test_change_from_another_origin_is_refused(client, studio, origin):
    r = client.post(
        "/new",
        data={"name": "x"},
        headers={"Origin": origin, "X-CSRF-Token": studio.csrf_token},
    )
    assert r.status_code == 403
    assert not (studio.workspace.root / "routines" / "x.yaml").exists()


@pytest.mark.parametrize("token", [None, "", "wrong"])
@pytest.mark.parametrize(
    "url, data",
    [
        ("/new", {"name": "x"}),
        ("/builtin/thaw/duplicate", {}),
        ("/render", {"kind": "builtin", "name": "desk-break"}),
        ("/api/check", {"kind": "builtin", "name": "thaw"}),
    ],
)
def test_change_without_the_csrf_token_is_refused(client, studio, url, data, token):
    hdrs = dict(ORIGIN)
    if token is not None:
        hdrs["X-CSRF-Token"] = token
    r = client.post(url, data=data, headers=hdrs, follow_redirects=False)
    assert r.status_code == 403
    assert not list((studio.workspace.root / "routines").iterdir())
    assert not studio.runner.jobs


def test_other_sites_cannot_embed_the_studio(client):
    """An <audio src> or fetch on another site pointing here: refused; a link that
    opens the studio (a navigation) is not."""
    cross = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    assert client.get("/api/voice-sample", headers=cross).status_code == 403
    assert client.get("/static/studio.js", headers=cross).status_code == 403
    nav = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert client.get("/", headers=nav).status_code == 200


def test_csrf_token_in_the_form_is_accepted(client, studio):
    r = client.post(
        "/new",
        data={"name": "x", "csrf": studio.csrf_token},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_save_and_cancel_need_the_token_too(client, studio):
    post(client, studio, "/new", data={"name": "mine"})
    path = studio.workspace.root / "routines" / "mine.yaml"
    before = path.read_text()
    r = client.post("/edit/mine/save", data={"text": "x"}, headers=ORIGIN)
    assert r.status_code == 403 and path.read_text() == before
    studio.runner.paused.set()
    job = post(client, studio, "/render", data={"kind": "builtin", "name": "desk-break"}).json()
    r = client.post(f"/jobs/{job['id']}/cancel", headers=ORIGIN)
    assert r.status_code == 403 and studio.runner.jobs[job["id"]].state == "queued"
    post(client, studio, f"/jobs/{job['id']}/cancel")
    studio.runner.paused.clear()


# ---------------------------------------------------------------- paths out of the workspace


@pytest.mark.parametrize(
    "url",
    [
        "/edit/..%2F..%2Fsecret",
        "/edit/%2E%2E",
        "/edit/..",
        "/edit/%2Fetc%2Fpasswd",
        "/builtin/..%2F..%2Fpipeline",
        "/renders/..%2F..",
        "/renders/%2Fetc/files/passwd",
        "/renders/x/files/..%2F..%2F..%2Fsecret.txt",
        "/static/..%2F..%2F..%2Fsecret.txt",
        "/static/../../secret.txt",
        "/../secret.txt",
        "/renders/../../../secret.txt",
    ],
)
def test_no_path_outside_the_workspace_can_be_read(studio, secret, url):
    """Sent as a server hands them on (an HTTP client would resolve the dots first):
    ``path`` percent-decoded as uvicorn does, ``raw_path`` as it came."""
    status, body = raw_get(studio, url)
    assert status in (400, 404)
    assert b"SECRET-CONTENT" not in body


def raw_get(app, url: str) -> tuple[int, bytes]:
    import asyncio
    from urllib.parse import unquote

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(url),
        "raw_path": url.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8765")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def test_symlink_out_of_the_workspace_is_not_followed(client, studio, secret):
    routines = studio.workspace.root / "routines"
    os.symlink(secret, routines / "leak.yaml")
    assert client.get("/edit/leak").status_code == 404
    assert "leak" not in client.get("/").text
    r = post(client, studio, "/edit/leak/save", data={"text": "overwritten"})
    assert r.status_code == 404
    assert secret.read_text() == "SECRET-CONTENT\n"
    # a render folder and a render file that are links
    renders = studio.workspace.root / "renders"
    os.symlink(secret.parent, renders / "20260101-000000-leak")
    assert client.get("/renders/20260101-000000-leak").status_code == 404
    real = renders / "20260101-000001-real"
    real.mkdir()
    os.symlink(secret, real / "x.mp3")
    r = client.get("/renders/20260101-000001-real/files/x.mp3")
    assert r.status_code == 404 and "SECRET" not in r.text


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "../../secret"),
        ("name", "/etc/passwd"),
        ("name", "..%2Fsecret"),
        ("kind", "../workspace"),
    ],
)
def test_form_fields_cannot_name_other_files(client, studio, field, value):
    data = {"kind": "workspace", "name": "x", field: value}
    for url in ("/render", "/api/check"):
        r = post(client, studio, url, data=data)
        assert r.status_code == 404
    assert not studio.runner.jobs


@pytest.mark.parametrize("bed", ["../../secret.txt", "/etc/passwd", "..", ".hidden.wav"])
def test_bed_setting_cannot_name_a_file_outside(client, studio, bed):
    r = post(client, studio, "/render", data={"kind": "builtin", "name": "desk-break", "bed": bed})
    assert r.status_code == 400 and "--bed" in r.json()["error"]
    assert not studio.runner.jobs


@pytest.mark.parametrize("filename", ["../../evil.wav", "/tmp/evil.wav", "..wav", ".evil.wav"])
def test_uploaded_bed_cannot_land_outside(client, studio, filename, tmp_path):
    r = post(client, studio, "/beds", files={"file": (filename, b"RIFF....")})
    assert r.status_code in (200, 400)
    outside = [p for p in tmp_path.rglob("*evil*") if studio.workspace.root not in p.parents]
    assert outside == []
    if r.status_code == 200:  # the name was reduced to its last part, inside beds/
        assert (studio.workspace.root / "beds" / r.json()["bed"]).is_file()


def test_uploaded_routine_name_cannot_leave_the_workspace(client, studio, tmp_path):
    r = post(client, studio, "/upload", files={"file": ("../../../escape.yaml", b"title: x\n")})
    assert r.status_code == 303
    assert list(tmp_path.rglob("escape*")) == [studio.workspace.root / "routines" / "escape.yaml"]


# ---------------------------------------------------------------- sizes


def test_oversized_uploads_are_refused(client, studio):
    big = b"#" * (1024 * 1024 + 1)
    r = post(client, studio, "/upload", files={"file": ("big.yaml", big)})
    assert r.status_code == 413
    assert not list((studio.workspace.root / "routines").iterdir())
    r = post(client, studio, "/beds", files={"file": ("big.wav", b"0" * (20 * 1024 * 1024 + 1))})
    assert r.status_code == 413
    assert studio.workspace.beds() == []


def test_a_declared_huge_body_is_refused_before_reading(client, studio):
    r = client.post(
        "/new",
        content=b"name=x",
        headers={**headers(studio), "Content-Length": str(10**9)},
    )
    assert r.status_code == 413


def test_oversized_routine_text_is_not_saved(client, studio):
    post(client, studio, "/new", data={"name": "mine"})
    before = (studio.workspace.root / "routines" / "mine.yaml").read_text()
    r = post(client, studio, "/edit/mine/save", data={"text": "#" * (1024 * 1024 + 10)})
    assert r.status_code == 413
    assert (studio.workspace.root / "routines" / "mine.yaml").read_text() == before


# ---------------------------------------------------------------- escaping


EVIL = "<script>alert(1)</script>"


def test_user_text_is_escaped_in_every_page(client, studio):
    text = (
        f"title: '{EVIL}'\nsummary: '<img src=x onerror=alert(2)>'\nsteps:"
        + (
            (Path(__file__).parent.parent / "src/matcue/library/desk-break.yaml")
            .read_text()
            .split("\nsteps:", 1)[1]
        )
    )
    post(client, studio, "/new", data={"name": "evil"})
    post(client, studio, "/edit/evil/save", data={"text": text})
    for url in ("/", "/edit/evil"):
        page = client.get(url).text
        assert EVIL not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    job = post(client, studio, "/render", data={"kind": "workspace", "name": "evil"}).json()
    render_id = events(client, job["id"])[-1][1]["render"]
    page = client.get(f"/renders/{render_id}").text
    assert EVIL not in page
    # problems (which quote the user's text) are escaped too
    bad = f"title: x\nsteps:\n  - kind: '{EVIL}'\n"
    post(client, studio, "/edit/evil/save", data={"text": bad})
    page = client.get("/edit/evil").text
    assert EVIL not in page


def test_error_page_escapes_the_path(client):
    r = client.get("/renders/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert r.status_code == 404 and EVIL not in r.text


# ---------------------------------------------------------------- --lan


def test_other_machines_are_refused_without_lan(studio):
    phone = TestClient(studio, base_url=BASE, client=("192.168.1.20", 50000))
    assert phone.get("/").status_code == 403


@pytest.fixture
def lan(tmp_path: Path) -> Studio:
    app = create_app(
        tmp_path / "ws",
        lan_token="s3cret-token",
        lan_hosts={"192.168.1.10"},
        lan_url="http://192.168.1.10:8765/?token=s3cret-token",
    )
    yield app
    app.runner.stop()


def test_lan_client_needs_the_token(lan):
    lan_base = "http://192.168.1.10:8765"
    phone = TestClient(lan, base_url=lan_base, client=("192.168.1.20", 50000))
    assert phone.get("/").status_code == 403
    assert phone.get("/?token=wrong").status_code == 403
    assert phone.get("/static/studio.css").status_code == 403
    r = phone.get("/?token=s3cret-token", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "matcue_token" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    phone.cookies.set("matcue_token", "s3cret-token")
    assert phone.get("/").status_code == 200
    # the cookie does not replace the CSRF checks
    r = phone.post("/new", data={"name": "x"}, headers={"Origin": lan_base})
    assert r.status_code == 403
    # the local computer needs no token
    local = TestClient(lan, base_url=BASE)
    assert local.get("/").status_code == 200


def test_lan_page_shows_the_qr_code(lan):
    page = TestClient(lan, base_url=BASE).get("/").text
    assert "<svg" in page and 'id="qr"' in page
    assert "http://192.168.1.10:8765/?token=s3cret-token" in page


def test_lan_host_header_only_for_the_lan_address(lan):
    phone = TestClient(lan, base_url="http://192.168.1.99:8765", client=("192.168.1.20", 50000))
    assert phone.get("/?token=s3cret-token").status_code == 400
