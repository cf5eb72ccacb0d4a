"""WAV: 16-bit PCM through soundfile, tags in the INFO chunk."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from matcue.export import Tags, destination, int16_blocks
from matcue.timeline import Chapter
from matcue.writers.base import AudioSpec, AudioWriter

log = logging.getLogger(__name__)

__all__ = ["WavWriter", "write_wav"]


def write_wav(
    chunks: Iterable[np.ndarray],
    path: Path,
    *,
    sample_rate: int,
    channels: int,
    length: int,
    tags: Tags | None = None,
    dither: bool = False,
    atomic: bool = True,
) -> None:
    """Write float chunks as a 16-bit PCM WAV, streamed through soundfile, with the same
    rounding as the MP3. Title, artist, album, genre and comment go in the INFO chunk."""
    with destination(path, atomic) as tmp:
        with sf.SoundFile(
            tmp, "w", samplerate=sample_rate, channels=channels, format="WAV", subtype="PCM_16"
        ) as out:
            if tags is not None:
                out.title = tags.title
                out.artist = tags.artist
                out.album = tags.album
                out.genre = tags.genre
                out.software = tags.encoder
                if tags.comment:
                    out.comment = tags.comment
            for block in int16_blocks(chunks, channels=channels, length=length, dither=dither):
                out.write(block)
    log.info("wrote %s (%.1f s)", path, length / sample_rate)


class WavWriter(AudioWriter):
    """16-bit PCM WAV; no chapters (RIFF has no chapter chunk players read)."""

    name = "wav"
    suffixes = (".wav",)
    label = "a WAV"
    media_type = "audio/wav"

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
        write_wav(
            chunks,
            path,
            sample_rate=spec.sample_rate,
            channels=spec.channels,
            length=spec.length,
            tags=tags,
            atomic=atomic,
        )
