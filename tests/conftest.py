"""Shared test set-up: a private phrase cache per test session, so tests never
read or fill the user's cache."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    old = os.environ.get("MATCUE_CACHE_DIR")
    os.environ["MATCUE_CACHE_DIR"] = str(tmp_path_factory.mktemp("matcue-cache"))
    yield
    if old is None:
        os.environ.pop("MATCUE_CACHE_DIR", None)
    else:
        os.environ["MATCUE_CACHE_DIR"] = old
