"""--minutes N lands within 10% of N minutes for every built-in, at the short
end of the range (5 minutes), where sensible bounds bind hardest. Real speech:
the fit estimates speech by word count, the check is the rendered timeline."""

from __future__ import annotations

import pytest

from matcue.pipeline import load_source, prepare, resolve_settings
from matcue.routine import builtin_names


@pytest.mark.parametrize("name", builtin_names())
def test_five_minutes_lands_within_ten_percent(name: str) -> None:
    src = load_source(name)
    p = prepare(src, resolve_settings(src, {"minutes": 5}))
    assert abs(p.timeline.duration - 300) <= 30, (p.timeline.duration, p.changes)
    assert not any("could only reach" in c for c in p.changes), p.changes
