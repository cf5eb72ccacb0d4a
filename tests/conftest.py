"""Shared test set-up.

- A private phrase cache per test session, so tests never read or fill the
  user's cache.
- A private folder for added voices, and a piper voice catalogue address that
  cannot be reached, so no test touches the internet (the tests of `matcue
  voices add` serve their own catalogue).
- MATCUE_ENGINE=pyttsx3: the default engine is `auto` (piper with the bundled
  Joe) since issue 11; `auto` stands for pyttsx3 in the suite, so that tests
  about timing, mixing, output and the CLI, written against pyttsx3, keep it,
  and the suite stays within its 10 minutes on 2 cores (a piper worker takes
  about 2 s to start per render). tests/test_voice_natural.py removes it to
  test the real default; the piper path is also tested with the tiny model.
- A private temporary folder for the whole run (TMPDIR), checked when the run
  ends: anything left in it other than pytest's own folder fails the run. This
  guards the bug where the suite left empty ``matcue-tts-*`` folders in the
  system temp folder (pyttsx3 helpers killed mid-phrase could not clean up).
  The folder is removed afterwards, so the suite leaves nothing behind.
"""

from __future__ import annotations

import getpass
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_RUN_TMP_KEY = "MATCUE_TEST_RUN_TMP"


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")  # xdist workers have workerinput


def pytest_configure(config: pytest.Config) -> None:
    if not _is_controller(config) or os.environ.get(_RUN_TMP_KEY):
        return
    run_tmp = tempfile.mkdtemp(prefix="matcue-test-run-")
    os.environ[_RUN_TMP_KEY] = run_tmp
    os.environ["TMPDIR"] = run_tmp  # inherited by xdist workers and helper processes
    tempfile.tempdir = None  # re-read TMPDIR in this process


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run_tmp = os.environ.get(_RUN_TMP_KEY)
    if not _is_controller(config) or not run_tmp or not Path(run_tmp).is_dir():
        return
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name: pytest uses "unknown"
        user = "unknown"
    # pytest's own folder. (onnxruntime's telemetry file ".ses" is not allowed:
    # matcue turns that telemetry off before importing it.)
    ours = {f"pytest-of-{user}", "pytest-of-unknown"}
    left = sorted(
        p.name + ("/" if p.is_dir() else "") for p in Path(run_tmp).iterdir() if p.name not in ours
    )
    if left:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        message = f"the test run left files in the temporary folder: {shown}"
        if reporter is not None:
            reporter.write_line(f"FAILED temp-folder check: {message}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    shutil.rmtree(run_tmp, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    private = {
        "MATCUE_CACHE_DIR": str(tmp_path_factory.mktemp("matcue-cache")),
        "MATCUE_VOICES_DIR": str(tmp_path_factory.mktemp("matcue-voices")),
        "MATCUE_PIPER_CATALOGUE": "http://127.0.0.1:9/no-catalogue/voices.json",
        "MATCUE_ENGINE": "pyttsx3",
    }
    old = {name: os.environ.get(name) for name in private}
    os.environ.update(private)
    yield
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
