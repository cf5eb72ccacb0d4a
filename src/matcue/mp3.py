"""The MP3 bitstream: frame headers, the Xing/LAME "Info" frame lameenc omits, its CRCs,
and :class:`Mp3FrameSink`, which writes the encoder's frames and keeps what the
Info frame needs. The encoding itself is :mod:`matcue.writers.mp3`.

Why this module exists: an MP3 encoder delays the audio (LAME: 576 samples of
encoder delay, plus the decoder's own 529) and pads the end to a whole frame.
Decoders remove exactly that much only when the file says how much there is, in
the LAME extension of a Xing "Info" frame placed before the first audio frame.
lameenc writes no such frame, so without it a cue at 12.000 s would be heard
about 50 ms late at 22050 Hz and the file would be too long. `Mp3FrameSink`
(fed by the encoder in :mod:`matcue.writers.mp3`) reserves room for the Info
frame, streams the encoded frames after it, counts them, and finally writes the
Info frame the way LAME 3.100 writes it (frame count, byte count, TOC, encoder
delay and padding, music length, music CRC and tag CRC), so that ffmpeg,
mpg123/libsndfile and players trim sample-exactly.

Layout references: LAME ``libmp3lame/VbrTag.c`` (writer), ffmpeg
``libavformat/mp3dec.c`` and mpg123 ``parse.c`` (readers).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from matcue.errors import InputError, RenderError

log = logging.getLogger(__name__)

ENCODER_DELAY = 576
"""LAME's encoder delay in samples (``ENCDELAY``), what ``lame_get_encoder_delay`` reports.

Checked for lameenc's build by encoding an impulse (tests/test_mp3.py): with
this value in the Info frame the decoded impulse lands on its input sample."""

DECODER_DELAY = 529
"""The MP3 decoder's own delay (528 + 1); decoders add it to the tag's delay."""

ENCODER_VERSION = b"LAME3.100"
"""The 9-byte encoder string of the LAME tag. Readers (ffmpeg) accept the gapless
fields only after a ``LAME`` prefix; lameenc bundles LAME 3.100."""

_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
"""Layer III bitrates (kbps) by index, for MPEG-1 and for MPEG-2/2.5 (LSF)."""

_SAMPLE_RATES = {
    # sample rate: (version bits in the header, sample-rate index, MPEG-1?)
    44100: (0b11, 0, True),
    48000: (0b11, 1, True),
    32000: (0b11, 2, True),
    22050: (0b10, 0, False),
    24000: (0b10, 1, False),
    16000: (0b10, 2, False),
    11025: (0b00, 0, False),
    12000: (0b00, 1, False),
    8000: (0b00, 2, False),
}
SUPPORTED_SAMPLE_RATES = tuple(sorted(_SAMPLE_RATES))

_INFO_PAYLOAD = 4 + 4 + 4 + 4 + 100 + 4 + 36
"""Bytes after the side info: "Info", flags, frames, bytes, TOC, quality, LAME extension."""


def _crc16_table() -> np.ndarray:
    # LAME's crc16_lookup: CRC-16 with polynomial 0x8005, bit-reflected (0xA001).
    table = np.zeros(256, dtype=np.uint16)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table[i] = c
    return table


_CRC_TABLE = _crc16_table()
_CRC_LIST = [int(v) for v in _CRC_TABLE]
_BLOCK = 4096
_CRC_BATCH = 1 << 20


def _crc16_bytes_loop(data: bytes | bytearray | memoryview, crc: int) -> int:
    table = _CRC_LIST
    for b in bytes(data):
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def _zero_shift_tables() -> tuple[list[int], list[int]]:
    # Feeding _BLOCK zero bytes is linear in the register: tables for its low and high byte.
    def shift(c: int) -> int:
        for _ in range(_BLOCK):
            c = (c >> 8) ^ _CRC_LIST[c & 0xFF]
        return c

    basis = [shift(1 << k) for k in range(16)]

    def apply(v: int) -> int:
        out = 0
        for k in range(16):
            if v >> k & 1:
                out ^= basis[k]
        return out

    return [apply(v) for v in range(256)], [apply(v << 8) for v in range(256)]


_SHIFT_LO: list[int] | None = None
_SHIFT_HI: list[int] | None = None
_POSITION_TABLE: np.ndarray | None = None


def _position_table() -> np.ndarray:
    """``T[p, b]``: what byte ``b`` at position ``p`` of a block adds to the block's
    CRC from zero (the CRC is linear, so a block's CRC is the XOR of these). Row
    ``_BLOCK - 1`` is the byte table; each row above feeds one more zero byte."""
    rows = np.empty((_BLOCK, 256), dtype=np.uint16)
    c = _CRC_TABLE.copy()
    rows[_BLOCK - 1] = c
    for pos in range(_BLOCK - 2, -1, -1):
        c = (c >> 8) ^ _CRC_TABLE[c & 0xFF]
        rows[pos] = c
    return rows


def crc16_lame(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """LAME's CRC-16 (``CRC_update_lookup``: poly 0x8005 reflected, i.e. CRC-16/ARC, no
    final xor) of ``data``, continuing from ``crc``.

    Used for the LAME tag CRC and the music CRC over the whole stream. The music CRC
    covers megabytes, so whole 4 KiB blocks are processed in parallel with numpy (the
    CRC is linear: crc(A+B) = zeros_shift(crc(A)) ^ crc_from_zero(B), and a block's
    CRC from zero is the XOR of a per-position table lookup of each byte); the tail
    byte by byte.
    """
    global _SHIFT_LO, _SHIFT_HI, _POSITION_TABLE
    mv = memoryview(data).cast("B")
    n_blocks = len(mv) // _BLOCK
    if n_blocks < 4:
        return _crc16_bytes_loop(mv, crc)
    if _SHIFT_LO is None or _SHIFT_HI is None or _POSITION_TABLE is None:
        _SHIFT_LO, _SHIFT_HI = _zero_shift_tables()
        _POSITION_TABLE = _position_table()
    lo, hi = _SHIFT_LO, _SHIFT_HI
    blocks = np.frombuffer(mv[: n_blocks * _BLOCK], dtype=np.uint8).reshape(n_blocks, _BLOCK)
    # Each block's CRC from zero: the XOR of its bytes' positional contributions.
    regs = np.bitwise_xor.reduce(_POSITION_TABLE[np.arange(_BLOCK), blocks], axis=1)
    for r in regs.tolist():
        crc = lo[crc & 0xFF] ^ hi[crc >> 8] ^ r
    return _crc16_bytes_loop(mv[n_blocks * _BLOCK :], crc)


@dataclass(frozen=True)
class FrameHeader:
    """The parts of an MPEG audio Layer III frame header we need."""

    mpeg1: bool
    bitrate: int
    """kbps"""
    sample_rate: int
    padding: bool
    channels: int
    size: int
    """Frame length in bytes, header included."""

    @property
    def samples(self) -> int:
        return 1152 if self.mpeg1 else 576

    @property
    def side_info_size(self) -> int:
        if self.mpeg1:
            return 17 if self.channels == 1 else 32
        return 9 if self.channels == 1 else 17


def parse_frame_header(b: bytes | bytearray | memoryview) -> FrameHeader | None:
    """Parse a 4-byte Layer III frame header; ``None`` if it is not one."""
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return None
    version = (b[1] >> 3) & 3
    layer = (b[1] >> 1) & 3
    br_index = b[2] >> 4
    sr_index = (b[2] >> 2) & 3
    if version == 1 or layer != 1 or br_index in (0, 15) or sr_index == 3:
        return None
    mpeg1 = version == 3
    sample_rate = next(
        r for r, (v, i, _) in _SAMPLE_RATES.items() if v == version and i == sr_index
    )
    bitrate = _BITRATES[1 if mpeg1 else 2][br_index]
    padding = bool(b[2] & 2)
    channels = 1 if (b[3] >> 6) == 3 else 2
    size = (144000 if mpeg1 else 72000) * bitrate // sample_rate + int(padding)
    return FrameHeader(mpeg1, bitrate, sample_rate, padding, channels, size)


def _header_bytes(sample_rate: int, bitrate: int, mode_byte: int) -> bytes:
    version, sr_index, mpeg1 = _SAMPLE_RATES[sample_rate]
    br_index = _BITRATES[1 if mpeg1 else 2].index(bitrate)
    # sync, version, layer III, no CRC | bitrate, sample rate, no padding | mode...
    return bytes([0xFF, 0xE0 | version << 3 | 0b011, br_index << 4 | sr_index << 2, mode_byte])


def info_frame_bitrate(sample_rate: int, channels: int, bitrate: int) -> int:
    """Bitrate of the Info frame: the stream's (as LAME does for CBR) when a frame at that
    rate holds the tag, otherwise the lowest rate whose frame does."""
    _, _, mpeg1 = _SAMPLE_RATES[sample_rate]
    side = (17 if channels == 1 else 32) if mpeg1 else (9 if channels == 1 else 17)
    need = 4 + side + _INFO_PAYLOAD
    coef = 144000 if mpeg1 else 72000
    for br in (bitrate, *_BITRATES[1 if mpeg1 else 2][1:]):
        if coef * br // sample_rate >= need:
            return br
    raise RenderError(f"no MP3 frame size holds the Info tag at {sample_rate} Hz")  # unreachable


def build_info_frame(
    *,
    first_header: bytes,
    sample_rate: int,
    channels: int,
    bitrate: int,
    frames: int,
    music_bytes: int,
    music_crc: int,
    delay: int,
    padding: int,
    quality: int,
) -> bytes:
    """The Xing "Info" frame with LAME extension, as LAME 3.100 writes it for CBR.

    ``frames`` counts the audio frames after this one; ``music_bytes`` is this frame
    plus all audio frames (ID3 excluded). Fields lameenc does not tell us (lowpass,
    ATH type, noise shaping, preset, replay gain, peak) are left 0, meaning unknown.
    """
    info_br = info_frame_bitrate(sample_rate, channels, bitrate)
    header = bytearray(_header_bytes(sample_rate, info_br, first_header[3]))
    hdr = parse_frame_header(header)
    assert hdr is not None
    buf = bytearray(hdr.size)
    buf[0:4] = header
    pos = 4 + hdr.side_info_size
    toc = bytearray(100)
    if frames:
        # LAME's Xing_seek_table: entry i points at the end of frame floor(i% * frames),
        # in bitrate units (for CBR: a share of frames), computed in single precision.
        n = np.float32(frames)
        for i in range(1, 100):
            j = np.float32(i) / np.float32(100)
            k = min(frames - 1, int(np.floor(j * n)))
            toc[i] = min(255, int(256.0 * (k + 1) / frames))
    buf[pos : pos + 4] = b"Info"
    struct.pack_into(">III", buf, pos + 4, 0x0F, frames, music_bytes)
    buf[pos + 16 : pos + 116] = toc
    # VBR scale / quality indicator, LAME: 100 - 10 * VBR_q - quality (VBR_q default 4).
    struct.pack_into(">I", buf, pos + 116, max(0, 100 - 10 * 4 - quality))
    crc = crc16_lame(buf[: pos + 120])
    lame = bytearray(36)
    lame[0:9] = ENCODER_VERSION
    lame[9] = 0x01  # tag revision 0, VBR method 1 = constant bitrate
    lame[10] = 0  # lowpass / 100 Hz: unknown to us (lameenc hides it)
    # peak amplitude (4), radio and audiophile replay gain (2 + 2): not measured -> 0
    lame[19] = 0  # ATH type / flags: unknown
    lame[20] = min(255, bitrate)
    if not (0 <= delay < 4096 and 0 <= padding < 4096):
        raise RenderError(f"encoder delay {delay} or padding {padding} out of range")
    lame[21] = delay >> 4
    lame[22] = (delay & 0x0F) << 4 | padding >> 8
    lame[23] = padding & 0xFF
    stereo_mode = 0 if channels == 1 else (3 if (first_header[3] >> 6) == 1 else 1)
    source_freq = 0 if sample_rate <= 32000 else 2 if sample_rate == 48000 else 1
    unwise = int(sample_rate <= 32000)  # LAME flags low sample rates as non-optimal
    lame[24] = stereo_mode << 2 | unwise << 5 | source_freq << 6  # noise shaping: unknown
    lame[25] = 0  # MP3 gain
    # preset / surround (2): 0
    struct.pack_into(">IH", lame, 28, music_bytes, music_crc)
    buf[pos + 120 : pos + 154] = lame[:34]
    crc = crc16_lame(lame[:34], crc)
    struct.pack_into(">H", buf, pos + 154, crc)
    return bytes(buf)


def allowed_bitrates(sample_rate: int) -> tuple[int, ...]:
    """The constant bitrates (kbit/s) an MP3 can have at ``sample_rate``; () for a
    sample rate MP3 does not support."""
    if sample_rate not in _SAMPLE_RATES:
        return ()
    return _BITRATES[1 if _SAMPLE_RATES[sample_rate][2] else 2][1:]


def check_settings(sample_rate: int, channels: int, bitrate: int) -> None:
    """InputError unless an MP3 can have this sample rate, channel count and bitrate."""
    if sample_rate not in _SAMPLE_RATES:
        raise InputError(
            f"MP3 cannot use a sample rate of {sample_rate} Hz; "
            f"use one of {', '.join(map(str, SUPPORTED_SAMPLE_RATES))}"
        )
    if channels not in (1, 2):
        raise InputError(f"MP3 needs 1 or 2 channels, not {channels}")
    allowed = allowed_bitrates(sample_rate)
    if bitrate not in allowed:
        raise InputError(
            f"MP3 bitrate {bitrate} kbps is not valid at {sample_rate} Hz; "
            f"use one of {', '.join(map(str, allowed))}"
        )


class Mp3FrameSink:
    """Writes encoded MP3 bytes to ``fileobj`` and keeps what the Info frame needs.

    Reserves the Info frame's space at the file's current position, then takes the
    encoder's output as it comes (:meth:`take`, any split), counting whole frames
    and running the music CRC; :meth:`finish` writes the Info frame. Only a few KiB
    of state are kept whatever the length of the session.
    """

    def __init__(
        self, fileobj: BinaryIO, *, sample_rate: int, channels: int, bitrate: int, quality: int
    ) -> None:
        check_settings(sample_rate, channels, bitrate)
        self._f = fileobj
        self.sample_rate = sample_rate
        self.channels = channels
        self.bitrate = bitrate
        self.quality = quality
        info_br = info_frame_bitrate(sample_rate, channels, bitrate)
        self._info_size = parse_frame_header(_header_bytes(sample_rate, info_br, 0))
        assert self._info_size is not None
        # The Info frame is written last, over space reserved here: only a file can go
        # back. A stream (standard output, a FIFO) gets none; players then do not trim
        # the encoder's delay, as for any MP3 without one.
        self._info_pos = fileobj.tell() if fileobj.seekable() else None
        if self._info_pos is not None:
            fileobj.write(bytes(self._info_size.size))
        self._pending = bytearray()
        self._first_header: bytes | None = None
        self._fixed = b""
        """The first frame's sync and bitrate byte with the padding bit cleared: every
        frame of a CBR stream shares them, so a frame is checked with one compare."""
        self._base_size = 0
        self._frames = 0
        self._music = self._info_size.size  # bytes from the Info frame's start
        self._crc = 0
        self._crc_buf = bytearray()

    def take(self, data: bytes | bytearray) -> None:
        """The next bytes of the encoder's output."""
        if not data:
            return
        self._f.write(data)
        # The music CRC runs in big batches: its numpy path pays per call, not per byte.
        self._crc_buf += data
        if len(self._crc_buf) >= _CRC_BATCH:
            self._crc = crc16_lame(self._crc_buf, self._crc)
            self._crc_buf.clear()
        self._pending += data
        buf = self._pending
        pos, end = 0, len(buf)
        fixed, base = self._fixed, self._base_size
        while end - pos >= 4:
            if fixed and buf[pos] == 0xFF and bytes((buf[pos + 1], buf[pos + 2] & 0xFD)) == fixed:
                size = base + ((buf[pos + 2] >> 1) & 1)
            else:
                hdr = parse_frame_header(buf[pos : pos + 4])
                if hdr is None:
                    raise RenderError("lameenc produced a byte stream that is not MP3 frames")
                size = hdr.size
                if self._first_header is None:
                    self._first_header = bytes(buf[pos : pos + 4])
                    fixed = self._fixed = bytes((buf[pos + 1], buf[pos + 2] & 0xFD))
                    base = self._base_size = hdr.size - int(hdr.padding)
            if end - pos < size:
                break
            self._music += size
            self._frames += 1
            pos += size
        del self._pending[:pos]

    def finish(self, samples: int) -> None:
        """Write the Info frame for a stream of ``samples`` input samples."""
        if self._pending:
            raise RenderError("lameenc ended with a partial MP3 frame")
        self._crc = crc16_lame(self._crc_buf, self._crc)
        self._crc_buf.clear()
        if self._first_header is None:
            raise RenderError("lameenc produced no MP3 frames")
        spf = 1152 if _SAMPLE_RATES[self.sample_rate][2] else 576
        padding = self._frames * spf - ENCODER_DELAY - samples
        if padding < 0:
            raise RenderError(
                f"MP3 stream holds {self._frames * spf} samples, fewer than the "
                f"{ENCODER_DELAY} + {samples} expected"
            )
        log.debug(
            "mp3: %d samples, %d frames, delay %d, padding %d, %d bytes",
            samples,
            self._frames,
            ENCODER_DELAY,
            padding,
            self._music,
        )
        info = build_info_frame(
            first_header=self._first_header,
            sample_rate=self.sample_rate,
            channels=self.channels,
            bitrate=self.bitrate,
            frames=self._frames,
            music_bytes=self._music,
            music_crc=self._crc,
            delay=ENCODER_DELAY,
            padding=padding,
            quality=self.quality,
        )
        if self._info_pos is None:
            return
        end = self._f.tell()
        self._f.seek(self._info_pos)
        self._f.write(info)
        self._f.seek(end)


LAME_OUTPUT_SCALE = 0.95
"""A LAME-encoded file decodes to 0.95 times the samples it was given (-0.446 dB,
at every rate and bitrate; ffmpeg's own libmp3lame does the same). Measured with
ffmpeg's and dr_mp3's decoders in tests/test_mp3.py; :func:`matcue.writers.mp3.write_mp3`
divides by it, so loudness and peaks are those of the mix."""

MP3_TRUE_PEAK_MARGIN_DB = 1.5
"""How much lower than the file's true-peak ceiling the mix of an MP3 aims at 64
kbit/s and above. Coding adds overshoots the mix cannot see: up to 0.9 dB measured
at 64 kbit/s with a loud noise bed (ffmpeg's ebur128 on the decoded file). 1.5 dB
leaves room for it."""

MP3_LOW_BITRATE_KBPS = 64
"""Below this bitrate the coding overshoots more: :data:`MP3_LOW_BITRATE_MARGIN_DB`."""

MP3_LOW_BITRATE_MARGIN_DB = 2.0
"""The margin below :data:`MP3_LOW_BITRATE_KBPS`. Measured at 32 kbit/s: 1.25 dB on
desk-break once its cues taper (fewer words, more bed between them), and 2.5 dB
over the limiter's aim under a loud pink bed once every clip's peaks are limited
(tests/test_sound_e2e.py: -0.99 dBTP decoded with 1.5 dB, -1.5 with 2.0). The
higher bitrates keep 1.5 dB: a wider margin there costs loudness accuracy (more of
the session reaches the limiter) and their overshoot stays under 1 dB."""


def mp3_true_peak_margin_db(bitrate: int) -> float:
    """How far under the true-peak ceiling the mix of an MP3 at ``bitrate`` kbit/s aims."""
    if bitrate < MP3_LOW_BITRATE_KBPS:
        return MP3_LOW_BITRATE_MARGIN_DB
    return MP3_TRUE_PEAK_MARGIN_DB
