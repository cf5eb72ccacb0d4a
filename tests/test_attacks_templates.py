"""Attacks through user templates (``--templates``): time, size, depth, numbers,
filters, and files outside the template folder (issue 14).

Before issue 14 the sandbox stopped none of these: a loop ran for ever, a
template built gigabytes, recursion ended in a traceback, ``9 ** 9 ** 9`` hung,
and a symlink in the template folder read any file into the cue script.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from matcue import limits
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
