"""docs/routine-format.md covers every field of the models, its examples load,
and every field in the contract table exists in the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from matcue import routine as r
from matcue.routine import parse_routine
from matcue.routine.progression import Amounts, Progression

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "routine-format.md").read_text(encoding="utf-8")
CONTRACT = (ROOT / "docs" / "routine-contract.md").read_text(encoding="utf-8")
MODELS: list[type[BaseModel]] = [
    r.Routine,
    r.Defaults,
    *r.STEP_CLASSES.values(),  # a new step kind's fields are checked without a new line here
    r.BreathCues,
    r.BreathPattern,
    r.BreathWords,
    r.RepsCues,
    r.RepsWords,
    r.FlowMovement,
    r.RoundsGroup,
    Progression,
    Amounts,
]
ALL_FIELDS = sorted({f for m in MODELS for f in m.model_fields})


@pytest.mark.parametrize("field", ALL_FIELDS)
def test_doc_mentions_every_field(field: str) -> None:
    assert f"`{field}`" in DOC or f"{field}:" in DOC, f"docs/routine-format.md lacks {field!r}"


def test_every_contract_field_exists_in_the_models() -> None:
    keys = set(re.findall(r"^\| ([a-z_]+) \|", CONTRACT, flags=re.M)) - {"key"}
    assert len(keys) > 40
    missing = sorted(k for k in keys if k not in ALL_FIELDS)
    assert not missing


def test_doc_says_every_limit() -> None:
    for limit in (r.MAX_STEPS, r.MAX_REPS, r.MAX_SETS, r.MAX_LINE, int(r.MAX_DURATION_SECONDS)):
        assert re.search(rf"\| {limit}( s| characters)? [|(]", DOC), limit


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)


def test_doc_examples_load() -> None:
    blocks = _yaml_blocks()
    assert len(blocks) >= 7
    for block in blocks:
        if block.startswith("title:"):
            parse_routine(block, filename="example.yaml")
            continue
        step = yaml.safe_load(block)[0]
        text = yaml.safe_dump({"title": "Doc example", "steps": [step]})
        routine = parse_routine(text, filename="example.yaml")
        assert routine.steps[0].kind == step["kind"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def test_every_field_description_states_the_range_it_checks() -> None:
    """The ranges live in matcue.limits; a field's description (the JSON Schema's
    and the docs' text) must say the range its validator applies, so a limit
    changed in one place cannot leave the description behind."""
    checked = 0
    for model in MODELS:
        for name, info in model.model_fields.items():
            low = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
            high = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
            if low is None or high is None or name in ("matcue",):
                continue
            checked += 1
            span = f"{_number(low)}..{_number(high)}"
            assert span in (info.description or ""), f"{model.__name__}.{name}: says no {span}"
    assert checked >= 12


def _defaults_table() -> dict[str, tuple[str, str]]:
    """``field -> (type and limits, default)`` from the defaults table of the doc."""
    section = DOC.split("## defaults", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \| ([^|]+) \|", section, flags=re.M)
    return {name: (limits.strip(), default.strip()) for name, limits, default in rows}


def test_doc_defaults_table_says_the_settings_ranges_and_defaults() -> None:
    """The table describes the one settings type: a row per field of a routine's
    defaults, with the range and default the model has (issue 10: one home for
    every limit and default, which the docs read)."""
    from annotated_types import Ge, Gt, Le

    from matcue.routine.text import num

    table = _defaults_table()
    assert set(table) == set(r.Defaults.model_fields)
    for name, field in r.Defaults.model_fields.items():
        limits, default = table[name]
        value = field.default
        shown = (
            "null" if value is None else f"`{num(value) if isinstance(value, float) else value}`"
        )
        assert default == shown, (name, default, shown)
        low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
        above = next((m.gt for m in field.metadata if isinstance(m, Gt)), None)
        high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
        if low is not None:
            assert f"{num(low)}–{num(high)}" in limits, (name, limits)
        if above is not None:
            assert f"more than {num(above)}, at most {num(high)}" in limits, (name, limits)
