"""Shared set-up for the studio tests: the real app over a temporary workspace,
driven in process through Starlette's TestClient."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from matcue.studio import Studio  # noqa: E402

BASE = "http://127.0.0.1:8765"
ORIGIN = {"Origin": BASE}
TIMEOUT = 240


def headers(studio: Studio) -> dict[str, str]:
    """What the studio's own pages send with a change: same origin and the token."""
    return {**ORIGIN, "X-CSRF-Token": studio.csrf_token}


def events(client: TestClient, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every server-sent event of a job until its stream ends."""
    out = []
    with client.stream("GET", f"/jobs/{job_id}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                out.append((kind or "message", json.loads(line[len("data: ") :])))
    return out


def wait(studio: Studio, job_id: str, states: tuple[str, ...] = ("done", "failed", "cancelled")):
    """Poll a job until it reaches one of ``states`` (bounded, not a timing assertion)."""
    job = studio.runner.jobs[job_id]
    deadline = time.monotonic() + TIMEOUT
    while job.state not in states:
        assert time.monotonic() < deadline, f"job stuck in {job.state}"
        time.sleep(0.05)
    return job
