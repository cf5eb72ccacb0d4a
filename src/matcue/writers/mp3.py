"""MP3: constant-bitrate LAME (lameenc) with ID3v2.3 tags, chapters and the LAME Info
frame, so decoders trim the encoder's delay and padding sample-exactly."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from matcue.export import Tags, destination, id3_tag_bytes, int16_blocks
from matcue.mp3 import LAME_OUTPUT_SCALE, MP3_TRUE_PEAK_MARGIN_DB, Mp3ProcessWriter, Mp3StreamWriter
from matcue.timeline import Chapter
from matcue.writers.base import AudioSpec, AudioWriter

log = logging.getLogger(__name__)

__all__ = ["Mp3Writer", "write_mp3"]


def write_mp3(
    chunks: Iterable[np.ndarray],
    path: Path,
    *,
    sample_rate: int,
    channels: int,
    bitrate: int = 64,
    tags: Tags | None,
    chapters: Sequence[Chapter],
    length: int,
    quality: int = 2,
    dither: bool = False,
    parallel: bool = True,
    atomic: bool = True,
) -> None:
    """Encode float32 chunks (shape ``(n,)`` mono or ``(n, 2)``) into a CBR MP3 at ``path``.

    With ``parallel`` (the default) the encoder runs in a child process
    (:class:`matcue.mp3.Mp3ProcessWriter`) while the caller produces the next chunks,
    so mixing and encoding share two cores; the bytes are the same either way.

    Streams: each chunk is converted and encoded as it arrives; nothing of the
    session's PCM is kept. The file is: ID3v2.3 tag (tags, CTOC, chronological
    CHAP frames), the LAME "Info" frame (encoder delay and padding, so decoders
    start the audio exactly at sample 0 and end it at ``length``), the audio frames.

    ``atomic`` False writes ``path`` itself: a temporary file the caller has staged
    (see :func:`matcue.atomic.staged_outputs`).
    """
    head = b""
    if tags is not None or chapters:
        head = id3_tag_bytes(tags, chapters, sample_rate=sample_rate, length=length)
    # LAME's decoded output is LAME_OUTPUT_SCALE times its input: send it the
    # samples divided by that, so the file plays at the level the mix was made for.
    lame_in = 1.0 / LAME_OUTPUT_SCALE
    with destination(path, atomic) as tmp:
        if not parallel:
            with open(tmp, "wb") as f:
                f.write(head)
                writer = Mp3StreamWriter(
                    f,
                    sample_rate=sample_rate,
                    channels=channels,
                    bitrate=bitrate,
                    quality=quality,
                )
                for block in int16_blocks(
                    chunks, channels=channels, length=length, dither=dither, scale=lame_in
                ):
                    writer.write(block if channels == 2 else block[:, 0])
                writer.finish()
        else:
            with open(tmp, "wb") as f:
                f.write(head)
            proc = Mp3ProcessWriter(
                str(tmp),
                sample_rate=sample_rate,
                channels=channels,
                bitrate=bitrate,
                quality=quality,
            )
            try:
                for block in int16_blocks(
                    chunks, channels=channels, length=length, dither=dither, scale=lame_in
                ):
                    proc.write(block if channels == 2 else block[:, 0])
                proc.finish()
            except BaseException:  # an error, or Ctrl-C even while finishing
                proc.abort()
                raise
    log.info("wrote %s (%.1f s, %d kbps)", path, length / sample_rate, bitrate)


class Mp3Writer(AudioWriter):
    """Constant-bitrate MP3 (``--bitrate``), with tags and chapters in ID3v2.3."""

    name = "mp3"
    suffixes = (".mp3",)
    label = "an MP3"
    headroom_db = MP3_TRUE_PEAK_MARGIN_DB

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
        write_mp3(
            chunks,
            path,
            sample_rate=spec.sample_rate,
            channels=spec.channels,
            bitrate=spec.bitrate,
            tags=tags,
            chapters=chapters,
            length=spec.length,
            atomic=atomic,
        )
