"""The clip cache and the Synthesizer, with the real pyttsx3 engine."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from matcue.errors import SpeechError
from matcue.speech import SpeechSettings
from matcue.speech.cache import ClipCache, cache_key, decode_entry, default_cache_dir
from matcue.speech.synth import INLINE_MAX, Synthesizer

RATE = 44100
TEXTS = [f"Breathe out, and soften, round {n}." for n in range(INLINE_MAX + 2)]


def _running(pid: int) -> bool:
    """Alive and not a zombie (Linux /proc; elsewhere: signal 0 succeeds)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return not Path("/proc").exists()


def test_cache_key_changes_with_every_input() -> None:
    base = ("pyttsx3", "v1", SpeechSettings(), "Rest.", 44100, "p1")
    key = cache_key(*base)
    assert len(key) == 64 and key == cache_key(*base)
    variants = [
        ("espeak-ng", *base[1:]),
        (base[0], "v2", *base[2:]),
        (*base[:2], SpeechSettings(rate=150), *base[3:]),
        (*base[:2], SpeechSettings(voice="de"), *base[3:]),
        (*base[:3], "Rest!", *base[4:]),
        (*base[:4], 48000, base[5]),
        (*base[:5], "p2"),
    ]
    assert len({cache_key(*v) for v in variants} | {key}) == len(variants) + 1


def test_default_cache_dir_honours_env(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MATCUE_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert ClipCache().root == tmp_path / "c"
    monkeypatch.delenv("MATCUE_CACHE_DIR")
    assert "matcue" in str(default_cache_dir())


def test_cache_hit_returns_identical_samples_without_synthesizing(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    cache = ClipCache(tmp_path)
    with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=cache, workers=0) as first:
        original = first.get("Rest in child's pose.").copy()
        assert (first.stats.hits, first.stats.misses) == (0, 1)
    with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=cache, workers=0) as second:

        def no_synthesis(*_a: object, **_k: object) -> None:
            raise AssertionError("synthesized although the clip was cached")

        monkeypatch.setattr(second.engine, "synthesize", no_synthesis)
        again = second.get("Rest in child's pose.")
        assert (second.stats.hits, second.stats.misses) == (1, 0)
    assert np.array_equal(again, original)
    assert again.dtype == np.float32


def test_truncated_cache_entry_is_warned_about_and_resynthesized(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    cache = ClipCache(tmp_path)
    text = "Lengthen through the spine."
    with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=cache, workers=0) as s:
        good = s.get(text).copy()
        path = cache.path_for(s.key(text))
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    with caplog.at_level(logging.WARNING, logger="matcue.speech.cache"):
        with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=cache, workers=0) as s:
            redone = s.get(text)
            assert (s.stats.hits, s.stats.misses) == (0, 1)
    assert any(
        "truncated" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records
    )
    assert len(redone) == pytest.approx(len(good), rel=0.05)
    samples, rate = decode_entry(path.read_bytes())  # repaired on disk
    assert rate == RATE and np.array_equal(samples, redone)


def test_corrupt_cache_entry_is_a_miss(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    cache = ClipCache(tmp_path)
    cache.put("ab" * 32, np.linspace(-0.5, 0.5, 1000, dtype=np.float32), RATE)
    path = cache.path_for("ab" * 32)
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING):
        assert cache.get("ab" * 32) is None
    assert "checksum" in caplog.text


WORKER = textwrap.dedent(
    """
    import hashlib, os, sys, time
    from pathlib import Path
    from matcue.speech import SpeechSettings
    from matcue.speech.cache import ClipCache
    from matcue.speech.synth import Synthesizer
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.005)
    with Synthesizer(SpeechSettings(), sample_rate=44100, cache=ClipCache(Path(sys.argv[1])),
                     workers=0) as s:
        clip = s.get(sys.argv[3])
    print(hashlib.sha256(clip.tobytes()).hexdigest(), len(clip))
    """
)


def test_two_processes_filling_one_cache_both_succeed(tmp_path: Path) -> None:
    """Both write the same entry at the same moment; renames make that safe."""
    go = tmp_path / "go"
    text = "Let your knees fall gently to one side."
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / "cache"), str(go), text],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, results, strict=False):
        assert p.returncode == 0, err
    outs = [out.split() for out, _ in results]
    assert outs[0] == outs[1]
    entries = list((tmp_path / "cache").rglob("*.clip"))
    assert len(entries) == 1
    assert not [f for f in entries[0].parent.iterdir() if f.suffix == ".tmp"]
    samples, _ = decode_entry(entries[0].read_bytes())
    assert len(samples) == int(outs[0][1])


def test_prefetch_then_get_matches_inline_synthesis(tmp_path: Path) -> None:
    settings = SpeechSettings(rate=180)
    with Synthesizer(settings, sample_rate=RATE, cache=ClipCache(tmp_path), workers=2) as pooled:
        pooled.prefetch(TEXTS + TEXTS[:2])  # duplicates are synthesized once
        got = {t: pooled.get(t) for t in reversed(TEXTS)}
        assert (pooled.stats.hits, pooled.stats.misses) == (0, len(TEXTS))
        assert pooled.get(TEXTS[0]) is got[TEXTS[0]]
        helpers = pooled.helper_pids()
    assert helpers and not any(_running(p) for p in helpers)  # close() stopped them
    with Synthesizer(settings, sample_rate=RATE, cache=None, workers=0) as inline:
        expected = {t: inline.get(t) for t in TEXTS}
    for t in TEXTS:
        assert got[t].dtype == np.float32
        # Every phrase is spoken by a pristine espeak: exactly the same samples.
        assert np.array_equal(got[t], expected[t])
    # What the workers produced is what the cache now holds, exactly.
    with Synthesizer(settings, sample_rate=RATE, cache=ClipCache(tmp_path), workers=0) as again:
        for t in TEXTS:
            assert np.array_equal(again.get(t), got[t])
        assert again.stats.hits == len(TEXTS)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng program")
def test_prefetch_equals_inline_exactly_with_a_stateless_engine() -> None:
    settings = SpeechSettings(engine="espeak-ng")
    with Synthesizer(settings, sample_rate=RATE, cache=None, workers=2) as pooled:
        pooled.prefetch(TEXTS)
        got = [pooled.get(t) for t in TEXTS]
    with Synthesizer(settings, sample_rate=RATE, cache=None, workers=0) as inline:
        expected = [inline.get(t) for t in TEXTS]
    for a, b in zip(got, expected, strict=False):
        assert np.array_equal(a, b)


def test_resampled_to_the_render_rate() -> None:
    with Synthesizer(SpeechSettings(), sample_rate=48000, cache=None, workers=0) as s48:
        a = s48.get("Sit tall.")
    with Synthesizer(SpeechSettings(), sample_rate=22050, cache=None, workers=0) as s22:
        b = s22.get("Sit tall.")
    assert len(a) / 48000 == pytest.approx(len(b) / 22050, rel=0.05)


def test_worker_failure_surfaces_as_speech_error_naming_the_text() -> None:
    texts = TEXTS[:INLINE_MAX] + ["...", TEXTS[-1]]
    with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=None, workers=2) as s:
        s.prefetch(texts)
        with pytest.raises(SpeechError, match=r"'\.\.\.'"):
            s.get("...")
        assert len(s.get(TEXTS[-1])) > 1000  # the others are unaffected
        helpers = s.helper_pids()
    assert not any(_running(p) for p in helpers)


def test_empty_phrase_is_rejected_up_front() -> None:
    with Synthesizer(SpeechSettings(), sample_rate=RATE, cache=None, workers=2) as s:
        with pytest.raises(SpeechError, match="'  '"):
            s.prefetch(["Rest.", "  "])


def test_cache_survives_unwritable_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = ClipCache(blocker)  # a file, not a directory: writes must fail softly
    cache.put("cd" * 32, np.zeros(10, dtype=np.float32), RATE)
    assert cache.get("cd" * 32) is None
    assert os.path.isfile(blocker)
