"""The studio's ASGI app: server-rendered pages over the workspace and the library.

All library calls go through :mod:`matcue.studio.service`; all user files
through :class:`~matcue.studio.workspace.Workspace`; every request through the
:class:`~matcue.studio.security.Guard`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import InputError, MatcueError
from ..writers import WRITERS
from . import service
from .feedfiles import FeedFolder
from .jobs import FINAL_STATES, Runner
from .security import Guard
from .workspace import Refused, Workspace, read_meta

MAX_ROUTINE_UPLOAD = service.ROUTINE_MAX_BYTES
MAX_BED_UPLOAD = 20 * 1024 * 1024
BED_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")
SAMPLE_TEXT = "Breathe in slowly. And breathe out, letting the shoulders soften."

Handler = Callable[[Request], Awaitable[Response]]


class Studio:
    """The app's state: workspace, render queue, tokens, templates."""

    def __init__(
        self,
        workspace: Path,
        *,
        lan_token: str | None = None,
        lan_hosts: set[str] | None = None,
        lan_url: str | None = None,
        feed: FeedFolder | None = None,
    ) -> None:
        self.workspace = Workspace(workspace)
        self.runner = Runner(self.workspace)
        self.csrf_token = secrets.token_urlsafe(32)
        self.lan_url = lan_url
        folder = resources.files("matcue.studio")
        self.env = Environment(
            loader=FileSystemLoader(str(folder / "templates")),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["clock"] = clock
        self.env.globals["formats"] = tuple(WRITERS)
        routes = [
            Route("/", self.library),
            Route("/new", self.new_routine, methods=["POST"]),
            Route("/upload", self.upload_routine, methods=["POST"]),
            Route("/beds", self.upload_bed, methods=["POST"]),
            Route("/builtin/{name}", self.builtin_page),
            Route("/builtin/{name}/duplicate", self.duplicate, methods=["POST"]),
            Route("/edit/{name}", self.edit_page),
            Route("/edit/{name}/save", self.save, methods=["POST"]),
            Route("/api/check", self.check, methods=["POST"]),
            Route("/api/voice-sample", self.voice_sample),
            Route("/render", self.start_render, methods=["POST"]),
            Route("/jobs/{job}", self.job_state),
            Route("/jobs/{job}/events", self.job_events),
            Route("/jobs/{job}/cancel", self.cancel_job, methods=["POST"]),
            Route("/renders/{render}", self.player),
            Route("/renders/{render}/files/{filename}", self.render_file),
            Mount("/static", StaticFiles(directory=str(folder / "static")), name="static"),
        ]
        if feed is not None:  # a rendered programme, for a podcast app (--feed)
            routes.append(Route("/feed/{token}/{filename}", feed.serve, methods=["GET", "HEAD"]))
        app = Starlette(
            routes=routes,
            exception_handlers={HTTPException: self.http_error, Refused: self.refused},
        )
        self.guard = Guard(
            app, csrf_token=self.csrf_token, lan_token=lan_token, lan_hosts=lan_hosts
        )
        app.state.studio = self

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.guard(scope, receive, send)

    # ------------------------------------------------------------ helpers

    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(
            csrf=self.csrf_token,
            lan_url=self.lan_url,
            qr_svg=self._qr(),
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def _qr(self) -> str | None:
        if not self.lan_url:
            return None
        from .qr import qr_svg

        return qr_svg(self.lan_url)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith(("/api/", "/jobs/")):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return self.page(request, "error.html", status=exc.status_code, message=exc.detail)

    async def refused(self, request: Request, exc: Exception) -> Response:
        """A name or path outside the workspace, from any handler: not found."""
        return await self.http_error(request, HTTPException(404, "not found"))

    async def form(self, request: Request, *, max_part_size: int = 1024 * 1024) -> Any:
        """The request's form, after the CSRF token check (the Guard has checked the
        origin already)."""
        try:
            form = await request.form(max_files=1, max_fields=50, max_part_size=max_part_size)
        except Exception as exc:  # noqa: BLE001 - a malformed or oversized form
            raise HTTPException(413 if "size" in str(exc).lower() else 400, str(exc)) from None
        given = request.headers.get("x-csrf-token") or form.get("csrf")
        if not self.guard.csrf_ok(given if isinstance(given, str) else None):
            await form.close()
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")
        return form

    def routine_arg(self, kind: str, name: str) -> tuple[str, str]:
        """(``matcue render`` argument, key) for a built-in or a workspace routine."""
        try:
            if kind == "builtin":
                if name not in service.builtin_names():
                    raise Refused(name)
                return name, name
            if kind == "workspace":
                path = self.workspace.routine_path(name)
                if not path.is_file():
                    raise Refused(name)
                return str(path), f"workspace:{name}"
        except Refused:
            pass
        raise HTTPException(404, "no such routine")

    # ------------------------------------------------------------ library

    async def library(self, request: Request) -> Response:
        def collect() -> tuple[list[Any], list[Any]]:
            builtins = [service.info(n, n) for n in service.builtin_names()]
            mine = [
                service.info(str(self.workspace.routine_path(n)), n)
                for n in self.workspace.routine_names()
            ]
            return builtins, mine

        builtins, mine = await asyncio.to_thread(collect)
        return self.page(
            request,
            "library.html",
            builtins=builtins,
            mine=mine,
            renders=self.workspace.renders()[:50],
            workspace=self.workspace.root,
        )

    async def new_routine(self, request: Request) -> Response:
        form = await self.form(request)
        name = str(form.get("name", "")).strip().lower()
        if not service.NAME_RE.fullmatch(name):
            raise HTTPException(400, "a routine name uses lowercase letters, digits and '-'")
        name = self.workspace.free_name(name)
        service.save_text(self.workspace.routine_path(name), service.starter(name))
        return RedirectResponse(f"/edit/{name}", status_code=303)

    async def duplicate(self, request: Request) -> Response:
        await self.form(request)
        name = request.path_params["name"]
        self.routine_arg("builtin", name)
        new = self.workspace.free_name(name)
        service.save_text(self.workspace.routine_path(new), service.builtin_text(name))
        return RedirectResponse(f"/edit/{new}", status_code=303)

    async def upload_routine(self, request: Request) -> Response:
        form = await self.form(request, max_part_size=MAX_ROUTINE_UPLOAD)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, "no file")
        try:
            data = await upload.read(MAX_ROUTINE_UPLOAD + 1)
        finally:
            await form.close()
        if len(data) > MAX_ROUTINE_UPLOAD:
            raise HTTPException(413, f"a routine file is at most {MAX_ROUTINE_UPLOAD // 1024} KiB")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "a routine file is UTF-8 text") from None
        stem = Path(upload.filename or "routine").name.rsplit(".", 1)[0].lower()
        base = "-".join(filter(None, "".join(c if c.isalnum() else "-" for c in stem).split("-")))
        base = base[:70] if base and service.NAME_RE.fullmatch(base[:70]) else "routine"
        name = self.workspace.free_name(base)
        service.save_text(self.workspace.routine_path(name), text)
        return RedirectResponse(f"/edit/{name}", status_code=303)

    async def upload_bed(self, request: Request) -> Response:
        form = await self.form(request, max_part_size=MAX_BED_UPLOAD)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, "no file")
        try:
            data = await upload.read(MAX_BED_UPLOAD + 1)
        finally:
            await form.close()
        if len(data) > MAX_BED_UPLOAD:
            raise HTTPException(413, f"a bed file is at most {MAX_BED_UPLOAD // 1024 // 1024} MB")
        filename = Path(upload.filename or "").name
        if not filename.lower().endswith(BED_SUFFIXES) or not service.NAME_FILE_RE.fullmatch(
            filename
        ):
            raise HTTPException(400, "a bed is a .wav, .mp3, .flac or .ogg file with a plain name")
        try:
            path = self.workspace.bed_path(filename)
        except Refused:
            raise HTTPException(400, "not a name the studio keeps") from None
        from ..atomic import atomic_output

        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
        return JSONResponse({"bed": filename})

    # ------------------------------------------------------------ routine pages

    async def builtin_page(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.routine_arg("builtin", name)
        return await self._routine_page(request, "builtin", name, service.builtin_text(name))

    async def edit_page(self, request: Request) -> Response:
        name = request.path_params["name"]
        arg, _ = self.routine_arg("workspace", name)
        text = Path(arg).read_text(encoding="utf-8", errors="replace")
        return await self._routine_page(request, "workspace", name, text)

    async def _routine_page(self, request: Request, kind: str, name: str, text: str) -> Response:
        filename = f"library/{name}.yaml" if kind == "builtin" else f"{name}.yaml"

        def analyse() -> dict[str, Any]:
            problems = service.check_text(text, filename)
            defaults: dict[str, Any] = {}
            shape = None
            title = name
            if not problems:
                source = service.load(self.routine_arg(kind, name)[0])
                defaults = service.default_settings(source)
                shape = service.shape(source)
                title = source.routine.title or name
            return {"problems": problems, "defaults": defaults, "shape": shape, "title": title}

        data = await asyncio.to_thread(analyse)
        voices = await asyncio.to_thread(service.voices)
        key = name if kind == "builtin" else f"workspace:{name}"
        renders = [r for r in self.workspace.renders() if r.get("routine") == key][:10]
        return self.page(
            request,
            "routine.html",
            kind=kind,
            name=name,
            text=text,
            filename=filename,
            voices=voices,
            beds=self.workspace.beds(),
            renders=renders,
            **data,
        )

    async def save(self, request: Request) -> Response:
        form = await self.form(request, max_part_size=MAX_ROUTINE_UPLOAD + 1024)
        name = request.path_params["name"]
        path = self.workspace.routine_path(name) if service.NAME_RE.fullmatch(name) else None
        if path is None or not path.is_file():
            raise HTTPException(404, "no such routine")
        text = str(form.get("text", ""))
        if len(text.encode("utf-8")) > MAX_ROUTINE_UPLOAD:
            raise HTTPException(413, f"a routine file is at most {MAX_ROUTINE_UPLOAD // 1024} KiB")
        backup = await asyncio.to_thread(service.save_text, path, text)
        problems = await asyncio.to_thread(service.check_text, text, f"{name}.yaml")
        return JSONResponse(
            {
                "saved": True,
                "backup": backup.name if backup else None,
                "problems": [p.__dict__ for p in problems],
            }
        )

    async def check(self, request: Request) -> Response:
        """Problems, length and shape of a routine's text (the editor, as you type)
        under the settings of the form."""
        form = await self.form(request, max_part_size=MAX_ROUTINE_UPLOAD + 1024)
        kind = str(form.get("kind", ""))
        name = str(form.get("name", ""))
        self.routine_arg(kind, name)
        if kind == "builtin":
            text = service.builtin_text(name)
            filename = f"library/{name}.yaml"
        else:
            text = str(form.get("text", ""))
            filename = f"{name}.yaml"
        fields = {k: str(form.get(k, "")) for k in service.SETTING_KEYS}

        def work() -> dict[str, Any]:
            try:
                overrides = service.parse_overrides(fields, self.workspace.root / "beds")
            except MatcueError as exc:
                return {"problems": [], "settings_error": service.one_line(exc)}
            problems = service.check_text(text, filename, overrides)
            out: dict[str, Any] = {"problems": [p.__dict__ for p in problems], "settings_error": ""}
            if not problems:
                from ..pipeline import Source
                from ..routine import parse_routine

                routine = parse_routine(text, filename=filename)
                source = Source(name=routine.name, routine=routine, path=Path(filename))
                shape = service.shape(source, overrides)
                out["seconds"] = shape.seconds
                out["shape"] = self.env.get_template("shape.html").render(shape=shape)
            return out

        try:
            return JSONResponse(await asyncio.to_thread(work))
        except MatcueError as exc:  # a settings problem the routine's defaults cause
            return JSONResponse({"problems": [], "settings_error": service.one_line(exc)})

    async def voice_sample(self, request: Request) -> Response:
        voice = request.query_params.get("voice") or None
        rate_text = request.query_params.get("rate") or ""
        try:
            rate = int(rate_text) if rate_text else None
            wav = await asyncio.to_thread(service.voice_sample, voice, rate, SAMPLE_TEXT)
        except (ValueError, MatcueError) as exc:
            message = service.one_line(exc) if isinstance(exc, MatcueError) else "bad rate"
            raise HTTPException(400, message) from None
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------ render

    async def start_render(self, request: Request) -> Response:
        form = await self.form(request)
        kind, name = str(form.get("kind", "")), str(form.get("name", ""))
        arg, key = self.routine_arg(kind, name)
        fields = {k: str(form.get(k, "")) for k in service.SETTING_KEYS}
        try:
            overrides = service.parse_overrides(fields, self.workspace.root / "beds")
            source = await asyncio.to_thread(service.load, arg)
        except MatcueError as exc:
            return JSONResponse({"error": service.one_line(exc)}, status_code=400)
        job = self.runner.submit(key, arg, source.name, overrides)
        return JSONResponse(job.snapshot(), status_code=202)

    def job(self, request: Request) -> Any:
        job = self.runner.jobs.get(request.path_params["job"])
        if job is None:
            raise HTTPException(404, "no such job")
        return job

    async def job_state(self, request: Request) -> Response:
        return JSONResponse(self.job(request).snapshot())

    async def cancel_job(self, request: Request) -> Response:
        await self.form(request)
        job = self.job(request)
        self.runner.cancel(job)
        return JSONResponse(job.snapshot())

    async def job_events(self, request: Request) -> Response:
        """Server-sent events: ``progress`` while the job is queued or runs, then one
        ``done``, ``failed`` or ``cancelled`` event, and the stream ends."""
        job = self.job(request)

        async def events() -> AsyncIterator[str]:
            last = None
            while True:
                # One snapshot decides both the event and the end of the stream: a
                # job that finished between two reads of its state ended the stream
                # after a "progress" event, with no final one (seen under load).
                snap = job.snapshot()
                over = snap["state"] in FINAL_STATES
                if snap != last:
                    kind = snap["state"] if over else "progress"
                    yield f"event: {kind}\ndata: {json.dumps(snap)}\n\n"
                    last = snap
                if over:
                    return
                await asyncio.sleep(0.2)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ------------------------------------------------------------ player

    async def player(self, request: Request) -> Response:
        render_id = request.path_params["render"]
        try:
            folder = self.workspace.render_dir(render_id)
        except Refused:
            raise HTTPException(404, "no such render") from None
        meta = read_meta(folder)
        if meta is None:
            raise HTTPException(404, "no such render")
        kind, _, name = str(meta.get("routine", "")).rpartition(":")
        back = f"/edit/{name}" if kind == "workspace" else f"/builtin/{name}"
        return self.page(request, "player.html", render_id=render_id, meta=meta, back=back)

    async def render_file(self, request: Request) -> Response:
        try:
            path = self.workspace.render_file(
                request.path_params["render"], request.path_params["filename"]
            )
        except Refused:
            raise HTTPException(404, "no such file") from None
        types = {s: w.media_type for w in WRITERS.values() for s in w.suffixes}
        types |= {".vtt": "text/vtt", ".json": "application/json"}
        media = types.get(path.suffix.lower(), "application/octet-stream")
        download = request.query_params.get("download") == "1"
        return FileResponse(
            path,
            media_type=media,
            filename=path.name if download else None,
            content_disposition_type="attachment" if download else "inline",
        )


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def create_app(workspace: Path, **kwargs: Any) -> Studio:
    """The studio over ``workspace`` (created if missing)."""
    return Studio(workspace, **kwargs)


__all__ = ["InputError", "Studio", "create_app"]
