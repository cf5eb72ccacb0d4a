"""``matcue studio``: the library in a browser (needs the ``studio`` extra)."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import click

from ..errors import InputError
from .app import handle_errors, main

STUDIO_EXTRA = (
    "the studio needs its extra: pip install 'matcue[studio]' (or 'make demo' in a clone)"
)


def _lan_address() -> str:
    """This machine's address on the local network (the one a route out would use;
    nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, no packet leaves
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option(
    "--lan",
    is_flag=True,
    help="Also listen on the local network (for a phone); prints an address with a token.",
)
@click.option(
    "--feed",
    "feed_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Also serve a folder written by 'matcue programme render' as a podcast feed "
    "(with --lan: for a phone's podcast app).",
)
@handle_errors
def studio(
    folder: Path | None, port: int, no_browser: bool, lan: bool, feed_dir: Path | None
) -> None:
    """Write, hear and render routines in a browser, with FOLDER as the workspace
    (default: ~/matcue). Listens on 127.0.0.1 only, unless --lan."""
    try:
        import uvicorn

        from ..studio import create_app
        from ..studio.qr import qr_text
    except ImportError:
        raise InputError(STUDIO_EXTRA) from None

    workspace = (folder or Path.home() / "matcue").expanduser()
    if workspace.exists() and not workspace.is_dir():
        raise InputError(f"{workspace}: not a folder")
    local_url = f"http://127.0.0.1:{port}/"
    lan_url = None
    kwargs: dict[str, object] = {}
    token = secrets.token_urlsafe(16)
    host = f"127.0.0.1:{port}"
    if lan:
        address = _lan_address()
        host = f"{address}:{port}"
        lan_url = f"http://{host}/?token={token}"
        kwargs = {"lan_token": token, "lan_hosts": {address}, "lan_url": lan_url}
    feed_url = None
    if feed_dir is not None:
        from ..programme.feed import FEED_NAME
        from ..studio.feedfiles import FeedFolder

        if not (feed_dir / FEED_NAME).is_file():
            raise InputError(f"--feed {feed_dir}: no {FEED_NAME}; run 'matcue programme render'")
        feed = FeedFolder(feed_dir, token)
        kwargs["feed"] = feed
        feed_url = f"http://{host}{feed.url_path()}"
    app = create_app(workspace, **kwargs)
    click.echo(f"matcue studio: workspace {app.workspace.root}")
    click.echo(f"matcue studio: serving on {local_url} (this computer only)")
    if lan_url:
        click.echo(f"matcue studio: on your phone (same network), open {lan_url}")
        click.echo(qr_text(lan_url), nl=False)
    if feed_url:
        where = "add it in your phone's podcast app" if lan else "this computer only"
        click.echo(f"matcue studio: podcast feed at {feed_url} ({where})")
    click.echo("matcue studio: press Ctrl-C to stop")
    if not no_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(local_url,)).start()
    config = uvicorn.Config(
        app,
        host="0.0.0.0" if lan else "127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    try:
        uvicorn.Server(config).run()
    finally:
        app.runner.stop()
