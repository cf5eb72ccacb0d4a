"""Renders in the background, one at a time, the rest queued.

A render takes both cores for seconds to minutes, so the studio runs one at a
time (and so never two of the same routine); the others wait in order. Each job
reports its progress through the library's progress callback, which is also
where a cancelled job stops: the callback raises, and the render unwinds as it
does on Ctrl-C, leaving no half-written file.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MatcueError
from ..writers import DEFAULT_FORMAT, writer_for
from . import service
from .workspace import Workspace

log = logging.getLogger(__name__)


FINAL_STATES = ("done", "failed", "cancelled")
"""The states a job ends in."""


@dataclass
class Job:
    id: str
    routine: str
    """What is rendered: a built-in name or ``workspace:NAME``."""
    arg: str
    """The argument ``matcue render`` would get: a built-in name or a file path."""
    name: str
    overrides: dict[str, Any]
    state: str = "queued"
    """queued, running, done, failed or cancelled."""
    stage: str = ""
    fraction: float = 0.0
    message: str = ""
    render_id: str | None = None
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "routine": self.routine,
            "state": self.state,
            "stage": self.stage,
            "percent": int(self.fraction * 100),
            "message": self.message,
            "render": self.render_id,
        }

    @property
    def over(self) -> bool:
        return self.state in FINAL_STATES


class Runner:
    """One worker thread that renders the queued jobs in order."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.paused = threading.Event()
        """While set, the worker takes no new job (tests use it to queue several)."""
        self._thread: threading.Thread | None = None

    def submit(self, routine: str, arg: str, name: str, overrides: dict[str, Any]) -> Job:
        with self._lock:
            job = Job(
                id=f"job{next(self._ids)}", routine=routine, arg=arg, name=name, overrides=overrides
            )
            self.jobs[job.id] = job
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="matcue-studio-render", daemon=True
                )
                self._thread.start()
        self._queue.put(job)
        return job

    def active(self, routine: str) -> list[Job]:
        return [j for j in self.jobs.values() if j.routine == routine and not j.over]

    def cancel(self, job: Job) -> None:
        job.cancel.set()
        if job.state == "queued":
            self._finish(job, "cancelled", "cancelled before it started")

    def stop(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _work(self) -> None:
        while True:
            while self.paused.is_set():
                time.sleep(0.05)
            job = self._queue.get()
            if job is None:
                return
            if job.over:  # cancelled while queued
                continue
            self._run(job)

    def _update(self, job: Job, **changes: Any) -> None:
        with job.changed:
            for key, value in changes.items():
                setattr(job, key, value)
            job.changed.notify_all()

    def _finish(self, job: Job, state: str, message: str = "") -> None:
        self._update(job, state=state, message=message, finished=time.monotonic())

    def _run(self, job: Job) -> None:
        if job.cancel.is_set():
            self._finish(job, "cancelled", "cancelled before it started")
            return
        self._update(job, state="running", started=time.monotonic())
        render_id, folder = self.workspace.new_render_dir(job.name)

        def progress(stage: str, fraction: float) -> None:
            if job.cancel.is_set():
                raise service.Cancelled()
            if stage != job.stage or fraction - job.fraction >= 0.01:
                self._update(job, stage=stage, fraction=fraction)

        fmt = job.overrides.get("format") or DEFAULT_FORMAT
        output = folder / f"{job.name}{writer_for(fmt).suffixes[0]}"
        try:
            result = service.render(
                job.arg, job.overrides, output, folder / f"{job.name}.json", progress
            )
        except service.Cancelled:
            shutil.rmtree(folder, ignore_errors=True)
            self._finish(job, "cancelled", "cancelled")
            return
        except MatcueError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            self._finish(job, "failed", service.one_line(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the user; the server goes on
            log.exception("render failed")
            shutil.rmtree(folder, ignore_errors=True)
            self._finish(job, "failed", f"matcue: internal error: {exc}")
            return
        meta = {
            "routine": job.routine,
            "name": job.name,
            "title": result.title,
            "settings": {k: v for k, v in job.overrides.items() if k != "bed"}
            | ({"bed": Path(job.overrides["bed"]).name} if "bed" in job.overrides else {}),
            "created": time.strftime("%Y-%m-%d %H:%M"),
            "duration": result.duration,
            "audio": result.output.name,
            "transcript": result.transcript.name if result.transcript else None,
            "timeline": result.timeline_json.name if result.timeline_json else None,
            "chapters": result.chapters,
            "warnings": result.warnings,
            "changes": result.changes,
        }
        (folder / "render.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        self._update(job, render_id=render_id, fraction=1.0)
        self._finish(job, "done")
