"""Read an input file, bounded in size and in waiting, whatever kind of file it is.

A routine or cue script can come from a regular file, from standard input
(``-``), or from a FIFO or character device (``/dev/stdin``, a named pipe). Each
is read once, at most one byte past its limit (so a device that never ends is
refused without reading it all), and a read that gets no data for
:data:`matcue.limits.INPUT_WAIT_SECONDS` ends with an error instead of waiting
for ever. What a stream held is kept for the rest of the process, so looking at
its first line (is it a cue script?) does not swallow it.
"""

from __future__ import annotations

import os
import select
import stat
from pathlib import Path

from . import limits
from .errors import InputError

STDIN = "-"
"""The input name that means standard input."""

_streams: dict[str, bytes] = {}
"""What each stream input held (by its name as given): a stream can be read only once."""


def is_stream(arg: str | Path) -> bool:
    """True for standard input, a FIFO or a character device: read once, kept."""
    if str(arg) == STDIN:
        return True
    try:
        mode = os.stat(arg).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def display_name(arg: str | Path) -> str:
    """How messages name the input ``arg``."""
    return "<stdin>" if str(arg) == STDIN else str(arg)


def read_input(arg: str | Path, *, limit: int) -> bytes:
    """The bytes of the input ``arg``: at most ``limit + 1`` of them (the caller says
    what is too large). Raises :class:`InputError` with one line for a missing file,
    a folder, a block device or socket, a terminal, an unreadable file, or a stream
    that stays silent."""
    key = str(arg)
    name = display_name(arg)
    if key in _streams:
        return _streams[key]
    if key == STDIN:
        if os.isatty(0):
            raise InputError(
                "-: standard input is a terminal; pipe a routine or cue script in "
                "(matcue render - < my-routine.yaml)"
            )
        data = _read_stream(0, limit, name)
        _streams[key] = data
        return data
    try:
        st = os.stat(arg)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise InputError(f"{name}: is a folder, not a file")
    try:
        if stat.S_ISREG(mode):
            with open(arg, "rb") as fh:
                return fh.read(limit + 1)
        if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            raise InputError(f"{name}: is a special file (a block device or a socket); not read")
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer for ever.
        fd = os.open(arg, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    try:
        if os.isatty(fd):
            raise InputError(f"{name}: is a terminal; give a file")
        data = _read_stream(fd, limit, name)
    finally:
        os.close(fd)
    _streams[key] = data
    return data


def _read_stream(fd: int, limit: int, name: str) -> bytes:
    wait = limits.INPUT_WAIT_SECONDS
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            raise InputError(
                f"{name}: no data arrived for {wait:g} seconds; nothing is writing to it"
            )
        try:
            data = os.read(fd, min(1 << 16, limit + 1 - total))
        except BlockingIOError:
            continue
        except OSError as exc:
            raise InputError(f"{name}: cannot read: {exc.strerror}") from None
        if not data:
            break
        chunks.append(data)
        total += len(data)
    return b"".join(chunks)
