"""The workspace: one folder holding the user's routines, renders and beds, and
the only place the studio reads or writes user files.

Every path comes from a name checked against a pattern (no slashes, no dots
first), is joined under its folder, and is refused when it resolves outside the
workspace or is a symbolic link, so no parameter reaches another file.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .service import NAME_FILE_RE, NAME_RE

RENDER_ID_RE = re.compile(r"[0-9]{8}-[0-9]{6}-[a-z0-9][a-z0-9-]{0,79}")


class Refused(Exception):
    """A name or path the studio will not touch (a 404 to the client: no hint why)."""


@dataclass
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser().resolve()
        for sub in ("routines", "renders", "beds"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- safe paths

    def _inside(self, path: Path) -> Path:
        if path.is_symlink():
            raise Refused(str(path))
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise Refused(str(path))
        return path

    def routine_path(self, name: str) -> Path:
        if not NAME_RE.fullmatch(name):
            raise Refused(name)
        return self._inside(self.root / "routines" / f"{name}.yaml")

    def render_dir(self, render_id: str) -> Path:
        if not RENDER_ID_RE.fullmatch(render_id):
            raise Refused(render_id)
        path = self._inside(self.root / "renders" / render_id)
        if not path.is_dir():
            raise Refused(render_id)
        return path

    def render_file(self, render_id: str, filename: str) -> Path:
        folder = self.render_dir(render_id)
        if not NAME_FILE_RE.fullmatch(filename) or filename == "render.json":
            raise Refused(filename)
        path = self._inside(folder / filename)
        if not path.is_file():
            raise Refused(filename)
        return path

    def bed_path(self, filename: str) -> Path:
        if not NAME_FILE_RE.fullmatch(filename):
            raise Refused(filename)
        return self._inside(self.root / "beds" / filename)

    # -- listings

    def routine_names(self) -> list[str]:
        return sorted(
            p.stem
            for p in (self.root / "routines").glob("*.yaml")
            if NAME_RE.fullmatch(p.stem) and p.is_file() and not p.is_symlink()
        )

    def beds(self) -> list[str]:
        return sorted(
            p.name
            for p in (self.root / "beds").iterdir()
            if p.is_file() and not p.is_symlink() and NAME_FILE_RE.fullmatch(p.name)
        )

    def free_name(self, base: str) -> str:
        """``base``, or ``base-2``, ``base-3``... whichever has no file yet."""
        name, n = base, 1
        while (self.root / "routines" / f"{name}.yaml").exists():
            n += 1
            name = f"{base[:70]}-{n}"
        return name

    def new_render_dir(self, name: str) -> tuple[str, Path]:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{name}"
        render_id, n = base, 1
        while (self.root / "renders" / render_id).exists():
            n += 1
            render_id = f"{base}-{n}"
        path = self.root / "renders" / render_id
        path.mkdir()
        return render_id, path

    def renders(self) -> list[dict[str, Any]]:
        """Finished renders, newest first, with what render.json recorded."""
        out = []
        for p in sorted((self.root / "renders").iterdir(), reverse=True):
            if not RENDER_ID_RE.fullmatch(p.name) or p.is_symlink():
                continue
            meta = read_meta(p)
            if meta is not None:
                out.append({**meta, "id": p.name})
        return out


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "render.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
