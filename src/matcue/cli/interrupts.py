"""Stopping signals for the command line: the first one unwinds, the rest are ignored.

Signal handling is the program's, not the library's: ``matcue`` installs these
handlers once (:func:`install_interrupt_handlers`); code that uses the library
in its own process keeps its own handlers. The library only relies on
KeyboardInterrupt unwinding through its ``finally`` blocks, which removes
temporary files (:mod:`matcue.atomic`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from ..atomic import STOP_SIGNALS

__all__ = ["install_interrupt_handlers"]


class _Interrupts:
    """The first stopping signal (:data:`STOP_SIGNALS`) raises KeyboardInterrupt; any
    later one is ignored.

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


_SIGNALS = tuple(getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name))


def install_interrupt_handlers() -> Callable[[], None] | None:
    """Turn the first stopping signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2,
    SIGALRM) into KeyboardInterrupt in the main thread
    and ignore any after it, so ``finally`` and :func:`matcue.atomic.atomic_output` clean up
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
