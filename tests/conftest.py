"""Shared test set-up: a private phrase cache per test session, so tests never
read or fill the user's cache; a private folder for added voices, and a piper
voice catalogue address that cannot be reached, so no test touches the internet
(the tests of `matcue voices add` serve their own catalogue)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    private = {
        "MATCUE_CACHE_DIR": str(tmp_path_factory.mktemp("matcue-cache")),
        "MATCUE_VOICES_DIR": str(tmp_path_factory.mktemp("matcue-voices")),
        "MATCUE_PIPER_CATALOGUE": "http://127.0.0.1:9/no-catalogue/voices.json",
    }
    old = {name: os.environ.get(name) for name in private}
    os.environ.update(private)
    yield
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
