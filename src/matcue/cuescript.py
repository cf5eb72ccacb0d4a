"""The cue script: a plain-text, line-based description of a session.

Templates write it, people can read and edit it, and ``matcue render FILE.cue``
renders it as it stands. The format is documented in ``docs/cue-script.md``.
This module holds the model, the parser (which reports every problem with
file and line) and the printer; ``parse(print(script)) == script``.

All times are exact ``Fraction`` seconds, so anchors computed from them are
sample-exact (see ``schedule.py``).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from .errors import ValidationError
from .limits import MAX_DURATION_SECONDS, MAX_LINE, MAX_SESSION_SECONDS, SOUND_GAIN_RANGE

HEADER = "# matcue cue script 1"
DIRECTIVES = ("title", "meta", "step", "context", "pause", "sound", "block", "end")
CONTEXT_KEYS = ("rep", "set", "side", "phase")
SIDES = ("left", "right")
MAX_BLOCK_SECONDS = Fraction(MAX_DURATION_SECONDS)
MAX_PAUSE_SECONDS = Fraction(MAX_DURATION_SECONDS)
MAX_TEXT = MAX_LINE
SOUND_NAMES = ("chime", "chime-end")
"""The sounds ``@sound`` may name (``sounds.py`` makes them; a test keeps the two agreed)."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_ATTR_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9._/+:-]+$")


@dataclass(frozen=True)
class Say:
    """A flowing spoken line: it takes as long as its speech takes."""

    text: str


@dataclass(frozen=True)
class Pause:
    """Flowing silence."""

    seconds: Fraction


@dataclass(frozen=True)
class Sound:
    """A non-speech sound (e.g. ``chime``). The flow moves on after ``wait``
    seconds (None: after the whole sound) while the sound rings on."""

    name: str
    wait: Fraction | None = None
    gain_db: float = 0.0


@dataclass(frozen=True)
class StepMark:
    """Starts a step: a chapter in the output, named ``name``."""

    name: str


@dataclass(frozen=True)
class Context:
    """Sets rep/set/side/phase labels for the lines that follow (until the next
    step or context line). A key given with an empty value clears it."""

    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AnchoredLine:
    """A line of an anchored block: starts ``offset`` seconds after the block
    start. ``text`` None is a silent phase marker (still a timeline event)."""

    offset: Fraction
    phase: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Block:
    """A fixed-length stretch of time whose lines start at fixed offsets."""

    length: Fraction
    lines: tuple[AnchoredLine, ...] = ()
    attrs: tuple[tuple[str, str], ...] = ()


Item = Say | Pause | Sound | StepMark | Context | Block


@dataclass
class CueScript:
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)

    def timed_seconds(self) -> Fraction:
        """Seconds of fixed time: blocks, pauses and sound waits (speech not counted)."""
        total = Fraction(0)
        for item in self.items:
            if isinstance(item, Block):
                total += item.length
            elif isinstance(item, Pause):
                total += item.seconds
            elif isinstance(item, Sound) and item.wait is not None:
                total += item.wait
        return total

    def phrases(self) -> list[str]:
        """Distinct spoken texts in order of first appearance."""
        seen: dict[str, None] = {}
        for item in self.items:
            if isinstance(item, Say):
                seen.setdefault(item.text, None)
            elif isinstance(item, Block):
                for line in item.lines:
                    if line.text:
                        seen.setdefault(line.text, None)
        return list(seen)


# ---------------------------------------------------------------- numbers


def to_fraction(value: object) -> Fraction:
    """Exact Fraction from an int, a decimal string or a float's shortest repr.
    ValueError for anything else, NaN and infinities included."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():  # nan, inf: Fraction() would raise ValueError or OverflowError
        raise ValueError(f"not a finite number: {value!r}")
    return Fraction(number)


def format_seconds(value: Fraction) -> str:
    """Shortest exact decimal for ``value``; non-terminating values are rounded
    to the microsecond (the printed script is then the truth)."""
    value = Fraction(value)
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den != 1:
        value = Fraction(round(value * 1_000_000), 1_000_000)
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _parse_number(text: str) -> Fraction:
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise ValueError(text)
    return Fraction(Decimal(text))


# ---------------------------------------------------------------- text escaping


def escape_text(text: str) -> str:
    """Make user text safe as one cue-script line: no line breaks, and a
    leading character that would start a directive or comment is escaped."""
    text = " ".join(text.split())
    if text[:1] in ("@", "#", "\\"):
        text = "\\" + text
    return text


def _unescape(text: str) -> str:
    return text[1:] if text.startswith("\\") else text


def _format_value(value: str) -> str:
    return value if _PLAIN_VALUE.match(value) else json.dumps(value, ensure_ascii=False)


def _format_attrs(attrs: tuple[tuple[str, str], ...] | dict[str, str]) -> str:
    pairs = attrs.items() if isinstance(attrs, dict) else attrs
    return " ".join(f"{k}={_format_value(v)}" for k, v in pairs)


# ---------------------------------------------------------------- printer


def print_script(script: CueScript) -> str:
    """The canonical text of ``script``."""
    out = [HEADER]
    if script.title:
        out.append(f"@title {escape_text(script.title)}")
    if script.meta:
        out.append(f"@meta {_format_attrs(script.meta)}")
    for item in script.items:
        if isinstance(item, Say):
            out.append(escape_text(item.text))
        elif isinstance(item, Pause):
            out.append(f"@pause {format_seconds(item.seconds)}")
        elif isinstance(item, Sound):
            parts = [f"@sound {item.name}"]
            if item.wait is not None:
                parts.append(f"wait={format_seconds(item.wait)}")
            if item.gain_db:
                parts.append(f"gain={item.gain_db:g}")
            out.append(" ".join(parts))
        elif isinstance(item, StepMark):
            out.append("")
            out.append(f"@step {escape_text(item.name)}")
        elif isinstance(item, Context):
            out.append(f"@context {_format_attrs(item.values)}".rstrip())
        elif isinstance(item, Block):
            head = f"@block {format_seconds(item.length)}"
            if item.attrs:
                head += " " + _format_attrs(item.attrs)
            out.append(head)
            for line in item.lines:
                s = "  " + format_seconds(line.offset)
                if line.phase:
                    s += " " + line.phase
                if line.text is not None:
                    s += ": " + escape_text(line.text)
                out.append(s)
            out.append("@end")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- parser


class _Problems:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.items: list[str] = []
        self.lines: list[int] = []

    def add(self, line: int, field_: str, message: str) -> None:
        self.lines.append(line)
        self.items.append(f"{self.filename}:{line}: {field_}: {message}")


def _parse_attrs(
    rest: str, lineno: int, directive: str, problems: _Problems
) -> list[tuple[str, str]] | None:
    attrs: list[tuple[str, str]] = []
    pos = 0
    rest = rest.rstrip()
    while pos < len(rest):
        m = _ATTR_RE.match(rest, pos)
        if not m:
            problems.add(lineno, f"@{directive}", f"expected key=value, got {rest[pos:].strip()!r}")
            return None
        key, raw = m.group(1), m.group(2)
        if raw.startswith('"'):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                problems.add(lineno, f"@{directive}", f"bad quoted value for {key}")
                return None
        else:
            value = raw
        attrs.append((key, value))
        pos = m.end()
    return attrs


def _check_context(
    attrs: list[tuple[str, str]], lineno: int, directive: str, problems: _Problems
) -> bool:
    ok = True
    for key, value in attrs:
        if key not in CONTEXT_KEYS:
            hint = difflib.get_close_matches(key, CONTEXT_KEYS, n=1)
            extra = (
                f"; did you mean '{hint[0]}'?" if hint else f" (known: {', '.join(CONTEXT_KEYS)})"
            )
            problems.add(lineno, f"@{directive}.{key}", f"unknown label '{key}'{extra}")
            ok = False
        elif key in ("rep", "set") and value and not (value.isdigit() and int(value) >= 1):
            problems.add(
                lineno, f"@{directive}.{key}", f"expected a whole number >= 1, got {value!r}"
            )
            ok = False
        elif key == "side" and value and value not in SIDES:
            problems.add(lineno, f"@{directive}.side", f"expected left or right, got {value!r}")
            ok = False
        elif key == "phase" and value and not _NAME_RE.match(value):
            problems.add(lineno, f"@{directive}.phase", f"expected a lowercase word, got {value!r}")
            ok = False
    return ok


def parse_script(text: str, *, filename: str = "<script>", limit: bool = True) -> CueScript:
    """Parse cue-script text. Every problem is reported (``ValidationError``),
    each as ``file:line: field: message``. ``limit=False`` leaves the 4-hour check
    to the caller (a routine's templates: the limit is reported with the options
    that made the session that long)."""
    problems = _Problems(filename)
    script = CueScript()
    item_lines: list[int] = []  # the line of each timed item (block, pause, sound)
    block: Block | None = None
    block_line = 0
    block_lines: list[AnchoredLine] = []
    block_body = 0  # lines written inside the open block, valid or not

    def close_block(lineno: int) -> None:
        nonlocal block
        assert block is not None
        if not block_body:
            problems.add(block_line, "@block", "a block needs at least one line")
        script.items.append(Block(block.length, tuple(block_lines), block.attrs))
        item_lines.append(block_line)
        block = None
        block_lines.clear()

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_TEXT + 40:
            problems.add(lineno, "line", f"longer than {MAX_TEXT} characters")
            continue
        if block is not None:
            if line == "@end":
                close_block(lineno)
                continue
            if line.startswith("@"):
                problems.add(
                    lineno, "@block", "a block must be closed with @end before other directives"
                )
                close_block(lineno)
                # fall through and treat the directive normally
            else:
                block_body += 1
                _parse_anchored(line, lineno, block, block_lines, problems)
                continue
        if line.startswith("@"):
            name, _, rest = line[1:].partition(" ")
            rest = rest.strip()
            if name == "title":
                script.title = _unescape(rest)
            elif name == "meta":
                attrs = _parse_attrs(rest, lineno, "meta", problems)
                if attrs:
                    script.meta.update(attrs)
            elif name == "step":
                if not rest:
                    problems.add(lineno, "@step", "a step needs a name")
                script.items.append(StepMark(_unescape(rest)))
            elif name == "context":
                attrs = _parse_attrs(rest, lineno, "context", problems)
                if attrs is not None and _check_context(attrs, lineno, "context", problems):
                    script.items.append(Context(tuple(attrs)))
            elif name == "pause":
                try:
                    seconds = _parse_number(rest)
                except ValueError:
                    problems.add(
                        lineno, "@pause", f"expected seconds (a number >= 0), got {rest!r}"
                    )
                    continue
                if seconds > MAX_PAUSE_SECONDS:
                    problems.add(lineno, "@pause", "must be at most 3600 seconds (1 hour)")
                    continue
                script.items.append(Pause(seconds))
                item_lines.append(lineno)
            elif name == "sound":
                sname, _, srest = rest.partition(" ")
                if not _NAME_RE.match(sname or ""):
                    problems.add(lineno, "@sound", f"expected a sound name, got {sname!r}")
                    continue
                if sname not in SOUND_NAMES:
                    hint = difflib.get_close_matches(sname, SOUND_NAMES, n=1)
                    extra = f"; did you mean '{hint[0]}'?" if hint else ""
                    problems.add(
                        lineno,
                        "@sound",
                        f"unknown sound {sname!r}{extra} (known: {', '.join(SOUND_NAMES)})",
                    )
                    continue
                attrs = _parse_attrs(srest, lineno, "sound", problems)
                if attrs is None:
                    continue
                wait: Fraction | None = None
                gain = 0.0
                for key, value in attrs:
                    try:
                        if key == "wait":
                            wait = _parse_number(value)
                        elif key == "gain":
                            gain = float(value)
                            low, high = SOUND_GAIN_RANGE
                            if not low <= gain <= high:  # also inf and nan
                                problems.add(
                                    lineno,
                                    "@sound.gain",
                                    f"expected {low} to {high} dB, got {value}",
                                )
                                gain = 0.0
                        else:
                            problems.add(
                                lineno, f"@sound.{key}", "unknown option (known: wait, gain)"
                            )
                    except ValueError:
                        problems.add(lineno, f"@sound.{key}", f"expected a number, got {value!r}")
                script.items.append(Sound(sname, wait, gain))
                item_lines.append(lineno)
            elif name == "block":
                length_text, _, brest = rest.partition(" ")
                try:
                    length = _parse_number(length_text)
                    if length <= 0:
                        raise ValueError(length_text)
                except ValueError:
                    problems.add(
                        lineno, "@block", f"expected a length in seconds > 0, got {length_text!r}"
                    )
                    length = Fraction(1)
                if length > MAX_BLOCK_SECONDS:
                    problems.add(lineno, "@block", "must be at most 3600 seconds (1 hour)")
                attrs = _parse_attrs(brest, lineno, "block", problems) or []
                _check_context(attrs, lineno, "block", problems)
                block = Block(length, (), tuple(attrs))
                block_line = lineno
                block_body = 0
            elif name == "end":
                problems.add(lineno, "@end", "@end without an open @block")
            else:
                hint = difflib.get_close_matches(name, DIRECTIVES, n=1)
                extra = f"; did you mean '@{hint[0]}'?" if hint else ""
                problems.add(lineno, f"@{name}", f"unknown directive{extra}")
            continue
        text_ = _unescape(line)
        if len(text_) > MAX_TEXT:
            problems.add(lineno, "text", f"longer than {MAX_TEXT} characters")
            continue
        script.items.append(Say(text_))
    if block is not None:
        problems.add(block_line, "@block", "not closed with @end")
        close_block(block_line)
    if limit:
        _check_total(script, item_lines, problems)
    if problems.items:
        ordered = sorted(zip(problems.lines, problems.items, strict=True), key=lambda pair: pair[0])
        raise ValidationError([text for _, text in ordered])
    return script


MAX_TIMED_SECONDS = MAX_SESSION_SECONDS
"""A session's limit, as for routine files (:data:`matcue.limits.MAX_SESSION_SECONDS`)."""


def _check_total(script: CueScript, item_lines: list[int], problems: _Problems) -> None:
    """The 4-hour limit on timed parts (blocks, pauses, sound waits), reported at the
    line where the total first passes it."""
    timed = [i for i in script.items if isinstance(i, (Block, Pause, Sound))]
    total = Fraction(0)
    for item, line in zip(timed, item_lines, strict=False):
        if isinstance(item, Block):
            total += item.length
        elif isinstance(item, Pause):
            total += item.seconds
        elif item.wait is not None:
            total += item.wait
        if total > MAX_TIMED_SECONDS:
            problems.add(
                line,
                "length",
                "the timed parts (blocks, pauses and sound waits) pass 4 hours here; "
                "the limit for a session is 4 hours",
            )
            return


_ANCHORED_RE = re.compile(r"^([0-9][0-9.]*)(?:\s+([^:\s]+))?\s*(?::\s?(.*))?$")


def _parse_anchored(
    line: str, lineno: int, block: Block, lines: list[AnchoredLine], problems: _Problems
) -> None:
    m = _ANCHORED_RE.match(line)
    if not m:
        problems.add(
            lineno,
            "block line",
            "expected 'OFFSET [phase][: text]' (inside a block every "
            "line starts with its offset in seconds; close the block with @end)",
        )
        return
    off_text, phase, text_ = m.group(1), m.group(2), m.group(3)
    try:
        offset = _parse_number(off_text)
    except ValueError:
        problems.add(
            lineno,
            "block line",
            f"expected an offset in seconds, got {off_text!r} "
            "(inside a block every line starts with its offset; close the block with @end)",
        )
        return
    if phase is not None and not _NAME_RE.match(phase):
        problems.add(lineno, "block line", f"expected a lowercase phase word, got {phase!r}")
        return
    if offset >= block.length:
        problems.add(
            lineno,
            "block line",
            f"offset {off_text} is not inside the block (length {format_seconds(block.length)})",
        )
        return
    if lines and offset <= lines[-1].offset:
        problems.add(lineno, "block line", "offsets must increase within a block")
        return
    if text_ is not None:
        text_ = _unescape(text_.strip())
        if not text_:
            text_ = None
    lines.append(AnchoredLine(offset, phase, text_))
