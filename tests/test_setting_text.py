"""Issue 10: the library names settings; the front end spells them as its flags.

A library message that names a setting is a SettingText (a ``str``); the command
line spells it with ``cli.app.flag``, so its text stays as it was."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

from matcue.cli.app import flag, message
from matcue.errors import SettingError, SettingText, spelled

SRC = Path(__file__).resolve().parents[1] / "src" / "matcue"
FLAG_RE = re.compile(r"(^|[\s(`'\"])--[a-z]")

FRONT_ENDS = {"cli", "studio"}
"""Their texts are theirs to spell."""
SPEECH_HINTS = {"speech"}
"""Engine hints are whole commands to type (docs/architecture.md says why)."""
STARTER = {"starter.py"}
"""The file ``matcue new`` writes teaches the command line in its comments (and
each kind's ``starter_example`` is a block of it)."""


def test_a_setting_text_is_its_text_with_the_settings_named_as_a_file_names_them() -> None:
    t = SettingText("{bed_volume} {v}: use {pace} or {x}", v=3, x="{pace}")
    assert t == "bed_volume 3: use pace or {pace}"  # a value is never a template
    assert t.settings == ("bed_volume", "pace")
    assert t.spelled(flag) == "--bed-volume 3: use --pace or {pace}"
    assert spelled("plain text", flag) == "plain text"
    assert flag("output") == "-o"


def test_a_setting_error_crosses_processes_with_its_settings() -> None:
    """A batch's errors and results are pickled back from the worker processes."""
    e = pickle.loads(pickle.dumps(SettingError.of("bed_volume", "expected less, got {1}")))
    assert isinstance(e, SettingError) and e.setting == "bed_volume"
    assert str(e) == "bed_volume: expected less, got {1}"
    assert message(e) == "--bed-volume: expected less, got {1}"
    assert e.exit_code == 2
    t = pickle.loads(pickle.dumps(SettingText("{minutes} {m:g}: about", m=30.0)))
    assert t.spelled(flag) == "--minutes 30: about"


def _flag_texts(source: str, name: str) -> list[str]:
    """String constants in ``source`` that say ``--something``, leaving out
    docstrings and the kinds' ``starter_example`` blocks."""
    tree = ast.parse(source)
    skip = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    } | {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "starter_example"
    }
    return [
        f"{name}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and FLAG_RE.search(node.value)
    ]


def test_no_library_message_names_a_flag() -> None:
    """A flag in a library message fails here: name the setting in a SettingText
    (or a SettingError) and let the front end spell it."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in FRONT_ENDS | SPEECH_HINTS | STARTER:
            continue
        found += _flag_texts(path.read_text(encoding="utf-8"), str(rel))
    assert found == []


def test_the_check_finds_a_flag_in_a_message() -> None:
    source = (
        '"""A module: --doc is fine."""\n'
        "def f(x):\n"
        '    """--doc too."""\n'
        '    raise ValueError(f"--breath: {x}")\n'
        'class K:\n    starter_example: str = "# --minutes teaches"\n'
        'HINT = "use a longer --count"\n'
    )
    found = _flag_texts(source, "bad.py")
    assert sorted(f.split(":")[1] for f in found) == ["4", "7"]
