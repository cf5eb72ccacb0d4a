"""A rounds group (``kind: rounds``): steps done for a number of rounds.

A group lives only in the routine file. Loading writes it out into the plain
steps it stands for, round after round, so everything after loading (plans,
templates, ``--minutes``, ``--week``) sees ordinary steps: the copies of round 2
on have " (round N)" in their chapter titles (left out of the spoken name), and
the first step of each round after the first opens it with "Round two." Groups
nest one level deep: a group's steps cannot be groups.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from matcue.limits import MAX_ROUNDS, MAX_STEPS
from matcue.phrases import REFERENCE

from .steps import STEP_KINDS, AnyStep, Step
from .values import Flag, Int, Name

GROUP_KIND = "rounds"
"""The ``kind:`` of a rounds group."""
ROUTINE_KINDS: tuple[str, ...] = (*STEP_KINDS, GROUP_KIND)
"""The valid values of ``kind`` in a routine's ``steps`` (inside a group: :data:`STEP_KINDS`)."""


class RoundsGroup(BaseModel):
    """Steps done for a number of rounds, one round after another."""

    starter_example: ClassVar[str] = """\
    # rounds: a group of steps done for several rounds ("Round two." opens each
    # round after the first). Its steps are written as above, for example:
    # - kind: rounds
    #   rounds: 2
    #   steps:
    #     - kind: hold
    #       name: Child's pose
    #       duration: {breaths: 3}
    """
    """Its block (all comment) in the ``matcue new`` starter (:mod:`matcue.starter`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    kind: Literal["rounds"]
    """Step kind: 'rounds' (a group of steps)."""
    name: Name = "Rounds"
    """What 'main' may name to mean every step of every round; never spoken."""
    rounds: Int = Field(ge=1, le=MAX_ROUNDS)
    """How many times the steps are done, 1..100; required."""
    count_rounds: Flag = True
    """Say "Round two." (and so on; "Last round." for the last of three or more) as
    each round after the first starts."""
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    """The steps of one round, 1..200, of any kind but 'rounds'; required."""

    @property
    def display_name(self) -> str:
        return self.name

    def written_out(self, language: str = REFERENCE) -> list[AnyStep]:
        """The group's steps, round after round (chapter titles in ``language``)."""
        out: list[AnyStep] = []
        for n in range(1, self.rounds + 1):
            for j, step in enumerate(self.steps):
                announce = self.count_rounds and j == 0
                out.append(step.in_round(n, self.rounds, announce, self.name, language))
        return out


RoutineItem = Annotated[Union[AnyStep, RoundsGroup], Field(discriminator="kind")]  # noqa: UP007
"""One item of a routine's ``steps``: a step, or a rounds group of steps."""


def written_out(items: list[AnyStep | RoundsGroup], language: str = REFERENCE) -> list[AnyStep]:
    """``items`` with every rounds group written out into its steps (chapter titles
    in ``language``)."""
    out: list[AnyStep] = []
    for item in items:
        if isinstance(item, RoundsGroup):
            out.extend(item.written_out(language))
        else:
            out.append(item)
    return out
