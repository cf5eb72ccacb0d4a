"""The mixer: sample-exact placement, chunking, chimes, breath tone, bed and ducking,
and loudness checked by independent meters (pyloudnorm, ffmpeg's ebur128)."""

from __future__ import annotations

import ctypes
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from matcue.errors import InputError, RenderError
from matcue.loudness import integrated_loudness
from matcue.mix import MixSettings, render_chunks
from matcue.sounds import sound_length
from matcue.timeline import Event, Timeline

SR = 22050


def burst(seconds: float, freq: float = 1000.0, amp: float = 0.5) -> np.ndarray:
    """A fake speech clip: a tone burst that starts at full amplitude (cosine),
    so its first sample is its onset."""
    t = np.arange(int(round(seconds * SR))) / SR
    return (amp * np.cos(2 * np.pi * freq * t)).astype(np.float32)


def speech(start: int, clip: str, clips: dict[str, np.ndarray], end: int | None = None) -> Event:
    return Event(
        "speech",
        start,
        end if end is not None else start + len(clips[clip]),
        "step",
        0,
        text=clip,
        clip=clip,
    )


def render(tl: Timeline, clips: dict, settings: MixSettings, chunk: float = 10.0) -> np.ndarray:
    return np.concatenate(list(render_chunks(tl, clips, settings, chunk_seconds=chunk)))


def rms_db(x: np.ndarray) -> float:
    return 10 * math.log10(float(np.mean(np.square(x))) + 1e-30)


def onset(x: np.ndarray, threshold: float = 1e-4) -> int:
    return int(np.argmax(np.abs(x) > threshold))


QUIET = MixSettings(chime=False)


def test_speech_lands_on_its_sample() -> None:
    clips = {"a": burst(0.3), "b": burst(0.5, 700)}
    starts = [11025 + 3, 50001, 90017]
    events = [
        speech(starts[0], "a", clips),
        speech(starts[1], "b", clips),
        speech(starts[2], "a", clips),
    ]
    tl = Timeline(SR, 130_001, events)
    out = render(tl, clips, QUIET, chunk=0.77)
    assert out.dtype == np.float32 and out.shape == (tl.length,)
    for ev in events:
        window = out[ev.start - 2000 : ev.end + 2000]
        assert onset(window) == 2000, ev  # first sound exactly at event.start
        assert np.all(out[ev.end : ev.end + 1500] == 0.0)  # and silence right after


def test_clip_is_cut_at_event_end() -> None:
    clips = {"long": burst(1.0)}
    ev = speech(SR, "long", clips, end=SR + 4000)
    out = render(Timeline(SR, 3 * SR, [ev]), clips, QUIET)
    assert np.abs(out[SR + 3990 : SR + 4000]).max() > 0.01
    assert np.all(out[SR + 4000 :] == 0.0)


@pytest.mark.parametrize("length", [1, 12345, 3 * SR + 7])
def test_total_length_is_exact(length: int) -> None:
    settings = MixSettings(bed="pink", breath_tone=True, channels=2)
    tl = Timeline(SR, length, [Event("phase", 0, length, "s", 0, phase="inhale")])
    for chunk in (0.01, 1.0, 10.0):
        done: list[float] = []
        parts = list(render_chunks(tl, {}, settings, chunk_seconds=chunk, progress=done.append))
        assert sum(len(p) for p in parts) == length
        assert done[-1] == 1.0  # a fraction of the mixing work, ending at all of it
        assert all(p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 2 for p in parts)


def session(clips: dict[str, np.ndarray]) -> Timeline:
    """A small session: chime, four 8 s breath cycles with cues, a closing bell."""
    events: list[Event] = []
    t = int(0.5 * SR)
    events.append(Event("sound", t, t + sound_length("chime", SR), "intro", 0, sound="chime"))
    t += 3 * SR
    for _ in range(4):
        events.append(Event("phase", t, t + 4 * SR, "cat-cow", 1, phase="inhale"))
        events.append(speech(t, "in", clips))
        events.append(Event("phase", t + 4 * SR, t + 8 * SR, "cat-cow", 1, phase="exhale"))
        events.append(speech(t + 4 * SR, "out", clips))
        t += 8 * SR
    events.append(Event("sound", t, t + sound_length("chime-end", SR), "end", 2, sound="chime-end"))
    t += sound_length("chime-end", SR) + SR // 2
    return Timeline(SR, t, events)


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """Synthetic speech-like material: noise shaped into ~4 Hz syllables with pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = np.clip(np.sin(2 * np.pi * 4.1 * t), 0, None) ** 2 * (rng.random() * 0.5 + 0.5)
    x = rng.standard_normal(n) * env
    # Tilt toward voice frequencies with a crude low-pass.
    x = np.convolve(x, np.ones(6) / 6, mode="same")
    return (0.6 * x / np.max(np.abs(x))).astype(np.float32)


def test_chunk_size_does_not_change_the_output() -> None:
    clips = {"in": speechlike(1.5, 1), "out": speechlike(1.8, 2)}
    tl = session(clips)
    settings = MixSettings(bed="brown", breath_tone=True, channels=2)
    a = render(tl, clips, settings, chunk=1.0)
    b = render(tl, clips, settings, chunk=7.0)
    assert a.shape == b.shape == (tl.length, 2)
    np.testing.assert_allclose(a, b, atol=1e-6)
    # And the same input twice gives the very same samples.
    np.testing.assert_array_equal(a, render(tl, clips, settings, chunk=1.0))


def test_chime_appears_at_the_sound_event_only_when_on() -> None:
    clips = {"in": burst(0.4), "out": burst(0.4, 600)}
    tl = session(clips)
    on = render(tl, clips, MixSettings(chime=True))
    off = render(tl, clips, MixSettings(chime=False))
    bell = next(e for e in tl.events if e.sound == "chime")
    region = slice(bell.start, bell.start + SR)
    assert np.all(off[region] == 0.0)
    assert rms_db(on[region]) > -40
    # The bell starts at its event (its attack rises from zero over ~12 ms).
    start = onset(on[bell.start - 1000 : bell.start + SR], threshold=1e-3) - 1000
    assert 0 <= start <= int(0.012 * SR)
    assert np.all(on[: bell.start] == 0.0)


def moving_rms(x: np.ndarray, n: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    return np.sqrt((c[n:] - c[:-n]) / n)


def test_breath_tone_follows_the_phase_anchors() -> None:
    events = []
    t = SR
    cycles = []
    for inhale, exhale, hold in [(4.0, 6.0, 1.0), (3.0, 3.0, 0.5)]:
        i0, i1 = t, t + int(inhale * SR)
        e1 = i1 + int(exhale * SR)
        events += [
            Event("phase", i0, i1, "b", 0, phase="inhale"),
            Event("phase", i1, e1, "b", 0, phase="exhale"),
            Event("phase", e1, e1 + int(hold * SR), "b", 0, phase="hold_out"),
        ]
        cycles.append((i0, i1, e1))
        t = e1 + int(hold * SR)
    tl = Timeline(SR, t + SR, events)
    off = render(tl, {}, MixSettings(chime=False, breath_tone=False))
    assert np.all(off == 0.0)
    out = render(tl, {}, MixSettings(chime=False, breath_tone=True))
    # RMS over exactly two periods of the tone (196 Hz): 225 samples, centred.
    win = 225
    env = np.zeros(len(out))
    env[win // 2 : win // 2 + len(out) - win + 1] = moving_rms(out, win)
    top = env.max()
    ms = SR // 1000
    for i0, i1, e1 in cycles:
        assert np.all(out[i0 - SR // 2 : i0 + 1] == 0.0)  # silent until the inhale starts
        assert np.any(out[i0 + 1 : i0 + 3] != 0.0)  # and begins right there
        assert env[i0 + 5 * ms] < 0.02 * top  # at the inhale's start: minimum
        assert env[i1] > 0.97 * env[i0:e1].max()  # at the inhale's end: maximum
        peak_at = i0 + int(np.argmax(env[i0:e1]))
        assert abs(peak_at - i1) < 0.25 * SR  # (the top of a cosine is flat)
        quarter = [env[i0 + k * (i1 - i0) // 4] for k in (1, 2, 3)]
        assert quarter[0] < quarter[1] < quarter[2]  # swelling through the inhale
        assert env[e1 - 5 * ms] < 0.02 * top  # back down at the exhale's end
        assert np.all(out[e1 : e1 + int(0.4 * SR)] == 0.0)  # hold_out is silent


@pytest.fixture()
def bed_wav(tmp_path: Path) -> Path:
    """A user's bed: 3 s of stereo noise at 44.1 kHz (resampled and looped by the mixer)."""
    rng = np.random.default_rng(11)
    path = tmp_path / "rain.wav"
    sf.write(path, (rng.standard_normal((44100 * 3, 2)) * 0.1).astype(np.float32), 44100)
    return path


def cue_session(clips: dict[str, np.ndarray]) -> Timeline:
    events = [speech(s * SR, "cue", clips) for s in (3, 8, 13)]
    return Timeline(SR, 18 * SR, events)


def test_bed_fills_the_gaps_and_ducks_under_cues(bed_wav: Path) -> None:
    clips = {"cue": burst(1.0, 800, 0.5)}
    tl = cue_session(clips)
    dry = render(tl, clips, MixSettings(chime=False))
    wet = render(tl, clips, MixSettings(chime=False, bed=str(bed_wav)))
    gap = slice(5 * SR, 7 * SR)  # 1 s after a cue ends, 1 s before the next
    cue = slice(8 * SR + SR // 10, 9 * SR - SR // 10)
    assert rms_db(wet[gap]) >= rms_db(dry[gap]) + 15
    # The bed sits about bed_volume_db (-24 LU) under the speech.
    rel = integrated_loudness(wet[gap], SR) - integrated_loudness(wet[cue], SR)
    assert rel == pytest.approx(-24.0, abs=2.0)

    # Ducking: with silent clips only the bed is left; compare it in a gap and under a cue.
    silent = {"cue": np.zeros(SR, dtype=np.float32)}
    bed_only = render(tl, silent, MixSettings(chime=False, bed=str(bed_wav), duck_db=10.0))
    assert rms_db(bed_only[gap]) - rms_db(bed_only[cue]) == pytest.approx(10.0, abs=1.0)
    # Fully back up by the end of the release, fully down by the start of the cue.
    assert rms_db(bed_only[8 * SR : 8 * SR + SR // 10]) < rms_db(bed_only[gap]) - 8.5


def test_generated_bed_in_stereo_is_wide(tmp_path: Path) -> None:
    clips = {"cue": burst(1.0)}
    out = render(cue_session(clips), clips, MixSettings(chime=False, bed="pink", channels=2))
    gap = out[5 * SR : 7 * SR]
    assert abs(np.corrcoef(gap[:, 0], gap[:, 1])[0, 1]) < 0.2
    cue = out[8 * SR + SR // 10 : 9 * SR - SR // 10]
    assert np.corrcoef(cue[:, 0], cue[:, 1])[0, 1] > 0.99  # speech is centred


def test_unreadable_bed_is_an_input_error(tmp_path: Path) -> None:
    clips = {"cue": burst(0.5)}
    tl = cue_session(clips)
    garbage = tmp_path / "bed.ogg"
    garbage.write_bytes(os.urandom(4000))
    with pytest.raises(InputError, match=re.escape(str(garbage))):
        render_chunks(tl, clips, MixSettings(bed=str(garbage)))
    with pytest.raises(InputError, match="no such file"):
        render_chunks(tl, clips, MixSettings(bed=str(tmp_path / "nope.mp3")))


def test_missing_clip_and_unknown_sound_are_reported() -> None:
    clips = {"cue": burst(0.5)}
    tl = Timeline(SR, 2 * SR, [speech(100, "cue", clips)])
    with pytest.raises(RenderError, match="no audio clip 'cue' for speech 'cue' at sample 100"):
        render_chunks(tl, {}, MixSettings())
    bad = Timeline(SR, 2 * SR, [Event("sound", 0, 100, "s", 0, sound="gong")])
    with pytest.raises(InputError, match="unknown sound 'gong'; available sounds: chime"):
        render_chunks(bad, {}, MixSettings(chime=False))  # checked even with chimes off


# --- loudness, measured independently ---------------------------------------------


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Real speech from espeak-ng via pyttsx3 (falls back to speech-like noise if the
    engine cannot run here: the loudness checks do not depend on the words)."""
    texts = {"in": "Breathe in, and lift your chest.", "out": "Breathe out, round your back."}
    folder = tmp_path_factory.mktemp("speech")
    try:
        import espeakng_loader as loader

        os.environ.setdefault("ESPEAK_DATA_PATH", loader.get_data_path())
        lib = os.path.join(os.path.dirname(loader.get_library_path()), "libespeak-ng.so.1")
        ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
        import pyttsx3

        clips = {}
        for key, text in texts.items():
            engine = pyttsx3.init("espeak")
            path = folder / f"{key}.wav"
            engine.save_to_file(text, str(path))
            engine.runAndWait()
            data, rate = sf.read(path, dtype="float32")
            assert rate == SR and len(data) > SR // 2
            clips[key] = data
        return clips
    except Exception:  # noqa: BLE001 - any engine trouble: use the synthetic stand-in
        return {"in": speechlike(1.6, 3), "out": speechlike(1.7, 4)}


def true_peak_8x_db(x: np.ndarray) -> float:
    """An independent true-peak reading: 8x oversampling with scipy's own filter (the
    mixer's limiter uses 4x with a different one). Not an FFT of the whole file: its
    periodic, brick-wall interpolation reads full-band noise higher than BS.1770's
    and ffmpeg's finite filters do."""
    up = resample_poly(x.astype(np.float64), 8, 1, axis=0)
    return 20 * math.log10(float(np.max(np.abs(up))))


@pytest.mark.parametrize("channels,target", [(1, -19.0), (2, -16.0)])
def test_session_lands_on_target_by_pyloudnorm(spoken, channels: int, target: float) -> None:
    pyln = pytest.importorskip("pyloudnorm")
    tl = session(spoken)
    out = render(tl, spoken, MixSettings(bed="pink", breath_tone=True, channels=channels))
    measured = pyln.Meter(SR).integrated_loudness(out.astype(np.float64))
    assert measured == pytest.approx(target, abs=1.0)
    assert true_peak_8x_db(out) <= -1.0


def ffmpeg_ebur128(path: Path) -> tuple[float, float]:
    proc = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = proc.stderr[proc.stderr.rindex("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return integrated, peak


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("channels,target", [(1, -19.0), (2, -16.0)])
def test_session_lands_on_target_by_ffmpeg(
    spoken, tmp_path: Path, channels: int, target: float
) -> None:
    tl = session(spoken)
    out = render(tl, spoken, MixSettings(bed="brown", channels=channels))
    path = tmp_path / "session.wav"
    sf.write(path, out, SR, subtype="FLOAT")
    integrated, peak = ffmpeg_ebur128(path)
    assert integrated == pytest.approx(target, abs=1.0)
    assert peak <= -1.0


@pytest.mark.parametrize("channels", [1, 2])
def test_output_meter_agrees_with_ours(spoken, channels: int) -> None:
    """The output check is libebur128 (pyebur128) since it was found to agree with
    matcue's own BS.1770 meter within 0.01 LU (and with ffmpeg, below). A swap that
    broke this would mis-report every render's level and trigger (or hide) the
    re-render of a missed target."""
    tl = session(spoken)
    stream = render_chunks(tl, spoken, MixSettings(bed="pink", breath_tone=True, channels=channels))
    out = np.concatenate(list(stream))
    assert stream.measured_lufs is not None
    assert stream.measured_lufs == pytest.approx(integrated_loudness(out, SR), abs=0.01)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("channels", [1, 2])
def test_output_meter_agrees_with_ffmpeg(spoken, tmp_path: Path, channels: int) -> None:
    """libebur128's reading of the output within 0.1 LU of ffmpeg's ebur128 filter
    (which prints one decimal): the condition it replaced our meter under."""
    tl = session(spoken)
    stream = render_chunks(tl, spoken, MixSettings(bed="pink", breath_tone=True, channels=channels))
    out = np.concatenate(list(stream))
    path = tmp_path / "session.wav"
    sf.write(path, out, SR, subtype="FLOAT")
    assert stream.measured_lufs == pytest.approx(ffmpeg_ebur128(path)[0], abs=0.1)


def test_nothing_clips_with_everything_on_and_pushed_loud(spoken, tmp_path: Path) -> None:
    tl = session(spoken)
    settings = MixSettings(
        bed="pink",
        breath_tone=True,
        chime=True,
        channels=2,
        target_lufs=-8.0,
        bed_volume_db=-10.0,
        chime_db=0.0,
    )
    out = render(tl, spoken, settings)
    assert np.max(np.abs(out)) <= 10 ** (-1 / 20)
    assert true_peak_8x_db(out) <= -1.0
    if shutil.which("ffmpeg"):
        path = tmp_path / "loud.wav"
        sf.write(path, out, SR, subtype="FLOAT")
        assert ffmpeg_ebur128(path)[1] <= -1.0


def test_lands_on_target_when_the_session_is_much_louder_than_its_speech(spoken) -> None:
    """Pass 1 measures the limited mix at the gain the *speech* suggests; a loud bed moves
    the session far from that, and a further measuring pass must then correct the gain."""
    pyln = pytest.importorskip("pyloudnorm")
    tl = session(spoken)
    settings = MixSettings(bed="pink", bed_volume_db=4.0, duck_db=0.0)
    out = render(tl, spoken, settings)
    measured = pyln.Meter(SR).integrated_loudness(out.astype(np.float64))
    assert measured == pytest.approx(-19.0, abs=0.5)
    assert true_peak_8x_db(out) <= -1.0
