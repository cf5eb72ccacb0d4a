"""Line-aware, defensive YAML loading for user files.

``yaml.safe_load`` loses line numbers, silently keeps the last of two
duplicate keys, expands anchors/aliases (a small "billion laughs" file can
take gigabytes) and recurses once per nesting level. Routine files are written
by hand, so each of those becomes a clear error here instead.

We walk PyYAML's *event stream* with an explicit stack (never recursion) and
build plain Python data (dict / list / str / int / float / bool / None) plus a
map ``{path tuple -> line}`` so later validation errors can name the line.
The walk stops at the first anchor or alias, so nothing is ever expanded, and
at the first collection nested deeper than :data:`MAX_DEPTH`.

Every problem is reported as ``FILE:LINE: FIELD: message`` through
:class:`matcue.errors.ValidationError`; file-level problems use ``-`` as FIELD.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from matcue.errors import InputError, ValidationError
from matcue.limits import MAX_ROUTINE_BYTES

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "LoadedYaml",
    "Path_",
    "format_path",
    "load_yaml_text",
    "problem",
    "read_text_file",
    "decode_bytes",
]

MAX_BYTES = MAX_ROUTINE_BYTES
"""Largest accepted file: 1 MiB. A routine is a few kilobytes."""

MAX_DEPTH = 32
"""Deepest accepted nesting of mappings and lists. A routine needs about 5."""

Path_ = tuple[str | int, ...]
"""A location inside the data: keys and 0-based list indexes."""

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Long messages that tell the user what to do live here (STYLE.md).
ALIAS_MESSAGE = (
    "anchors and aliases ('&name' / '*name') are not supported in routine files; "
    "write each value out in full"
)
TAG_MESSAGE = (
    "YAML tag '{tag}' is not allowed; routine files hold only plain text, numbers, "
    "true/false, lists and mappings"
)
NOT_UTF8_MESSAGE = (
    "the file is not valid UTF-8 (byte 0x{byte:02x} at offset {offset}); save it as UTF-8 text"
)
UTF16_MESSAGE = "the file is UTF-16 encoded; save it as UTF-8 text"
BINARY_MESSAGE = "this is a binary file, not a YAML text file (NUL byte at offset {offset})"
EMPTY_MESSAGE = "the file is empty; a routine needs at least 'title' and 'steps'"
MULTI_DOC_MESSAGE = "a routine file holds one YAML document; remove the second '---'"
DEPTH_MESSAGE = (
    f"the data is nested more than {MAX_DEPTH} levels deep (the limit); a routine needs about 5"
)
TAB_HINT = "; YAML indentation must use spaces, not tabs"

_ALLOWED_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "!",
}
_TYPE_WORDS = {bool: "true/false", int: "a number", float: "a number", type(None): "empty"}


def format_path(path: Path_) -> str:
    """``("steps", 2, "cues", "inhale")`` -> ``steps[2].cues.inhale``; ``()`` -> ``-``."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else str(seg)
    return out or "-"


def problem(filename: str, line: int, path: Path_ | str, message: str) -> str:
    """One problem line: ``FILE:LINE: FIELD: message``."""
    where = path if isinstance(path, str) else format_path(path)
    return f"{filename}:{line}: {where}: {message}"


@dataclass
class LoadedYaml:
    """Plain data from a YAML file and the line of every value in it."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    """1-based line of each path: the key's line for mapping entries, the item's
    line for list items; ``()`` is the first line of the document."""

    def line_of(self, path: Path_) -> int:
        """Line of ``path`` or, when it does not exist (a missing field), of its
        nearest existing parent."""
        p = tuple(path)
        while p and p not in self.lines:
            p = p[:-1]
        return self.lines.get(p, 1)


def read_text_file(path: Path, *, display: str | None = None) -> str:
    """Read a user text file with the limits applied and decode it as UTF-8.

    Missing files, directories and unreadable files raise :class:`InputError`
    with a one-line message; size, binary and encoding problems raise
    :class:`ValidationError`.
    """
    name = display if display is not None else str(path)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if path.is_dir():
        raise InputError(f"{name}: is a directory, not a routine file")
    try:
        with path.open("rb") as fh:
            # Read one byte past the limit so a file that grows (or a device
            # that never ends) is still refused without reading it all.
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot read the file: {exc.strerror or exc}") from exc
    return decode_bytes(data, filename=name)


def _line_at(data: bytes | str, offset: int) -> int:
    nl = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(nl, 0, offset) + 1  # type: ignore[arg-type]


def _size_problem(filename: str, size: int) -> ValidationError:
    return ValidationError(
        [
            problem(
                filename,
                1,
                "-",
                f"the file is larger than {MAX_BYTES // 1024} KiB (the limit for a routine file "
                "is 1 MiB)",
            )
        ]
    )


def decode_bytes(data: bytes, *, filename: str) -> str:
    """Check size, binary content and encoding; return the text (BOM removed)."""
    if len(data) > MAX_BYTES:
        raise _size_problem(filename, len(data))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError([problem(filename, 1, "-", UTF16_MESSAGE)])
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ValidationError(
            [problem(filename, _line_at(data, nul), "-", BINARY_MESSAGE.format(offset=nul))]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            [
                problem(
                    filename,
                    _line_at(data, exc.start),
                    "-",
                    NOT_UTF8_MESSAGE.format(byte=data[exc.start], offset=exc.start),
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def _check_text(text: str, filename: str) -> None:
    """Checks for text handed over as ``str`` (not read from a file)."""
    nul = text.find("\x00")
    if nul >= 0:
        raise ValidationError(
            [problem(filename, _line_at(text, nul), "-", BINARY_MESSAGE.format(offset=nul))]
        )
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValidationError(
            [
                problem(
                    filename,
                    _line_at(text, exc.start),
                    "-",
                    f"the text contains a character that is not valid Unicode "
                    f"(U+{ord(text[exc.start]):04X}); save the file as UTF-8 text",
                )
            ]
        ) from None
    if size > MAX_BYTES:
        raise _size_problem(filename, size)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return _TYPE_WORDS.get(type(value), type(value).__name__)


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    path: Path_
    seen: dict[str, int] = field(default_factory=dict)
    key: Any = None
    """For mappings: the pending key (a str, or _SKIP for a refused key)."""
    expecting_key: bool = True


_SKIP = object()


class _Fatal(Exception):
    """Stop the walk: the structure cannot be trusted beyond this point."""


def _scalar(loader: Any, ev: yaml.ScalarEvent) -> Any:
    """Resolve and construct one scalar the way ``safe_load`` would, except that
    timestamps stay text and numbers Python cannot read stay text."""
    tag = ev.tag
    if tag is None or tag == "!":
        if tag == "!" or ev.style:  # quoted or non-specific: always text
            return ev.value
        tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
    node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
    try:
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return loader.construct_yaml_bool(node)
        if tag == "tag:yaml.org,2002:int":
            return loader.construct_yaml_int(node)
        if tag == "tag:yaml.org,2002:float":
            return loader.construct_yaml_float(node)
    except (ValueError, yaml.YAMLError):
        # e.g. "0x_" matches YAML's int pattern but is not a number; keep the
        # text and let validation say what it expected.
        return ev.value
    return ev.value


def load_yaml_text(text: str, *, filename: str) -> LoadedYaml:
    """Parse ``text`` into plain data with line numbers, refusing anything unsafe.

    Raises :class:`ValidationError` with every problem found (syntax errors,
    anchors and aliases, tags, excessive nesting and the like stop the walk at
    the first one; duplicate and non-text keys are all collected).
    """
    _check_text(text, filename)
    problems: list[tuple[int, str]] = []
    lines: dict[Path_, int] = {}
    root: Any = None
    have_root = False
    documents = 0
    stack: list[_Frame] = []
    loader = _Loader(text)

    def add(line: int, path: Path_ | str, message: str) -> None:
        problems.append((line, problem(filename, line, path, message)))

    def place(value: Any, line: int) -> Path_ | None:
        """Attach a finished value to its parent; return its path (None if dropped)."""
        nonlocal root, have_root
        if not stack:
            root, have_root = value, True
            lines[()] = line
            return ()
        top = stack[-1]
        if isinstance(top.container, list):
            path = (*top.path, len(top.container))
            top.container.append(value)
            lines[path] = line
            return path
        key = top.key
        top.expecting_key = True
        top.key = None
        if key is _SKIP:
            return None
        path = (*top.path, key)
        top.container[key] = value  # type: ignore[index]
        return path

    try:
        while loader.check_event():
            ev = loader.get_event()
            line = ev.start_mark.line + 1 if ev.start_mark is not None else 1
            if isinstance(ev, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    add(line, "-", MULTI_DOC_MESSAGE)
                    raise _Fatal
                continue
            if isinstance(ev, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None) is not None:
                add(line, _current_path(stack), ALIAS_MESSAGE)
                raise _Fatal
            tag = getattr(ev, "tag", None)
            if tag is not None and tag not in _ALLOWED_TAGS:
                shown = tag.replace("tag:yaml.org,2002:", "!!")
                add(line, _current_path(stack), TAG_MESSAGE.format(tag=shown))
                raise _Fatal

            top = stack[-1] if stack else None
            is_key = top is not None and isinstance(top.container, dict) and top.expecting_key
            if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
                continue
            if is_key:
                assert top is not None
                if not isinstance(ev, yaml.ScalarEvent):
                    add(
                        line,
                        top.path,
                        "a key must be a field name, not a list or mapping",
                    )
                    raise _Fatal
                key = _scalar(loader, ev)
                top.expecting_key = False
                if not isinstance(key, str):
                    add(
                        line,
                        top.path,
                        f"key '{ev.value}' is read as {_describe(key)}; field names are "
                        "words like 'name' (put it in quotes if you meant text)",
                    )
                    top.key = _SKIP
                elif key in top.seen:
                    add(
                        line,
                        (*top.path, key),
                        f"duplicate key '{key}' (first given on line {top.seen[key]}); "
                        "give each field once",
                    )
                    top.key = _SKIP
                else:
                    top.seen[key] = line
                    top.key = key
                    lines[top.path + (key,)] = line
                continue
            if isinstance(ev, yaml.ScalarEvent):
                place(_scalar(loader, ev), line)
                continue
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    add(line, _current_path(stack)[:1], DEPTH_MESSAGE)
                    raise _Fatal
                container: dict[str, Any] | list[Any] = (
                    {} if isinstance(ev, yaml.MappingStartEvent) else []
                )
                path = place(container, line)
                stack.append(_Frame(container, path if path is not None else ("?",)))
                continue
    except _Fatal:
        pass
    except yaml.MarkedYAMLError as exc:
        deep_line = _flow_depth_line(text)
        if deep_line is not None:
            # libyaml 0.2.6 (PyYAML 6.0.4) stops deep flow nesting itself, with its
            # own wording, before our walk sees level 33: give the same message as
            # our own guard, whatever the library's limit and text.
            add(deep_line, _current_path(stack)[:1], DEPTH_MESSAGE)
        else:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            what = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
            src_lines = text.splitlines()
            bad_line = src_lines[line - 1] if 0 < line <= len(src_lines) else ""
            hint = TAB_HINT if "\t" in bad_line[: (mark.column + 1) if mark else None] else ""
            cmark = exc.context_mark
            if cmark is not None and mark is not None and cmark.line != mark.line:
                hint += f" (the construct starts on line {cmark.line + 1})"
            add(line, "-", f"YAML syntax error: {what}{hint}")
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        pos = getattr(exc, "position", 0) or 0
        char = getattr(exc, "character", None)
        shown = f" U+{char:04X}" if isinstance(char, int) else ""
        add(
            _line_at(text, pos),
            "-",
            f"the file contains a control character{shown} that YAML does not allow",
        )
    finally:
        loader.dispose()

    if problems:
        problems.sort(key=lambda p: p[0])
        raise ValidationError([p[1] for p in problems])
    if not have_root or (root is None and _only_comments(text)):
        raise ValidationError([problem(filename, 1, "-", EMPTY_MESSAGE)])
    logger.debug("loaded %s: %d located values", filename, len(lines))
    return LoadedYaml(root, lines)


def _flow_depth_line(text: str) -> int | None:
    """The line where ``[``/``{`` nesting first passes :data:`MAX_DEPTH`, or None.

    A plain character scan (quoted scalars and comments skipped), used only after
    the YAML library has already refused the text, to tell a nesting limit from
    other syntax errors without depending on the library's wording.
    """
    depth = 0
    line = 1
    quote = ""
    prev = "\n"
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                if quote == "'" and text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                quote = ""
        elif ch in "'\"" and prev in " \t\n[{,:":
            quote = ch
        elif ch == "#" and prev in " \t\n":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif ch in "]}":
            depth = max(0, depth - 1)
        prev = ch
        i += 1
    return None


def _only_comments(text: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())


def _current_path(stack: list[_Frame]) -> Path_:
    if not stack:
        return ()
    top = stack[-1]
    if isinstance(top.container, dict) and not top.expecting_key and isinstance(top.key, str):
        return (*top.path, top.key)
    if isinstance(top.container, list):
        return (*top.path, len(top.container))
    return top.path
