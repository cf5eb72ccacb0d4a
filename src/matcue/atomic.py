"""Write output files all-or-nothing.

"Nothing is lost": a render writes each output to a hidden temporary file in the
target's own folder (so the final rename never crosses file systems), flushes it
to disk, and only then renames it over the target. If anything goes wrong,
including Ctrl-C (KeyboardInterrupt), ``sys.exit`` (SystemExit) or SIGTERM once
:func:`install_interrupt_handlers` is in place, the temporary file is
removed and any earlier file at the target is left exactly as it was.

Folder policy: a missing output folder is created when its parent exists (so
``-o audio_out/morning.mp3`` works in a fresh checkout), but a deeper missing
path is an :class:`~matcue.errors.InputError` naming the first missing folder,
because that is more often a typo than a wish.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from matcue.errors import InputError, RenderError

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"


def _prepare_folder(folder: Path) -> None:
    if folder.is_dir():
        return
    if folder.exists():
        raise InputError(f"{folder} is not a folder; cannot write output into it")
    if not folder.parent.is_dir():
        missing = folder
        while not missing.parent.is_dir() and missing.parent != missing:
            missing = missing.parent
        raise InputError(
            f"output folder {folder} does not exist (nor does {missing}); create it first"
        )
    try:
        folder.mkdir()
    except FileExistsError:
        pass  # made meanwhile by a parallel writer
    except OSError as exc:
        raise InputError(f"cannot create output folder {folder}: {exc.strerror}") from exc
    log.info("created output folder %s", folder)


def _new_part_file(path: Path) -> Path:
    # O_EXCL with mode 0o666 so the final file gets the user's normal umask permissions
    # (mkstemp would make it 0600).
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise RenderError(f"cannot write in {path.parent}: {exc.strerror}") from exc
        os.close(fd)
        return tmp
    raise RenderError(f"cannot create a temporary file next to {path}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows); the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it into place.

    The body writes the complete file at the yielded path (it exists, empty). On a
    normal exit the file is fsynced and ``os.replace``d onto ``path``. On any
    exception, KeyboardInterrupt and SystemExit included, it is deleted and the
    exception propagates; an earlier file at ``path`` is untouched.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name for the output")
    _prepare_folder(path.parent)
    tmp = _new_part_file(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)
    log.debug("wrote %s", path)


class _Interrupts:
    """The first SIGINT or SIGTERM raises KeyboardInterrupt; any later one is ignored.

    Cleanup runs in ``finally`` blocks as the KeyboardInterrupt unwinds. A second
    Ctrl-C (an impatient user, or a terminal that sends it twice) must not cut that
    short, and must not arrive after Python has put the default handlers back at
    exit, which would kill the process by SIGINT after it printed its one line."""

    triggered = False

    @classmethod
    def handle(cls, signum: int, frame: object) -> None:
        cls.triggered = True
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(f"interrupted by signal {signum}")


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


def install_interrupt_handlers() -> Callable[[], None] | None:
    """Turn the first SIGINT or SIGTERM into KeyboardInterrupt in the main thread
    and ignore any after it, so ``finally`` and :func:`atomic_output` clean up
    when a render is stopped by Ctrl-C or killed politely (``kill``, a service
    manager, CI timeouts). Call once from the CLI.

    Returns a function that puts the previous handlers back (it does nothing once
    an interrupt has arrived, so the process ends with the signals ignored), or
    None where it cannot apply: off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None
    # A signal the process was started with ignored (a background job of a
    # non-interactive shell, nohup) stays ignored, as Python itself keeps it.
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    _Interrupts.triggered = False
    for sig, handler in previous.items():
        if handler != signal.SIG_IGN:
            signal.signal(sig, _Interrupts.handle)

    def restore() -> None:
        if _Interrupts.triggered:
            return
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)

    return restore
