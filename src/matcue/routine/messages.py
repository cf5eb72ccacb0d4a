"""Turning pydantic's validation errors into located, plain-English problems."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from matcue.limits import FORMAT_VERSION
from matcue.yamlsafe import LoadedYaml, Path_, problem

from .model import Routine, partial_cross_checks
from .rounds import GROUP_KIND, ROUTINE_KINDS, RoundsGroup
from .step_base import StepBase
from .steps import STEP_CLASSES, STEP_KINDS, BreathStep, RepsStep
from .text import (
    MISSING_KIND_MESSAGE,
    NOT_STEP_MESSAGE,
    SLUG_MESSAGE,
    UNKNOWN_KIND_MESSAGE,
    and_list,
    choices,
    did_you_mean,
    get_path,
    num,
    quote_hint,
    show,
)
from .values import BreathCues, BreathWords, Defaults, RepsCues, RepsWords


def _sub_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside a field's annotation (``X``, ``X | None``, ``list[X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _sub_model(arg)
        if found is not None:
            return found
    return None


def _generic_model_at(root: type[BaseModel], path: Path_) -> type[BaseModel] | None:
    """:func:`_model_at` for another file format (a programme): follows the field
    annotations, skipping list indexes."""
    model: type[BaseModel] | None = root
    for seg in path:
        if isinstance(seg, int):
            continue
        if model is None or seg not in model.model_fields:
            return None
        model = _sub_model(model.model_fields[seg].annotation)
    return model


def _model_at(path: Path_, data: Any, root: type[BaseModel] = Routine) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` in ``data``."""
    if root is not Routine:
        return _generic_model_at(root, path)
    model: type[BaseModel] | None = Routine
    node = data
    i = 0
    while i < len(path):
        seg = path[i]
        if model in (Routine, RoundsGroup) and seg == "steps" and i + 1 < len(path):
            item = get_path(node, ("steps", path[i + 1]))
            kind = item.get("kind") if isinstance(item, dict) else None
            top = model is Routine and kind == GROUP_KIND
            model = (
                RoundsGroup if top else STEP_CLASSES.get(kind) if isinstance(kind, str) else None
            )
            node = item
            i += 2
            continue
        if model is not None and isinstance(seg, int):  # an item of a list of mappings
            node = node[seg] if isinstance(node, list) and 0 <= seg < len(node) else None
            i += 1
            continue
        if model is None or not isinstance(seg, str):
            return None
        subs: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
            (Routine, "defaults"): Defaults,
            (BreathStep, "cues"): BreathCues,
            (BreathStep, "words"): BreathWords,
            (RepsStep, "cues"): RepsCues,
            (RepsStep, "words"): RepsWords,
        }
        fields = model.model_fields
        model = subs.get((model, seg)) or (
            _sub_model(fields[seg].annotation) if seg in fields else None
        )
        node = node.get(seg) if isinstance(node, dict) else None
        i += 1
    return model


def _data_path(loc: tuple[Any, ...], data: Any) -> Path_:
    """A pydantic ``loc`` as a path into the user's data: the discriminator tag
    pydantic inserts after a step index (``steps, 2, 'breath', ...``) is dropped."""
    out: list[str | int] = []
    for k, seg in enumerate(loc):
        if (
            k >= 2
            and loc[k - 2] == "steps"
            and isinstance(loc[k - 1], int)
            and len(out) >= 2
            and out[-2] == "steps"
            and isinstance(out[-1], int)
            and (seg in STEP_CLASSES or seg == GROUP_KIND)
            and isinstance(get_path(data, tuple(out)), dict)
            and seg == get_path(data, (*out, "kind"))
        ):
            continue
        out.append(seg)
    return tuple(out)


def _in_group(path: Path_) -> bool:
    """True for the path of a step inside a rounds group (``steps.2.steps.0``)."""
    return len(path) == 4 and path[0] == "steps" and path[2] == "steps"


def _other_kinds_with(field_name: str, kind: Any) -> list[str]:
    return [k for k, cls in STEP_CLASSES.items() if k != kind and field_name in cls.model_fields]


def _message(
    err: Any, path: Path_, data: Any, root: type[BaseModel] = Routine
) -> tuple[Path_, str]:
    """Plain-English message for one pydantic error (and maybe a refined path)."""
    typ = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    field_name = next((s for s in reversed(path) if isinstance(s, str)), "value")
    if typ == "matcue":
        sub = ctx.get("sub")
        return ((*path, sub) if sub else path), err["msg"]
    if typ == "extra_forbidden":
        key = str(path[-1])
        model = _model_at(path[:-1], data, root)
        allowed = list(model.model_fields) if model else []
        msg = f"unknown field '{key}'"
        if model is RoundsGroup and key in StepBase.model_fields:
            return path, (
                f"{msg} for a rounds group (its fields are: {', '.join(allowed)}); give "
                f"'{key}' to a step inside it"
            )
        hint = did_you_mean(key, allowed)
        parent = get_path(data, path[:-1])
        kind = (
            parent.get("kind")
            if isinstance(parent, dict) and model in (*STEP_CLASSES.values(), RoundsGroup)
            else None
        )
        others = _other_kinds_with(key, kind) if kind else []
        if hint:
            msg += hint
        elif others:
            msg += f" for a {kind} step (it belongs to {and_list(others)} steps)"
        elif allowed:
            msg += f"; the fields here are: {', '.join(allowed)}"
        return path, msg
    if typ == "missing":
        return path, "required field is missing"
    if typ in ("union_tag_invalid", "union_tag_not_found"):
        known = STEP_KINDS if _in_group(path) else ROUTINE_KINDS
        kinds = ", ".join(known)
        if typ == "union_tag_not_found":
            return (*path, "kind"), MISSING_KIND_MESSAGE.format(kinds=kinds)
        kind = ctx.get("tag")
        if _in_group(path) and kind == GROUP_KIND:
            return (*path, "kind"), (
                "a rounds group cannot hold another rounds group (groups nest one level "
                "deep); write these steps into the outer group, or make them a group of "
                "their own after it"
            )
        shown = show(get_path(data, (*path, "kind")))
        return (*path, "kind"), UNKNOWN_KIND_MESSAGE.format(
            kind=shown, kinds=kinds, hint=did_you_mean(str(kind), known)
        )
    if typ == "model_attributes_type" and (
        (len(path) == 2 and path[0] == "steps") or _in_group(path)
    ):
        return path, NOT_STEP_MESSAGE + f", got {show(value)}"
    if typ in ("model_type", "model_attributes_type", "dict_type"):
        return path, f"expected a mapping of fields, got {show(value)}"
    if typ in ("int_type", "int_parsing", "int_from_float"):
        return path, f"expected a whole number, got {show(value)}" + quote_hint(value, False)
    if typ in ("float_type", "float_parsing", "finite_number"):
        return path, f"expected a number, got {show(value)}" + quote_hint(value, False)
    if typ in ("bool_type", "bool_parsing"):
        return path, f"expected true or false, got {show(value)}"
    if typ == "string_type":
        return path, f"expected text, got {show(value)}" + quote_hint(value, True)
    if typ in ("list_type", "tuple_type"):
        if path == ("steps",):
            return path, (
                f"expected a list of steps (each starting with '- kind: ...'), got {show(value)}"
            )
        return path, f"expected a list, got {show(value)}"
    if typ in ("enum", "literal_error"):
        expected = ctx.get("expected", "")
        hint = did_you_mean(str(value), choices(expected))
        return path, f"expected {expected}, got {show(value)}{hint}"
    if path == ("matcue",) and typ in ("less_than_equal", "greater_than_equal"):
        return path, (
            f"unsupported format version {show(value)}; this matcue reads version {FORMAT_VERSION}"
        )
    if typ in ("less_than_equal", "less_than"):
        limit = float(ctx.get("le", ctx.get("lt", 0)))
        word = "at most" if typ == "less_than_equal" else "less than"
        return path, (
            f"must be {word} {num(limit)} (the limit for {field_name}), got {show(value)}"
        )
    if typ in ("greater_than_equal", "greater_than"):
        limit = float(ctx.get("ge", ctx.get("gt", 0)))
        word = "at least" if typ == "greater_than_equal" else "more than"
        return path, f"must be {word} {num(limit)}, got {show(value)}"
    if typ == "string_too_long":
        max_len = ctx.get("max_length")
        return path, (
            f"is {len(value)} characters long; the limit for {field_name} is {max_len} characters"
        )
    if typ == "string_too_short":
        return path, "must not be empty"
    if typ == "string_pattern_mismatch":
        return path, SLUG_MESSAGE + f", got {show(value)}"
    if typ == "too_short":
        if path == ("steps",):
            return path, "a routine needs at least one step"
        return path, f"must not be empty (at least {ctx.get('min_length')} item)"
    if typ == "too_long":
        max_items = ctx.get("max_length")
        return path, (
            f"has {ctx.get('actual_length')} items; the limit for {field_name} is {max_items}"
        )
    return path, err["msg"]


def problems_of(
    exc: PydanticValidationError,
    loaded: LoadedYaml,
    data: Any,
    filename: str,
    root: type[BaseModel] = Routine,
) -> list[str]:
    """Every problem of ``exc`` as ``FILE:LINE: FIELD: message``, in line order.
    ``root`` is the model of the whole file (a routine unless another format, such
    as a programme, reuses this)."""
    located: list[tuple[int, int, str]] = []
    for order, err in enumerate(exc.errors()):
        base = _data_path(tuple(err["loc"]), data)
        ctx = err.get("ctx") or {}
        pairs: list[tuple[Path_, str]]
        if err["type"] == "matcue" and ctx.get("problems"):
            pairs = [((*base, *sub), msg) for sub, msg in ctx["problems"]]
        else:
            pairs = [_message(err, base, data, root)]
        for path, msg in pairs:
            line = loaded.line_of(path)
            located.append((line, order, problem(filename, line, path, msg)))
    if (
        root is Routine
        and isinstance(data, dict)
        and not any(e["type"] == "matcue" and e["loc"] == () for e in exc.errors())
    ):
        for path, msg in partial_cross_checks(data):
            line = loaded.line_of(path)
            located.append((line, 10**6, problem(filename, line, path, msg)))
    located.sort(key=lambda t: (t[0], t[1]))
    seen: set[str] = set()
    out = []
    for _, _, text in located:
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out
