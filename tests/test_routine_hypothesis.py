"""Property tests: whatever bytes or text a user hands us, loading either returns a
Routine or raises ValidationError, never anything else (no KeyError from the
error mapper, no RecursionError, no yaml exception leaking out)."""

from __future__ import annotations

import os
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcue.errors import ValidationError
from matcue.routine import Routine, parse_routine
from matcue.starter import starter_routine
from matcue.yamlsafe import decode_bytes

# MATCUE_FUZZ_EXAMPLES=5000 for a longer local run; the default keeps the suite fast.
SETTINGS = settings(
    max_examples=int(os.environ.get("MATCUE_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
VALID = starter_routine("fuzz")
VALID_DATA = yaml.safe_load(VALID)


def outcome(text: str) -> Routine | None:
    """Parse; None when refused. Anything but ValidationError propagates and fails."""
    try:
        return parse_routine(text, filename="fuzz.yaml")
    except ValidationError as exc:
        assert exc.problems, "a ValidationError must carry at least one problem"
        for p in exc.problems:
            assert p.startswith("fuzz.yaml:"), p
            assert p.split(":")[1].isdigit(), p
        return None


@SETTINGS
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    outcome(text)


@SETTINGS
@given(st.binary())
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        text = decode_bytes(data, filename="fuzz.yaml")
    except ValidationError:
        return
    outcome(text)


YAMLISH = st.sampled_from(
    list(":-[]{}&*!|>'\"#%@`,? \t\n") + ["---", "...", "- ", ": ", "!!binary", "<<: ", "\x00"]
)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(VALID)),
            st.integers(min_value=0, max_value=40),
            st.one_of(YAMLISH, st.text(max_size=8)),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_mutated_valid_text(edits: list[tuple[int, int, str]]) -> None:
    text = VALID
    for pos, cut, insert in edits:
        pos = min(pos, len(text))
        text = text[:pos] + insert + text[pos + cut :]
    outcome(text)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


LEAVES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from(["both", "breaths", "inhale", "say", "hold", "{{ x }}", "x" * 600]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["seconds", "breaths", "counts", "kind", "name", "reps", "x"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=6,
)


@SETTINGS
@given(st.data())
def test_mutated_valid_data(data: st.DataObject) -> None:
    import copy

    doc = copy.deepcopy(VALID_DATA)
    paths = _paths(doc)[1:]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(paths))
        parent = doc
        try:
            for seg in path[:-1]:
                parent = parent[seg]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = data.draw(LEAVES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
    outcome(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
