"""Batch renders: ``matcue render A B C -o DIR/`` renders each routine in a worker
process, reports each result, and exits non-zero when any of them failed
(2 when every failure is bad input, 1 otherwise).

Real subprocesses and real speech: the CLI as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from cli_process import run_cli

from matcue.batch import BatchError, plan_outputs
from matcue.errors import InputError, RenderError, ValidationError

BAD_ROUTINE = "name: broken\ntitle: Broken\nsteps:\n  - kind: nonsense\n"


def decoded_seconds(path: Path) -> float:
    info = sf.info(str(path))
    return info.frames / info.samplerate


def test_batch_writes_and_reports_each_routine(tmp_path: Path) -> None:
    out = tmp_path / "sessions"
    r = run_cli(["render", "desk-break", "retrain", "-o", f"{out}/"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    for name in ("desk-break", "retrain"):
        mp3 = out / f"{name}.mp3"
        assert mp3.is_file() and (out / f"{name}.vtt").is_file()
        assert decoded_seconds(mp3) > 60
        (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith(f"wrote {mp3}")]
        assert line.startswith(f"wrote {mp3} + {name}.vtt (")
    assert sorted(p.name for p in out.iterdir()) == [
        "desk-break.mp3",
        "desk-break.vtt",
        "retrain.mp3",
        "retrain.vtt",
    ]


def test_batch_with_a_bad_routine_still_writes_the_good_one(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD_ROUTINE, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli(["render", "desk-break", str(bad), "-o", f"{out}/", "--no-transcript"], tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    # The bad one: its validation problem, once, as file:line: field: message.
    problems = [ln for ln in lines if ln.startswith(f"{bad}:")]
    assert len(problems) == 1 and "steps[0].kind" in problems[0] and "nonsense" in problems[0]
    assert any(ln.startswith(f"wrote {out / 'desk-break.mp3'}") for ln in lines)
    assert lines[-1] == f"matcue: 1 of 2 routines failed: {bad}"
    assert decoded_seconds(out / "desk-break.mp3") > 60
    assert sorted(p.name for p in out.iterdir()) == ["desk-break.mp3"]


def test_batch_of_input_errors_exits_2_and_names_each(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD_ROUTINE, encoding="utf-8")
    r = run_cli(["render", str(bad), "no-such-routine", "-o", f"{tmp_path}/"], tmp_path)
    assert r.returncode == 2
    assert "matcue: no-such-routine: no built-in routine of that name" in r.stderr
    assert r.stderr.splitlines()[-1] == (f"matcue: 2 of 2 routines failed: {bad}, no-such-routine")


def test_batch_error_exit_code_rule() -> None:
    only_input = BatchError(3, [("a", InputError("x")), ("b", ValidationError(["f:1: k: m"]))])
    assert only_input.exit_code == 2
    mixed = BatchError(3, [("a", InputError("x")), ("b", RenderError("engine crashed"))])
    assert mixed.exit_code == 1
    assert str(mixed) == "2 of 3 routines failed: a, b"


def test_several_routines_need_a_folder_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be a folder"):
        plan_outputs(["a", "b"], tmp_path / "x.mp3", None)
    # A name without an audio suffix is a folder to create; a str keeps its slash.
    assert plan_outputs(["a", "b"], tmp_path / "new", None) == [tmp_path / "new"] * 2
    assert plan_outputs(["a"], f"{tmp_path}/x/", None) == [tmp_path / "x"]


def test_batch_renders_in_worker_processes(tmp_path: Path) -> None:
    """The work happens in child processes: their CPU time (accounted to us once
    the pool has joined them) grows by the cost of the renders, and errors come
    back across the process boundary with their type intact."""
    import resource

    from matcue import parallel
    from matcue.cli.rendering import report

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seen: list[str] = []
    failures = parallel.render_parallel(
        ["desk-break", "no-such-routine"],
        {},
        output=f"{tmp_path}/",
        timeline_path=None,
        transcript=False,
        on_result=lambda _name, result: report(result, seen.append, False),
        on_failure=lambda name, error: seen.append(f"{name}: {error}"),
        workers=2,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert [name for name, _ in failures] == ["no-such-routine"]
    assert isinstance(failures[0][1], InputError)
    assert [s for s in seen if s.startswith("wrote ")] == [
        # The length follows the speech (2:36 before desk-break's third setup line,
        # 2:41 before issue 11's rate calibration slowed eSpeak's sessions from 171
        # to 156 wpm at the default rate).
        f"wrote {tmp_path / 'desk-break.mp3'} (2:43)"
    ]
    assert after.ru_utime - before.ru_utime > 0.3


def test_single_routine_into_a_new_folder_keeps_the_trailing_slash(tmp_path):
    from click.testing import CliRunner

    from matcue.cli import main

    r = CliRunner().invoke(
        main, ["render", "desk-break", "-o", f"{tmp_path}/new/", "--no-transcript"]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "new" / "desk-break.mp3").is_file()


def test_two_routines_with_one_name_are_refused_before_any_work(tmp_path: Path) -> None:
    """Both would be written as NAME.mp3 in the one folder, the last one winning."""
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    for f, words in ((a, "One"), (b, "Two")):
        f.write_text(f"name: same\ntitle: {words}\nsteps:\n  - kind: say\n    text: {words}.\n")
    out = tmp_path / "out"
    r = run_cli(["render", str(a), str(b), "-o", f"{out}/"], tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        f"matcue: {a} and {b} would both be written as 'same' in the same folder; "
        "render them separately, or give one routine another 'name'"
    ]
    assert not out.exists()
    r = run_cli(["render", "desk-break", "desk-break", "-o", f"{out}/"], tmp_path)
    assert r.returncode == 2 and "both be written as 'desk-break'" in r.stderr
