"""Batch renders: several routines at once, one per core.

Each routine renders in a worker process of its own: the mix and the loudness
passes are CPU-bound Python and numpy that hold the GIL, so threads would not use
the cores (the MP3 encoder releases it, and runs in a thread of each render).
Results are reported as they finish. Ctrl-C or SIGTERM in the parent stops the
workers: each one that is mid-render turns the SIGTERM it is sent into a
KeyboardInterrupt, so its temporary ``.part`` file is removed and any earlier
file at its target is left as it was.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import STOP_SIGNALS
from .batch import render_one
from .errors import MatcueError, RenderError, Spell, as_written
from .pipeline import RenderResult

log = logging.getLogger(__name__)

MAX_WORKERS = 4
PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5
_STOPS = tuple(getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name))


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def _worker_init(parent: int) -> None:
    """Workers leave Ctrl-C to the parent (which stops them with SIGTERM), die
    quietly on SIGTERM while idle, and never outlive the parent: on Linux the kernel
    sends SIGTERM when it dies, even by SIGKILL (PR_SET_PDEATHSIG); elsewhere a
    thread watches the parent's pid."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not _death_signal():
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # died before the death signal was armed
        os._exit(1)


def _death_signal() -> bool:
    """Ask the kernel for SIGTERM when the parent dies (Linux); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)  # unwinds a render, ends an idle worker


def _job(
    name: str,
    overrides: dict[str, Any],
    output: Path | str | None,
    timeline_path: Path | str | None,
    transcript: bool,
    spell: Spell,
) -> RenderResult:
    # While rendering, SIGTERM (and every other stopping signal but Ctrl-C, which is
    # the parent's) unwinds, removing the .part files, instead of killing.
    parent = os.getppid()
    stops = [sig for sig in _STOPS if sig != signal.SIGINT]
    for sig in stops:
        signal.signal(sig, _raise_interrupt)
    try:
        # One synthesis process per job: the batch itself already fills the cores.
        return render_one(
            name, overrides, output, timeline_path, transcript, synth_workers=1, spell=spell
        )
    except KeyboardInterrupt:
        if os.getppid() != parent:  # the parent is gone: nobody to report to
            os._exit(1)
        raise
    finally:
        for sig in stops:
            signal.signal(sig, signal.SIG_DFL)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop every worker now: cancel what has not started, SIGTERM what runs."""
    # ProcessPoolExecutor has no public way to kill its workers before Python 3.14.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=10)
        if proc.is_alive():  # pragma: no cover - a worker stuck in C code
            proc.kill()
            proc.join(timeout=5)


def _describe(exc: BaseException) -> MatcueError:
    if isinstance(exc, MatcueError):
        return exc
    return RenderError(f"unexpected {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Job:
    """One render of a batch: what to render, with which settings, to where."""

    name: str
    """A built-in routine name, a routine file or a cue script."""
    overrides: dict[str, Any]
    output: Path | str | None
    timeline_path: Path | str | None = None
    transcript: bool = True


def render_parallel(
    names: list[str],
    overrides: dict[str, Any],
    *,
    output: Path | str | None,
    timeline_path: Path | str | None,
    transcript: bool,
    on_result: Callable[[str, RenderResult], None],
    on_failure: Callable[[str, MatcueError], None],
    workers: int | None = None,
    spell: Spell = as_written,
) -> list[tuple[str, MatcueError]]:
    """Render every name; ``on_result`` or ``on_failure`` hears of each one as it
    finishes. Returns the failures as ``(name, error)`` in the order they were given.
    ``spell`` (a module-level function: it goes to the worker processes) names a
    setting in the overrun advice."""
    jobs = [Job(n, overrides, output, timeline_path, transcript) for n in names]
    failures = render_jobs(
        jobs,
        on_result=lambda i, result: on_result(names[i], result),
        on_failure=lambda i, error: on_failure(names[i], error),
        workers=workers,
        spell=spell,
    )
    return [(names[i], error) for i, error in failures]


def render_jobs(
    jobs: list[Job],
    *,
    on_result: Callable[[int, RenderResult], None],
    on_failure: Callable[[int, MatcueError], None],
    workers: int | None = None,
    spell: Spell = as_written,
) -> list[tuple[int, MatcueError]]:
    """Render every job, one process per core; ``on_result`` or ``on_failure`` hears
    of each (by its index) as it finishes. Returns the failures as ``(index, error)``
    in the order the jobs were given."""
    failures: dict[int, MatcueError] = {}
    if workers is None:
        workers = max(1, min(len(jobs), os.cpu_count() or 1, MAX_WORKERS))
    log.debug("batch of %d renders on %d processes", len(jobs), workers)
    pool = ProcessPoolExecutor(
        max_workers=workers, initializer=_worker_init, initargs=(os.getpid(),)
    )
    try:
        futures: dict[Future[RenderResult], int] = {
            pool.submit(
                _job, j.name, j.overrides, j.output, j.timeline_path, j.transcript, spell
            ): i
            for i, j in enumerate(jobs)
        }
        for future in as_completed(futures):
            index = futures[future]
            try:
                result = future.result()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - every failure is reported
                error = _describe(exc)
                failures[index] = error
                on_failure(index, error)
                continue
            on_result(index, result)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return [(i, failures[i]) for i in sorted(failures)]
