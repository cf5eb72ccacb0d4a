"""On-disk, content-addressed cache of processed speech clips.

A clip is stored under the sha256 of everything that could change its samples
(engine, engine version, speech settings, text, sample rate, processing
version), so a stale entry can never be returned: a changed input is a new key.

Entries are written to a temporary file in the same directory and renamed into
place, so a reader sees either a whole entry or none, and two processes filling
the same cache at once both succeed (the last rename wins; both wrote the same
bytes). Each entry carries a header with a checksum; a truncated or corrupt
entry is logged as a warning and treated as a miss, so it is synthesized again.

Layout: ``<root>/clips/<key[:2]>/<key>.clip``. Clearing the cache is
``matcue cache clear`` (or deleting the directory; ``matcue`` recreates it).

The clips are bounded: after each render the least recently used are deleted
until they take at most :func:`max_bytes` (default :data:`DEFAULT_MAX_MB` MB,
``MATCUE_CACHE_MAX_MB`` to change it). A clip read from the cache is touched, so
its modification time is its last use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import stat
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from matcue.limits import MAX_CACHE_ENTRY_BYTES
from matcue.speech.base import SpeechSettings

logger = logging.getLogger(__name__)

ENV_VAR = "MATCUE_CACHE_DIR"
MAX_ENV_VAR = "MATCUE_CACHE_MAX_MB"
DEFAULT_MAX_MB = 1024
"""The clips' size cap by default: 1 GB holds the speech of about 30 one-hour
sessions (a render's clips take about 2.5 MB per minute of speech at 44.1 kHz)."""
MAGIC = b"MCQCLIP1"
_HEADER = struct.Struct("<8sIQ32s")  # magic, sample rate, sample count, sha256 of data
HEADER_SIZE = _HEADER.size


def default_cache_dir() -> Path:
    """``$MATCUE_CACHE_DIR`` if set, else the platform's user cache dir for matcue."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("matcue"))


def max_bytes() -> int:
    """The clips' size cap: ``$MATCUE_CACHE_MAX_MB`` megabytes if set (0: keep
    nothing), else :data:`DEFAULT_MAX_MB`. A value that is not a number >= 0 is
    ignored with a warning."""
    raw = os.environ.get(MAX_ENV_VAR)
    if raw:
        try:
            mb = float(raw)
            if mb >= 0 and mb == mb and mb != float("inf"):
                return int(mb * 1024 * 1024)
        except ValueError:
            pass
        _warn_once(
            "max",
            Path(raw),
            "%s=%r is not a number of megabytes >= 0; using %d",
            MAX_ENV_VAR,
            raw,
            DEFAULT_MAX_MB,
        )
    return DEFAULT_MAX_MB * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class CacheInfo:
    root: Path
    clips: int
    bytes: int
    max_bytes: int
    others: dict[str, int] = dataclasses.field(default_factory=dict)
    """Bytes in each other folder of the cache (patched voice models, gains, fits):
    not counted against the cap."""


def _settings_dict(settings: SpeechSettings | dict[str, Any]) -> dict[str, Any]:
    if isinstance(settings, SpeechSettings):
        return dataclasses.asdict(settings)
    return dict(settings)


def cache_key(
    engine_name: str,
    engine_version: str,
    settings: SpeechSettings | dict[str, Any],
    text: str,
    sample_rate: int,
    processing_version: str,
) -> str:
    """sha256 hex of a canonical JSON of the inputs (sorted keys, no whitespace)."""
    payload = {
        "engine": engine_name,
        "engine_version": engine_version,
        "settings": _settings_dict(settings),
        "text": text,
        "sample_rate": int(sample_rate),
        "processing": processing_version,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def encode_entry(samples: np.ndarray, sample_rate: int) -> bytes:
    """Header + little-endian float32 samples."""
    data = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    digest = hashlib.sha256(data).digest()
    return _HEADER.pack(MAGIC, int(sample_rate), len(data) // 4, digest) + data


def decode_entry(blob: bytes) -> tuple[np.ndarray, int]:
    """Inverse of :func:`encode_entry`; raises ValueError saying what is wrong."""
    if len(blob) < HEADER_SIZE:
        raise ValueError(f"truncated header ({len(blob)} bytes)")
    magic, rate, count, digest = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise ValueError("not a matcue clip (bad magic)")
    data = blob[HEADER_SIZE:]
    if len(data) != count * 4:
        raise ValueError(f"truncated: header says {count * 4} data bytes, file has {len(data)}")
    if hashlib.sha256(data).digest() != digest:
        raise ValueError("checksum mismatch")
    if rate <= 0:
        raise ValueError(f"bad sample rate {rate}")
    return np.frombuffer(data, dtype="<f4").astype(np.float32), int(rate)


def _read_entry(path: Path) -> bytes:
    """An entry's bytes, at most one past :data:`~matcue.limits.MAX_CACHE_ENTRY_BYTES`
    (decoding then finds it damaged); anything but a regular file reads as empty."""
    with open(path, "rb", opener=_open_no_block) as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return b""
        return fh.read(MAX_CACHE_ENTRY_BYTES + 1)


def _open_no_block(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def write_entry(path: Path, blob: bytes) -> bool:
    """Write a cache entry atomically (a temporary file in its folder, renamed into
    place): readers see a whole entry or none. False if it could not be written.

    No fsync: after a crash a half-written entry fails its check on reading and is
    made again, which is cheaper than syncing every entry."""
    return _write_entry(path, blob) is None


def _write_entry(path: Path, blob: bytes) -> OSError | None:
    """:func:`write_entry`, returning why it failed (None: written)."""
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.stem[:16]}.", suffix=".tmp", dir=path.parent
        )
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp_name, path)
        tmp_name = None
        return None
    except OSError as exc:
        logger.debug("cannot write %s (%s)", path, exc)
        return exc
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


_WARNED: set[tuple[str, Path]] = set()
_WARNED_LOCK = threading.Lock()


def _warn_once(kind: str, root: Path, message: str, *args: object) -> None:
    """Log a warning about the cache folder ``root`` once per process: a folder that
    cannot be written fails for every clip, and one line says all there is to say."""
    with _WARNED_LOCK:
        if (kind, root) in _WARNED:
            return
        _WARNED.add((kind, root))
    logger.warning(message, *args)


class ClipCache:
    """Processed clips on disk, keyed by :func:`cache_key`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    key = staticmethod(cache_key)

    def path_for(self, key: str) -> Path:
        return self.root / "clips" / key[:2] / f"{key}.clip"

    def get(self, key: str) -> np.ndarray | None:
        """The cached samples for ``key``, or None on a miss or a bad entry."""
        path = self.path_for(key)
        try:
            blob = _read_entry(path)
        except (FileNotFoundError, NotADirectoryError):
            return None  # a miss (a cache folder under a file is reported on writing)
        except OSError as exc:
            _warn_once(
                "read",
                self.root,
                "cannot read the speech cache in %s (%s); synthesizing again",
                self.root,
                exc.strerror or exc,
            )
            return None
        try:
            samples, _rate = decode_entry(blob)
        except ValueError as exc:
            logger.warning("corrupt cached clip %s (%s); synthesizing again", path, exc)
            return None
        try:
            os.utime(path)  # its last use, for least-recently-used eviction
        except OSError:
            pass
        return samples

    def put(self, key: str, samples: np.ndarray, sample_rate: int) -> Path:
        """Store ``samples`` atomically; returns the entry's path.

        A failure to write is logged (once per cache folder and process) and otherwise
        ignored: the cache is an optimisation, and the caller already has the samples.
        """
        path = self.path_for(key)
        error = _write_entry(path, encode_entry(samples, sample_rate))
        if error is not None:
            _warn_once(
                "write",
                self.root,
                "cannot write to the speech cache in %s (%s); the render goes on, but its "
                "speech will be made again next time (set %s to a folder you can write)",
                self.root,
                error.strerror or error,
                ENV_VAR,
            )
        return path

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(last use, size, path) of every clip."""
        found = []
        for entry in (self.root / "clips").glob("*/*.clip"):
            try:
                st = entry.stat()
            except OSError:
                continue
            found.append((st.st_mtime, st.st_size, entry))
        return found

    def info(self) -> CacheInfo:
        entries = self._entries()
        return CacheInfo(
            self.root, len(entries), sum(e[1] for e in entries), max_bytes(), self._others()
        )

    def _others(self) -> dict[str, int]:
        """Bytes in each folder of the cache but the clips'."""
        sizes: dict[str, int] = {}
        try:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir() and p.name != "clips")
        except OSError:
            return sizes
        for folder in folders:
            total = 0
            for entry in folder.rglob("*"):
                try:
                    st = entry.lstat()
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
            sizes[folder.name] = total
        return sizes

    def evict(self, limit: int | None = None) -> int:
        """Delete the least recently used clips until the rest take at most ``limit``
        bytes (default :func:`max_bytes`); returns how many were removed."""
        limit = max_bytes() if limit is None else limit
        entries = sorted(self._entries(), key=lambda e: (e[0], str(e[2])))
        total = sum(e[1] for e in entries)
        removed = 0
        for _used, size, entry in entries:
            if total <= limit:
                break
            try:
                entry.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("cannot remove %s (%s)", entry, exc)
                continue
            total -= size
            removed += 1
        return removed

    def clear(self) -> int:
        """Delete every cached clip; returns how many were removed."""
        return self.evict(0)


__all__ = [
    "DEFAULT_MAX_MB",
    "ENV_VAR",
    "MAX_ENV_VAR",
    "CacheInfo",
    "ClipCache",
    "cache_key",
    "default_cache_dir",
    "max_bytes",
    "write_entry",
]


JSON_ENTRY_BYTES = 1024 * 1024
"""A JSON entry (a gain, a fit) is a few hundred bytes; a larger one is damaged."""


class JsonEntries:
    """Small JSON entries beside the clips, ``ROOT/FOLDER/KEY.json``: the session
    gains (``gains/``) and the ``--minutes`` fits (``fits/``). Written with
    :func:`write_entry` (atomic; a failure to write is ignored: the work is done
    again next time); an entry that cannot be read or parsed is a miss."""

    def __init__(self, folder: str, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.folder = folder

    def path_for(self, key: str) -> Path:
        return self.root / self.folder / f"{key}.json"

    def read(self, key: str) -> Any:
        """The entry's JSON value, or None."""
        try:
            blob = _read_entry(self.path_for(key))
            if len(blob) > JSON_ENTRY_BYTES:
                return None
            return json.loads(blob.decode("utf-8"))
        except (OSError, ValueError):
            return None

    def write(self, key: str, value: Any) -> None:
        write_entry(self.path_for(key), json.dumps(value).encode("utf-8"))
