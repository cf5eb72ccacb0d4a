"""The speech engines for real: pyttsx3 (espeak-ng) and the espeak-ng program."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from matcue.errors import EngineUnavailable, SpeechError
from matcue.speech import SpeechSettings, engine_names, get_engine, list_voices
from matcue.speech.espeak_cli import INSTALL_ADVICE, parse_wav_stream

PHRASE = "Breathe in slowly, and lift your chest."


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    engine = get_engine("pyttsx3")
    yield engine
    engine.close()


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))


def test_pyttsx3_speaks_a_phrase_at_the_real_rate_and_prints_nothing(engine, capfd) -> None:  # type: ignore[no-untyped-def]
    clip = engine.synthesize(PHRASE, SpeechSettings())
    out, _err = capfd.readouterr()
    assert out == ""  # the espeak driver's "Audio saved to ..." must not leak
    assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    # espeak-ng's own report of its rate, independent of the WAV header pyttsx3 writes.
    from pyttsx3.drivers import _espeak

    assert clip.sample_rate == _espeak.dll.espeak_ng_GetSampleRate()
    assert 0.8 < clip.duration < 6.0
    assert rms(clip.samples) > 0.02
    # Trimmed: audible within ~10 ms of both ends.
    edge = int(0.03 * clip.sample_rate)
    assert np.max(np.abs(clip.samples[:edge])) > 0.01
    assert np.max(np.abs(clip.samples[-edge:])) > 0.01


def test_pyttsx3_rate_changes_length(engine) -> None:  # type: ignore[no-untyped-def]
    slow = engine.synthesize(PHRASE, SpeechSettings(rate=120))
    fast = engine.synthesize(PHRASE, SpeechSettings(rate=220))
    slow_again = engine.synthesize(PHRASE, SpeechSettings(rate=120))
    assert slow.duration > 1.4 * fast.duration
    # Regression: through pyttsx3's queue a setting was dropped on every other
    # call (espeak_Cancel discarded it), so the third call came out fast.
    assert slow_again.duration == pytest.approx(slow.duration, rel=0.05)


def test_pyttsx3_volume_is_applied(engine) -> None:  # type: ignore[no-untyped-def]
    loud = engine.synthesize(PHRASE, SpeechSettings(volume=1.0))
    quiet = engine.synthesize(PHRASE, SpeechSettings(volume=0.4))
    loud_again = engine.synthesize(PHRASE, SpeechSettings(volume=1.0))
    assert rms(quiet.samples) < 0.6 * rms(loud.samples)
    assert rms(loud_again.samples) == pytest.approx(rms(loud.samples), rel=0.15)


def test_pyttsx3_two_voices_sound_different(engine) -> None:  # type: ignore[no-untyped-def]
    us = engine.synthesize(PHRASE, SpeechSettings(voice="gmw/en-us"))
    de = engine.synthesize(PHRASE, SpeechSettings(voice="de"))
    n = min(len(us.samples), len(de.samples))
    assert len(us.samples) != len(de.samples) or not np.allclose(us.samples[:n], de.samples[:n])


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_pyttsx3_empty_text_is_an_error_naming_it(engine, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpeechError, match=repr(text).replace("\\", "\\\\")):
        engine.synthesize(text, SpeechSettings())


def test_pyttsx3_unknown_voice_says_how_to_list_and_suggests(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineUnavailable) as info:
        engine.synthesize(PHRASE, SpeechSettings(voice="en-uss"))
    assert "matcue voices" in str(info.value)
    assert "en-us" in str(info.value)


def test_pyttsx3_voices_and_version(engine) -> None:  # type: ignore[no-untyped-def]
    voices = engine.voices()
    ids = {v.id for v in voices}
    assert "gmw/en-us" in ids
    assert any("en-us" in v.languages for v in voices)
    version = engine.version()
    assert "pyttsx3" in version and "espeak-ng" in version
    assert "(system)" in version or "(bundled)" in version


def test_bundled_libespeak_works_in_a_fresh_process() -> None:
    """The path a plain `pip install` takes on a machine without libespeak-ng."""
    pytest.importorskip("espeakng_loader")
    code = (
        "from matcue.speech.espeak_lib import ensure_libespeak\n"
        "kind = ensure_libespeak(prefer_bundled=True)\n"
        "from matcue.speech.pyttsx3_engine import Pyttsx3Engine\n"
        "from matcue.speech.base import SpeechSettings\n"
        "e = Pyttsx3Engine()\n"
        "c = e.synthesize('Rest here.', SpeechSettings())\n"
        "print(kind, e.version(), c.sample_rate, len(c.samples))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    kind, *rest = proc.stdout.split()
    assert kind.startswith("bundled:")
    assert "(bundled)" in proc.stdout
    assert int(rest[-1]) > 1000


def test_a_library_someone_else_loaded_is_found_by_its_file() -> None:
    """Regression: when other code had already loaded the wheel's libespeak-ng by path,
    loading "by soname" matched it and the helpers were told only the soname, which a
    fresh process on a machine without a system library cannot find."""
    loader = pytest.importorskip("espeakng_loader")
    library = os.path.join(os.path.dirname(loader.get_library_path()), "libespeak-ng.so.1")
    code = (
        "import ctypes, sys\n"
        "ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)\n"
        "from matcue.speech.espeak_lib import ensure_libespeak\n"
        "kind = ensure_libespeak()\n"
        "from matcue.speech.pyttsx3_engine import Pyttsx3Engine\n"
        "from matcue.speech.base import SpeechSettings\n"
        "c = Pyttsx3Engine().synthesize('Rest here.', SpeechSettings())\n"
        "print(kind, len(c.samples))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, library],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    kind, count = proc.stdout.split()
    where = kind.split(":", 1)[1]
    assert os.path.isabs(where) and os.path.samefile(where, library)
    assert int(count) > 1000


def test_get_engine_unknown_lists_engines() -> None:
    with pytest.raises(EngineUnavailable) as info:
        get_engine("festival")
    for name in engine_names():
        assert name in str(info.value)


def test_list_voices_pyttsx3() -> None:
    assert any(v.id == "gmw/en-us" for v in list_voices("pyttsx3"))


def test_espeak_cli_missing_program_gives_install_advice(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "")
    with pytest.raises(EngineUnavailable, match="apt install espeak-ng"):
        get_engine("espeak-ng").synthesize("Hello.", SpeechSettings())
    assert "brew install espeak-ng" in INSTALL_ADVICE


def test_parse_wav_stream_ignores_placeholder_sizes() -> None:
    pcm = (np.arange(100, dtype=np.int16) * 100).tobytes()
    header = (
        b"RIFF\x24\xf0\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
        + (16000).to_bytes(4, "little")
        + (32000).to_bytes(4, "little")
        + b"\x02\x00\x10\x00data\x00\xf0\xff\x7f"
    )
    samples, rate = parse_wav_stream(header + pcm + b"\x01")  # odd trailing byte dropped
    assert rate == 16000
    assert len(samples) == 100
    assert samples[10] == pytest.approx(1000 / 32768)


@pytest.mark.parametrize("rate", [30, 59, 451, 1000])
def test_engines_accept_only_the_documented_rate_range(engine, rate: int) -> None:  # type: ignore[no-untyped-def]
    """Regression: the engines took 20..1000 wpm and docs/engines.md said so, while
    the command line and routine files allow 60..450. One range everywhere: 30 and
    1000 were accepted before; 59 and 451 are the edges."""
    import re
    from pathlib import Path

    from matcue.errors import InputError
    from matcue.limits import RATE_RANGE
    from matcue.routine import Defaults

    assert RATE_RANGE == (60, 450)
    meta = Defaults.model_fields["rate"].metadata
    assert [getattr(m, "ge", None) for m in meta if hasattr(m, "ge")] == [60]
    assert [getattr(m, "le", None) for m in meta if hasattr(m, "le")] == [450]
    docs = (Path(__file__).resolve().parent.parent / "docs" / "engines.md").read_text()
    assert re.search(r"`--rate` is words per minute, 60\.\.450", docs)
    with pytest.raises(InputError, match=r"60\.\.450"):
        engine.synthesize(PHRASE, SpeechSettings(rate=rate))


def test_unknown_voice_names_the_command_that_lists_that_engines_voices() -> None:
    """Regression: every engine's unknown-voice error said "Run `matcue voices`",
    which lists only pyttsx3's voices."""
    from matcue.speech import Voice, match_voice

    voices = [Voice(id="gmw/en-us", name="English (America)")]
    with pytest.raises(EngineUnavailable, match=r"Run `matcue voices --engine espeak-ng` "):
        match_voice(voices, "klingon", "espeak-ng")
    # `matcue voices` alone lists every engine's voices in a table since issue 11;
    # the per-engine listing needs --engine even for pyttsx3, no longer the default.
    with pytest.raises(EngineUnavailable, match=r"Run `matcue voices --engine pyttsx3` "):
        match_voice(voices, "klingon", "pyttsx3")
    with pytest.raises(EngineUnavailable, match=r"`matcue voices --engine piper --voice-model "):
        match_voice(voices, "klingon", "piper", model="my voices/a.onnx")


def test_a_voice_named_by_a_part_of_its_id_is_suggested() -> None:
    """A new user types `--voice joe` for en_US-joe-medium: difflib finds nothing
    that close to the whole id, so the part of the id is suggested."""
    from matcue.speech import Voice, match_voice

    voices = [
        Voice(id="en_US-joe-medium", name="joe (bundled)"),
        Voice(id="en_GB-alba-medium", name="alba"),
        Voice(id="gmw/en-gb-scotland", name="English (Scotland)"),
    ]
    with pytest.raises(EngineUnavailable, match=r"Close matches: en_US-joe-medium\. "):
        match_voice(voices, "joe", "piper")
    with pytest.raises(EngineUnavailable, match=r"Close matches: gmw/en-gb-scotland"):
        match_voice(voices, "Scotland", "pyttsx3")
    assert match_voice(voices, "en_us-joe-medium", "piper") == "en_US-joe-medium"


def test_piper_not_installed_says_how_to_install(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The test extra installs piper, so its absence is made here: find_spec sees no
    'piper' package. A render asking for it is one clear line, not a traceback."""
    import importlib.util

    from click.testing import CliRunner

    from matcue.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "piper" else real(name, *a)
    )
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"not used")
    out = tmp_path / "x.mp3"
    r = CliRunner().invoke(
        main,
        ["render", "desk-break", "--engine", "piper", "--voice-model", str(model), "-o", str(out)],
    )
    assert r.exit_code == 2, r.output
    assert r.output.splitlines() == [
        # piper became a dependency with issue 11: the advice is to repair the install.
        "matcue: The piper engine needs the piper-tts package, a dependency of matcue: "
        "pip install --force-reinstall matcue (or use --engine pyttsx3)."
    ]
    assert not out.exists()


# --- the espeak-ng engine, with a stand-in program where espeak-ng is missing ------


@pytest.fixture
def espeak_program(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """``espeak-ng`` on PATH: the real one where installed, else the stand-in
    (tests/espeak_ng_standin.py) speaking with the bundled libespeak-ng."""
    if shutil.which("espeak-ng") is not None:
        return "espeak-ng"
    from matcue.speech.espeak_lib import ensure_libespeak

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    standin = os.path.join(os.path.dirname(__file__), "espeak_ng_standin.py")
    program = bin_dir / "espeak-ng"
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{standin}" "$@"\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("MATCUE_TEST_LIBESPEAK", ensure_libespeak().split(":", 1)[1])
    return str(program)


def test_espeak_engine_speaks_honours_rate_and_volume(espeak_program) -> None:  # type: ignore[no-untyped-def]
    engine = get_engine("espeak-ng")
    slow = engine.synthesize(PHRASE, SpeechSettings(engine="espeak-ng", rate=120))
    fast = engine.synthesize(PHRASE, SpeechSettings(engine="espeak-ng", rate=220))
    quiet = engine.synthesize(PHRASE, SpeechSettings(engine="espeak-ng", rate=220, volume=0.3))
    assert slow.sample_rate == 22050
    assert rms(fast.samples) > 0.02
    assert slow.duration > 1.4 * fast.duration
    assert rms(quiet.samples) < 0.6 * rms(fast.samples)
    assert engine.version().startswith("espeak-ng ")


def test_espeak_engine_voices_dash_text_and_unknown_voice(espeak_program) -> None:  # type: ignore[no-untyped-def]
    engine = get_engine("espeak-ng")
    ids = [v.id for v in engine.voices()]
    assert "gmw/en-us" in ids
    us = engine.synthesize(PHRASE, SpeechSettings(voice="gmw/en-us"))
    gb = engine.synthesize(PHRASE, SpeechSettings(voice="gmw/en"))
    assert not np.array_equal(us.samples[: len(gb.samples)], gb.samples[: len(us.samples)])
    assert get_engine("espeak-ng").synthesize("-v is not a voice", SpeechSettings()).duration > 0.5
    with pytest.raises(EngineUnavailable, match="matcue voices --engine espeak-ng"):
        engine.synthesize("Hello.", SpeechSettings(voice="klingon-x"))


def test_render_with_the_espeak_engine(espeak_program, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The whole path: CLI, engine, cache, mix, MP3, with the settings recorded."""
    import soundfile as sf
    from click.testing import CliRunner
    from mutagen.id3 import ID3

    from matcue.cli import main

    out = tmp_path / "d.mp3"
    r = CliRunner().invoke(
        main, ["render", "desk-break", "--engine", "espeak-ng", "--rate", "190", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    audio, rate = sf.read(out)
    assert rate == 22050 and len(audio) / rate > 100
    assert ID3(out)["TXXX:MATCUE_ENGINE"].text == ["espeak-ng"]
