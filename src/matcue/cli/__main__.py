"""``python -m matcue.cli``."""

from . import run

run()
