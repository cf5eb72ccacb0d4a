"""Audio writers, one per output format, behind one interface (:class:`AudioWriter`).

:data:`WRITERS` is the registry: the ``--format`` choices, the ``-o`` extensions
a render accepts and the messages about them all come from it. Adding a format
(FLAC, Ogg...) is a module here with an :class:`AudioWriter` subclass, plus its
line in :data:`WRITERS` below (``docs/architecture.md``).
"""

from __future__ import annotations

from pathlib import Path

from matcue.writers.base import AudioSpec, AudioWriter
from matcue.writers.mp3 import Mp3Writer
from matcue.writers.wav import WavWriter

__all__ = [
    "DEFAULT_FORMAT",
    "WRITERS",
    "AudioSpec",
    "AudioWriter",
    "default_suffix",
    "format_for_suffix",
    "suffix_list",
    "formats",
    "suffixes",
    "writer_for",
]

WRITERS: dict[str, AudioWriter] = {w.name: w for w in (Mp3Writer(), WavWriter())}
"""Every output format by its ``--format`` name; the first is the default."""

DEFAULT_FORMAT = next(iter(WRITERS))


def formats() -> tuple[str, ...]:
    """The ``--format`` names, the default first."""
    return tuple(WRITERS)


def suffixes() -> tuple[str, ...]:
    """Every file extension an audio output may have (lower case, with the dot)."""
    return tuple(s for w in WRITERS.values() for s in w.suffixes)


def writer_for(fmt: str) -> AudioWriter:
    """The writer of ``fmt``; KeyError for a name not in :data:`WRITERS`."""
    return WRITERS[fmt]


def format_for_suffix(path: Path | str) -> str | None:
    """The format a file name's extension (any case) names; None for any other."""
    suffix = Path(path).suffix.lower()
    return next((w.name for w in WRITERS.values() if suffix in w.suffixes), None)


def default_suffix() -> str:
    """The extension of a default output file (``audio_out/NAME.mp3``)."""
    return WRITERS[DEFAULT_FORMAT].suffixes[0]


def suffix_list(joiner: str = "or") -> str:
    """The extensions in a sentence: ".mp3 or .wav"."""
    names = suffixes()
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {joiner} {names[-1]}"
