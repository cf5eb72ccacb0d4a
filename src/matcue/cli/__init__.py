"""The ``matcue`` command: thin click commands over the library.

``app`` holds the group, the shared options and error handling; each other
module adds its commands to ``main`` when imported here. A new command group
is one module plus one import line below.
"""

from __future__ import annotations

from . import cache as _cache  # noqa: F401  (registers the commands)
from . import commands as _commands  # noqa: F401
from . import programme as _programme  # noqa: F401  (registers 'matcue programme')
from . import studio as _studio  # noqa: F401  (registers 'matcue studio')
from . import voices as _voices  # noqa: F401
from .app import handle_errors, main, run

__all__ = ["handle_errors", "main", "run"]
