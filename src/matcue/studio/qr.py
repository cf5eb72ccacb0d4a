"""QR codes of the ``--lan`` address: for the terminal and for the page (segno,
pure Python)."""

from __future__ import annotations

import io


def qr_svg(url: str) -> str:
    """An inline SVG of ``url`` (segno escapes nothing into it but the code itself)."""
    import segno

    return str(segno.make(url, error="m").svg_inline(scale=4, dark="#1d2a26", light="#ffffff"))


def qr_text(url: str) -> str:
    """``url`` as a QR code drawn with block characters, for the terminal."""
    import segno

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()
