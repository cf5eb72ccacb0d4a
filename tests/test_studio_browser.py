"""The studio in a real browser: Playwright driving the system's Chromium against
the real server (uvicorn on a free port) over a temporary workspace.

Skipped where Playwright or /usr/bin/chromium is missing (``.ci/run`` installs
Debian's chromium when it runs as root). Run them alone with
``pytest -m browser``. Screenshots of every page go to build/studio-screenshots/
(``MATCUE_SCREENSHOTS`` to choose another folder; docs/studio.md uses them).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("MATCUE_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

from matcue.studio import create_app  # noqa: E402

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
RENDER_TIMEOUT_MS = 240_000
SHOTS = Path(
    os.environ.get(
        "MATCUE_SCREENSHOTS", Path(__file__).resolve().parent.parent / "build/studio-screenshots"
    )
)
DOCS_SHOTS = ("library.png", "routine.png", "editor-error.png", "player.png", "player-phone.png")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(tmp_path_factory.mktemp("studio-ws"))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the studio did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=30)
    app.runner.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # Chromium's audio client (libpulse) makes a "pulse-*" folder in the system
    # temp folder when XDG_RUNTIME_DIR is unset, and leaves it there: .ci/run's
    # first browser run failed the suite's temp-folder check on it. Give it a
    # runtime folder of its own, under pytest's folder. Chromium's own scratch
    # (".org.chromium.Chromium.*", seen left in the temp folder by a full run) goes
    # in a folder removed afterwards: a short path, as its singleton socket's path
    # must fit in 108 bytes (pytest's folders are too deep).
    runtime = tmp_path_factory.mktemp("xdg-runtime")
    runtime.chmod(0o700)
    scratch = tempfile.mkdtemp(prefix="chr-")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "TMPDIR": scratch}
    try:
        with sync_api.sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=env)
            yield b
            b.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def shot(page: Any, name: str, *, phone: bool = True) -> None:
    """A full-page screenshot at desktop width, and one at phone width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if phone:
        size = page.viewport_size
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(size)


def test_open_pick_thaw_change_pace_render_play_and_seek(server: str, page: Any) -> None:
    page.goto(server + "/")
    assert page.locator("#builtins .card").count() >= 7
    shot(page, "library")

    page.click('a[data-routine="thaw"]')
    page.wait_for_url("**/builtin/thaw")
    length_before = page.text_content("#length")
    page.fill("#f-pace", "fast")
    field = page.locator('.field[data-key="pace"]')
    sync_api.expect(field).to_have_class("field changed")
    # the length follows the settings (checked by the server as you type)
    page.wait_for_function(
        "before => document.getElementById('length').textContent !== before", arg=length_before
    )
    shot(page, "routine")

    page.click("#render")
    sync_api.expect(page.locator("#progress")).to_be_visible()
    page.wait_for_url("**/renders/**", timeout=RENDER_TIMEOUT_MS)
    audio = page.locator("#audio")
    sync_api.expect(audio).to_be_visible()
    page.wait_for_function("document.getElementById('audio').readyState >= 1")
    assert page.evaluate("document.getElementById('audio').duration") > 60

    page.evaluate("document.getElementById('audio').play()")
    page.wait_for_function("document.getElementById('audio').currentTime > 0.5", timeout=30_000)
    assert (
        page.text_content("#time") != "0:00"
        or page.evaluate("document.getElementById('audio').currentTime") > 0.5
    )

    chapters = page.locator("#chapters .chapter")
    assert chapters.count() >= 3
    target = chapters.nth(2)
    start = float(target.get_attribute("data-start"))
    target.click()
    page.wait_for_function(
        "s => document.getElementById('audio').currentTime >= s", arg=start, timeout=30_000
    )
    sync_api.expect(target).to_have_class("chapter current")
    # the transcript is filled from the VTT track and follows playback
    page.wait_for_function("document.querySelectorAll('#transcript .cue').length > 5")
    page.wait_for_function("document.querySelector('#transcript li.active') !== null")
    page.evaluate("document.getElementById('audio').pause()")
    shot(page, "player")


def test_break_the_yaml_and_see_the_error_at_its_line(server: str, page: Any) -> None:
    page.goto(server + "/builtin/thaw")
    page.click("text=Copy to edit")
    page.wait_for_url("**/edit/thaw*")
    text = page.input_value("#yaml")
    lines = text.split("\n")
    line = next(i for i, s in enumerate(lines, start=1) if s.strip() == "reps: 8")
    page.fill("#yaml", text.replace("reps: 8", "reps: lots", 1))
    problem = page.locator("#problems li").first
    sync_api.expect(problem).to_contain_text(f"line {line}")
    sync_api.expect(problem).to_contain_text("reps")
    gutter = page.text_content("#gutter").split("\n")
    assert gutter[line - 1].startswith("\u25b6")  # the line is marked
    assert not any(g.startswith("\u25b6") for i, g in enumerate(gutter) if i != line - 1)
    shot(page, "editor-error")

    problem.click()  # goes to the line
    selected = page.evaluate(
        "(() => { const t = document.getElementById('yaml');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); })()"
    )
    assert selected.strip() == "reps: lots"

    page.fill("#yaml", text)  # fixed again
    sync_api.expect(page.locator("#problems li")).to_have_count(0)
    page.click("#save")
    sync_api.expect(page.locator("#save-state")).to_have_text("saved")


def test_docs_screenshots_are_copied(server: str) -> None:
    """With MATCUE_DOCS_SCREENSHOTS=1 (and without -n), the screenshots docs/studio.md
    shows are replaced by the ones just taken."""
    if os.environ.get("MATCUE_DOCS_SCREENSHOTS") != "1":
        pytest.skip("set MATCUE_DOCS_SCREENSHOTS=1 to update the docs' screenshots")
    docs = Path(__file__).resolve().parent.parent / "docs/studio"
    docs.mkdir(parents=True, exist_ok=True)
    for name in DOCS_SHOTS:
        shutil.copyfile(SHOTS / name, docs / name)
