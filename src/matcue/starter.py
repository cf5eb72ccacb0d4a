"""The starter routine that ``matcue new NAME`` writes: every step kind once,
with comments that explain the fields, so a new file teaches the format.

Each kind brings its own block (``starter_example`` on its class, next to its
fields), so a new kind needs nothing here: it comes after the kinds of
:data:`_ORDER`. The text is ours; the full field reference is
``docs/routine-format.md``.
"""

from __future__ import annotations

import logging
import re
import textwrap

from .routine import STEP_CLASSES, RoundsGroup
from .routine.rounds import GROUP_KIND

logger = logging.getLogger(__name__)

__all__ = ["starter_routine"]

_HEAD = """\
# A matcue routine. Render it with:  matcue render {name}.yaml
# Every field is described in docs/routine-format.md; `matcue schema` prints a
# JSON Schema your editor can use for completion.
matcue: 1                  # format version (always 1 for now)
# The routine's id (lowercase letters, digits and '-') and its spoken title,
# which is also the MP3 title.
name: {qname}
title: {title}
summary: A short session for a stiff lower back.
source: ""                 # where the ideas come from (credit your sources)
# language: es             # en (default), es, de or fr: matcue's own phrases, the
#                          # numbers and the default voice (docs/languages.md)

# Spoken first, at every verbosity. Keep it plain and honest.
safety: >-
  Move slowly and only within a range that feels comfortable.
  If anything causes pain, numbness or tingling, stop and rest.

intro:                     # one line, or a list of lines spoken in turn
  - Find a quiet space and lie or kneel on a mat.

defaults:                  # command-line flags override every one of these
  breath: 10               # seconds per breath cycle (in + out), 2 to 60
  pace: normal             # slow, normal, fast, or a factor from 0.25 to 4
  verbosity: full          # full, brief or minimal
  count: 1                 # seconds per spoken count
  transition: 5            # seconds given to change position
  pause: 1                 # seconds of quiet after each spoken line

# Optional: the steps --minutes repeats or stretches. Leave it out to use every
# breath, hold and reps step.
main: [Cat and cow, Bridge]

steps:
"""

_TAIL = "\noutro: That is the end of the session. Take your time getting up.\n"

_ORDER = ("say", "breath", "transition", "hold", "reps", "flow", GROUP_KIND, "rest")
"""The order the starter teaches the kinds in; a kind not named here comes after
these, in the order the routine format registers the kinds."""


def _steps() -> str:
    """Every kind's block, one blank line apart, indented as an item of ``steps:``."""
    examples = {kind: cls.starter_example for kind, cls in STEP_CLASSES.items()}
    examples[GROUP_KIND] = RoundsGroup.starter_example
    kinds = [k for k in _ORDER if k in examples] + [k for k in examples if k not in _ORDER]
    blocks = (textwrap.indent(textwrap.dedent(examples[k]).strip("\n"), "  ") for k in kinds)
    return "\n\n".join(blocks) + "\n"


def starter_routine(name: str) -> str:
    """A commented starter routine named ``name`` (made into a valid id) that loads
    without errors and shows every step kind once."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "my-routine"
    title = slug.replace("-", " ").capitalize()
    logger.debug("starter routine %s", slug)
    head = _HEAD.format(name=slug, qname=_quote(slug), title=_quote(title))
    return head + _steps() + _TAIL


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (titles like 'yes' or '2024' stay text)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
