"""Rendering a programme into a folder: every session (several at once, through
:func:`matcue.parallel.render_jobs`), each with its transcript and chapters, then
the feed and the playlist.

A manifest (``programme.json``) records each session's input hash, length and
size. A session whose hash is unchanged and whose files are all there is not
rendered again; sessions with the same inputs (the same routine at the same
settings on several days) are rendered once and linked (or copied) to their
other names. The manifest is saved after every session, so an interrupted
render keeps what it finished.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from matcue.atomic import atomic_output
from matcue.errors import InputError, MatcueError, Spell, as_written
from matcue.parallel import Job, render_jobs
from matcue.pipeline import RenderResult

from .feed import (
    FEED_NAME,
    PLAYLIST_NAME,
    Episode,
    chapters_text,
    check_base_url,
    feed_xml,
    playlist_m3u8,
)
from .loader import LoadedProgramme
from .plan import PlannedSession, episode_title, expand

log = logging.getLogger(__name__)

MANIFEST_NAME = "programme.json"
MANIFEST_VERSION = 1
SUFFIXES = (".mp3", ".vtt", ".chapters.json")
"""The files of one session, after its stem."""


@dataclass
class ProgrammeRender:
    """What :func:`render_programme` did."""

    rendered: list[str] = field(default_factory=list)
    """Stems rendered now."""
    linked: list[str] = field(default_factory=list)
    """Stems linked (or copied) from a session with the same inputs."""
    kept: list[str] = field(default_factory=list)
    """Stems already rendered with the same inputs."""
    failures: list[tuple[str, MatcueError]] = field(default_factory=list)
    feed: Path | None = None
    playlist: Path | None = None


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_NAME
    if not path.exists():
        if folder.is_dir() and any(folder.iterdir()):
            raise InputError(
                f"{folder}: not empty and not a programme folder (it has no {MANIFEST_NAME}); "
                "choose a new or empty folder, so no file of yours is overwritten"
            )
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc}); remove it") from None
    if (
        not isinstance(data, dict)
        or data.get("version") != MANIFEST_VERSION
        or not isinstance(data.get("sessions"), dict)
        or not all(isinstance(v, dict) for v in data["sessions"].values())
        or not _is_date(data.get("published"))
    ):
        raise InputError(f"{path}: not a manifest this matcue wrote; remove it")
    return data


def _is_date(value: Any) -> bool:
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


def _is_current(folder: Path, stem: str, entry: dict[str, Any] | None, digest: str) -> bool:
    """The session's files are all there and were made from the same inputs."""
    if not entry or entry.get("hash") != digest:
        return False
    mp3 = folder / f"{stem}.mp3"
    if not mp3.is_file() or mp3.stat().st_size != entry.get("size"):
        return False
    return all((folder / f"{stem}{s}").is_file() for s in SUFFIXES)


def _link(src: Path, dst: Path) -> None:
    """``dst`` as a hard link to ``src`` (a copy where links are not possible),
    put in place atomically."""
    with atomic_output(dst) as tmp:
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def render_programme(
    loaded: LoadedProgramme,
    folder: Path,
    *,
    extra: dict[str, Any] | None = None,
    base_url: str | None = None,
    on_session: Callable[[PlannedSession, str, RenderResult | None], None] | None = None,
    on_failure: Callable[[PlannedSession, MatcueError], None] | None = None,
    workers: int | None = None,
    spell: Spell = as_written,
) -> ProgrammeRender:
    """Render every session of ``loaded`` into ``folder`` that is not there already,
    then write the feed and the playlist. ``extra`` are settings for every session
    (``--engine``, ``--voice``...). ``on_session(session, what, result)`` hears of each
    session: ``what`` is 'rendered', 'linked' or 'kept'. ``spell`` names a setting in
    the overrun advice (:func:`matcue.parallel.render_jobs`)."""
    base = check_base_url(base_url) if base_url else ""
    sessions = expand(loaded, extra)
    folder = Path(folder)
    manifest = _read_manifest(folder)
    name = loaded.programme.name
    if manifest and manifest.get("programme") != name:
        raise InputError(
            f"{folder}: holds the programme {manifest.get('programme')!r}, not {name!r}; "
            "render each programme into its own folder"
        )
    if not folder.is_dir():
        if folder.exists() or not folder.parent.is_dir():
            raise InputError(f"-o {folder}: not a folder, and its parent folder does not exist")
        folder.mkdir()
    entries: dict[str, dict[str, Any]] = dict(manifest.get("sessions") or {})
    # The first episode's date; each next one is a minute later. Set once, on the
    # first render, far enough back that no episode is dated in the future (some
    # apps hide those).
    first = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=len(sessions))
    published = manifest.get("published") or first.isoformat()
    done = ProgrammeRender()

    def save() -> None:
        data = {
            "version": MANIFEST_VERSION,
            "programme": loaded.programme.name,
            "published": published,
            "sessions": {k: entries[k] for k in sorted(entries)},
        }
        _write_text(folder / MANIFEST_NAME, json.dumps(data, indent=2) + "\n")

    def tell(session: PlannedSession, what: str, result: RenderResult | None = None) -> None:
        getattr(done, what).append(session.stem)
        if on_session is not None:
            on_session(session, what, result)

    # Sessions already there; and, per input hash, one session that has its files.
    current: dict[str, PlannedSession] = {}
    pending: list[PlannedSession] = []
    for s in sessions:
        if _is_current(folder, s.stem, entries.get(s.stem), s.input_hash):
            current.setdefault(s.input_hash, s)
            tell(s, "kept")
        else:
            pending.append(s)
    to_render: list[PlannedSession] = []
    for s in pending:
        if s.input_hash not in current and all(t.input_hash != s.input_hash for t in to_render):
            to_render.append(s)

    def copy_from(src: PlannedSession, dst: PlannedSession) -> None:
        for suffix in SUFFIXES:
            _link(folder / f"{src.stem}{suffix}", folder / f"{dst.stem}{suffix}")
        entries[dst.stem] = {**entries[src.stem], "title": episode_title(dst)}
        save()
        tell(dst, "linked")

    def finished(index: int, result: RenderResult) -> None:
        s = to_render[index]
        _write_text(folder / f"{s.stem}.chapters.json", chapters_text(result.timeline))
        entries[s.stem] = {
            "hash": s.input_hash,
            "size": result.output.stat().st_size,
            "duration": round(result.duration, 3),
            "title": episode_title(s),
        }
        save()
        current[s.input_hash] = s
        tell(s, "rendered", result)

    def failed(index: int, error: MatcueError) -> None:
        s = to_render[index]
        done.failures.append((s.stem, error))
        if on_failure is not None:
            on_failure(s, error)

    if to_render:
        jobs = [
            Job(s.routine_arg, {**s.overrides, "format": "mp3"}, folder / f"{s.stem}.mp3")
            for s in to_render
        ]
        log.info("programme %s: %d sessions to render", loaded.programme.name, len(jobs))
        render_jobs(jobs, on_result=finished, on_failure=failed, workers=workers, spell=spell)
    for s in pending:
        if s.stem in done.rendered:
            continue
        src = current.get(s.input_hash)
        if src is not None:
            copy_from(src, s)
    save()
    episodes = [
        _episode(s, entries[s.stem], loaded)
        for s in sessions
        if _is_current(folder, s.stem, entries.get(s.stem), s.input_hash)
    ]
    prog = loaded.programme
    done.feed = folder / FEED_NAME
    _write_text(
        done.feed,
        feed_xml(
            title=prog.title,
            summary=prog.summary,
            episodes=episodes,
            base_url=base,
            published=datetime.fromisoformat(published),
        ),
    )
    done.playlist = folder / PLAYLIST_NAME
    _write_text(done.playlist, playlist_m3u8(prog.title, episodes))
    return done


def _episode(s: PlannedSession, entry: dict[str, Any], loaded: LoadedProgramme) -> Episode:
    about = s.routine.summary or s.routine.title
    return Episode(
        stem=s.stem,
        title=episode_title(s),
        description=f"{about.rstrip('.')}. Week {s.week}, day {s.day} of {loaded.programme.title}.",
        season=s.week,
        episode=s.episode,
        number=s.number,
        duration=float(entry["duration"]),
        size=int(entry["size"]),
        guid=f"matcue:{loaded.programme.name}:{s.stem}:{s.input_hash[:16]}",
    )
