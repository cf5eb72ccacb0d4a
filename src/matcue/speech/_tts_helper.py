"""The pyttsx3 helper process: every phrase is spoken by a pristine speech library.

Why: espeak-ng keeps state between utterances that is never reset (its pitch
"flutter" phase, a function-level static in ``wavegen.c``), so a phrase spoken
after other phrases differs from the same phrase spoken first. matcue promises
byte-identical output for the same routine and settings however the cache was
warmed and however phrases were spread over workers, so every clip must be a
pure function of (engine, version, voice, rate, volume, text).

How: this file runs as a separate interpreter (``python _tts_helper.py``), never
imported into it by matcue's package (which would pull in numpy). It imports only
the standard library, ctypes and pyttsx3, loads libespeak-ng but does NOT
initialise it, and starts no threads. Two modes:

- ``zygote`` (Linux): a loop that reads one request at a time on stdin and
  ``os.fork()``s a child per request. The child initialises espeak through
  pyttsx3, speaks the one phrase into a file, sends the file's bytes back on a
  pipe and ``os._exit``s. Forking from a process that never touched espeak gives
  each phrase exactly the state of a fresh process, at the cost of a fork
  (~1 ms) plus espeak's initialisation instead of a new interpreter (~140 ms).
- ``once`` (platforms without fork, or when forced): speak the single request
  read on stdin in this process, reply on stdout, exit.

Protocol (stdin/stdout, binary): a message is a 4-byte big-endian length and
that many bytes. A request is one message of UTF-8 JSON
``{"text", "voice", "rate", "volume", "driver", "timeout"}``. A reply is two
messages: UTF-8 JSON ``{"ok": true, "rate": <espeak's real rate or 0>}`` or
``{"ok": false, "error": "..."}``, then the audio file's bytes (empty on error).
In zygote mode the helper first sends a hello reply (``{"ok": true, "pid": ...}``
and no audio, or an error saying why it could not start).

Output hygiene: the child points fds 1 and 2 at /dev/null before speaking, so
the driver's "Audio saved to ..." and espeak's own messages never reach the
user's terminal; the parent starts the helper with stderr to a private file.
"""

# This module must stay importable without numpy or matcue: stdlib only here.
from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import select
import signal
import struct
import sys
import tempfile
import threading
import time
from typing import IO, Any

_LEN = struct.Struct(">I")
POLL_S = 0.005
GRACE_S = 15.0
"""Extra time the zygote gives a child beyond the request's own timeout before
killing it (a hung child must become an error, not a hang)."""


# --- framing (also used by the parent side) -----------------------------------


def pack(payload: bytes) -> bytes:
    return _LEN.pack(len(payload)) + payload


def pack_reply(header: dict[str, Any], audio: bytes = b"") -> bytes:
    return pack(json.dumps(header).encode("utf-8")) + pack(audio)


def read_exact(stream: IO[bytes], n: int) -> bytes:
    """``n`` bytes from ``stream``; EOFError if it ends first."""
    chunks = []
    while n > 0:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError("the stream ended")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(stream: IO[bytes]) -> bytes:
    (n,) = _LEN.unpack(read_exact(stream, _LEN.size))
    return read_exact(stream, n)


def read_reply(stream: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    header = json.loads(read_message(stream).decode("utf-8"))
    return header, read_message(stream)


def split_reply(blob: bytes) -> tuple[dict[str, Any], bytes] | None:
    """Parse a complete reply from bytes; None if it is incomplete or malformed."""
    try:
        (n,) = _LEN.unpack_from(blob, 0)
        header = json.loads(blob[4 : 4 + n].decode("utf-8"))
        (m,) = _LEN.unpack_from(blob, 4 + n)
        audio = blob[8 + n :]
    except (struct.error, ValueError):
        return None
    if len(audio) != m or not isinstance(header, dict):
        return None
    return header, audio


# --- library loading ------------------------------------------------------------


def load_library(path: str) -> None:
    """Load libespeak-ng from ``path`` (chosen by the parent's ``ensure_libespeak``)
    with RTLD_GLOBAL, so that pyttsx3's ``dlopen("libespeak-ng.so.1")`` finds it,
    then import the driver (which does not initialise espeak)."""
    if path:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    import pyttsx3  # noqa: F401
    import pyttsx3.drivers  # noqa: F401

    if path:
        from pyttsx3.drivers import _espeak, espeak  # noqa: F401


# --- speaking one phrase -----------------------------------------------------------


def _frames(data: bytes) -> int:
    """Sample frames in a WAV or AIFF byte string (0 if incomplete or unknown)."""
    try:
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            pos, align = 12, 0
            while pos + 8 <= len(data):
                cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
                if cid == b"fmt ":
                    align = struct.unpack_from("<H", data, pos + 8 + 12)[0]
                elif cid == b"data":
                    size = min(size, len(data) - pos - 8)
                    return size // align if align else 0
                pos += 8 + size + (size & 1)
        elif data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
            pos = 12
            while pos + 8 <= len(data):
                cid, size = data[pos : pos + 4], struct.unpack_from(">I", data, pos + 4)[0]
                if cid == b"COMM":
                    return int(struct.unpack_from(">I", data, pos + 10)[0])
                pos += 8 + size + (size & 1)
    except struct.error:
        return 0
    return 0


def _wait_for_file(path: str, finished: threading.Event, deadline: float) -> bytes:
    """Wait until ``path`` is a complete clip with frames (see pyttsx3_engine)."""
    last_size = -1
    problem = "the driver wrote no file"
    while True:
        size = os.path.getsize(path) if os.path.exists(path) else -1
        if size > 0 and (finished.is_set() or size == last_size):
            with open(path, "rb") as fh:
                data = fh.read()
            if _frames(data) > 0:
                return data
            problem = "the file has no audio frames"
        elif size == 0:
            problem = "the file is empty"
        if time.monotonic() > deadline:
            raise TimeoutError(problem)
        last_size = size
        time.sleep(POLL_S)


def _confirm_espeak_settings(set_property: Any, wanted: list[tuple[str, Any]]) -> None:
    """Check that espeak holds the rate and volume we set; set them again if not.

    espeak applies settings on its own thread. Raw pyttsx3 was once seen on a
    loaded CI machine speaking at espeak's built-in 175 wpm although 200 had
    been set, so a clip is never made until espeak reports the values asked for.
    """
    from pyttsx3.drivers import _espeak

    get = _espeak.dll.espeak_GetParameter
    get.restype = ctypes.c_int
    get.argtypes = [ctypes.c_int, ctypes.c_int]
    expected = {
        name: (_espeak.RATE, int(value))
        if name == "rate"
        else (_espeak.VOLUME, int(round(float(value) * 100, 2)))
        for name, value in wanted
        if value is not None and name in ("rate", "volume")
    }
    for attempt in range(3):
        wrong = [name for name, (param, value) in expected.items() if get(param, 1) != value]
        if not wrong:
            return
        if attempt < 2:
            for name in wrong:
                set_property(name, dict(wanted)[name])
            _espeak.Synchronize()
    raise RuntimeError(f"espeak did not take the {' and '.join(wrong)} asked for")


def speak(request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Speak one request in this (pristine) process: (header, audio file bytes).

    One utterance per ``runAndWait``, settings applied through the driver and
    synchronised (pyttsx3's queue drops them at random), a bounded wait for a
    complete file, the real rate from espeak. Errors become ``ok: false``.
    """
    import pyttsx3

    text = str(request["text"])
    driver = str(request.get("driver") or "espeak")
    timeout = float(request.get("timeout") or 30.0)
    finished = threading.Event()
    errors: list[str] = []
    said = io.StringIO()
    try:
        with (
            contextlib.redirect_stdout(said),
            tempfile.TemporaryDirectory(prefix="matcue-tts-") as tmp,
        ):
            engine = pyttsx3.init(driver)
            engine.connect("finished-utterance", lambda **_kw: finished.set())
            engine.connect(
                "error", lambda exception=None, **_kw: errors.append(str(exception or "error"))
            )
            voice, rate, volume = request.get("voice"), request.get("rate"), request.get("volume")
            wanted = [
                ("voice", voice or None),
                ("rate", int(rate) if rate is not None else None),
                ("volume", float(volume) if volume is not None else None),
            ]
            set_property = engine.setProperty
            if driver == "espeak":
                from pyttsx3.drivers import _espeak
                from pyttsx3.drivers.espeak import EspeakDriver

                # On the driver directly, synchronised: through pyttsx3's queue a
                # setting can be dropped (its end-of-run cancels pending commands).
                set_property = EspeakDriver.setProperty
                _espeak.Synchronize()
            for name, value in wanted:
                if value is not None:
                    set_property(name, value)
            if driver == "espeak":
                _espeak.Synchronize()
                _confirm_espeak_settings(set_property, wanted)
            path = os.path.join(tmp, "clip.wav")
            engine.save_to_file(text, path)
            engine.runAndWait()
            deadline = time.monotonic() + timeout
            # runAndWait may return before the driver wrote the file.
            finished.wait(max(0.0, deadline - time.monotonic()))
            try:
                data = _wait_for_file(path, finished, deadline)
            except TimeoutError as exc:
                return {"ok": False, "error": f"gave no audio: {exc} (waited {timeout:g} s)"}, b""
            real_rate = 0
            if driver == "espeak":
                from pyttsx3.drivers import _espeak

                fn = _espeak.dll.espeak_ng_GetSampleRate
                fn.restype = ctypes.c_int
                fn.argtypes = []
                real_rate = max(0, int(fn()))
    except Exception as exc:  # noqa: BLE001 - every failure is reported, naming the text
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, b""
    if errors:
        return {"ok": False, "error": errors[0]}, b""
    return {"ok": True, "rate": real_rate, "said": said.getvalue().strip()[:200]}, data


def _silence_stdio() -> None:
    """Point fds 1 and 2 at /dev/null (C code and driver callbacks write there)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _set_parent_death_signal() -> None:
    """Linux: die with the zygote (it has a single thread, so this is reliable)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


# --- zygote mode ---------------------------------------------------------------


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"the speech process died (signal {name})"
    return f"the speech process exited with code {os.waitstatus_to_exitcode(status)}"


def _run_child(request: dict[str, Any], out_fd: int, zygote_pid: int) -> None:
    """In the forked child: speak, write the reply to ``out_fd``, never return."""
    code = 0
    try:
        if _reply_fd is not None:
            os.close(_reply_fd)  # only the zygote answers the parent
        _set_parent_death_signal()
        if os.getppid() != zygote_pid:
            os._exit(3)
        _silence_stdio()
        header, audio = speak(request)
        blob = pack_reply(header, audio)
        view = memoryview(blob)
        while view:
            n = os.write(out_fd, view)
            view = view[n:]
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        code = 1
    finally:
        os._exit(code)


def _serve_one(request: dict[str, Any], stdin_fd: int) -> bytes | None:
    """Fork a child for ``request`` and return its reply (or an error reply).

    Returns None if the parent went away meanwhile (stdin reached EOF).
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        _run_child(request, write_fd, os.getppid())
    os.close(write_fd)
    chunks: list[bytes] = []
    limit = time.monotonic() + float(request.get("timeout") or 30.0) + GRACE_S
    parent_gone = timed_out = False
    try:
        while True:
            wait = limit - time.monotonic()
            if wait <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd, stdin_fd], [], [], wait)
            if stdin_fd in ready and _stdin_closed(stdin_fd):
                parent_gone = True
                break
            if read_fd in ready:
                chunk = os.read(read_fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
        if parent_gone or timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if parent_gone:
        return None
    if timed_out:
        return pack_reply({"ok": False, "error": "the speech process hung and was stopped"})
    blob = b"".join(chunks)
    if status == 0 and split_reply(blob) is not None:
        return blob
    return pack_reply({"ok": False, "error": _describe_status(status)})


_pending: bytearray = bytearray()
_reply_fd: int | None = None


def _stdin_closed(fd: int) -> bool:
    """stdin is readable: read what is there; True at EOF (the parent is gone).

    A request may only arrive after the previous reply, so bytes read here are
    unexpected but kept for the next request rather than lost.
    """
    data = os.read(fd, 65536)
    if not data:
        return True
    _pending.extend(data)
    return False


def _read_request(fd: int) -> dict[str, Any] | None:
    """The next request from stdin, or None at EOF."""

    def need(n: int) -> bool:
        while len(_pending) < n:
            data = os.read(fd, 65536)
            if not data:
                return False
            _pending.extend(data)
        return True

    if not need(4):
        return None
    (n,) = _LEN.unpack_from(_pending, 0)
    if not need(4 + n):
        return None
    payload = bytes(_pending[4 : 4 + n])
    del _pending[: 4 + n]
    return json.loads(payload.decode("utf-8"))


def _write_all(fd: int, blob: bytes) -> None:
    view = memoryview(blob)
    while view:
        n = os.write(fd, view)
        view = view[n:]


GOODBYE = {"goodbye": True}
"""The last request of a pool that closes deliberately (it removes its own scratch
folder); end of input without it means the parent died."""

ORPHAN_WAIT_S = 2.0
"""How long a zygote whose input ended without a goodbye waits to be reparented."""


def _remove_scratch_if_orphaned(parent: int) -> None:
    """The parent died without closing its pool (SIGKILL): remove the pool's
    scratch folder (our TMPDIR, made by the parent) so nothing is left behind.

    A dying process's files close before the kernel hands its children to a new
    parent, so the end of input can arrive while ``getppid()`` still names the old
    one: wait for the reparenting (seen: an empty matcue-tts-* folder left by a
    batch whose parent was killed)."""
    scratch = os.environ.get("TMPDIR", "")
    if not os.path.basename(scratch).startswith("matcue-tts-"):
        return
    deadline = time.monotonic() + ORPHAN_WAIT_S
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.01)
    if os.getppid() != parent:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


def zygote(library: str) -> int:
    """Serve requests on stdin/stdout until stdin closes."""
    parent = os.getppid()
    said_goodbye = False
    try:
        code = _zygote(library)
        said_goodbye = code == _GOODBYE_CODE
        return 0 if said_goodbye else code
    finally:
        if not said_goodbye:
            _remove_scratch_if_orphaned(parent)


_GOODBYE_CODE = -1
"""What :func:`_zygote` returns after the pool's goodbye."""


def _zygote(library: str) -> int:
    global _reply_fd
    out_fd = _reply_fd = os.dup(1)
    _silence_stdio()  # nothing but replies may reach the pipe to the parent
    try:
        load_library(library)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then exit
        _write_all(out_fd, pack_reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    _write_all(out_fd, pack_reply({"ok": True, "pid": os.getpid()}))
    while True:
        try:
            request = _read_request(0)
        except (OSError, ValueError):
            return 1
        if request is None:
            return 0
        if request == GOODBYE:
            return _GOODBYE_CODE
        reply = _serve_one(request, 0)
        if reply is None:
            return 0
        try:
            _write_all(out_fd, reply)
        except OSError:  # the parent closed its end
            return 0


def once(library: str) -> int:
    """Speak the one request on stdin in this fresh process and reply on stdout."""
    out_fd = os.dup(1)
    _silence_stdio()
    try:
        load_library(library)
        request = _read_request(0)
        if request is None:
            return 1
        header, audio = speak(request)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        header, audio = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, b""
    _write_all(out_fd, pack_reply(header, audio))
    return 0


def main(argv: list[str]) -> int:
    # Ctrl-C reaches the whole process group: the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    mode = argv[1] if len(argv) > 1 else ""
    library = argv[2] if len(argv) > 2 else ""
    if mode == "zygote":
        return zygote(library)
    if mode == "once":
        return once(library)
    print(f"usage: {argv[0]} zygote|once [libespeak-path]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    # Run as a script: drop this file's directory from the path so matcue's
    # modules beside it can never shadow anything.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    sys.exit(main(sys.argv))
