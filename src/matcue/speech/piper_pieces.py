"""A very long sentence, cut into pieces for piper to speak one pass at a time.

One pass of a piper voice needs memory in proportion to its phoneme ids (the
decoder's activations), so a sentence over :data:`MAX_PIECE_IDS` is spoken in
pieces, cut where the voice pauses anyway (clause marks), and joined with a
pause like its own. Pure functions on piper's phonemes: the worker
(:mod:`matcue.speech.piper_engine`) counts ids with the voice's own map.
"""

from __future__ import annotations

import math
from collections.abc import Callable

MAX_PIECE_IDS = 250
"""The most phoneme ids spoken in one pass of the model. The decoder's memory
grows with the pass (measured with Joe: about 0.65 MB per id above the 146 MB a
worker holds, 305 MB for 247 ids, 528 MB for a 19-second sentence), so a longer
sentence is spoken in pieces (:func:`sentence_pieces`). The longest sentence of
the built-in routines has 247 ids, so every built-in cue is spoken whole."""

CLAUSE_PAUSE_S = 0.3
"""Silence where a long sentence was cut at a clause mark. Joe pauses 0.4-0.47 s
at a comma inside a sentence (quiet below -40 dB); each piece keeps its decay
down to -60 dB, so the cut comma measures the same 0.4-0.5 s (on a 19-second
sentence cut in three: 2% longer, 0.8 LU quieter before the clip levelling)."""

WORD_PAUSE_S = 0.05
"""Silence where a clause too long for one pass was cut between two words."""

CLAUSE_MARKS = frozenset(",;:")

Phonemes = list[str]
"""One sentence's phonemes as piper gives them (one symbol a string)."""


def _join(runs: list[Phonemes], joiner: Phonemes) -> Phonemes:
    out: Phonemes = []
    for i, run in enumerate(runs):
        out += [*joiner, *run] if i else run
    return out


def _split(phonemes: Phonemes, after: frozenset[str] | None) -> list[Phonemes]:
    """``phonemes`` cut at each space (dropped) that follows a symbol in ``after``
    (any symbol when ``after`` is None)."""
    runs: list[Phonemes] = [[]]
    for i, symbol in enumerate(phonemes):
        if symbol == " " and runs[-1] and (after is None or phonemes[i - 1] in after):
            runs.append([])
        else:
            runs[-1].append(symbol)
    return [r for r in runs if r]


def _cut(
    tokens: list[Phonemes], joiner: Phonemes, count: Callable[[Phonemes], int], limit: int
) -> list[Phonemes]:
    """``tokens`` joined into the fewest runs of about equal length that each have
    at most ``limit`` ids where possible; a token over the limit on its own is a
    run of its own (the caller cuts it finer)."""
    total = count(_join(tokens, joiner))
    for n in range(max(1, math.ceil(total / limit)), len(tokens) + 1):
        runs: list[list[Phonemes]] = [[]]
        for i, token in enumerate(tokens):
            # A new run before this token where that ends the runs so far nearer
            # their share of the whole than taking the token would.
            share = total * len(runs) / n
            if runs[-1] and len(runs) < n:
                taken = count(_join(tokens[: i + 1], joiner))
                if taken > share and taken - share > share - count(_join(tokens[:i], joiner)):
                    runs.append([])
            runs[-1].append(token)
        if all(len(r) == 1 or count(_join(r, joiner)) <= limit for r in runs):
            return [_join(r, joiner) for r in runs]
    return tokens


def sentence_pieces(
    phonemes: Phonemes, count: Callable[[Phonemes], int], limit: int | None = None
) -> list[tuple[float, Phonemes]]:
    """One sentence's phonemes as the pieces to speak in separate passes, each
    with the pause before it (0 for the first). A sentence of at most ``limit``
    ids (``count(phonemes)``) is one piece, unchanged. A longer one is cut after
    clause marks (commas, semicolons, colons; :data:`CLAUSE_PAUSE_S`) into the
    fewest pieces of about equal length; a clause still too long is cut between
    words (:data:`WORD_PAUSE_S`), and a word too long between symbols. ``limit``
    defaults to :data:`MAX_PIECE_IDS`."""
    limit = MAX_PIECE_IDS if limit is None else limit
    if count(phonemes) <= limit:
        return [(0.0, phonemes)]
    out: list[tuple[float, Phonemes]] = []
    for clause in _cut(_split(phonemes, CLAUSE_MARKS), [" "], count, limit):
        pause = CLAUSE_PAUSE_S
        for words in _cut(_split(clause, None), [" "], count, limit):
            for symbols in _cut([[c] for c in words], [], count, limit):
                out.append((pause if out else 0.0, symbols))
                pause = 0.0
            pause = WORD_PAUSE_S
    return out
