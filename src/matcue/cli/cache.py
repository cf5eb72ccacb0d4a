"""``matcue cache info`` and ``matcue cache clear``: the phrase cache."""

from __future__ import annotations

import click

from .app import handle_errors, main


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


@main.group()
def cache() -> None:
    """The phrase cache: spoken clips kept between renders."""


@cache.command("info")
@handle_errors
def cache_info() -> None:
    """Where the cache is, how many clips it holds, their size and the cap, and
    what else the folder holds."""
    from ..speech.cache import MAX_ENV_VAR, ClipCache

    info = ClipCache().info()
    click.echo(f"folder: {info.root}")
    click.echo(f"clips: {info.clips}")
    click.echo(f"size: {_mb(info.bytes)}")
    click.echo(f"cap: {_mb(info.max_bytes)} (set {MAX_ENV_VAR} to change it)")
    if info.others:
        listed = ", ".join(f"{name} {_mb(size)}" for name, size in info.others.items())
        click.echo(f"also: {listed} (not under the cap)")


@cache.command("clear")
@handle_errors
def cache_clear() -> None:
    """Delete every cached clip (they are made again when needed)."""
    from ..speech.cache import ClipCache

    removed = ClipCache().clear()
    click.echo(f"removed {removed} clips")
