"""A rendered programme folder served read-only to a podcast app
(``matcue studio --lan --feed DIR``): only the files a programme render writes,
under ``/feed/TOKEN/``, the feed's addresses made absolute for the app."""

from __future__ import annotations

import hmac
import re
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ..programme.feed import FEED_NAME, PLAYLIST_NAME, rebased_feed

_SESSION_FILE = re.compile(r"[a-z0-9][a-z0-9-]*\.(mp3|vtt|chapters\.json)")
TYPES = {
    ".mp3": "audio/mpeg",
    ".vtt": "text/vtt",
    ".json": "application/json+chapters",
    ".m3u8": "audio/x-mpegurl",
}


class FeedFolder:
    """The folder and the token that must start every address in it."""

    def __init__(self, folder: Path, token: str) -> None:
        self.folder = folder.resolve()
        self.token = token

    def url_path(self, name: str = FEED_NAME) -> str:
        return f"/feed/{self.token}/{name}"

    def _file(self, token: str, name: str) -> Path:
        if not hmac.compare_digest(token, self.token):
            raise HTTPException(404, "no such file")
        if name not in (FEED_NAME, PLAYLIST_NAME) and not _SESSION_FILE.fullmatch(name):
            raise HTTPException(404, "no such file")
        path = self.folder / name
        if not path.is_file() or path.is_symlink():
            raise HTTPException(404, "no such file")
        return path

    async def serve(self, request: Request) -> Response:
        path = self._file(request.path_params["token"], request.path_params["filename"])
        if path.name == FEED_NAME:
            base = str(request.base_url).rstrip("/") + self.url_path("")
            text = rebased_feed(path.read_text(encoding="utf-8"), base)
            return Response(text, media_type="application/rss+xml; charset=utf-8")
        media = TYPES.get(path.suffix.lower(), "application/octet-stream")
        return FileResponse(path, media_type=media)
