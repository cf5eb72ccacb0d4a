"""Make libespeak-ng loadable for pyttsx3's espeak driver on Linux.

pyttsx3's espeak driver does ``cdll.LoadLibrary("libespeak-ng.so.1")`` when it is
first imported. Many machines (CI images, containers, machines without root) have
no system libespeak-ng, so a plain ``pip install matcue`` would fail there. The
``espeakng-loader`` wheel ships the library and its data; we pre-load that copy
with ``RTLD_GLOBAL`` so that pyttsx3's later ``dlopen`` by soname finds it already
in the process. A system library, when present, is preferred: it is what the user
installed and configured on purpose.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading

from matcue.errors import EngineUnavailable

logger = logging.getLogger(__name__)

SONAME = "libespeak-ng.so.1"

NO_LIBESPEAK = (
    "pyttsx3 needs the espeak-ng library on Linux, and none could be loaded. "
    "Install it with `pip install espeakng-loader` (no root needed) or with your "
    "package manager (e.g. `apt install libespeak-ng1`)."
)

_lock = threading.Lock()
_loaded: str | None = None
_handle: ctypes.CDLL | None = None


class _LinkMap(ctypes.Structure):
    _fields_ = [("l_addr", ctypes.c_void_p), ("l_name", ctypes.c_char_p)]


def loaded_path(lib: ctypes.CDLL) -> str | None:
    """The file a loaded library came from (glibc's ``dlinfo``), or None if unknown.

    Loading by soname also matches a copy some other code already loaded by path
    (for instance the wheel's), so the name asked for does not say which file
    it is, and a helper process given only the soname could not find it.
    """
    try:
        dlinfo = ctypes.CDLL(None).dlinfo
    except (OSError, AttributeError):
        return None
    link_map = ctypes.POINTER(_LinkMap)()
    if dlinfo(ctypes.c_void_p(lib._handle), 2, ctypes.byref(link_map)) != 0:  # RTLD_DI_LINKMAP
        return None
    name = link_map.contents.l_name if link_map else None
    return os.path.abspath(name.decode()) if name else None


def _load_system() -> tuple[ctypes.CDLL, str] | None:
    """Try the system library: by soname first, then whatever find_library knows."""
    candidates = [SONAME]
    found = ctypes.util.find_library("espeak-ng")
    if found and found not in candidates:
        candidates.append(found)
    for name in candidates:
        try:
            lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        return lib, loaded_path(lib) or name
    return None


def _load_bundled() -> tuple[ctypes.CDLL, str] | None:
    """Load the copy shipped in the ``espeakng-loader`` wheel, with its data path."""
    try:
        import espeakng_loader
    except ImportError:
        return None
    libdir = os.path.dirname(espeakng_loader.get_library_path())
    # The soname file matters: pyttsx3 later asks the dynamic loader for
    # "libespeak-ng.so.1", which only matches an already loaded object by soname.
    path = os.path.join(libdir, SONAME)
    if not os.path.exists(path):
        path = espeakng_loader.get_library_path()
    # The bundled library has no compiled-in data directory that exists here.
    os.environ.setdefault("ESPEAK_DATA_PATH", espeakng_loader.get_data_path())
    try:
        return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL), path
    except OSError as exc:
        logger.debug("could not load bundled libespeak-ng %s: %s", path, exc)
        return None


def _is_bundled(path: str) -> bool:
    try:
        import espeakng_loader
    except ImportError:
        return False
    libdir = os.path.realpath(os.path.dirname(espeakng_loader.get_library_path()))
    return os.path.dirname(os.path.realpath(path)) == libdir


def ensure_libespeak(*, prefer_bundled: bool = False) -> str:
    """Load libespeak-ng into the process once and say which one.

    Returns ``"system:<name>"`` or ``"bundled:<path>"`` on Linux, and ``""`` on
    other platforms (where pyttsx3 uses the OS's own speech driver). Idempotent:
    later calls return the first answer. ``prefer_bundled`` tries the wheel's copy
    first (used by tests to exercise that path in a fresh process).

    Raises EngineUnavailable when no library can be loaded.
    """
    global _loaded, _handle
    if not sys.platform.startswith("linux"):
        return ""
    with _lock:
        if _loaded is not None:
            return _loaded
        order = [("bundled", _load_bundled), ("system", _load_system)]
        if not prefer_bundled:
            order.reverse()
        for kind, loader in order:
            result = loader()
            if result is not None:
                _handle, where = result
                if kind == "system" and _is_bundled(where):
                    # The wheel's copy, already loaded by someone else: it needs its data.
                    kind = "bundled"
                    _load_bundled()
                _loaded = f"{kind}:{where}"
                logger.debug("using libespeak-ng: %s", _loaded)
                return _loaded
        raise EngineUnavailable(NO_LIBESPEAK)
