"""What every output file shares: tags (ID3 with chapters), float-to-int16 blocks, the
atomic destination; and the WebVTT transcript and JSON timeline. The audio writers
themselves are in :mod:`matcue.writers`, one module per format.

Everything here is written from the Timeline (or from PCM chunks the mixer made
from it), so the audio, the transcript, the timeline and the chapters agree.
Every file goes through :func:`matcue.atomic.atomic_output`, or, for the files
of one render, :func:`matcue.atomic.staged_outputs` (all of them or none): an
interrupted or failed render leaves any earlier file intact. See ``docs/output.md``
for the conventions.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from mutagen.id3 import (
    CHAP,
    COMM,
    CTOC,
    ID3,
    TALB,
    TCON,
    TDRC,
    TIT2,
    TLEN,
    TPE1,
    TSSE,
    TXXX,
    CTOCFlags,
)

from matcue import __version__
from matcue.atomic import atomic_output
from matcue.errors import RenderError
from matcue.timeline import Chapter, Timeline

log = logging.getLogger(__name__)

__all__ = [
    "SETTING_KEYS",
    "Tags",
    "session_settings",
    "chapters_to_json",
    "id3_tag_bytes",
    "tags_from_timeline",
    "timeline_to_json",
    "vtt_text",
    "destination",
    "float_to_int16",
    "int16_blocks",
    "write_timeline_json",
    "write_vtt",
]

SETTING_KEYS = (
    "routine",
    "pace",
    "breath",
    "engine",
    "voice",
    "verbosity",
    "model",
    "rate",
    "volume",
    "chime",
    "breath_tone",
    "bed",
    "bed_volume",
    "minutes",
    "week",
)
"""Timeline.meta keys that describe how a session was made, shown first and in this order
(in the MP3/WAV tags and the transcript alike); any other meta keys follow alphabetically."""

_NOT_SETTINGS = ("title", "year")

ID3_VERSION = 3
"""ID3v2.3, not 2.4: Windows (Explorer, Media Player) and many car and portable players
read only 2.3, while everything that reads 2.4 also reads 2.3; CHAP/CTOC are defined
for both. mutagen converts text to UTF-16 and the date to TYER for 2.3."""

ID3_PADDING = 1024
"""Free bytes after the frames, so tag editors can change tags without rewriting the file.
A constant (not mutagen's size-dependent default) keeps renders byte-identical."""

TOC_ELEMENT_ID = "toc"


@dataclass
class Tags:
    """ID3 tags of a session. Built by :func:`tags_from_timeline`; all text is data."""

    title: str
    """TIT2: the session's title (the routine's title)."""
    artist: str = "matcue"
    """TPE1: the program that voiced it; the author of a routine is not a performer."""
    album: str = "matcue sessions"
    """TALB: groups all sessions together in a music library."""
    genre: str = "Speech"
    """TCON: ID3v1 genre 101, what players file spoken-word audio under."""
    comment: str = ""
    """COMM: the settings in one line, e.g. ``routine=thaw; pace=1.0; ...``."""
    year: str | None = None
    """TYER/TDRC. None by default, so the same render gives the same bytes."""
    settings: dict[str, str] = field(default_factory=dict)
    """One TXXX frame each, description ``MATCUE_<KEY>`` (e.g. ``MATCUE_PACE``)."""
    encoder: str = f"matcue {__version__} (lameenc)"
    """TSSE: the software that made the file."""


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def session_settings(meta: dict[str, str]) -> dict[str, str]:
    """The settings recorded in a session's files: every ``meta`` entry but the title
    and year, :data:`SETTING_KEYS` first, each on one line. The tags and the
    transcript's header both show exactly these."""
    keys = [k for k in SETTING_KEYS if k in meta]
    keys += sorted(k for k in meta if k not in SETTING_KEYS and k not in _NOT_SETTINGS)
    return {k: _one_line(meta[k]) for k in keys if meta.get(k) not in (None, "")}


def tags_from_timeline(timeline: Timeline) -> Tags:
    """Tags for a session: title from ``meta["title"]`` (else the routine), and
    :func:`session_settings` as the comment and TXXX frames."""
    meta = timeline.meta
    settings = session_settings(meta)
    title = _one_line(meta.get("title") or meta.get("routine") or "matcue session")
    comment = "; ".join(f"{k}={v}" for k, v in settings.items())
    return Tags(title=title, comment=comment, year=meta.get("year") or None, settings=settings)


def destination(path: Path, atomic: bool) -> contextlib.AbstractContextManager[Path]:
    """Where a writer writes: a temporary file renamed onto ``path`` when it is
    complete (``atomic``), or ``path`` itself when the caller has staged it already
    (:class:`matcue.atomic.StagedOutputs`, which renames all of a render's files
    together)."""
    return atomic_output(Path(path)) if atomic else contextlib.nullcontext(Path(path))


def _ms(samples: int, sample_rate: int) -> int:
    """Samples to whole milliseconds, rounded half up (integer arithmetic: exact)."""
    return (samples * 1000 * 2 + sample_rate) // (2 * sample_rate)


# ---------------------------------------------------------------------------- ID3


def _id3_frames(raw: bytes) -> tuple[bytes, list[bytes], int]:
    """Split an ID3v2.3 tag into header, frames (each with its 10-byte header) and the
    padding length."""
    if raw[:3] != b"ID3" or raw[3] != 3 or raw[5] != 0:
        raise RenderError("unexpected ID3 layout from mutagen (need v2.3, no flags)")
    size = raw[6] << 21 | raw[7] << 14 | raw[8] << 7 | raw[9]
    body = raw[10 : 10 + size]
    frames: list[bytes] = []
    pos = 0
    while pos + 10 <= len(body) and body[pos] != 0:
        (fsize,) = struct.unpack(">I", body[pos + 4 : pos + 8])
        frames.append(bytes(body[pos : pos + 10 + fsize]))
        pos += 10 + fsize
    return raw[:10], frames, len(body) - pos


def _chap_element_id(frame: bytes) -> str:
    body = frame[10:]
    return body[: body.index(b"\0")].decode("latin-1")


def id3_tag_bytes(
    tags: Tags | None, chapters: Sequence[Chapter], *, sample_rate: int, length: int
) -> bytes:
    """The complete ID3v2.3 tag (header, frames, padding) for an MP3 file.

    mutagen sorts frames by size when it saves, which puts CHAP frames out of time
    order, and some players list chapters in file order. So the tag is built with
    mutagen, then its frames are re-laid in the same space: mutagen's order for the
    ordinary frames, then the CTOC, then the CHAP frames chronologically.
    """
    id3 = ID3()
    if tags is not None:
        id3.add(TIT2(encoding=3, text=[tags.title]))
        id3.add(TPE1(encoding=3, text=[tags.artist]))
        id3.add(TALB(encoding=3, text=[tags.album]))
        id3.add(TCON(encoding=3, text=[tags.genre]))
        if tags.year:
            id3.add(TDRC(encoding=3, text=[tags.year]))
        if tags.comment:
            id3.add(COMM(encoding=3, lang="eng", desc="", text=[tags.comment]))
        for key, value in tags.settings.items():
            id3.add(TXXX(encoding=3, desc=f"MATCUE_{key.upper()}", text=[value]))
        id3.add(TSSE(encoding=3, text=[tags.encoder]))
    id3.add(TLEN(encoding=3, text=[str(_ms(length, sample_rate))]))
    ids = [f"chp{i}" for i in range(len(chapters))]
    order = sorted(range(len(chapters)), key=lambda i: (chapters[i].start, chapters[i].end, i))
    if chapters:
        id3.add(
            CTOC(
                element_id=TOC_ELEMENT_ID,
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=[ids[i] for i in order],
                sub_frames=[TIT2(encoding=3, text=[tags.title if tags else "Chapters"])],
            )
        )
        for i, ch in enumerate(chapters):
            if ch.end < ch.start:
                raise RenderError(f"chapter {ch.title!r} ends before it starts")
            id3.add(
                CHAP(
                    element_id=ids[i],
                    start_time=_ms(ch.start, sample_rate),
                    end_time=_ms(ch.end, sample_rate),
                    # 0xFFFFFFFF: "no byte offset, use the times" (ID3 chapter spec)
                    start_offset=0xFFFFFFFF,
                    end_offset=0xFFFFFFFF,
                    sub_frames=[TIT2(encoding=3, text=[ch.title])],
                )
            )
    bio = io.BytesIO()
    id3.save(bio, v1=0, v2_version=ID3_VERSION, padding=lambda info: ID3_PADDING)
    header, frames, padding = _id3_frames(bio.getvalue())
    rank = {ids[i]: n for n, i in enumerate(order)}
    plain = [f for f in frames if f[:4] not in (b"CHAP", b"CTOC")]
    ctoc = [f for f in frames if f[:4] == b"CTOC"]
    chaps = sorted((f for f in frames if f[:4] == b"CHAP"), key=lambda f: rank[_chap_element_id(f)])
    return header + b"".join(plain + ctoc + chaps) + bytes(padding)


# ---------------------------------------------------------------------------- PCM


def float_to_int16(x: np.ndarray, *, dither: np.random.Generator | None = None) -> np.ndarray:
    """Float samples in [-1, 1) to int16, by rounding (or TPDF dither when a generator is
    given); values out of range are clipped. Deterministic for the same input."""
    y = np.asarray(x, dtype=np.float64) * 32768.0
    if dither is not None:
        y = y + (dither.random(y.shape) - dither.random(y.shape))
    return np.clip(np.rint(y), -32768, 32767).astype("<i2")


def int16_blocks(
    chunks: Iterable[np.ndarray],
    *,
    channels: int,
    length: int,
    dither: bool,
    scale: float = 1.0,
) -> Iterator[np.ndarray]:
    """Float chunks -> int16 blocks shaped (n, channels), checking shapes and that they
    add up to exactly ``length`` samples (a mismatch is a mixer bug, never padded over).
    ``scale`` multiplies the samples first (1.0 leaves them untouched)."""
    rng = np.random.default_rng(0x6D617463) if dither else None  # fixed seed: reproducible
    total = 0
    for i, chunk in enumerate(chunks):
        a = np.asarray(chunk)
        if a.ndim == 1 and channels == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] != channels:
            raise RenderError(
                f"audio chunk {i} has shape {a.shape}; expected {channels} channel(s)"
            )
        total += a.shape[0]
        if total > length:
            raise RenderError(f"audio runs past the session's length of {length} samples")
        if a.shape[0]:
            if scale != 1.0:
                a = a * np.float32(scale)
            yield float_to_int16(a, dither=rng)
    if total != length:
        raise RenderError(f"audio has {total} samples; the timeline says {length}")


# ---------------------------------------------------------------------------- WebVTT


def _vtt_time(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _note_value(value: object) -> str:
    # A NOTE ends at a blank line and may not contain "-->".
    return _one_line(value).replace("-->", "->")


def vtt_text(timeline: Timeline) -> str:
    """The WebVTT transcript: a NOTE with the title, the session's settings (the same
    as the tags: :func:`session_settings`) and its duration, then one cue per speech
    event from its real start to its real end, in start order."""
    sr = timeline.sample_rate
    lines = ["WEBVTT", "", "NOTE"]
    meta = timeline.meta
    if meta.get("title") not in (None, ""):
        lines.append(f"title: {_note_value(meta['title'])}")
    for key, value in session_settings(meta).items():
        lines.append(f"{key}: {_note_value(value)}")
    lines.append(f"duration: {_vtt_time(_ms(timeline.length, sr))}")
    lines.append("")
    speech = [e for e in timeline.events if e.kind == "speech" and (e.text or "").strip()]
    speech.sort(key=lambda e: (e.start, e.end))
    for n, ev in enumerate(speech, 1):
        start_ms = _ms(ev.start, sr)
        end_ms = max(_ms(ev.end, sr), start_ms + 1)  # a cue must end after it starts
        text_lines = [_vtt_escape(t.strip()) for t in (ev.text or "").splitlines() if t.strip()]
        lines += [str(n), f"{_vtt_time(start_ms)} --> {_vtt_time(end_ms)}", *text_lines, ""]
    return "\n".join(lines)


def write_vtt(timeline: Timeline, path: Path, *, atomic: bool = True) -> None:
    """Write :func:`vtt_text` as UTF-8 (atomically unless ``atomic`` is False)."""
    with destination(path, atomic) as tmp:
        tmp.write_text(vtt_text(timeline), encoding="utf-8", newline="\n")


# ---------------------------------------------------------------------------- JSON

_OPTIONAL_FIELDS = ("text", "rep", "set", "side", "phase", "sound")


def _sec(samples: int, sample_rate: int) -> float:
    return round(samples / sample_rate, 6)


def timeline_to_json(timeline: Timeline) -> list[dict[str, Any]]:
    """Every event, in timeline order: ``start``/``end`` in seconds (6 decimals),
    ``kind``, ``step``, ``step_index``, ``step_id``; ``text``, ``rep``, ``set``,
    ``side``, ``phase``, ``sound`` only when set, and ``anchored: true`` only for
    anchored events."""
    sr = timeline.sample_rate
    out: list[dict[str, Any]] = []
    for ev in timeline.events:
        d: dict[str, Any] = {
            "start": _sec(ev.start, sr),
            "end": _sec(ev.end, sr),
            "kind": ev.kind,
            "step": ev.step,
            "step_index": ev.step_index,
            "step_id": ev.step_id,
        }
        for name in _OPTIONAL_FIELDS:
            value = getattr(ev, name)
            if value is not None:
                d[name] = value
        if ev.anchored:
            d["anchored"] = True
        out.append(d)
    return out


def chapters_to_json(timeline: Timeline) -> list[dict[str, Any]]:
    """The chapters: ``index``, ``id`` (the step id), ``title``, ``start`` and
    ``end`` in seconds."""
    sr = timeline.sample_rate
    return [
        {
            "index": i,
            "id": c.id,
            "title": c.title,
            "start": _sec(c.start, sr),
            "end": _sec(c.end, sr),
        }
        for i, c in enumerate(timeline.chapters)
    ]


def write_timeline_json(timeline: Timeline, path: Path, *, atomic: bool = True) -> None:
    """Write :func:`timeline_to_json` (a JSON list of events) as UTF-8 (atomically
    unless ``atomic`` is False)."""
    text = json.dumps(timeline_to_json(timeline), indent=2, ensure_ascii=False) + "\n"
    with destination(path, atomic) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
