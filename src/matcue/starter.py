"""The starter routine that ``matcue new NAME`` writes: every step kind once,
with comments that explain the fields, so a new file teaches the format.

The text is ours; the full field reference is ``docs/routine-format.md``.
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

__all__ = ["starter_routine"]

_STARTER = """\
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
  # say: lines spoken one after another; they take as long as the speech takes.
  - kind: say
    text:
      - Come onto your hands and knees, wrists under shoulders.
      - Knees under hips, back long and relaxed.

  # breath: cycles paced by the breath. Cues are spoken on each phase.
  - kind: breath
    name: Cat and cow
    reps: 6                # number of breath cycles
    reps_range: [4, 10]    # how far --minutes may shrink or grow reps
    split: 0.5             # share of each cycle spent breathing in
    setup: Let your spine follow your breath.
    brief: Cat and cow, with the breath.
    cues:                  # one line, or a list of phrasings used in turn
      inhale:
        - Breathe in, let the belly drop and look forward.
        - Breathe in and lift the chest.
      exhale:
        - Breathe out, round the back and tuck the chin.
        - Breathe out and round up.
    refine:                # said now and then in later cycles, instead of a short word
      - Move from the tailbone.
    words:                 # short words used at brief and minimal verbosity
      inhale: In
      exhale: Out

  # transition: time to move into the next position.
  - kind: transition
    text: Slowly lower down onto your back.
    duration: 8            # seconds, or {{breaths: 2}}, or {{counts: 5}}

  # hold: a shape held for a while. sides: both does it left, then right.
  - kind: hold
    name: Knee to chest
    sides: both
    begin: Begin with your {{side}} knee.   # {{side}}, {{other_side}}: the side being done
    switch: Change to your {{side}} knee.
    duration: {{breaths: 5}}
    guide: breaths         # breaths, count, countdown or none
    setup: Draw one knee gently toward your chest.
    cues:
      - Keep the other leg relaxed.
      - Let the lower back soften into the mat.
    release: Let the leg slide back down.

  # reps: move, hold, release and rest, repeated, in sets.
  - kind: reps
    name: Bridge
    reps: 5                # or one count per set: [6, 4, 2] (then leave out sets)
    sets: 1
    move: 2                # seconds to lift
    hold: {{counts: 3}}      # counted aloud because it is in counts
    release: 2
    rest: 3
    setup: Feet flat, hip width apart, arms by your sides.
    cues:
      move: Press through your feet and lift your hips.
      release: Roll down slowly.
      rest: Rest.

  # flow: movements on the breath, one per in- or out-breath, repeated in rounds
  # with nothing in between ("Round two." is said with the first cue).
  - kind: flow
    name: Cat and cow flow
    rounds: 3
    movements:
      - {{breath: inhale, cue: Look forward and let the belly drop.}}
      - {{breath: exhale, cue: Round the back and tuck the chin.}}
      - {{breath: inhale, cue: Sit back toward your heels.}}
      - {{breath: exhale, cue: Come forward onto your hands and knees.}}

  # rounds: a group of steps done for several rounds ("Round two." opens each
  # round after the first). Its steps are written as above, for example:
  # - kind: rounds
  #   rounds: 2
  #   steps:
  #     - kind: hold
  #       name: Child's pose
  #       duration: {{breaths: 3}}

  # rest: quiet time with an occasional reminder.
  - kind: rest
    name: Rest
    duration: 60
    every: 30              # seconds between reminders
    reminders:
      - Let the breath be easy.

outro: That is the end of the session. Take your time getting up.
"""


def starter_routine(name: str) -> str:
    """A commented starter routine named ``name`` (made into a valid id) that loads
    without errors and shows every step kind once."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "my-routine"
    title = slug.replace("-", " ").capitalize()
    logger.debug("starter routine %s", slug)
    return _STARTER.format(name=slug, qname=_quote(slug), title=_quote(title))


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (titles like 'yes' or '2024' stay text)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
