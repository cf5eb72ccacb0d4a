"""Piper voices beyond the bundled one: the official catalogue, and the voices a
user added from it with ``matcue voices add NAME``.

The catalogue is piper's ``voices.json`` (rhasspy/piper-voices): for each voice its
language, quality, speakers and files with their size and md5. ``add`` fetches a
voice's model, config and model card next to each other in :func:`voices_dir`,
each checked against the catalogue before it is kept. Nothing here runs during a
render: only ``matcue voices`` and ``matcue voices add`` fetch.

``MATCUE_PIPER_CATALOGUE`` changes the catalogue's address (the files are fetched
relative to it); ``MATCUE_VOICES_DIR`` changes where voices are kept.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from matcue.errors import InputError
from matcue.speech.base import Voice

logger = logging.getLogger(__name__)

CATALOGUE_ENV = "MATCUE_PIPER_CATALOGUE"
CATALOGUE_URL = "https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0/voices.json"
VOICES_ENV = "MATCUE_VOICES_DIR"
TIMEOUT_S = 60.0


def catalogue_url() -> str:
    return os.environ.get(CATALOGUE_ENV) or CATALOGUE_URL


def voices_dir() -> Path:
    """``$MATCUE_VOICES_DIR``, else ``voices/`` in the user data folder."""
    env = os.environ.get(VOICES_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("matcue")) / "voices"


def _licence(card: Path) -> str | None:
    try:
        text = card.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.findall(r"License:\s*(\S[^\n]*)", text)
    return found[-1].strip() if found else None


def installed() -> list[Voice]:
    """The voices in :func:`voices_dir` (a model with its config beside it)."""
    folder = voices_dir()
    found = []
    for model in sorted(folder.glob("*.onnx")) if folder.is_dir() else []:
        config = model.with_name(model.name + ".json")
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        language = (data.get("language") or {}).get("code") or (data.get("espeak") or {}).get(
            "voice"
        )
        found.append(
            Voice(
                id=model.name.removesuffix(".onnx"),
                name=str(data.get("dataset") or model.stem),
                languages=(str(language),) if language else (),
                quality=(data.get("audio") or {}).get("quality"),
                licence=_licence(model.with_name(model.name.removesuffix(".onnx") + ".md")),
            )
        )
    return found


def model_path(voice_id: str) -> Path:
    path = voices_dir() / f"{voice_id}.onnx"
    if not path.is_file():
        raise InputError(f"piper voice {voice_id!r} is not installed (matcue voices add)")
    return path


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310
            data: bytes = response.read()
            return data
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(f"cannot fetch {url}: {reason}") from exc


def catalogue() -> dict[str, Any]:
    """The catalogue (voice key -> entry), fetched from :func:`catalogue_url`."""
    url = catalogue_url()
    try:
        data = json.loads(_get(url))
    except ValueError as exc:
        raise InputError(f"the voice catalogue at {url} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"the voice catalogue at {url} is not a piper voices.json")
    return data


def catalogue_voices(entries: dict[str, Any]) -> list[Voice]:
    """The catalogue's voices, marked installed when they are here."""
    here = {v.id for v in installed()}
    voices = []
    for key, entry in sorted(entries.items()):
        if not isinstance(entry, dict):
            continue
        language = (entry.get("language") or {}).get("code")
        voices.append(
            Voice(
                id=key,
                name=str(entry.get("name") or key),
                languages=(str(language),) if language else (),
                quality=entry.get("quality"),
                installed=key in here,
            )
        )
    return voices


def add(name: str, entries: dict[str, Any] | None = None) -> Path:
    """Fetch voice ``name`` from the catalogue into :func:`voices_dir`; returns the
    model's path. Each file is checked against the catalogue's size and md5 and
    written only when it matches; an unknown name names close matches."""
    entries = catalogue() if entries is None else entries
    entry = entries.get(name)
    if not isinstance(entry, dict):
        close = difflib.get_close_matches(name, list(entries), n=4, cutoff=0.5)
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise InputError(f"the piper catalogue has no voice {name!r}.{hint}")
    files: dict[str, Any] = entry.get("files") or {}
    base = catalogue_url()
    folder = voices_dir()
    folder.mkdir(parents=True, exist_ok=True)
    model: Path | None = None
    for rel, info in sorted(files.items()):
        leaf = rel.rsplit("/", 1)[-1]
        if leaf.endswith(".onnx"):
            target = folder / f"{name}.onnx"
            model = target
        elif leaf.endswith(".onnx.json"):
            target = folder / f"{name}.onnx.json"
        elif leaf == "MODEL_CARD":
            target = folder / f"{name}.md"
        else:
            continue
        url = urllib.parse.urljoin(base, urllib.parse.quote(rel))
        data = _get(url)
        size, md5 = int(info.get("size_bytes", -1)), str(info.get("md5_digest", ""))
        if len(data) != size or hashlib.md5(data, usedforsecurity=False).hexdigest() != md5:
            raise InputError(
                f"{url} does not match the catalogue ({len(data)} bytes, expected {size}; "
                "md5 differs or size differs): not installed"
            )
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    if model is None:
        raise InputError(f"the catalogue lists no model file for {name!r}")
    return model


__all__ = ["add", "catalogue", "catalogue_url", "catalogue_voices", "installed", "voices_dir"]
