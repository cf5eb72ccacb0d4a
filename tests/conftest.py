"""Shared test set-up: a private phrase cache per test session, so tests never
read or fill the user's cache; a private folder for added voices, and a piper
voice catalogue address that cannot be reached, so no test touches the internet
(the tests of `matcue voices add` serve their own catalogue).

The default engine is `auto` (piper with the bundled Joe) since issue 11. The
suite sets MATCUE_ENGINE=pyttsx3, the engine `auto` stands for, so that tests
about timing, mixing, output and the CLI, which were written against pyttsx3,
keep it, and the suite stays within its 10 minutes on 2 cores (a piper worker
takes about 2 s to start per render). The tests of the default itself
(tests/test_voice_natural.py) remove it; the piper path is tested with the
real bundled voice there and with the tiny generated model elsewhere."""

from __future__ import annotations

import os

import pytest


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
