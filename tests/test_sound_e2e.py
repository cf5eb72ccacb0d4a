"""Sound options end to end through the CLI on a short built-in (desk-break):
chime on/off, breath tone, a user's bed file, WAV output, loudness, chapters,
tags and progress output. Independent checks: soundfile decoding, pyloudnorm,
mutagen, and ffmpeg/ffprobe where installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from matcue.cli import main

ROUTINE = str(Path(__file__).parent / "sound" / "short-session.yaml")
"""A frozen short session (the built-in desk-break before issue 12 rewrote it)."""


def render(tmp_path, name, *args):
    out = tmp_path / f"{name}.mp3"
    tl = tmp_path / f"{name}.json"
    r = CliRunner().invoke(main, ["render", ROUTINE, "-o", str(out), "--timeline", str(tl), *args])
    assert r.exit_code == 0, r.output
    audio, rate = sf.read(out, dtype="float32", always_2d=True)
    return out, audio, rate, json.loads(tl.read_text()), r.output


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return render(tmp_path_factory.mktemp("plain"), "plain")


def rms_db(x):
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20)


@pytest.fixture(scope="module")
def nochime(tmp_path_factory):
    return render(tmp_path_factory.mktemp("nochime"), "nochime", "--no-chime")


def test_chime_on_and_off_differ_at_the_chime(plain, nochime):
    _, a, rate, events, _ = plain
    _, b, _, events_b, _ = nochime
    assert [e["start"] for e in events] == [e["start"] for e in events_b]
    chime = next(e for e in events if e["kind"] == "sound" and e["sound"] == "chime")
    seg = slice(int(chime["start"] * rate), int((chime["start"] + 0.5) * rate))
    assert rms_db(a[seg]) > rms_db(b[seg]) + 20  # bell present only with --chime


def test_no_chime_timeline_lists_no_sounds(plain, nochime):
    # Regression: with --no-chime the JSON timeline still listed the chimes the
    # audio no longer had. The time a chime held the flow is silence: a pause.
    _, a, rate, events, _ = plain
    _, b, _, events_b, _ = nochime
    assert any(e["kind"] == "sound" for e in events)
    assert not any(e["kind"] == "sound" or "sound" in e for e in events_b)
    sounds = {e["start"]: e for e in events if e["kind"] == "sound"}
    held = {e["start"]: e for e in events_b if e["kind"] == "pause" and e["start"] in sounds}
    assert held.keys() == sounds.keys()
    assert all(held[t]["end"] <= sounds[t]["end"] for t in held)
    others = [e for e in events if e["kind"] != "sound"]
    assert others == [e for e in events_b if not (e["kind"] == "pause" and e["start"] in held)]
    assert len(b) == len(a)


def test_breath_tone_swells_on_the_anchors(plain, tmp_path):
    _, a, rate, events, _ = plain
    _, b, _, _, _ = render(tmp_path, "tone", "--breath-tone", "--no-chime")
    phases = [e for e in events if e["kind"] == "phase" and e["phase"] in ("inhale", "exhale")]
    speech = [(e["start"], e["end"]) for e in events if e["kind"] == "speech"]

    def quiet(t0, t1):
        return not any(s0 < t1 and s1 > t0 for s0, s1 in speech)

    # The tone peaks as each inhale ends and falls silent as each exhale ends:
    # compare the last half-second of an inhale with the last half-second of
    # the exhale that follows it, where no speech sounds.
    checked = 0
    for inh, exh in zip(phases, phases[1:], strict=False):
        if inh["phase"] != "inhale" or exh["phase"] != "exhale":
            continue
        top = (inh["end"] - 0.5, inh["end"] - 0.02)
        bottom = (exh["end"] - 0.5, exh["end"] - 0.02)
        if not (quiet(*top) and quiet(*bottom)):
            continue
        seg_top = b[int(top[0] * rate) : int(top[1] * rate)]
        seg_bottom = b[int(bottom[0] * rate) : int(bottom[1] * rate)]
        plain_top = a[int(top[0] * rate) : int(top[1] * rate)]
        assert rms_db(seg_top) > rms_db(seg_bottom) + 12
        assert rms_db(seg_top) > rms_db(plain_top) + 20  # the tone is what sounds there
        checked += 1
    assert checked >= 5


def test_user_bed_fills_gaps_and_ducks_under_cues(plain, tmp_path):
    _, a, rate, events, _ = plain
    bed = tmp_path / "rain.wav"
    rng = np.random.default_rng(7)
    sf.write(bed, (0.2 * rng.standard_normal(44100 * 20)).astype(np.float32), 44100)
    _, b, _, _, _ = render(tmp_path, "bed", "--bed", str(bed), "--no-chime")
    sounding = sorted((e["start"], e["end"]) for e in events if e["kind"] in ("speech", "sound"))
    gaps = [
        (x[1] + 0.8, y[0] - 0.4)
        for x, y in zip(sounding, sounding[1:], strict=False)
        if y[0] - x[1] > 2.0
    ]
    assert len(gaps) >= 3
    for g0, g1 in gaps[:5]:
        seg = slice(int(g0 * rate), int(g1 * rate))
        assert rms_db(b[seg]) >= rms_db(a[seg]) + 15  # the bed carries the silence
    # under a cue the bed is lowered: bed-only level just before vs inside the cue
    cue = next(e for e in events if e["kind"] == "speech" and e["start"] > 20)
    before = b[int((cue["start"] - 1.5) * rate) : int((cue["start"] - 0.6) * rate)]
    during = b[int(cue["start"] * rate) : int(cue["end"] * rate)]
    speech_only = a[int(cue["start"] * rate) : int(cue["end"] * rate)]
    bed_during = during - speech_only  # same speech, same gain: the rest is the bed
    assert rms_db(bed_during) < rms_db(before) - 6


def test_unreadable_bed_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not audio at all" * 100)
    r = CliRunner().invoke(
        main, ["render", ROUTINE, "--bed", str(junk), "-o", str(tmp_path / "o.mp3")]
    )
    assert r.exit_code == 2 and "junk.mp3" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o.mp3").exists()


def test_wav_format(tmp_path):
    r = CliRunner().invoke(
        main, ["render", ROUTINE, "--format", "wav", "-o", str(tmp_path / "s.wav")]
    )
    assert r.exit_code == 0, r.output
    info = sf.info(tmp_path / "s.wav")
    assert info.format == "WAV" and info.samplerate == 22050 and info.channels == 1


def test_loudness_and_true_peak_independent_meter(plain):
    pyln = pytest.importorskip("pyloudnorm")
    _, a, rate, _, _ = plain
    loud = pyln.Meter(rate).integrated_loudness(a[:, 0].astype(np.float64))
    assert abs(loud - (-19)) <= 1.0
    assert np.abs(a).max() < 1.0


def test_tags_and_chapters_with_mutagen(plain):
    from mutagen.id3 import ID3

    out, _, _, events, _ = plain
    tags = ID3(out)
    assert str(tags["TIT2"]) and "pace=" in str(tags.getall("COMM")[0])
    chaps = [f for f in tags.values() if f.FrameID == "CHAP"]
    titles = [str(c.sub_frames["TIT2"]) for c in sorted(chaps, key=lambda c: c.start_time)]
    steps = []
    for e in events:
        if e["step"] not in steps and e["step"] != "Introduction":
            steps.append(e["step"])
    assert titles == steps


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
def test_ffprobe_lists_chapters_in_order_and_title(plain):
    out, _, _, events, _ = plain
    info = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_chapters", "-show_format", "-of", "json", str(out)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    starts = [float(c["start_time"]) for c in info["chapters"]]
    assert starts == sorted(starts) and starts[0] == 0
    assert info["format"]["tags"]["title"]
    steps = []
    for e in events:
        if e["step"] not in steps and e["step"] != "Introduction":
            steps.append(e["step"])
    assert [c["tags"]["title"] for c in info["chapters"]] == steps


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_ffmpeg_ebur128_with_bed_and_tone(tmp_path):
    out, _, _, _, _ = render(tmp_path, "full", "--bed", "pink", "--breath-tone")
    log = subprocess.run(
        ["ffmpeg", "-nostats", "-i", str(out), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
    ).stderr
    summary = log[log.rindex("Summary:") :]
    integrated = float(summary.split("I:")[1].split("LUFS")[0])
    peak = float(summary.split("Peak:")[1].split("dBFS")[0])
    assert abs(integrated + 19) <= 1.0 and peak <= -1.0


def test_no_progress_bar_when_not_a_terminal(plain):
    *_, output = plain
    assert "\r" not in output and "%" not in output


def true_peak_4x_dbtp(x: np.ndarray) -> float:
    """True peak as BS.1770-4 estimates it (4x oversampling), by scipy: independent
    of matcue's limiter."""
    from scipy.signal import resample_poly

    return 20 * np.log10(np.abs(resample_poly(x.astype(np.float64), 4, 1, axis=0)).max())


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--bed", "pink", "--bed-volume", "-6"],
        ["--bed", "pink", "--bed-volume", "-6", "--bitrate", "32"],
        pytest.param(
            ["--bed", "brown", "--bed-volume", "-10", "--stereo"],
            marks=pytest.mark.xfail(
                strict=True,
                reason="measured (issue 11 rate work): the mix itself, as WAV, sits "
                "0.24-0.28 LU under -16 LUFS (the loudness model leaves out the brown "
                "bed's cross terms in stereo), and LAME moves it a further 0.02-0.06: "
                "-16.298 before the calm rate, -16.306 after. A bias of the model, not "
                "noise of the speech; the tolerance stays 0.3 LU",
            ),
        ),
    ],
    ids=["plain", "loud-pink-bed", "loud-pink-bed-32k", "brown-bed-stereo"],
)
def test_decoded_mp3_is_on_target_and_under_the_true_peak_ceiling(tmp_path, args):
    """What a listener gets is the decoded file: its loudness (pyloudnorm) sits on the
    target, not 0.45 LU under it (LAME plays back 0.95 times its input), and its true
    peak stays under -1 dBTP even where low-bitrate coding overshoots (a loud bed)."""
    pyln = pytest.importorskip("pyloudnorm")
    _, a, rate, _, _ = render(tmp_path, "s", *args)
    target = -16.0 if "--stereo" in args else -19.0
    loud = pyln.Meter(rate).integrated_loudness(a.astype(np.float64))
    assert abs(loud - target) <= 0.3, loud
    assert true_peak_4x_dbtp(a) <= -1.0


def test_a_loud_steady_bed_file_still_lands_on_target(tmp_path):
    """A loud tone under every word makes the limiter's loss grow faster than the
    gain; the measured gain is checked rather than extrapolated (it came out at
    -20.0 LUFS at -9 dB, and the re-render after the output check gave the same)."""
    pyln = pytest.importorskip("pyloudnorm")
    bed = tmp_path / "hum.wav"
    t = np.arange(44100 * 20) / 44100
    sf.write(bed, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100)
    _, a, rate, _, _ = render(tmp_path, "hum", "--bed", str(bed), "--bed-volume", "-9")
    loud = pyln.Meter(rate).integrated_loudness(a[:, 0].astype(np.float64))
    assert abs(loud + 19) <= 0.3, loud


def test_volume_sets_the_voice_against_the_bed(tmp_path):
    """--volume 0.5 puts the voice 6 dB lower against the bed (the session is then
    normalised as a whole, so the file itself is not quieter)."""
    levels = {}
    for volume in ("1", "0.5"):
        _, a, rate, events, _ = render(
            tmp_path, f"v{volume}", "--bed", "pink", "--no-chime", "--volume", volume
        )
        speech = [e for e in events if e["kind"] == "speech" and e["end"] - e["start"] > 1.0]
        voice = np.concatenate([a[int(e["start"] * rate) : int(e["end"] * rate)] for e in speech])
        # The bed is measured away from every spoken line, short ones included.
        sounding = sorted((e["start"], e["end"]) for e in events if e["kind"] == "speech")
        gaps = [
            (x[1] + 1.0, y[0] - 0.5)
            for x, y in zip(sounding, sounding[1:], strict=False)
            if y[0] - x[1] > 2.5
        ]
        bed = np.concatenate([a[int(g0 * rate) : int(g1 * rate)] for g0, g1 in gaps])
        levels[volume] = rms_db(voice) - rms_db(bed)
    assert levels["1"] - levels["0.5"] == pytest.approx(6.0, abs=1.0), levels
