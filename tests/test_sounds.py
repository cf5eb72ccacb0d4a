"""Generated bells and beds, and user bed files decoded with soundfile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from matcue.errors import InputError
from matcue.sounds import (
    BED_NAMES,
    NoiseBed,
    brown_noise,
    chime,
    chime_end,
    get_sound,
    load_bed_file,
    pink_noise,
    sound_length,
)

SR = 22050


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x)) + 1e-30)


def band_power_db(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return 10 * np.log10(spec[(f >= lo) & (f < hi)].sum())


def test_chime_is_a_soft_decaying_bell() -> None:
    c = chime(SR)
    assert c.dtype == np.float32 and c.ndim == 1
    assert 2.0 * SR <= len(c) <= 3.0 * SR
    assert np.max(np.abs(c)) <= 1.0
    assert c[0] == 0.0 and abs(c[-1]) < 1e-6  # no click at either end
    head, tail = c[: SR // 2], c[-SR // 2 :]
    assert rms_db(head) - rms_db(tail) > 12  # it rings out
    # The strongest partial is the bell's prime at ~523 Hz.
    spec = np.abs(np.fft.rfft(c))
    f = np.fft.rfftfreq(len(c), 1 / SR)
    assert abs(f[np.argmax(spec)] - 523.25) < 3


def test_gentle_attack() -> None:
    c = chime(SR)
    # Reaching full level takes milliseconds, not one sample.
    assert np.max(np.abs(c[: int(0.002 * SR)])) < 0.3 * np.max(np.abs(c))


def test_end_bell_is_longer_and_deeper() -> None:
    c, e = chime(SR), chime_end(SR)
    assert len(e) > len(c)

    def centroid(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x))
        f = np.fft.rfftfreq(len(x), 1 / SR)
        return float((spec * f).sum() / spec.sum())

    assert centroid(e) < centroid(c)
    # Two strikes: a second onset about 1.1 s in.
    env = np.abs(e)
    before = env[int(1.0 * SR) : int(1.09 * SR)].max()
    after = env[int(1.12 * SR) : int(1.25 * SR)].max()
    assert after > 1.5 * before


def test_sounds_are_cached_deterministic_and_named() -> None:
    assert get_sound("chime", SR) is get_sound("chime", SR)
    np.testing.assert_array_equal(chime(16000), chime(16000).copy())
    assert sound_length("chime-end", SR) == len(chime_end(SR))
    assert sound_length("chime", 44100) == pytest.approx(2 * sound_length("chime", SR), abs=1)
    with pytest.raises(InputError, match="'gong'.*chime, chime-end"):
        get_sound("gong", SR)


@pytest.mark.parametrize("kind", BED_NAMES)
def test_noise_is_chunk_independent(kind: str) -> None:
    whole = NoiseBed(kind, SR, 2).read(SR * 2)
    bed = NoiseBed(kind, SR, 2)
    parts = [bed.read(n) for n in (1, 999, 12345, SR * 2 - 1 - 999 - 12345)]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-12)
    # Left and right are independent noise (a wide, calm bed).
    # (compared on the first difference, which whitens brown noise's slow drift)
    d = np.diff(whole, axis=0)
    assert abs(np.corrcoef(d[:, 0], d[:, 1])[0, 1]) < 0.05


def test_pink_and_brown_slopes() -> None:
    pink = pink_noise(SR).read(SR * 8)
    brown = brown_noise(SR).read(SR * 8)
    # Pink has equal power in every octave band; brown loses 3 dB more per octave.
    low, high = (250, 500), (2000, 4000)  # three octaves apart
    pink_drop = band_power_db(pink, SR, *low) - band_power_db(pink, SR, *high)
    brown_drop = band_power_db(brown, SR, *low) - band_power_db(brown, SR, *high)
    assert abs(pink_drop) < 2.0
    assert brown_drop == pytest.approx(9.0, abs=2.0)
    for x in (pink, brown):
        assert np.sqrt(np.mean(x**2)) == pytest.approx(0.1, rel=0.25)


def test_bed_file_resampled_like_a_whole_file_resample(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = rng.standard_normal((44100 * 12, 2)) * 0.1  # longer than one decode block
    path = tmp_path / "bed.wav"
    sf.write(path, data.astype(np.float32), 44100, subtype="FLOAT")
    bed = load_bed_file(path, SR, channels=1)
    try:
        assert bed.length == 44100 * 6
        got = bed.read(bed.period)[:, 0]
        # The stream (decoded and resampled in blocks) is one whole-file soxr resample.
        want = soxr.resample(data.astype(np.float32).astype(np.float64), 44100, SR, "HQ")
        np.testing.assert_allclose(got, want.mean(axis=1)[: bed.period], atol=1e-6)
        assert -40 < bed.loudness < -10
    finally:
        bed.close()


def test_bed_file_loops_without_a_click(tmp_path: Path) -> None:
    # A 1 s sine whose length is not a whole number of periods: a hard loop would jump.
    t = np.arange(SR) / SR
    data = 0.5 * np.sin(2 * np.pi * 101.3 * t)
    path = tmp_path / "short.flac"
    sf.write(path, data, SR, subtype="PCM_24")
    bed = load_bed_file(path, SR, channels=2)
    try:
        x = np.concatenate([bed.read(777) for _ in range(5 * SR // 777)])
        assert x.shape[1] == 2
        # A click is a jump: a huge second difference. A sine of amplitude A has
        # |x''| <= A w^2; the equal-power crossfade may swell A by up to 3 dB. A hard
        # loop here would jump by ~0.5 (the sine's phase is off by 0.3 cycle at the seam).
        curve = np.abs(np.diff(x[:, 0], n=2))
        w = 2 * np.pi * 101.3 / SR
        assert curve.max() < 1.6 * 0.5 * w * w
        # It keeps going: the fifth second still carries the sine.
        assert np.sqrt(np.mean(x[4 * SR - 3000 :, 0] ** 2)) > 0.2
    finally:
        bed.close()


def test_mp3_bed_is_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    path = tmp_path / "bed.mp3"
    sf.write(path, rng.standard_normal((44100 * 2, 2)) * 0.1, 44100, format="MP3")
    bed = load_bed_file(path, SR, channels=2)
    try:
        assert abs(bed.length - SR * 2) < SR // 10
        assert np.isfinite(bed.loudness)
    finally:
        bed.close()


def test_unreadable_bed_files(tmp_path: Path) -> None:
    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(InputError, match=r"cannot read bed file .*noise\.wav: ") as err:
        load_bed_file(garbage, SR)
    assert len(err.value.message) > len(f"cannot read bed file {garbage}: ")
    with pytest.raises(InputError, match=r"missing\.wav: no such file"):
        load_bed_file(tmp_path / "missing.wav", SR)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR), SR)
    with pytest.raises(InputError, match="silent"):
        load_bed_file(silent, SR)


# Regression: an unreadable bed file, decoded through pydub when ffmpeg is
# installed, put ffmpeg's whole output (version, build configuration, library
# versions: ~25 lines) into the error; without ffmpeg the message ended "..".

FAKE_FFMPEG_OUTPUT = """Decoding failed. ffmpeg returned error code: 1

Output from ffmpeg/avlib:

ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers
  built with gcc 12 (Debian 12.2.0-14+deb12u1)
  configuration: --prefix=/usr --extra-version=0+deb12u1 --toolchain=hardened
  libavutil      57. 28.100 / 57. 28.100
  libavcodec     59. 37.100 / 59. 37.100
{path}: Invalid data found when processing input
"""


def bad_bed_files(folder: Path) -> list[Path]:
    garbage = folder / "bad.wav"
    garbage.write_bytes(np.random.default_rng(7).integers(0, 256, 3000, np.uint8).tobytes())
    good = folder / "good.flac"
    sf.write(good, np.random.default_rng(8).standard_normal(SR * 4) * 0.1, SR)
    data = good.read_bytes()
    cut_body = folder / "cut.flac"  # opens, then fails half-way
    cut_body.write_bytes(data[: len(data) // 3])
    cut_head = folder / "head.flac"  # fails to open
    cut_head.write_bytes(data[:60])
    return [garbage, cut_body, cut_head]


def assert_one_clean_line(message: str, path: Path) -> None:
    assert "\n" not in message, message
    assert message.startswith(f"cannot read bed file {path}: ")
    assert "ffmpeg version" not in message and "configuration:" not in message
    assert ".." not in message and "Error opening" not in message, message


def test_unreadable_bed_file_is_one_clear_line_whatever_is_installed(tmp_path: Path) -> None:
    """With ffmpeg installed this goes through pydub and ffmpeg for real."""
    for path in bad_bed_files(tmp_path):
        with pytest.raises(InputError) as err:
            load_bed_file(path, SR)
        assert_one_clean_line(err.value.message, path)


def test_unreadable_bed_file_without_ffmpeg(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("matcue.sounds.shutil.which", lambda name: None)
    for path in bad_bed_files(tmp_path):
        with pytest.raises(InputError) as err:
            load_bed_file(path, SR)
        assert_one_clean_line(err.value.message, path)
        assert "ffmpeg" not in err.value.message


def test_ffmpeg_output_is_reduced_to_its_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A fake ffmpeg failure (the shape pydub raises), so this runs where no ffmpeg is."""
    from matcue.sounds import pydub_audio_segment

    AudioSegment = pydub_audio_segment()
    from pydub.exceptions import CouldntDecodeError

    garbage = bad_bed_files(tmp_path)[0]

    def fake_from_file(path: str, *args: object, **kwargs: object) -> None:
        raise CouldntDecodeError(FAKE_FFMPEG_OUTPUT.format(path=path))

    monkeypatch.setattr("matcue.sounds.shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(AudioSegment, "from_file", staticmethod(fake_from_file))
    with pytest.raises(InputError) as err:
        load_bed_file(garbage, SR)
    assert_one_clean_line(err.value.message, garbage)
    assert err.value.message == (
        f"cannot read bed file {garbage}: Format not recognised; ffmpeg: Invalid data found "
        "when processing input. Use a WAV, FLAC, OGG or MP3 file, or a generated bed: pink, brown"
    )


def test_pydub_import_warning_never_reaches_users(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Regression: on a machine without ffmpeg, importing pydub warned "Couldn't find
    ffmpeg or avconv", which failed the suite on fresh machines (filterwarnings=error)
    and would have printed to a user. Forces the no-ffmpeg path by hiding both programs
    and re-importing pydub in a clean module table."""
    import sys
    import warnings

    import pydub.utils

    from matcue.sounds import pydub_audio_segment

    monkeypatch.setattr(pydub.utils, "which", lambda name: None)
    for mod in [m for m in sys.modules if m == "pydub" or m.startswith("pydub.")]:
        if mod != "pydub.utils":
            monkeypatch.delitem(sys.modules, mod)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        segment = pydub_audio_segment()
    assert segment.__name__ == "AudioSegment"
    assert [str(w.message) for w in seen if "ffmpeg" in str(w.message)] == []


def test_cli_unreadable_bed_prints_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from matcue.cli import main

    garbage = bad_bed_files(tmp_path)[0]
    r = CliRunner().invoke(
        main, ["render", "desk-break", "--bed", str(garbage), "-o", str(tmp_path / "o.mp3")]
    )
    assert r.exit_code == 2
    (line,) = r.output.splitlines()
    assert line.startswith(f"matcue: cannot read bed file {garbage}: ")
    assert "ffmpeg version" not in line and ".." not in line
