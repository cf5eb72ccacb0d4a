"""Domain errors. The CLI maps them to one-line messages and exit codes.

Library code raises these; it never prints or exits. ``InputError`` (exit 2)
means the user's input or usage is wrong; ``RenderError`` (exit 1) means the
render failed for another reason (an engine crashed, a disk filled up...).
"""

from __future__ import annotations

from collections.abc import Iterable


class MatcueError(Exception):
    """Base class for every error matcue reports to a user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(MatcueError):
    """Bad input or usage: a routine, a cue script, an option, a missing file."""

    exit_code = 2


class ValidationError(InputError):
    """One or more problems in an input file, each already formatted as
    ``file:line: field: message``. All problems are reported together."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Survive pickling across processes (batch renders) with problems intact.
        return (type(self), (self.problems,))


class RenderError(MatcueError):
    """A failure that is not the user's input: synthesis, encoding, I/O."""

    exit_code = 1


class SpeechError(RenderError):
    """The speech engine failed or produced no audio for a phrase."""


class EngineUnavailable(InputError):
    """The chosen engine (or voice) is not available; says what is."""
