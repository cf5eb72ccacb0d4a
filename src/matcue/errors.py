"""Domain errors. The CLI maps them to one-line messages and exit codes.

Library code raises these; it never prints or exits. ``InputError`` (exit 2)
means the user's input or usage is wrong; ``RenderError`` (exit 1) means the
render failed for another reason (an engine crashed, a disk filled up...).

The library does not know how a front end spells a setting (the command line's
``--breath``, a form's field): a message that names settings is a
:class:`SettingText`, and :class:`SettingError` carries one; the front end spells
the settings (:meth:`SettingText.spelled`) where it shows the message. ``str()``
names them as a routine file writes them (``breath``, ``bed_volume``).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from typing import Any

Spell = Callable[[str], str]
"""How a front end names a setting (``"bed_volume"``) to its user: the command
line as its flag (``--bed-volume``)."""


def as_written(setting: str) -> str:
    """A setting named as a routine file's ``defaults:`` writes it (the library's
    own spelling, and ``str()``'s)."""
    return setting


class SettingText(str):
    """A message that names settings. ``template`` is ``str.format`` text in which
    each ``{field}`` that is not one of ``values`` names a setting
    (``"{breath}: expected ..."``); the template holds no input (input goes in
    ``values``, which are never parsed as a template).

    It is a ``str`` (the text with the settings as a routine file names them), so a
    note made of it goes wherever text goes; a front end that spells settings its
    own way calls :meth:`spelled`."""

    template: str
    values: dict[str, Any]
    settings: tuple[str, ...]
    """The settings the text names, in order."""

    def __new__(cls, template: str, /, **values: Any) -> SettingText:
        names = (f for _, f, _, _ in string.Formatter().parse(template) if f)
        settings = tuple(dict.fromkeys(f for f in names if f not in values))
        text = template.format(**{s: as_written(s) for s in settings}, **values)
        obj = super().__new__(cls, text)
        obj.template, obj.values, obj.settings = template, values, settings
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, Any]]:
        # pickled (a batch's results and errors cross processes) as template and values
        return (self.template,), self.values

    def spelled(self, spell: Spell = as_written) -> str:
        """The text with each setting named as ``spell`` names it."""
        return self.template.format(**{s: spell(s) for s in self.settings}, **self.values)


def spelled(text: str, spell: Spell) -> str:
    """``text`` with its settings (if it is a :class:`SettingText`) spelled by ``spell``."""
    return text.spelled(spell) if isinstance(text, SettingText) else text


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


class SettingError(InputError):
    """A bad setting, or input that a setting would put right: its message
    (:attr:`text`) names settings, which the front end spells
    (``--breath: expected a number from 2 to 60 seconds, got 100`` on the command
    line; ``breath: ...`` from ``str()``)."""

    def __init__(self, text: SettingText) -> None:
        self.text = text
        super().__init__(str(text))

    @classmethod
    def of(cls, setting: str, detail: str) -> SettingError:
        """The error "SETTING: detail" (what the setting accepts, and what it got)."""
        return cls(SettingText("{" + setting + "}: {detail}", detail=detail))

    @property
    def setting(self) -> str:
        """The (first) setting the message names."""
        return self.text.settings[0]

    @property
    def detail(self) -> str:
        """The message without the setting it begins with, for an error made by
        :meth:`of` (else the whole message)."""
        return str(self.text.values.get("detail", self.message))

    def spelled(self, spell: Spell) -> str:
        """The message, naming its settings as ``spell`` does."""
        return self.text.spelled(spell)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Survive pickling across processes (batch renders) with its settings named.
        return (type(self), (self.text,))


class RenderError(MatcueError):
    """A failure that is not the user's input: synthesis, encoding, I/O."""

    exit_code = 1


class SpeechError(RenderError):
    """The speech engine failed or produced no audio for a phrase."""


class EngineUnavailable(InputError):
    """The chosen engine (or voice) is not available; says what is."""
