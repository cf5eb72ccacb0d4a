"""Attacks through user templates (``--templates``): time, size, depth, numbers,
filters, and files outside the template folder (issue 14).

Before issue 14 the sandbox stopped none of these: a loop ran for ever, a
template built gigabytes, recursion ended in a traceback, ``9 ** 9 ** 9`` hung,
and a symlink in the template folder read any file into the cue script.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import jinja2
import pytest
from click.testing import CliRunner

from matcue import limits, template_guard
from matcue.cli import main

SECRET = "the private words of another file"


def _script(folder: Path, template: str) -> list[str]:
    (folder / "session.cue.j2").write_text(template, encoding="utf-8")
    r = CliRunner().invoke(main, ["script", "desk-break", "--templates", str(folder)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and SECRET not in r.output
    lines = r.output.splitlines()
    assert len(lines) == 1, lines
    return [line.removeprefix("matcue: ") for line in lines]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "mine"
    path.mkdir()
    (tmp_path / "private.txt").write_text(SECRET, encoding="utf-8")
    return path


def test_a_loop_that_runs_for_ever_is_stopped(folder: Path, monkeypatch):
    monkeypatch.setattr(limits, "TEMPLATE_SECONDS", 0.3)
    [line] = _script(
        folder,
        "# matcue cue script 1\n"
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n",
    )
    assert line.startswith(f"{folder / 'session.cue.j2'}:2: template: the templates ran for")


def test_nested_loops_that_call_nothing_are_stopped(folder: Path, monkeypatch):
    monkeypatch.setattr(limits, "TEMPLATE_SECONDS", 0.3)
    loops = "".join("{% for a in l %}" for _ in range(5)) + "{% endfor %}" * 5
    [line] = _script(
        folder, "{% set l = [0] * 1000 %}{% macro m() %}" + loops + "{% endmacro %}{{ m() }}"
    )
    assert "ran for more than 0.3 seconds" in line


def test_a_template_that_writes_too_much(folder: Path):
    [line] = _script(folder, '{% for a in range(100000) %}{{ "x" * 100 }}\n{% endfor %}')
    assert line.startswith(str(folder / "session.cue.j2"))
    assert "more than 2 MiB of text" in line


def test_a_string_multiplied_into_a_gigabyte(folder: Path):
    [line] = _script(folder, '{{ "x" * 1000000000 }}')
    assert line.startswith(f"{folder / 'session.cue.j2'}:1: template:")
    assert "MiB of text" in line


def test_a_macro_that_calls_itself(folder: Path):
    [line] = _script(folder, "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}")
    assert line.startswith(f"{folder / 'session.cue.j2'}:")
    assert "deep" in line


def test_a_template_that_includes_itself(folder: Path):
    [line] = _script(folder, 'x\n{% include "session.cue.j2" %}')
    assert line.startswith(f"{folder / 'session.cue.j2'}:")


def test_a_number_too_large(folder: Path):
    [line] = _script(folder, "{{ 9 ** (9 ** 9) }}")
    where = folder / "session.cue.j2"
    assert line == f"{where}:1: template: a number too large for a template (more than 300 digits)"


def test_fits_takes_only_a_number_of_seconds(folder: Path):
    """`fits` (the templates' word-count check) would hand a string to Fraction,
    which builds "1e99999999" digit by digit: a hang the watchdog cannot stop."""
    started = time.monotonic()
    [line] = _script(folder, '\n\n{{ fits("Breathe in.", "1e99999999") }}')
    assert time.monotonic() - started < 30
    assert line == (
        f"{folder / 'session.cue.j2'}:3: template: fits(text, seconds): "
        "seconds must be a number, got '1e99999999'"
    )


def test_a_filter_misused(folder: Path):
    [line] = _script(folder, '\n{{ "x"|center(1000000000) }}')
    assert line.startswith(f"{folder / 'session.cue.j2'}:2: template: center: a width")


def test_a_syntax_error_is_one_line(folder: Path):
    [line] = _script(folder, "ok\n{% for %}\n")
    assert line.startswith(f"{folder / 'session.cue.j2'}:2: template:")


def test_a_symlink_out_of_the_template_folder_is_not_read(folder: Path):
    (folder / "secret.cue.j2").symlink_to(folder.parent / "private.txt")
    [line] = _script(folder, '{% include "secret.cue.j2" %}')
    assert "leads outside the template folder" in line


def test_the_session_template_itself_as_a_symlink_out(folder: Path):
    other = folder.parent / "elsewhere.j2"
    other.write_text("# matcue cue script 1\n", encoding="utf-8")
    (folder / "session.cue.j2").symlink_to(other)
    r = CliRunner().invoke(main, ["script", "desk-break", "--templates", str(folder)])
    assert r.exit_code == 2
    assert "leads outside the template folder" in r.output


def test_an_include_path_out_of_the_folder(folder: Path):
    [line] = _script(folder, '{% include "../private.txt" %}')
    assert "not found" in line


def test_an_oversized_template(folder: Path):
    [line] = _script(folder, "# matcue cue script 1\n" + "Breathe.\n" * 40_000)
    assert "larger than 256 KiB, the limit for a template" in line


def _guarded(source: str) -> jinja2.Template:
    return template_guard.GuardedSandbox().from_string(source)


def test_many_renders_start_one_watchdog_thread(monkeypatch):
    # --minutes fitting renders the templates many times: one watcher thread for all
    # of them, not a timer thread each.
    starts: list[str] = []
    real_start = threading.Thread.start

    def counting_start(self: threading.Thread) -> None:
        starts.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    template = _guarded("{% for i in range(n) %}{{ i }} {% endfor %}")
    before = threading.active_count()
    for n in range(200):
        assert template_guard.render_guarded(template, {"n": n}).count(" ") == n
    assert len(starts) <= 1, starts
    watchers = [t for t in threading.enumerate() if t.name == "matcue-template-watchdog"]
    assert len(watchers) == 1
    assert threading.active_count() <= before + 1
    assert not template_guard._WATCHDOG._watches  # every finished render is forgotten


def test_an_overtime_render_beside_a_quick_one(monkeypatch):
    # One watcher serves renders in several threads: only the one that runs over is
    # stopped, and the others go on being watched after it.
    monkeypatch.setattr(limits, "TEMPLATE_SECONDS", 0.3)
    endless = _guarded(
        "{% set l = [0] * 1000 %}{% for a in l %}{% for b in l %}{% for c in l %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    quick = _guarded("{{ 1 + 1 }}")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            template_guard.render_guarded(endless, {})
        except template_guard.TemplateLimit as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    for _ in range(50):
        assert template_guard.render_guarded(quick, {}) == "2"
    thread.join(10)
    assert not thread.is_alive()
    [error] = errors
    assert "ran for more than 0.3 seconds" in str(error)
    with pytest.raises(template_guard.TemplateLimit, match="ran for more than"):
        template_guard.render_guarded(endless, {})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_watchdog_of_its_own(monkeypatch):
    monkeypatch.setattr(limits, "TEMPLATE_SECONDS", 0.3)
    template_guard.render_guarded(_guarded("started"), {})  # the parent's watcher runs
    endless = _guarded(
        "{% set l = [0] * 1000 %}"
        "{% for a in l %}{% for b in l %}{% for c in l %}{% endfor %}{% endfor %}{% endfor %}"
    )
    pid = os.fork()
    if pid == 0:  # the child: stopped in time -> 0, anything else -> 1
        code = 1
        try:
            template_guard.render_guarded(endless, {})
        except template_guard.TemplateLimit:
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:  # never stopped: a child with no watcher loops for ever
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's endless render was not stopped")
    assert os.waitstatus_to_exitcode(done[1]) == 0
