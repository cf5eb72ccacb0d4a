"""Every bad routine in tests/corpus/ gives exactly the problems in its .expected file.

The .expected files were written by hand-checking each message: file, line,
field and wording. Paths are relative to the repository root, as a user would
type them, so the test runs from there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from matcue.errors import InputError, ValidationError
from matcue.routine import load_routine
from matcue.routine.rounds import ROUTINE_KINDS
from matcue.yamlsafe import MAX_BYTES

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "tests" / "corpus").glob("*.yaml"))


def expected_problems(bad: Path) -> list[str]:
    """The lines of ``bad``'s .expected file. ``{kinds}`` there stands for the step
    kinds the messages list (the registry's, so adding a step kind changes no test)."""
    text = bad.with_suffix(".expected").read_text(encoding="utf-8")
    return text.replace("{kinds}", ", ".join(ROUTINE_KINDS)).splitlines()


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 25
    assert ROUTINE_KINDS[:7] == ("say", "transition", "breath", "hold", "reps", "rest", "flow")
    assert ROUTINE_KINDS[-1] == "rounds"
    for bad in CORPUS:
        assert bad.with_suffix(".expected").is_file(), f"{bad.name} has no .expected file"


@pytest.mark.parametrize("bad", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_file(bad: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    relative = Path("tests/corpus") / bad.name
    expected = expected_problems(bad)
    with pytest.raises(ValidationError) as info:
        load_routine(relative)
    assert info.value.problems == expected
    assert str(info.value) == "\n".join(expected)
    assert info.value.exit_code == 2


def test_problems_are_sorted_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(ValidationError) as info:
        load_routine(Path("tests/corpus/several-problems.yaml"))
    lines = [int(p.split(":")[1]) for p in info.value.problems]
    assert lines == sorted(lines)
    assert len(lines) >= 8


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InputError) as info:
        load_routine(missing)
    assert not isinstance(info.value, ValidationError)
    assert str(info.value) == f"{missing}: no such file"
    assert info.value.exit_code == 2


def test_directory_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_routine(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a routine file"
    assert "\n" not in str(info.value)


def test_file_over_one_mib_is_refused_unread(tmp_path: Path) -> None:
    # Built here rather than committed: the corpus should stay small.
    big = tmp_path / "big.yaml"
    line = "# " + "x" * 97 + "\n"
    big.write_text("title: Big\n" + line * (MAX_BYTES // len(line) + 10), encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_routine(big)
    assert info.value.problems == [
        f"{big}:1: -: the file is larger than 1024 KiB (the limit for a routine file is 1 MiB)"
    ]


def test_file_just_under_the_limit_loads(tmp_path: Path) -> None:
    ok = tmp_path / "padded.yaml"
    body = "title: Padded\nsteps:\n  - kind: say\n    text: hi\n"
    pad = MAX_BYTES - len(body.encode()) - 1
    ok.write_text(body + "#" * pad + "\n", encoding="utf-8")
    assert ok.stat().st_size == MAX_BYTES
    assert load_routine(ok).title == "Padded"
