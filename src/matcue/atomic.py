"""Write output files all-or-nothing.

"Nothing is lost": a render writes each output to a hidden temporary file in the
target's own folder (so the final rename never crosses file systems), flushes it
to disk, and only then renames it over the target. If anything goes wrong,
including Ctrl-C (KeyboardInterrupt), ``sys.exit`` (SystemExit) or SIGTERM once
:func:`matcue.cli.interrupts.install_interrupt_handlers` is in place (the
command line does that), the temporary file is
removed and any earlier file at the target is left exactly as it was.

The files of one render go through :func:`staged_outputs` instead: every
destination is checked and its temporary file made before the slow work, and
they are renamed into place together at the end, all of them or none.

Folder policy: a missing output folder is created when its parent exists (so
``-o audio_out/morning.mp3`` works in a fresh checkout), but a deeper missing
path is an :class:`~matcue.errors.InputError` naming the first missing folder,
because that is more often a typo than a wish.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from matcue.errors import InputError, RenderError

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"


def _prepare_folder(folder: Path) -> bool:
    """Make sure ``folder`` exists; True when this call created it."""
    if folder.is_dir():
        return False
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
        return False  # made meanwhile by a parallel writer
    except OSError as exc:
        raise InputError(f"cannot create output folder {folder}: {exc.strerror}") from exc
    log.info("created output folder %s", folder)
    return True


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


STDOUT = "-"
"""The output name that means standard output (``-o -``)."""


@dataclass(frozen=True)
class Target:
    """Where an output's bytes really go, and how they get there."""

    path: Path
    """The file written: the name given, or the file a symlink there points to."""
    through: bool
    """Write straight into it (standard output, a character device such as /dev/null,
    a FIFO): there is nothing to replace, and replacing it would break it."""
    mode: int | None = None
    """The permission bits of a regular file already there, which the new file keeps."""


def is_stdout(path: Path | str) -> bool:
    return str(path) == STDOUT


def resolve_target(path: Path) -> Target:
    """What writing ``path`` means: a symlink is followed to its target, which is
    replaced (the link stays); a character device or FIFO is written through; a
    folder, block device, socket or read-only file is an :class:`InputError` (the
    message says what it is, without the path)."""
    if is_stdout(path):
        return Target(Path(STDOUT), through=True)
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = os.stat(real)
    except (FileNotFoundError, NotADirectoryError):  # the folder's checks say more
        return Target(real, through=False)
    except OSError as exc:
        raise InputError(f"cannot be written: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a folder; give a file name")
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return Target(real, through=True)
    if not stat.S_ISREG(st.st_mode):
        raise InputError("is a special file (a block device or a socket); not written")
    if not st.st_mode & 0o222 or not os.access(real, os.W_OK):
        raise InputError("is read-only; not replaced (make it writable, or give another name)")
    return Target(real, through=False, mode=stat.S_IMODE(st.st_mode))


def writes_through(path: Path | str) -> bool:
    """True when an output at ``path`` is written straight through (standard output, a
    device, a FIFO), so no file beside it (a transcript) belongs there."""
    try:
        return resolve_target(Path(path)).through
    except InputError:
        return False


def open_binary(path: Path) -> BinaryIO:
    """Open an output for writing bytes; ``-`` is standard output (a duplicate of the
    descriptor, so closing it leaves the process's stdout open)."""
    if is_stdout(path):
        return os.fdopen(os.dup(1), "wb")
    return open(path, "wb")


def _keep_mode(tmp: Path, mode: int | None) -> None:
    if mode is not None:
        os.chmod(tmp, mode)


@contextlib.contextmanager
def atomic_output(
    path: Path, *, flag: str = "-o", inputs: Iterable[tuple[Path, str]] = ()
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it into place.

    The body writes the complete file at the yielded path (it exists, empty). On a
    normal exit the file is fsynced and ``os.replace``d onto ``path`` (onto the file a
    symlink at ``path`` points to, keeping an earlier file's permissions). On any
    exception, KeyboardInterrupt and SystemExit included, it is deleted and the
    exception propagates; an earlier file at ``path`` is untouched. An output that is
    one of ``inputs`` (``(path, what)`` pairs, see :func:`refuse_input`) is refused
    before anything is made; a device or FIFO is written through (the body gets it).
    """
    path = Path(path)
    refuse_input(path, flag, inputs)
    try:
        target = resolve_target(path)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    if target.through:
        try:
            yield target.path
        except OSError as exc:
            raise _write_error(exc, str(path)) from exc
        return
    _prepare_folder(target.path.parent)
    tmp = _new_part_file(target.path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _keep_mode(tmp, target.mode)
        os.replace(tmp, target.path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise _write_error(exc, str(path)) from exc
        raise
    _fsync_dir(target.path.parent)
    log.debug("wrote %s", path)


@dataclass
class _Staged:
    target: Target
    tmp: Path
    label: str


class StagedOutputs:
    """Several output files written as one: all of them, or none.

    :meth:`add` checks a destination and reserves its hidden temporary file at once
    (so an unwritable folder is found before the slow work, not after the first file
    is in place); the caller writes each complete file at the path it was given;
    :meth:`commit` moves them all into place together. Until then no target is
    touched, and :meth:`abort` removes the temporary files (and any folder made for
    them). Use :func:`staged_outputs`, which commits on success and aborts on any
    exception, Ctrl-C included. Standard output, a device or a FIFO is written
    through (:func:`resolve_target`): :meth:`add` returns it as it is.

    The renames themselves cannot fail for want of space or permission (each
    temporary file is already in its target's folder), but an interrupt could fall
    between two of them: so an earlier file at a target is first hard-linked to a
    backup name, and a commit that stops half-way puts every earlier file back.
    """

    def __init__(self) -> None:
        self._staged: list[_Staged] = []
        self._made: list[Path] = []  # folders created for the outputs, to remove on abort
        self._inputs: list[tuple[Path, str]] = []  # files being read: never an output

    def protect(self, path: Path | None, what: str) -> None:
        """Refuse any output that is ``path`` (an input of the render: the routine, the
        cue script, the bed), whatever name or symlink reaches it. ``what`` names it in
        the message ("the routine")."""
        if path is not None:
            self._inputs.append((Path(path), what))

    def add(self, path: Path, flag: str, hint: str = "give another name") -> Path:
        """Check that ``path`` can be written and reserve its temporary file; returns it.

        ``flag`` names the option that chose the path (``-o``, ``--timeline``; or what
        the file is, "the transcript") for an :class:`InputError` saying what is wrong
        with it, and ``hint`` what to do about a clash."""
        path = Path(path)
        refuse_input(path, flag, self._inputs, hint)
        try:
            target = resolve_target(path)
        except InputError as exc:
            raise InputError(f"{flag} {path}: {exc}") from None
        for other in self._staged:
            both_devices = target.through and other.target.through and _is_device(path)
            if not both_devices and same_file(other.target.path, target.path):
                raise InputError(f"{flag} {path}: the same file as {other.label}; {hint}")
        if target.through:
            self._staged.append(_Staged(target, target.path, f"{flag} {path}"))
            return target.path
        try:
            if _prepare_folder(target.path.parent):
                self._made.append(target.path.parent)
            tmp = _new_part_file(target.path)
        except (InputError, RenderError) as exc:
            raise InputError(f"{flag} {path}: {exc}") from None
        self._staged.append(_Staged(target, tmp, f"{flag} {path}"))
        return tmp

    def labels(self) -> list[str]:
        """The outputs, as the options that chose them say (``-o x.mp3``)."""
        return [staged.label for staged in self._staged]

    def _files(self) -> list[_Staged]:
        return [s for s in self._staged if not s.target.through]

    def commit(self) -> None:
        """Flush every temporary file, then rename them all into place; on any failure
        put every earlier file back and remove the new ones."""
        files = self._files()
        for staged in files:
            with open(staged.tmp, "rb+") as f:
                os.fsync(f.fileno())
            _keep_mode(staged.tmp, staged.target.mode)
        backups: dict[Path, Path | None] = {}
        done: list[Path] = []
        try:
            for staged in files:
                backups[staged.target.path] = _backup(staged.target.path)
            for staged in files:
                os.replace(staged.tmp, staged.target.path)
                done.append(staged.target.path)
        except BaseException:
            for target in reversed(done):  # undo: the earlier file back, or none
                backup = backups.get(target)
                with contextlib.suppress(OSError):
                    if backup is not None:
                        os.replace(backup, target)
                    else:
                        target.unlink()
            self.abort()
            raise
        finally:
            for backup in backups.values():
                if backup is not None:
                    with contextlib.suppress(FileNotFoundError):
                        backup.unlink()
        for folder in {target.parent for target in done}:
            _fsync_dir(folder)
        for target in done:
            log.debug("wrote %s", target)
        self._staged.clear()
        self._made.clear()

    def abort(self) -> None:
        """Remove the temporary files and any folder made for them; no target is touched."""
        for staged in self._files():
            with contextlib.suppress(FileNotFoundError):
                staged.tmp.unlink()
        for folder in reversed(self._made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: never anything of the user's
        self._staged.clear()
        self._made.clear()


def _is_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` are one file: the same path once symlinks (of the file
    or of any folder above it) are resolved, or, for files that exist, the same inode
    (a hard link)."""
    if is_stdout(a) or is_stdout(b):
        return is_stdout(a) and is_stdout(b)
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_input(
    path: Path, flag: str, inputs: Iterable[tuple[Path, str]], hint: str = "give another name"
) -> None:
    """InputError when the output ``path`` (chosen by ``flag``) is one of ``inputs``
    (``(path, what)`` pairs): writing it would replace what is being read."""
    for source, what in inputs:
        if same_file(source, path):
            named = "" if str(source) == str(path) else f" {source}"
            raise InputError(
                f"{flag} {path}: the same file as {what}{named}, which is being read; {hint}"
            )


def _backup(target: Path) -> Path | None:
    """A hard link to the file at ``target`` under a hidden name, or None when there is
    no file there (or the file system cannot link: then a commit interrupted between
    two renames could leave one new file beside older ones)."""
    if not target.is_file():
        return None
    for _ in range(100):
        backup = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
        try:
            os.link(target, backup)
        except FileExistsError:
            continue
        except OSError as exc:
            log.debug("cannot keep a link to %s while replacing it (%s)", target, exc)
            return None
        return backup
    return None


@contextlib.contextmanager
def staged_outputs() -> Iterator[StagedOutputs]:
    """A :class:`StagedOutputs`, committed when the body ends normally and aborted on
    any exception (KeyboardInterrupt and SystemExit included)."""
    outputs = StagedOutputs()
    try:
        yield outputs
        labels = outputs.labels()
        outputs.commit()
    except BaseException as exc:
        labels = labels if "labels" in locals() else outputs.labels()
        outputs.abort()
        if isinstance(exc, OSError):
            raise _write_error(exc, ", ".join(labels)) from exc
        raise


WRITE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EROFS", "EFBIG", "EPIPE", "EIO", "EPERM", "EACCES")
    if hasattr(errno, name)
)
"""What writing an output can meet: a full disk or quota, a read-only or immutable
file system or file, a file too large, a closed pipe, a failing device."""


def _write_error(exc: OSError, what: str) -> BaseException:
    """A RenderError (one line) for an OSError met while writing ``what``; any other
    OSError is returned as it is (a bug to see, not a user's problem to describe)."""
    if exc.errno not in WRITE_ERRNOS:
        return exc
    return RenderError(f"cannot write {what}: {exc.strerror}; earlier files were left as they were")


STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
"""Every signal whose default action ends the process and that a program may catch:
Ctrl-C, kill, the terminal closing (HUP), Ctrl-\\ (QUIT), and the user signals and
timer alarms nobody in matcue uses. Each ends a render with one line, its temporary
files removed."""
