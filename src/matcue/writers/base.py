"""The interface every audio writer implements (see :mod:`matcue.writers`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from matcue.export import Tags
from matcue.timeline import Chapter

__all__ = ["AudioSpec", "AudioWriter"]


@dataclass(frozen=True)
class AudioSpec:
    """What the mixer makes and a writer stores."""

    sample_rate: int
    channels: int
    """1 (mono) or 2 (stereo); chunks are ``(n,)`` or ``(n, 2)`` float32."""
    length: int
    """Samples in the session: the chunks add up to exactly this many."""
    bitrate: int = 64
    """kbit/s, for writers that compress at a set rate (others ignore it)."""


class AudioWriter(ABC):
    """One output format. A subclass sets the class attributes and implements
    :meth:`write`; registering an instance in :data:`matcue.writers.WRITERS` makes
    the format a ``--format`` choice and its suffixes valid ``-o`` names."""

    name: ClassVar[str]
    """The ``--format`` value, e.g. ``"mp3"``."""
    suffixes: ClassVar[tuple[str, ...]]
    """File extensions (lower case, with the dot) that name this format; the first is
    the one a default output file gets."""
    label: ClassVar[str]
    """The format in a sentence: "an MP3", "a WAV"."""
    media_type: ClassVar[str]
    """The MIME type a web server sends the file with (the studio's player)."""
    headroom_db: ClassVar[float] = 0.0
    """How far below the true-peak ceiling the mix aims, for formats whose coding
    adds overshoots the mixer cannot see (lossy codecs); 0 for PCM."""

    def headroom_for(self, bitrate: int) -> float:
        """:attr:`headroom_db` for a file at ``bitrate`` kbit/s (a codec's overshoots
        can grow as its bitrate falls)."""
        del bitrate
        return self.headroom_db

    @abstractmethod
    def write(
        self,
        chunks: Iterable[np.ndarray],
        path: Path,
        *,
        spec: AudioSpec,
        tags: Tags | None,
        chapters: Sequence[Chapter],
        atomic: bool = True,
    ) -> None:
        """Store the float chunks at ``path``, streaming (never the whole session in
        memory). ``atomic`` False: ``path`` is a temporary file the caller has staged
        (:func:`matcue.atomic.staged_outputs`); True: write through
        :func:`matcue.export.destination`, so a failure leaves any earlier file intact."""
