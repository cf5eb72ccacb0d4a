"""What a rendered programme folder offers a player: a podcast feed (RSS 2.0 with
the iTunes and Podcasting 2.0 tags), an M3U8 playlist, and each session's
chapters as a Podcasting 2.0 JSON chapters file.

Plain functions from data to text; :mod:`.render` writes them."""

from __future__ import annotations

import email.utils
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from matcue import __version__
from matcue.errors import InputError, SettingError, SettingText
from matcue.timeline import Timeline

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
CHAPTERS_VERSION = "1.2.0"
CHAPTERS_TYPE = "application/json+chapters"
FEED_NAME = "feed.xml"
PLAYLIST_NAME = "playlist.m3u8"

ET.register_namespace("itunes", ITUNES_NS)
ET.register_namespace("podcast", PODCAST_NS)
ET.register_namespace("atom", ATOM_NS)


@dataclass(frozen=True)
class Episode:
    """One rendered session, as the feed and the playlist list it."""

    stem: str
    title: str
    description: str
    season: int
    episode: int
    number: int
    """Position in the whole programme (orders the publication dates)."""
    duration: float
    """Seconds."""
    size: int
    """Bytes of the MP3."""
    guid: str


def chapters_json(timeline: Timeline) -> dict[str, Any]:
    """The Podcasting 2.0 JSON chapters of a session: the same chapters, at the same
    whole milliseconds, as its ID3 CHAP frames."""
    sr = timeline.sample_rate
    return {
        "version": CHAPTERS_VERSION,
        "chapters": [
            {
                "startTime": round(c.start * 1000 / sr) / 1000,
                "endTime": round(c.end * 1000 / sr) / 1000,
                "title": c.title,
            }
            for c in timeline.chapters
        ],
    }


def chapters_text(timeline: Timeline) -> str:
    return json.dumps(chapters_json(timeline), indent=2, ensure_ascii=False) + "\n"


def check_base_url(url: str) -> str:
    """``url`` as the folder the feed's addresses start with (ending in '/');
    InputError unless it is an http(s) address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingError(
            SettingText(
                "{base_url} {url}: expected an http:// or https:// address of the folder, "
                "such as https://example.org/back/",
                url=url,
            )
        )
    return url if url.endswith("/") else url + "/"


def _duration(seconds: float) -> str:
    return str(int(round(seconds)))


def feed_xml(
    *,
    title: str,
    summary: str,
    episodes: list[Episode],
    base_url: str,
    published: datetime,
) -> str:
    """The RSS 2.0 feed. ``base_url`` ('' for addresses relative to the feed) starts
    every address; ``published`` is the first episode's date (each next one is a
    minute later, so apps sort them in programme order)."""

    def url(name: str) -> str:
        return base_url + quote(name)

    def sub(parent: ET.Element, tag: str, body: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, tag, attrs)
        if body is not None:
            el.text = body
        return el

    it = f"{{{ITUNES_NS}}}"
    atom = f"{{{ATOM_NS}}}"
    pc = f"{{{PODCAST_NS}}}"
    rss = ET.Element("rss", {"version": "2.0"})
    channel = sub(rss, "channel")
    sub(channel, "title", title)
    sub(channel, "link", base_url or "./")
    if base_url:
        sub(channel, f"{atom}link", href=url(FEED_NAME), rel="self", type="application/rss+xml")
    sub(channel, "description", summary or title)
    sub(channel, "language", "en")
    sub(channel, "generator", f"matcue {__version__}")
    sub(channel, f"{it}author", "matcue")
    sub(channel, f"{it}summary", summary or title)
    sub(channel, f"{it}type", "serial")
    sub(channel, f"{it}explicit", "false")
    sub(channel, f"{it}category", text="Health & Fitness")
    for ep in episodes:
        item = sub(channel, "item")
        sub(item, "title", ep.title)
        sub(item, "description", ep.description)
        sub(item, "guid", ep.guid, isPermaLink="false")
        when = published + timedelta(minutes=ep.number - 1)
        sub(item, "pubDate", email.utils.format_datetime(when))
        sub(item, "enclosure", url=url(f"{ep.stem}.mp3"), length=str(ep.size), type="audio/mpeg")
        sub(item, f"{it}title", ep.title)
        sub(item, f"{it}duration", _duration(ep.duration))
        sub(item, f"{it}season", str(ep.season))
        sub(item, f"{it}episode", str(ep.episode))
        sub(item, f"{it}episodeType", "full")
        sub(item, f"{pc}season", str(ep.season))
        sub(item, f"{pc}episode", str(ep.number))
        sub(item, f"{pc}chapters", url=url(f"{ep.stem}.chapters.json"), type=CHAPTERS_TYPE)
        sub(
            item,
            f"{pc}transcript",
            url=url(f"{ep.stem}.vtt"),
            type="text/vtt",
            language="en",
        )
    ET.indent(rss, space="  ")
    body = ET.tostring(rss, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def playlist_m3u8(title: str, episodes: list[Episode]) -> str:
    """An extended M3U playlist (UTF-8) of the sessions in programme order, with
    names relative to the playlist."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(title)}"]
    for ep in episodes:
        lines.append(f"#EXTINF:{_duration(ep.duration)},{_one_line(ep.title)}")
        lines.append(f"{ep.stem}.mp3")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


MAX_FEED_BYTES = 16 * 1024 * 1024
"""The largest feed file :func:`rebased_feed` reads (a 52-week plan's is far smaller)."""


def rebased_feed(text: str, base_url: str) -> str:
    """A feed written with relative addresses (no ``--base-url``), with every
    address made absolute under ``base_url`` (how ``matcue studio --feed`` serves it:
    podcast apps need full addresses). Absolute addresses are left as they are."""
    if len(text) > MAX_FEED_BYTES:
        raise InputError("the feed is too large to serve")
    root = ET.fromstring(text)
    channel = root.find("channel")
    if channel is not None:
        link = channel.find("link")
        if link is not None and not urlsplit(link.text or "").scheme:
            link.text = base_url
    for el in root.iter():
        address = el.get("url")
        if address is not None and not urlsplit(address).scheme:
            el.set("url", base_url + address.lstrip("./"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
