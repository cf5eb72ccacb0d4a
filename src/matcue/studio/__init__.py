"""matcue studio: a local web app over the library (``matcue studio``).

Needs the ``studio`` extra (Starlette, uvicorn, segno).
"""

from __future__ import annotations

from .app import Studio, create_app

__all__ = ["Studio", "create_app"]
