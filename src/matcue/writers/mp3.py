"""MP3: constant-bitrate LAME (lameenc) with ID3v2.3 tags, chapters and the LAME Info
frame, so decoders trim the encoder's delay and padding sample-exactly."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import lameenc
import numpy as np

from matcue.atomic import open_binary
from matcue.errors import RenderError
from matcue.export import Tags, destination, id3_tag_bytes, int16_blocks
from matcue.mp3 import (
    LAME_OUTPUT_SCALE,
    MP3_TRUE_PEAK_MARGIN_DB,
    Mp3FrameSink,
    check_settings,
    mp3_true_peak_margin_db,
)
from matcue.timeline import Chapter
from matcue.writers.base import AudioSpec, AudioWriter

log = logging.getLogger(__name__)

__all__ = ["Mp3Encoder", "Mp3Writer", "write_mp3"]


QUALITY = 2
"""LAME's ``-q`` (0 best and slowest ... 9): 2 is LAME's "recommended" high quality."""

QUEUE_BLOCKS = 4
"""Blocks waiting for the encoder at most: the mixer runs at most this far ahead, so
memory stays a few hundred KB whatever the session's length."""


class Mp3Encoder:
    """lameenc in a worker thread, writing into an :class:`~matcue.mp3.Mp3FrameSink`.

    lameenc (1.9, the version required) runs ``lame_encode_buffer`` with the GIL
    released: a busy Python loop beside an encoding thread kept most of its speed
    here. So a thread uses the second core while the caller mixes the next chunk,
    with no child process or pipes. The thread owns the encoder and the file until
    :meth:`finish` (or :meth:`abort`) has joined it. Call :meth:`write` with int16
    blocks, ``(n,)`` (mono) or ``(n, 2)``; the bytes do not depend on how the
    session is split into blocks.
    """

    def __init__(
        self,
        fileobj: BinaryIO,
        *,
        sample_rate: int,
        channels: int,
        bitrate: int = 64,
        quality: int = QUALITY,
    ) -> None:
        self._sink = Mp3FrameSink(
            fileobj, sample_rate=sample_rate, channels=channels, bitrate=bitrate, quality=quality
        )
        self.channels = channels
        enc = lameenc.Encoder()
        enc.set_bit_rate(bitrate)
        enc.set_in_sample_rate(sample_rate)
        enc.set_out_sample_rate(sample_rate)  # never let LAME resample
        enc.set_channels(channels)
        enc.set_quality(quality)
        enc.silence()
        self._enc = enc
        self._samples = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_BLOCKS)
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="mp3-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Always drains the queue to its end marker, so the producer never blocks on a
        # full queue, even after an error or an abort.
        while (data := self._queue.get()) is not None:
            if self._error is None and not self._stop:
                try:
                    self._sink.take(self._enc.encode(data))
                except BaseException as exc:  # reported to the producer
                    self._error = exc
        if self._error is None and not self._stop:
            try:
                self._sink.take(self._enc.flush())
            except BaseException as exc:
                self._error = exc

    def _raise(self) -> None:
        exc = self._error
        assert exc is not None
        if isinstance(exc, (RenderError, OSError)):
            # An OSError is the file's (a full disk): the caller names the file.
            raise exc
        raise RenderError(f"the MP3 encoder failed: {exc}") from exc

    def write(self, pcm: np.ndarray) -> None:
        """Queue a block of int16 samples, ``(n,)`` (mono) or ``(n, channels)``."""
        a = np.ascontiguousarray(pcm, dtype="<i2")
        if not (a.ndim == 1 and self.channels == 1 or a.ndim == 2 and a.shape[1] == self.channels):
            raise RenderError(f"PCM block of shape {a.shape} does not match {self.channels} ch")
        if self._error is not None:
            self._raise()
        if a.shape[0]:
            self._samples += a.shape[0]
            self._queue.put(a.tobytes())

    def finish(self) -> int:
        """Flush the encoder, wait for it, write the Info frame; returns the number of
        samples encoded."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            self._raise()
        self._sink.finish(self._samples)
        return self._samples

    def abort(self) -> None:
        """Stop encoding (after an error in the producer, or Ctrl-C) and wait for the
        thread, which drops what is queued; safe to call at any point, and twice."""
        self._stop = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


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
    quality: int = QUALITY,
    dither: bool = False,
    atomic: bool = True,
) -> None:
    """Encode float32 chunks (shape ``(n,)`` mono or ``(n, 2)``) into a CBR MP3 at ``path``.

    Streams: each chunk is converted and queued for the encoder thread
    (:class:`Mp3Encoder`) as it arrives, so mixing and encoding share two cores;
    nothing of the session's PCM is kept. The file is: ID3v2.3 tag (tags, CTOC,
    chronological CHAP frames), the LAME "Info" frame (encoder delay and padding, so
    decoders start the audio exactly at sample 0 and end it at ``length``), the
    audio frames.

    ``atomic`` False writes ``path`` itself: a temporary file the caller has staged
    (see :func:`matcue.atomic.staged_outputs`).
    """
    check_settings(sample_rate, channels, bitrate)  # before any file is made
    head = b""
    if tags is not None or chapters:
        head = id3_tag_bytes(tags, chapters, sample_rate=sample_rate, length=length)
    # LAME's decoded output is LAME_OUTPUT_SCALE times its input: send it the
    # samples divided by that, so the file plays at the level the mix was made for.
    lame_in = 1.0 / LAME_OUTPUT_SCALE
    with destination(path, atomic) as tmp, open_binary(tmp) as f:
        f.write(head)
        encoder = Mp3Encoder(
            f, sample_rate=sample_rate, channels=channels, bitrate=bitrate, quality=quality
        )
        try:
            for block in int16_blocks(
                chunks, channels=channels, length=length, dither=dither, scale=lame_in
            ):
                encoder.write(block if channels == 2 else block[:, 0])
            encoder.finish()
        except BaseException:  # an error, or Ctrl-C even while finishing
            encoder.abort()
            raise
    log.info("wrote %s (%.1f s, %d kbps)", path, length / sample_rate, bitrate)


class Mp3Writer(AudioWriter):
    """Constant-bitrate MP3 (``--bitrate``), with tags and chapters in ID3v2.3."""

    name = "mp3"
    suffixes = (".mp3",)
    label = "an MP3"
    media_type = "audio/mpeg"
    headroom_db = MP3_TRUE_PEAK_MARGIN_DB

    def headroom_for(self, bitrate: int) -> float:
        return mp3_true_peak_margin_db(bitrate)

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
