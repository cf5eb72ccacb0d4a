"""Routine text made ready to be spoken: digits as words.

A routine says "Hold for 30 seconds"; an engine may read "30" well or badly
(and some read "1.5" as "one dot five"), and the transcript should show what
was said. :func:`spoken_numbers` writes the numbers out ("Hold for thirty
seconds"). Numbers glued to letters ("L5", "C7", "2nd") are left as they are:
they are names or ordinals, not amounts.
"""

from __future__ import annotations

import re

from num2words import num2words

MAX_SPOKEN = 999_999
"""Larger numbers are left as digits (a year or a code, not an amount)."""

_NUMBER = re.compile(r"(?<![\w.,])(\d+)(?:\.(\d+))?(%?)(?![\w]|[.,]\d)")


def _word(n: int, lang: str) -> str:
    return str(num2words(n, lang=lang))


def spoken_numbers(text: str, lang: str = "en") -> str:
    """``text`` with every free-standing number written as words in ``lang``:
    "Hold for 30 seconds" -> "Hold for thirty seconds", "1.5" -> "one point
    five", "50%" -> "fifty percent". Decimals and percentages are written out
    in English only; in another language only whole numbers are."""

    def one(m: re.Match[str]) -> str:
        whole, frac, pct = m.group(1), m.group(2), m.group(3)
        if int(whole) > MAX_SPOKEN or ((frac or pct) and lang != "en"):
            return m.group(0)
        said = _word(int(whole), lang)
        if frac:
            said += " point " + " ".join(_word(int(d), lang) for d in frac)
        if pct:
            said += " percent"
        return said

    return _NUMBER.sub(one, text)
