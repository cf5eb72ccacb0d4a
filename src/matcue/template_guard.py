"""Limits for user templates: time, output size, depth, numbers, and folders.

Jinja's sandbox keeps a template from reaching Python internals, but not from
running for ever, building a gigabyte of text, calling itself until Python
gives up, or computing ``9 ** 9 ** 9``. :class:`GuardedSandbox` (the base of
the cue-script environment) counts the work a render does and stops it with a
:class:`TemplateLimit` (a Jinja ``SecurityError``, so the message names the
template file and line) at the limits in :mod:`matcue.limits`.
:class:`ConfinedLoader` reads templates only from inside their folder: a
symlink or an include path that leads anywhere else is refused, as is a file
that is not a regular file or is over the size limit.
"""

from __future__ import annotations

import ctypes
import math
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment

from . import limits


class TemplateLimit(jinja2.exceptions.SecurityError):
    """A template passed one of matcue's limits."""

    where: tuple[str, int] | None = None
    """Template file and line that was running when the time ran out, when known."""


class _Budget:
    def __init__(self) -> None:
        self.deadline = time.monotonic() + limits.TEMPLATE_SECONDS
        self.steps = 0
        self.depth = 0
        self.loads = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps % 256 == 0 and time.monotonic() > self.deadline:
            raise TemplateLimit(
                f"the templates ran for more than {limits.TEMPLATE_SECONDS:g} seconds "
                "(a loop that never ends, or one far too large?)"
            )


_budget: ContextVar[_Budget | None] = ContextVar("matcue_template_budget", default=None)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


def _check_size(value: Any) -> None:
    if isinstance(value, (str, list, tuple)) and len(value) > limits.TEMPLATE_OUTPUT_BYTES:
        raise TemplateLimit(
            f"the templates made more than {limits.TEMPLATE_OUTPUT_BYTES // (1024 * 1024)} MiB "
            "of text"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > limits.TEMPLATE_NUMBER_BITS:
            raise TemplateLimit("a number too large for a template (more than 300 digits)")


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
        if right * math.log2(abs(left)) > limits.TEMPLATE_NUMBER_BITS:
            raise TemplateLimit("a number too large for a template (more than 300 digits)")
    return left**right


def _times(left: Any, right: Any) -> Any:
    # "x" * 10**9 would build the whole string before anything could check it.
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
            if len(seq) * n > limits.TEMPLATE_OUTPUT_BYTES:
                raise TemplateLimit(
                    f"the templates made more than "
                    f"{limits.TEMPLATE_OUTPUT_BYTES // (1024 * 1024)} MiB of text"
                )
    result = left * right
    _check_size(result)
    return result


def _bounded_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose numeric arguments (widths) are bounded, so ``center(10**9)``
    cannot build a gigabyte."""
    name = func.__name__.removeprefix("do_")

    def guarded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10_000:
                raise TemplateLimit(f"{name}: a width of {value} is too large")
        result = func(*args, **kwargs)
        _check_size(result)
        return result

    guarded.__name__ = func.__name__
    for attr in ("jinja_pass_arg",):
        if hasattr(func, attr):
            setattr(guarded, attr, getattr(func, attr))
    return guarded


class GuardedSandbox(SandboxedEnvironment):
    """Jinja's sandbox with matcue's limits on time, size, depth and numbers."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.binop_table = {**self.binop_table, "*": _times, "**": _power}
        self.globals.pop("lipsum", None)  # lipsum(10**9) has no limit of its own
        base_range: Callable[..., range] = self.globals["range"]  # type: ignore[assignment]

        def guarded_range(*args: int) -> Iterator[int]:
            for i in base_range(*args):
                _tick()
                yield i

        self.globals["range"] = guarded_range
        for name in ("center", "indent", "wordwrap", "truncate", "format", "join"):
            if name in self.filters:
                self.filters[name] = _bounded_filter(self.filters[name])

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _budget.get()
        if budget is None:
            return super().call(__context, __obj, *args, **kwargs)
        budget.tick()
        if budget.depth >= limits.TEMPLATE_DEPTH:
            raise TemplateLimit(
                f"macros or loops call themselves more than {limits.TEMPLATE_DEPTH} deep"
            )
        budget.depth += 1
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        _check_size(result)
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def get_template(self, *args: Any, **kwargs: Any) -> Any:
        budget = _budget.get()
        if budget is not None:
            budget.loads += 1
            if budget.loads > limits.TEMPLATE_LOADS:
                raise TemplateLimit(
                    f"more than {limits.TEMPLATE_LOADS} includes or imports "
                    "(a template that includes itself?)"
                )
        return super().get_template(*args, **kwargs)


class _Ticking(list):  # type: ignore[type-arg]
    """A list from the context whose iteration counts toward the time limit, so
    nested loops over the steps cannot run for ever unseen."""

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            _tick()
            yield item


def _ticking(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _ticking(v) for k, v in value.items()}
    if isinstance(value, list):
        return _Ticking(_ticking(v) for v in value)
    return value


class _Overtime(TemplateLimit):
    """Raised in the rendering thread by the watchdog (a loop with no hook to count)."""

    def __str__(self) -> str:
        return (
            f"the templates ran for more than {limits.TEMPLATE_SECONDS:g} seconds "
            "(a loop that never ends, or one far too large?)"
        )


class _Watch:
    """One render under watch: its thread, its deadline, and where it was stopped."""

    def __init__(self, thread: int, deadline: float) -> None:
        self.thread = thread
        self.deadline = deadline
        self.waits = 0
        self.fired = False
        self.where: tuple[str, int] | None = None

    def __enter__(self) -> _Watch:
        _WATCHDOG.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _WATCHDOG.remove(self)


class _Watchdog:
    """Stops a render that outlives the time limit, even inside a loop that calls
    nothing (``{% for a in l %}{% for b in l %}...``): it raises :class:`_Overtime`
    in the rendering thread (``PyThreadState_SetAsyncExc``; it lands at the next
    bytecode).

    One daemon thread per process watches the deadlines of every render under way,
    sleeping until the nearest; it is started by the first render (and again in a
    forked child, which does not inherit it), so ``--minutes`` fitting, which
    renders many times, starts one thread, not one per render."""

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._watches: set[_Watch] = set()
        self._thread: threading.Thread | None = None

    def _after_fork(self) -> None:
        # The watcher thread is not copied into a child, and its lock may have been
        # held at the fork: start afresh, keeping the forking thread's own renders.
        me = threading.get_ident()
        kept = {w for w in self._watches if w.thread == me and not w.fired}
        self._reset()
        for watch in kept:
            self.add(watch)

    def add(self, watch: _Watch) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="matcue-template-watchdog", daemon=True
                )
                self._thread.start()
            self._watches.add(watch)
            self._cond.notify()

    def remove(self, watch: _Watch) -> None:
        with self._cond:
            self._watches.discard(watch)
            if watch.fired:
                # Fired just as the render ended: an exception still pending would
                # land after the render, outside anything that expects it. Drop it.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(watch.thread), None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for watch in [w for w in self._watches if w.deadline <= now]:
                    self._expire(watch)
                nearest = min((w.deadline for w in self._watches), default=None)
                self._cond.wait(None if nearest is None else max(0.0, nearest - now))

    def _expire(self, watch: _Watch) -> None:
        where = _running_template_line(sys._current_frames().get(watch.thread))
        if where is None and watch.waits < WATCHDOG_WAITS:
            # Not inside a template yet (a loaded machine, or matcue's own work
            # between renders): an exception raised now would land in whatever
            # runs, an import even, and name no template line. Look again shortly.
            watch.waits += 1
            watch.deadline = time.monotonic() + WATCHDOG_WAIT_SECONDS
            return
        watch.where = where
        watch.fired = True
        self._watches.discard(watch)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(watch.thread), ctypes.py_object(_Overtime)
        )


WATCHDOG_WAIT_SECONDS = 0.05
WATCHDOG_WAITS = 40
"""After the time limit, the watchdog waits up to 40 x 50 ms for the rendering thread
to be inside a template before it stops it anyway."""

_WATCHDOG = _Watchdog()


def _running_template_line(frame: Any) -> tuple[str, int] | None:
    """The template file and line the innermost template frame of ``frame``'s stack is
    on. An exception raised by the watchdog lands wherever the thread happens to be
    (possibly outside any template frame), so the place is read when it fires."""
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template):
            name = template.filename or template.name or "<template>"
            return name, template.get_corresponding_lineno(frame.f_lineno)
        frame = frame.f_back
    return None


def render_guarded(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render ``template`` within the limits: time, output size, depth, includes."""
    token = _budget.set(_Budget())
    data = _ticking(context)  # before the clock starts: preparing data is not the template's time
    watch = _Watch(threading.get_ident(), time.monotonic() + limits.TEMPLATE_SECONDS)
    try:
        with watch:
            return _render(template, data)
    except _Overtime as exc:
        exc.where = watch.where
        raise
    finally:
        _budget.reset(token)


def _render(template: jinja2.Template, data: dict[str, Any]) -> str:
    out: list[str] = []
    size = 0
    for chunk in template.generate(data):
        _tick()
        size += len(chunk)
        if size > limits.TEMPLATE_OUTPUT_BYTES:
            raise TemplateLimit(
                f"the templates made more than "
                f"{limits.TEMPLATE_OUTPUT_BYTES // (1024 * 1024)} MiB of text"
            )
        out.append(chunk)
    return "".join(out)


class ConfinedLoader(jinja2.BaseLoader):
    """Templates from one folder and nothing outside it.

    A name is looked up under the folder (Jinja already refuses ``..``); the file
    found must resolve, symlinks followed, to a regular file inside the folder's own
    resolved path, of at most :data:`~matcue.limits.MAX_TEMPLATE_BYTES`."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = os.fspath(folder)
        self.root = os.path.realpath(self.folder)

    def get_source(
        self, _environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = os.path.join(self.folder, *split_template_path(template))
        if not os.path.lexists(path):
            raise jinja2.TemplateNotFound(template)
        real = os.path.realpath(path)
        if os.path.commonpath([self.root, real]) != self.root:
            raise TemplateLimit(
                f"{path}: leads outside the template folder {self.folder}; not read"
            )
        try:
            with open(real, "rb", opener=_no_block) as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise TemplateLimit(f"{path}: not a regular file; not read")
                data = fh.read(limits.MAX_TEMPLATE_BYTES + 1)
        except OSError as exc:
            raise TemplateLimit(f"{path}: cannot read: {exc.strerror}") from None
        if len(data) > limits.MAX_TEMPLATE_BYTES:
            raise TemplateLimit(
                f"{path}: larger than {limits.MAX_TEMPLATE_BYTES // 1024} KiB, "
                "the limit for a template"
            )
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TemplateLimit(f"{path}: not UTF-8 text (byte {exc.start})") from None
        mtime = st.st_mtime

        def uptodate() -> bool:
            try:
                return os.path.getmtime(real) == mtime
            except OSError:
                return False

        return source, path, uptodate


def _no_block(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
