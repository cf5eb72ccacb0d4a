"""MP3 timing: the decoded audio starts where the timeline says and has its length.

lameenc writes no Xing/LAME header, so without ours decoders would start every cue
1105 samples (50 ms at 22050 Hz) late and make the file too long. These tests
encode noise bursts at known samples, decode with independent decoders
(soundfile = libsndfile + mpg123, ffmpeg, mutagen's header reader), and find
each burst by cross-correlation against the input.
"""

from __future__ import annotations

import queue
import shutil
import struct
import subprocess
import threading
from pathlib import Path

import lameenc
import numpy as np
import pytest
import soundfile as sf
from mutagen.mp3 import MP3

from matcue.errors import InputError, RenderError
from matcue.export import float_to_int16
from matcue.mp3 import LAME_OUTPUT_SCALE, crc16_lame, parse_frame_header
from matcue.writers.mp3 import write_mp3

CONFIGS = [(22050, 1), (22050, 2), (44100, 1), (44100, 2), (48000, 2)]


def bitwise_crc16_arc(data: bytes, crc: int = 0) -> int:
    """Reference CRC-16 (poly 0x8005 reflected), bit by bit: independent of the table code."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_crc16_matches_lame_check_value_and_bitwise_reference() -> None:
    assert crc16_lame(b"123456789") == 0xBB3D  # CRC-16/ARC check value
    data = np.random.default_rng(3).bytes(70_001)  # > 4 blocks: exercises the numpy path
    assert crc16_lame(data) == bitwise_crc16_arc(data)
    assert crc16_lame(data, 0x1234) == bitwise_crc16_arc(data, 0x1234)


def burst_signal(sr: int, channels: int) -> tuple[np.ndarray, list[int]]:
    """Silence with 50 ms noise bursts at 0.5 s and 12.000 s; an odd total length."""
    rng = np.random.default_rng(sr + channels)
    n = 13 * sr + 123
    x = np.zeros((n, channels), dtype=np.float32)
    onsets = [sr // 2, 12 * sr]
    for o in onsets:
        x[o : o + sr // 20] = rng.uniform(-0.4, 0.4, size=(sr // 20, channels))
    return (x[:, 0] if channels == 1 else x), onsets


def chunked(x: np.ndarray, size: int = 9973):
    for i in range(0, len(x), size):
        yield x[i : i + size]


def lag_of(ref: np.ndarray, y: np.ndarray, onset: int, sr: int) -> int:
    """Offset (in samples) of ``ref``'s burst in ``y``, by cross-correlation over +-20 ms."""
    w = sr // 10
    a = ref[onset - w : onset + w]
    best, best_lag = -np.inf, None
    span = sr // 50
    for lag in range(-span, span + 1):
        b = y[onset - w + lag : onset + w + lag]
        v = float(np.dot(a, b))
        if v > best:
            best, best_lag = v, lag
    assert best_lag is not None
    return best_lag


def encode(tmp_path: Path, sr: int, ch: int, name: str = "t.mp3") -> tuple[Path, np.ndarray, list]:
    x, onsets = burst_signal(sr, ch)
    path = tmp_path / name
    write_mp3(chunked(x), path, sample_rate=sr, channels=ch, tags=None, chapters=[], length=len(x))
    return path, x, onsets


@pytest.mark.parametrize(("sr", "ch"), CONFIGS)
def test_soundfile_decodes_bursts_at_their_samples_and_exact_length(
    tmp_path: Path, sr: int, ch: int
) -> None:
    path, x, onsets = encode(tmp_path, sr, ch)
    y, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == sr
    assert y.shape == (len(x), ch)  # exact length: delay and padding trimmed
    ref = x if x.ndim == 1 else x[:, 0]
    for onset in onsets:
        assert lag_of(ref, y[:, 0], onset, sr) == 0
        # and plainly: quiet before the burst (beyond MP3 pre-echo), loud inside it
        before = y[onset - sr // 10 : onset - sr // 40, 0]
        inside = y[onset : onset + sr // 20, 0]
        assert np.sqrt(np.mean(before**2)) < 0.01 < np.sqrt(np.mean(inside**2))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
@pytest.mark.parametrize(("sr", "ch"), [(22050, 1), (44100, 2)])
def test_ffmpeg_agrees(tmp_path: Path, sr: int, ch: int) -> None:
    path, x, onsets = encode(tmp_path, sr, ch)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", str(ch), "-"],
        capture_output=True,
        check=True,
    ).stdout
    y = np.frombuffer(raw, dtype=np.float32).reshape(-1, ch)
    assert len(y) == len(x)
    ref = x if x.ndim == 1 else x[:, 0]
    for onset in onsets:
        assert lag_of(ref, y[:, 0], onset, sr) == 0


def parse_info(data: bytes) -> dict:
    """The test's own reader of the first frame's Xing/LAME tag."""
    start = 0
    if data[:3] == b"ID3":
        start = 10 + (data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9])
    h = data[start : start + 4]
    assert h[0] == 0xFF and h[1] & 0xE0 == 0xE0, "no MPEG frame right after the ID3 tag"
    mpeg1 = (h[1] >> 3) & 3 == 3
    mono = h[3] >> 6 == 3
    side = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    p = start + 4 + side
    flags, frames, nbytes = struct.unpack(">III", data[p + 4 : p + 16])
    lame = data[p + 120 : p + 156]
    return {
        "start": start,
        "tag": data[p : p + 4],
        "flags": flags,
        "frames": frames,
        "bytes": nbytes,
        "encoder": lame[:9],
        "delay": lame[21] << 4 | lame[22] >> 4,
        "padding": (lame[22] & 0x0F) << 8 | lame[23],
        "music_length": struct.unpack(">I", lame[28:32])[0],
        "tag_crc": struct.unpack(">H", lame[34:36])[0],
        "crc_input": data[start : p + 154],
        "spf": 1152 if mpeg1 else 576,
    }


def count_frames(data: bytes, pos: int) -> int:
    """Walk Layer III frame headers from ``pos`` to the end."""
    rates = {(3, 0): 44100, (3, 1): 48000, (2, 0): 22050, (2, 1): 24000}
    br1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    br2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
    n = 0
    while pos < len(data):
        h = data[pos : pos + 4]
        assert h[0] == 0xFF and h[1] & 0xE0 == 0xE0, f"lost sync at byte {pos}"
        v = (h[1] >> 3) & 3
        sr = rates[(v, (h[2] >> 2) & 3)]
        kbps = (br1 if v == 3 else br2)[h[2] >> 4]
        pos += (144000 if v == 3 else 72000) * kbps // sr + ((h[2] >> 1) & 1)
        n += 1
    assert pos == len(data)
    return n


@pytest.mark.parametrize(("sr", "ch"), [(22050, 1), (48000, 2)])
def test_info_frame_fields(tmp_path: Path, sr: int, ch: int) -> None:
    path, x, _ = encode(tmp_path, sr, ch)
    data = path.read_bytes()
    info = parse_info(data)
    assert info["tag"] == b"Info" and info["flags"] == 0x0F
    assert info["encoder"].startswith(b"LAME")
    first_audio = info["start"] + (208 if sr == 22050 else 192)  # Info frame: 64 kbps, no pad
    audio_frames = count_frames(data, first_audio)
    assert info["frames"] == audio_frames
    assert info["bytes"] == info["music_length"] == len(data) - info["start"]
    assert info["delay"] == 576
    assert info["padding"] == audio_frames * info["spf"] - 576 - len(x)
    assert info["tag_crc"] == bitwise_crc16_arc(info["crc_input"])


@pytest.mark.parametrize(("sr", "ch"), [(22050, 1), (44100, 2)])
def test_mutagen_reads_the_header_as_lame_cbr_with_exact_length(
    tmp_path: Path, sr: int, ch: int
) -> None:
    path, x, _ = encode(tmp_path, sr, ch)
    info = MP3(path).info
    assert info.sample_rate == sr and info.channels == ch
    assert info.encoder_info.startswith("LAME")
    assert str(info.bitrate_mode).endswith("CBR")
    assert abs(info.length - len(x) / sr) < 0.001


def test_same_input_gives_byte_identical_file(tmp_path: Path) -> None:
    a, _, _ = encode(tmp_path, 22050, 1, "a.mp3")
    b, _, _ = encode(tmp_path, 22050, 1, "b.mp3")
    assert a.read_bytes() == b.read_bytes()


def test_frames_reach_the_disk_while_chunks_still_arrive(tmp_path: Path) -> None:
    """Streaming: the temporary file grows before the last chunk is produced."""
    sr = 22050
    x = np.zeros(60 * sr, dtype=np.float32)
    seen_sizes: list[int] = []

    def chunks():
        for i, c in enumerate(chunked(x, sr)):
            if i == 50:
                parts = list(tmp_path.glob(".s.mp3.*.part"))
                assert len(parts) == 1
                seen_sizes.append(parts[0].stat().st_size)
            yield c

    write_mp3(
        chunks(),
        tmp_path / "s.mp3",
        sample_rate=sr,
        channels=1,
        tags=None,
        chapters=[],
        length=len(x),
    )
    assert seen_sizes and seen_sizes[0] > 100_000  # ~49 s of 64 kbps frames already written


@pytest.mark.parametrize(
    ("length", "message"),
    [(22000, "runs past the session's length of 22000"), (23000, "22050 samples; the timeline")],
)
def test_wrong_total_length_is_an_error_and_leaves_no_file(
    tmp_path: Path, length: int, message: str
) -> None:
    x = np.zeros(22050, dtype=np.float32)
    with pytest.raises(RenderError, match=message):
        write_mp3(
            [x],
            tmp_path / "x.mp3",
            sample_rate=22050,
            channels=1,
            tags=None,
            chapters=[],
            length=length,
        )
    assert list(tmp_path.iterdir()) == []


def test_invalid_bitrate_names_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not valid at 22050 Hz; use one of 8, 16"):
        write_mp3(
            [],
            tmp_path / "x.mp3",
            sample_rate=22050,
            channels=1,
            bitrate=192,
            tags=None,
            chapters=[],
            length=0,
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("sr", "ch"), [(22050, 1), (48000, 2)])
def test_miniaudio_dr_mp3_agrees(tmp_path: Path, sr: int, ch: int) -> None:
    """A third, independent decoder (dr_mp3), when installed (it is not a dependency)."""
    miniaudio = pytest.importorskip("miniaudio")
    path, x, onsets = encode(tmp_path, sr, ch)
    dec = miniaudio.decode_file(
        str(path), output_format=miniaudio.SampleFormat.FLOAT32, nchannels=ch, sample_rate=sr
    )
    y = np.asarray(dec.samples, dtype=np.float32).reshape(-1, ch)
    assert len(y) == len(x)
    ref = x if x.ndim == 1 else x[:, 0]
    for onset in onsets:
        assert lag_of(ref, y[:, 0], onset, sr) == 0


@pytest.mark.parametrize("ch", [1, 2])
def test_encoder_thread_writes_what_lameenc_writes_in_one_call(tmp_path: Path, ch: int) -> None:
    """The encoder runs in a thread, fed blocks of whatever size the mixer hands over;
    its audio frames must be exactly what lameenc makes of the whole PCM at once."""
    sr = 22050
    rng = np.random.default_rng(ch)
    x = (rng.standard_normal((7 * sr + 123, ch)) * 0.1).astype(np.float32)
    if ch == 1:
        x = x[:, 0]
    outs = []
    for step in (sr, 4321):
        path = tmp_path / f"s{step}.mp3"
        write_mp3(
            [x[i : i + step] for i in range(0, len(x), step)],
            path,
            sample_rate=sr,
            channels=ch,
            tags=None,
            chapters=[],
            length=len(x),
        )
        outs.append(path.read_bytes())
    assert len(outs[0]) > 50_000 and outs[0] == outs[1]
    enc = lameenc.Encoder()
    enc.set_bit_rate(64)
    enc.set_in_sample_rate(sr)
    enc.set_out_sample_rate(sr)
    enc.set_channels(ch)
    enc.set_quality(2)
    enc.silence()
    pcm = float_to_int16(x / np.float32(LAME_OUTPUT_SCALE))
    direct = bytes(enc.encode(pcm.tobytes()) + enc.flush())
    info = parse_frame_header(outs[0][:4])
    assert info is not None
    assert outs[0][info.size :] == direct


def test_a_failing_mixer_stops_the_encoder_and_leaves_no_file(tmp_path: Path) -> None:
    def chunks():
        yield np.zeros(22050, dtype=np.float32)
        raise RenderError("mixer broke")

    with pytest.raises(RenderError, match="mixer broke"):
        write_mp3(
            chunks(),
            tmp_path / "x.mp3",
            sample_rate=22050,
            channels=1,
            tags=None,
            chapters=[],
            length=44100,
        )
    assert _encoder_threads() == []
    assert list(tmp_path.iterdir()) == []


def _encoder_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("mp3-") and t.is_alive()]


def _interrupt_on_call(monkeypatch: pytest.MonkeyPatch, cls: type, name: str, n: int) -> None:
    """Ctrl-C arriving during the ``n``-th call of ``cls.name`` (1-based) made by
    the main thread (Ctrl-C is only ever raised there)."""
    real = getattr(cls, name)
    calls = []

    def patched(self, *args, **kwargs):
        if threading.get_ident() == threading.main_thread().ident:
            calls.append(1)
            if len(calls) == n:
                raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, patched)


@pytest.mark.parametrize(
    ("cls", "method", "n"),
    [
        (threading.Thread, "start", 1),
        (queue.Queue, "put", 2),
        (threading.Thread, "join", 1),
    ],
    ids=["while-starting-the-thread", "while-queuing-a-block", "while-finishing"],
)
def test_ctrl_c_anywhere_in_the_encoder_leaves_no_thread_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cls: type, method: str, n: int
) -> None:
    """A KeyboardInterrupt inside the writer's own start-up, feeding or finish (the
    old encoder process met one under load while its pipe threads were starting)
    must still stop the encoder thread and remove the temporary file, leaving the
    earlier file as it was."""
    _interrupt_on_call(monkeypatch, cls, method, n)
    target = tmp_path / "x.mp3"
    target.write_bytes(b"earlier")
    with pytest.raises(KeyboardInterrupt):
        write_mp3(
            [np.zeros(22050, dtype=np.float32)] * 2,
            target,
            sample_rate=22050,
            channels=1,
            tags=None,
            chapters=[],
            length=44100,
        )
    assert _encoder_threads() == []
    assert [p.name for p in tmp_path.iterdir()] == ["x.mp3"]
    assert target.read_bytes() == b"earlier"


@pytest.mark.parametrize(("sr", "ch", "kbps"), [(22050, 1, 64), (22050, 1, 32), (44100, 2, 128)])
def test_decoded_level_equals_the_mix_level(tmp_path: Path, sr: int, ch: int, kbps: int) -> None:
    """LAME plays back 0.95 times what it is given; write_mp3 makes up for it, so two
    independent decoders (libsndfile's mpg123 and dr_mp3) give back the input level."""
    miniaudio = pytest.importorskip("miniaudio")
    t = np.arange(3 * sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    x = np.stack([x] * ch, axis=1) if ch == 2 else x
    path = tmp_path / "tone.mp3"
    write_mp3(
        [x], path, sample_rate=sr, channels=ch, bitrate=kbps, tags=None, chapters=[], length=len(x)
    )
    mid = slice(sr, 2 * sr)
    ref = 20 * np.log10(np.sqrt(np.mean(np.square(x[mid], dtype=np.float64))))
    y, _ = sf.read(path, dtype="float64", always_2d=True)
    decoded = miniaudio.decode_file(str(path), output_format=miniaudio.SampleFormat.FLOAT32)
    z = np.asarray(decoded.samples, dtype=np.float64).reshape(-1, ch)
    for d in (y, z):
        level = 20 * np.log10(np.sqrt(np.mean(np.square(d[mid]))))
        assert abs(level - ref) < 0.05, (level, ref)
