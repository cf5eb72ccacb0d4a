"""WAV: 16-bit PCM through soundfile, tags in the INFO chunk."""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from matcue.atomic import open_binary, writes_through
from matcue.errors import RenderError
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
        if writes_through(tmp):  # standard output, a device, a FIFO: no going back
            _write_stream(tmp, chunks, sample_rate, channels, length, dither)
            return
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


def _write_stream(
    path: Path,
    chunks: Iterable[np.ndarray],
    sample_rate: int,
    channels: int,
    length: int,
    dither: bool,
) -> None:
    """A WAV written front to back: the length is known before the first sample, so
    the header is complete at once (libsndfile would seek back to finish it)."""
    data = length * channels * 2
    if data + 36 > 0xFFFFFFFF:
        raise RenderError("the session is too long for a WAV file (4 GiB); write an MP3")
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
    header += b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16
    )
    header += b"data" + struct.pack("<I", data)
    with open_binary(path) as f:
        f.write(header)
        for block in int16_blocks(chunks, channels=channels, length=length, dither=dither):
            f.write(block.astype("<i2").tobytes())


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
