"""Parent side of the pyttsx3 helper processes (see :mod:`matcue.speech._tts_helper`).

A :class:`HelperPool` speaks requests in helper processes so that every phrase
starts from a pristine speech library and its clip depends only on its text and
settings:

- ``fork`` isolation (Linux): zygote processes, each forking one child per
  phrase. A zygote serves one request at a time; the pool starts another zygote
  whenever all are busy, so N threads speaking at once use N zygotes.
- ``subprocess`` isolation (platforms without fork, e.g. Windows and macOS): a
  fresh interpreter per phrase. Deterministic, about 140 ms slower per phrase.

Helpers never outlive their parent: a zygote exits when its stdin closes (which
the kernel does when the parent dies, also on SIGKILL/SIGTERM) and kills its
current child; children die with their zygote (PR_SET_PDEATHSIG). ``close()``
and interpreter exit stop them explicitly. Helper stderr goes to a private
temporary file, read only to explain a helper that died.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path
from typing import IO, Any

from matcue.errors import SpeechError
from matcue.speech import _tts_helper as proto

logger = logging.getLogger(__name__)

HELPER_SCRIPT = Path(proto.__file__).resolve()
START_TIMEOUT_S = 60.0
ISOLATIONS = ("fork", "subprocess")


def default_isolation() -> str:
    """The isolation to use: "fork" where a zygote can fork (Linux), else "subprocess"."""
    if sys.platform.startswith("linux") and hasattr(os, "fork"):
        return "fork"
    return "subprocess"


def _stderr_tail(fh: IO[bytes] | None, limit: int = 2000) -> str:
    if fh is None:
        return ""
    with contextlib.suppress(OSError, ValueError):
        fh.seek(0)
        return fh.read().decode("utf-8", "replace").strip()[-limit:]
    return ""


def _helper_command(mode: str, library: str) -> list[str]:
    return [sys.executable, str(HELPER_SCRIPT), mode, library]


def _popen(
    mode: str, library: str, stderr: IO[bytes], tmpdir: str | None = None
) -> subprocess.Popen[bytes]:
    env = None
    if tmpdir is not None:
        # The helper's scratch folders go inside the pool's own folder, which the
        # pool removes on close: a helper killed mid-phrase cannot clean up after
        # itself, and left empty matcue-tts-* folders in the system temp folder.
        env = {**os.environ, "TMPDIR": tmpdir}
    return subprocess.Popen(
        _helper_command(mode, library),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        # Not in the terminal's process group: Ctrl-C is the parent's to handle.
        start_new_session=True,
    )


class _Zygote:
    """One zygote process; one request at a time (the pool guarantees it)."""

    def __init__(self, library: str, tmpdir: str | None = None) -> None:
        self._stderr = tempfile.TemporaryFile(prefix="matcue-tts-")
        self.proc = _popen("zygote", library, self._stderr, tmpdir)
        self.child_pid: int | None = None
        try:
            hello, _ = self._read_reply()
        except (EOFError, OSError, ValueError) as exc:
            self.kill()
            raise SpeechError(self._died("could not start", exc)) from exc
        if not hello.get("ok"):
            self.kill()
            raise SpeechError(f"the pyttsx3 helper could not start: {hello.get('error')}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_reply(self) -> tuple[dict[str, Any], bytes]:
        assert self.proc.stdout is not None
        return proto.read_reply(self.proc.stdout)

    def _died(self, what: str, exc: BaseException) -> str:
        code = self.proc.poll()
        detail = _stderr_tail(self._stderr)
        msg = f"the pyttsx3 helper {what} ({exc}; exit code {code})"
        return f"{msg}: {detail}" if detail else msg

    def speak(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(proto.pack(json.dumps(request).encode("utf-8")))
            self.proc.stdin.flush()
            return self._read_reply()
        except (EOFError, OSError, ValueError) as exc:
            self.kill()
            raise SpeechError(
                f"pyttsx3 failed to speak {request['text']!r}: {self._died('died', exc)}"
            ) from exc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, *, kill: bool = False, timeout: float = 5.0) -> None:
        """Close stdin (the zygote exits, killing any child) and reap it."""
        if kill:
            with contextlib.suppress(OSError):
                self.proc.kill()
        if self.proc.stdin is not None and not kill:
            # Say goodbye first: end of input without it means the parent died, and
            # the zygote then removes the pool's scratch folder itself.
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdin.write(proto.pack(json.dumps(proto.GOODBYE).encode()))
                self.proc.stdin.flush()
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        with contextlib.suppress(OSError):
            self._stderr.close()

    def kill(self) -> None:
        self.close(kill=True)

    def forget(self) -> None:
        """In a forked copy of the parent: drop our copies of the pipes, touch nothing."""
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()


class HelperPool:
    """Speaks requests in pristine helper processes; safe to use from many threads."""

    def __init__(self, library: str, *, isolation: str | None = None) -> None:
        isolation = isolation or default_isolation()
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}")
        if isolation == "fork" and not hasattr(os, "fork"):
            raise ValueError("fork isolation needs os.fork, which this platform lacks")
        self.library = library
        self.isolation = isolation
        # Made when the first helper starts: an engine made only to list voices, or
        # one whose process is killed before it speaks, leaves no folder behind.
        self.tmpdir: str | None = None
        self._lock = threading.Lock()
        self._idle: list[_Zygote] = []
        self._all: list[_Zygote] = []
        self._once: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        _POOLS.add(self)

    # -- speaking

    def speak(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """(header, audio file bytes) for one request; SpeechError if a helper fails."""
        if self.isolation == "subprocess":
            return self._speak_once(request)
        zygote = self._checkout()
        try:
            result = zygote.speak(request)
        except BaseException:
            self._discard(zygote)
            raise
        self._checkin(zygote)
        return result

    def _checkout(self) -> _Zygote:
        dead: list[_Zygote] = []
        try:
            with self._lock:
                if self._closed:
                    raise SpeechError("the pyttsx3 helpers were closed")
                while self._idle:
                    zygote = self._idle.pop()
                    if zygote.alive():
                        return zygote
                    self._all.remove(zygote)
                    dead.append(zygote)
        finally:
            for zygote in dead:
                zygote.kill()  # reap it and close its pipes (no leaked files)
        scratch = self._scratch()
        zygote = _Zygote(self.library, scratch)  # outside the lock: starting takes ~0.1 s
        with self._lock:
            self._all.append(zygote)
            closed = self._closed
        if closed:
            self._discard(zygote)
            raise SpeechError("the pyttsx3 helpers were closed")
        logger.debug("started pyttsx3 zygote %d (%d running)", zygote.pid, len(self._all))
        return zygote

    def _checkin(self, zygote: _Zygote) -> None:
        with self._lock:
            if not self._closed and zygote in self._all:
                self._idle.append(zygote)
                return
        zygote.kill()

    def _discard(self, zygote: _Zygote) -> None:
        with self._lock:
            if zygote in self._all:
                self._all.remove(zygote)
        zygote.kill()

    def _scratch(self) -> str | None:
        """The pool's scratch folder (the helpers' TMPDIR), made on first use."""
        with self._lock:
            return self._scratch_locked()

    def _scratch_locked(self) -> str | None:
        if self.tmpdir is None and not self._closed:
            self.tmpdir = tempfile.mkdtemp(prefix="matcue-tts-")
        return self.tmpdir

    def _speak_once(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        with tempfile.TemporaryFile(prefix="matcue-tts-") as err:
            with self._lock:
                if self._closed:
                    raise SpeechError("the pyttsx3 helpers were closed")
                proc = _popen("once", self.library, err, self._scratch_locked())
                self._once.add(proc)
            try:
                timeout = float(request.get("timeout") or 30.0) + proto.GRACE_S
                try:
                    out, _ = proc.communicate(
                        proto.pack(json.dumps(request).encode("utf-8")), timeout=timeout
                    )
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    raise SpeechError(
                        f"pyttsx3 failed to speak {request['text']!r}: the speech process hung"
                    ) from None
            finally:
                with self._lock:
                    self._once.discard(proc)
            reply = proto.split_reply(out)
            if reply is None:
                detail = _stderr_tail(err)
                raise SpeechError(
                    f"pyttsx3 failed to speak {request['text']!r}: the speech process "
                    f"exited with code {proc.returncode}" + (f": {detail}" if detail else "")
                )
            return reply

    # -- lifecycle

    def pids(self) -> list[int]:
        """Process ids of running helpers (for tests that check none is left behind)."""
        with self._lock:
            return [z.pid for z in self._all] + [p.pid for p in self._once]

    def close(self, *, kill: bool = False) -> None:
        """Stop every helper; ``kill`` also stops phrases in progress at once."""
        with self._lock:
            self._closed = True
            zygotes, self._all, self._idle = self._all, [], []
            once = list(self._once)
        for proc in once:
            with contextlib.suppress(OSError):
                proc.kill()
        for zygote in zygotes:
            # A busy zygote's thread is blocked reading its reply: kill it so
            # that thread gets an error now instead of waiting for the phrase.
            zygote.close(kill=kill)
        _POOLS.discard(self)
        tmpdir, self.tmpdir = self.tmpdir, None
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __del__(self) -> None:
        # An engine dropped without close(): stop its helpers now, not at exit.
        with contextlib.suppress(Exception):
            if self._all or self._once or self.tmpdir is not None:
                self.close(kill=True)

    def _forget_after_fork(self) -> None:
        # The child has one thread; the lock may have been held by another
        # thread of the parent at fork time, so it is replaced, not taken.
        self._lock = threading.Lock()
        zygotes, self._all, self._idle = self._all, [], []
        self._once = set()
        self._closed = True
        self.tmpdir = None  # the parent's to remove, not this copy's
        for zygote in zygotes:
            zygote.forget()


_POOLS: weakref.WeakSet[HelperPool] = weakref.WeakSet()


@atexit.register
def close_all() -> None:
    """Stop every pool's helpers and remove their scratch folders (also at exit)."""
    for pool in list(_POOLS):
        with contextlib.suppress(Exception):
            pool.close(kill=True)


def _after_fork_in_child() -> None:
    # A forked copy of this process (e.g. a multiprocessing "fork" worker) must
    # not hold the pipes to our zygotes: they would outlive us, and it must not
    # talk to them either. It starts its own helpers when it needs some.
    for pool in list(_POOLS):
        pool._forget_after_fork()
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["HelperPool", "close_all", "default_isolation", "ISOLATIONS"]
