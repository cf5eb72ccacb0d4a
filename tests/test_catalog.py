"""``matcue routines`` states each built-in's length at the default pace; the
estimate (speech timed by word count, no synthesis) must match a real render."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from matcue.cli import main
from matcue.pipeline import load_source, prepare, resolve_settings
from matcue.routine import builtin_names


@pytest.fixture(scope="module")
def listed() -> dict[str, float]:
    r = CliRunner().invoke(main, ["routines"])
    assert r.exit_code == 0, r.output
    rows = [re.match(r"(\S+)\s+~([\d.]+) min\s", line) for line in r.output.splitlines()]
    return {m.group(1): float(m.group(2)) for m in rows if m}


@pytest.mark.parametrize("name", builtin_names())
def test_listed_length_is_the_rendered_length(listed: dict[str, float], name: str) -> None:
    """Shown to the half minute under ten minutes (clutch renders 8:21: '~8.5 min',
    not the '~9 min' it used to say)."""
    src = load_source(name)
    real = prepare(src, resolve_settings(src, {})).timeline.duration / 60
    step = 0.5 if real < 10 else 1.0
    assert abs(listed[name] - real) <= step / 2 + 0.1, (listed[name], real)
