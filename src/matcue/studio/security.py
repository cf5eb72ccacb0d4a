"""The studio's guards, run before any page or file is served.

- The Host header must name this machine (127.0.0.1, localhost, or the LAN
  address given with ``--lan``): a page on evil.example whose name resolves to
  127.0.0.1 (DNS rebinding) is refused.
- A client on another machine needs the ``--lan`` token, from the address the
  terminal printed (``?token=...``) or the cookie that address set; a podcast
  app reads a programme feed at ``/feed/TOKEN/...`` (``--feed``).
- A request that changes something (any method but GET/HEAD) needs an Origin
  (or Referer) of this same server, and the page's CSRF token.
- A browser's cross-site request for anything but a page (an <audio> or
  <img> on another site pointing here) is refused by its Sec-Fetch-Site.
- A request body larger than the upload limit is refused before it is read.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

MAX_BODY = 25 * 1024 * 1024
"""The largest request body: an uploaded bed (20 MB) and the form around it."""
TOKEN_COOKIE = "matcue_token"
SAFE_METHODS = ("GET", "HEAD")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in ("localhost", "testclient"):  # Starlette's in-process client is local
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """``127.0.0.1:8765`` -> ``127.0.0.1``; ``[::1]:8765`` -> ``::1``."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


class Guard:
    """ASGI middleware applying the checks above."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        csrf_token: str,
        lan_token: str | None = None,
        lan_hosts: set[str] | None = None,
    ) -> None:
        self.app = app
        self.csrf_token = csrf_token
        self.lan_token = lan_token
        self.allowed_hosts = LOCAL_HOSTS | {h.lower() for h in (lan_hosts or set())}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refuse(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if token and self.lan_token and hmac.compare_digest(token[0], self.lan_token):
            # The address from the terminal: keep the token in a cookie, drop it from the URL.
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.lan_token, httponly=True, samesite="strict")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refuse(self, request: Request) -> PlainTextResponse | None:
        host = host_name(request.headers.get("host", ""))
        if host not in self.allowed_hosts:
            return PlainTextResponse("matcue studio: unknown Host header\n", status_code=400)
        client = request.client.host if request.client else None
        if not is_loopback(client):
            if self.lan_token is None:
                return PlainTextResponse("matcue studio: local clients only\n", status_code=403)
            if not self._has_lan_token(request):
                return PlainTextResponse(
                    "matcue studio: open the address printed in the terminal "
                    "(it carries the access token)\n",
                    status_code=403,
                )
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return PlainTextResponse("matcue studio: request too large\n", status_code=413)
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site == "cross-site" and request.headers.get("sec-fetch-mode") != "navigate":
            # another site embedding the studio's audio, or making it speak samples
            return PlainTextResponse("matcue studio: cross-site request refused\n", status_code=403)
        if request.method not in SAFE_METHODS and not self._same_origin(request):
            return PlainTextResponse("matcue studio: cross-site request refused\n", status_code=403)
        return None

    def _has_lan_token(self, request: Request) -> bool:
        assert self.lan_token is not None
        given = request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token") or ""
        if not given and request.url.path.startswith("/feed/"):
            # A podcast app keeps no cookie: a programme feed carries the token in its path.
            given = request.url.path.split("/")[2]
        return hmac.compare_digest(given, self.lan_token)

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin") or request.headers.get("referer")
        if not origin:
            return False
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and (
            parts.netloc.lower() == request.headers.get("host", "").lower()
        )

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given), self.csrf_token)
