"""The routine format: pydantic models, loading with line-aware errors, built-ins.

A routine file is YAML (see ``docs/routine-format.md``; the field table is
``docs/routine-contract.md``). Loading goes: bytes -> :mod:`matcue.yamlsafe`
(plain data + a line for every value) -> :class:`Routine` validation -> every
problem mapped back to ``FILE:LINE: FIELD: message`` and raised together as one
:class:`matcue.errors.ValidationError`.

Routine text is data: nothing here evaluates it (``{{ x }}`` is just text).

The modules, by job: :mod:`.values` (choices, lines, durations, defaults),
:mod:`.steps` (the step kinds and their behaviour; :mod:`.step_base` what
every kind provides; :mod:`.flow` the flow kind; :mod:`.rounds` rounds groups,
written out at load time), :mod:`.model` (the
routine), :mod:`.loader` (files and built-ins), :mod:`.messages` (pydantic
errors in English), :mod:`.schema` (JSON-Schema pieces), :mod:`.text`
(message words). Limits live in :mod:`matcue.limits`.
"""

from __future__ import annotations

from matcue.limits import (
    FORMAT_VERSION,
    MAX_DURATION_BREATHS,
    MAX_DURATION_COUNTS,
    MAX_DURATION_SECONDS,
    MAX_LINE,
    MAX_NAME,
    MAX_REPS,
    MAX_SESSION_SECONDS,
    MAX_SETS,
    MAX_STEPS,
    MIN_MOVING_SECONDS,
)
from matcue.yamlsafe import format_path

from .flow import FlowMovement, FlowStep
from .loader import builtin_names, load_builtin, load_routine, parse_routine
from .model import Routine, routine_schema
from .rounds import GROUP_KIND, ROUTINE_KINDS, RoundsGroup
from .steps import (
    STEP_CLASSES,
    STEP_KINDS,
    AnyStep,
    BreathStep,
    HoldStep,
    Plan,
    RepsStep,
    RestStep,
    SayStep,
    Step,
    TransitionStep,
)
from .values import (
    BreathCues,
    BreathPattern,
    BreathWords,
    Defaults,
    Duration,
    Guide,
    Pace,
    RepsCues,
    RepsWords,
    Side,
    StartPhase,
    Verbosity,
)

__all__ = [
    "FORMAT_VERSION",
    "MAX_DURATION_BREATHS",
    "MAX_DURATION_COUNTS",
    "MAX_DURATION_SECONDS",
    "MAX_LINE",
    "MAX_NAME",
    "MAX_REPS",
    "MAX_SESSION_SECONDS",
    "MAX_SETS",
    "MAX_STEPS",
    "GROUP_KIND",
    "MIN_MOVING_SECONDS",
    "ROUTINE_KINDS",
    "STEP_CLASSES",
    "STEP_KINDS",
    "AnyStep",
    "BreathCues",
    "BreathStep",
    "BreathPattern",
    "BreathWords",
    "Defaults",
    "Duration",
    "FlowMovement",
    "FlowStep",
    "Guide",
    "HoldStep",
    "Pace",
    "Plan",
    "RepsCues",
    "RepsStep",
    "RepsWords",
    "RestStep",
    "RoundsGroup",
    "Routine",
    "SayStep",
    "Side",
    "StartPhase",
    "Step",
    "TransitionStep",
    "Verbosity",
    "builtin_names",
    "format_path",
    "load_builtin",
    "load_routine",
    "parse_routine",
    "routine_schema",
]
