"""Loading routine files: YAML text -> :class:`Routine`, every problem located
(``FILE:LINE: FIELD: message``) and raised together; the built-in library."""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from matcue.errors import InputError, ValidationError
from matcue.limits import MAX_NAME
from matcue.yamlsafe import (
    MAX_BYTES,
    LoadedYaml,
    decode_bytes,
    load_yaml_text,
    problem,
    read_text_file,
)

from .messages import problems_of
from .model import Routine
from .text import did_you_mean, show

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+, importlib.abc's copy is deprecated
    from importlib.resources.abc import Traversable

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def load_routine(path: Path | str) -> Routine:
    """Read, check and validate a routine file.

    ``name`` defaults to the file name without its extension (made into a valid
    id). Raises :class:`InputError` for a missing file or a directory and
    :class:`ValidationError` listing every problem otherwise.
    """
    path = Path(path)
    text = read_text_file(path)
    return parse_routine(text, filename=str(path))


def parse_routine(text: str, *, filename: str) -> Routine:
    """Validate routine YAML ``text``; ``filename`` is used in messages and for the
    default ``name``. Raises :class:`ValidationError` (only) on bad input."""
    routine, loaded = validate_document(
        text, filename=filename, model=Routine, fields="title:, steps:, ...", default="routine"
    )
    routine._filename = filename
    routine._loaded = loaded
    logger.debug("routine %s: %d steps", routine.name, len(routine.steps))
    return routine


def validate_document(
    text: str, *, filename: str, model: type[M], fields: str, default: str
) -> tuple[M, LoadedYaml]:
    """Validate the YAML ``text`` of a file whose whole is a ``model`` (a routine, a
    programme): every problem as ``FILE:LINE: FIELD: message`` in one
    :class:`ValidationError`. ``name`` defaults to the file name made into an id
    (``default`` when nothing of it is left); ``fields`` is named when the top level
    is not a mapping."""
    loaded = load_yaml_text(text, filename=filename)
    data = loaded.data
    if not isinstance(data, dict):
        raise ValidationError(
            [
                problem(
                    filename,
                    loaded.lines.get((), 1),
                    "-",
                    f"expected a mapping of fields ({fields}) at the top level, got {show(data)}",
                )
            ]
        )
    if "name" not in data:
        stem = Path(filename).stem.lower()
        data = {**data, "name": re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:MAX_NAME] or default}
    try:
        return model.model_validate(data), loaded
    except PydanticValidationError as exc:
        raise ValidationError(problems_of(exc, loaded, data, filename, model)) from None


def _library(library: Traversable | None) -> Traversable:
    return library if library is not None else resources.files("matcue.library")


def builtin_names(*, library: Traversable | None = None) -> list[str]:
    """Names of the built-in routines (``library/<name>.yaml``), sorted.
    ``library`` replaces the packaged folder (for tests)."""
    return sorted(
        p.name[: -len(".yaml")]
        for p in _library(library).iterdir()
        if p.name.endswith(".yaml") and p.is_file()
    )


def load_builtin(name: str, *, library: Traversable | None = None) -> Routine:
    """Load the built-in routine ``name``; raises :class:`InputError` naming the
    built-ins when there is none by that name."""
    names = builtin_names(library=library)
    if name not in names:
        raise InputError(
            f"no built-in routine named {show(name)}; the built-ins are: "
            f"{', '.join(names) or '(none)'}" + did_you_mean(name, names)
        )
    entry = _library(library) / f"{name}.yaml"
    filename = f"library/{name}.yaml"
    data = entry.read_bytes()[: MAX_BYTES + 1]
    return parse_routine(decode_bytes(data, filename=filename), filename=filename)
