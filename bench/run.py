"""``make bench``: how fast and how lean a render is, at 10, 30 and 60 minutes.

For each length it renders the built-in ``control`` routine fitted with
``--minutes``, each in a fresh subprocess so that peak memory is per render:

- cold: an empty phrase cache (``MATCUE_CACHE_DIR`` in a new temporary folder);
- warm: the same render again on the cache the cold run filled;
- then, untimed, the same session as WAV, whose PCM is given to the MP3 encoder
  alone (lameenc, same bitrate, rate, channels and quality as ``writers.mp3.write_mp3``)
  in another fresh subprocess: the reference a render is compared with.

These ``control`` rows use ``--engine pyttsx3``: the engine issue 6's targets
were set with (60 minutes cold within 2.0x and warm within 1.2x of the encoder
alone, peak at most 150 MB). The same lengths are then rendered with the natural
voice (the default engine: piper with the bundled Joe) as rows of their own, with
issue 11's targets (peak at most 400 MB in the largest process, warm within the
same 1.2x; cold is reported). ``--no-voice-lengths`` skips those rows.

It prints the tables and a PASS/FAIL line per target, and always exits 0 (a
benchmark is read, not gated). ``docs/performance.md`` explains the columns.

Then the natural voice's own figures (issue 11), on ``thaw`` with the default
engine (piper with the bundled Joe): cold (empty cache) and warm wall time, peak
memory of the largest process (the render or a piper worker), and synthesis
speed in seconds of speech per second of the cold render's extra time.

Last, the largest input matcue accepts (issue 14: peak memory stays within the
targets for any accepted input), with the pyttsx3 engine to keep synthesis short:
a routine of four hours of timed parts (the session limit), and a routine of
990 different lines (near the phrase limit, 1,000). Each is rendered cold in a
fresh subprocess; the figure is the peak memory of its largest process.

Usage: ``python bench/run.py [--minutes 10 30 60] [--routine control] [--keep DIR]
[--no-voice] [--no-voice-lengths] [--no-largest] [--largest-only]``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CHUNK_SECONDS = 10.0
"""Blocks fed to the encoder alone: the mixer's chunk length."""

TARGET_COLD = 2.0
TARGET_WARM = 1.2
TARGET_MEMORY_MB = 150.0
VOICE_ROUTINE = "thaw"
TARGET_VOICE_COLD_S = 10.0
TARGET_VOICE_MEMORY_MB = 400.0
BASELINE_ENGINE = "pyttsx3"
"""The engine of the ``control`` rows: the one issue 6's targets were set with."""
MEMORY_GROWTH_MB = 15.0
"""More than this between the shortest and the longest session counts as growing."""
LINEARITY = 1.33
"""Largest allowed ratio between the marginal cost per minute of the second length
step and the first: more would be cost growing faster than the length. A ratio
below 1 is not a failure: costs paid once per routine (synthesis of its distinct
phrases, start-up) are spread over more minutes, which is still at most linear."""


# ---------------------------------------------------------------- child side


def _usage() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "main_peak_mb": me.ru_maxrss / 1024.0,  # Linux: kilobytes
        "children_peak_mb": kids.ru_maxrss / 1024.0,
        "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
    }


def child_render(argv: list[str]) -> int:
    """Run ``matcue render ARGV`` in this process; print its resource use as JSON."""
    from matcue.cli import main

    code: int | str | None = 0
    try:
        main(["-q", "render", *argv], prog_name="matcue", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    print(json.dumps({"exit": code, **_usage()}))
    return 0


def child_encode(wav: str) -> int:
    """Encode ``wav`` with lameenc exactly as the renderer configures it; print the
    seconds spent in the encoder (reading the WAV is not counted)."""
    import lameenc
    import soundfile as sf

    from matcue.settings import Settings
    from matcue.writers.mp3 import write_mp3

    defaults = Settings()
    quality = inspect.signature(write_mp3).parameters["quality"].default
    info = sf.info(wav)
    enc = lameenc.Encoder()
    enc.set_bit_rate(defaults.bitrate)
    enc.set_in_sample_rate(info.samplerate)
    enc.set_out_sample_rate(info.samplerate)
    enc.set_channels(info.channels)
    enc.set_quality(quality)
    enc.silence()
    spent = 0.0
    size = 0
    block = int(CHUNK_SECONDS * info.samplerate)
    for pcm in sf.blocks(wav, blocksize=block, dtype="int16", always_2d=True):
        data = pcm.tobytes()
        t = time.perf_counter()
        size += len(enc.encode(data))
        spent += time.perf_counter() - t
    t = time.perf_counter()
    size += len(enc.flush())
    spent += time.perf_counter() - t
    print(
        json.dumps(
            {
                "encode_s": spent,
                "bytes": size,
                "seconds": info.frames / info.samplerate,
                "settings": f"{defaults.bitrate} kbps, {info.samplerate} Hz, "
                f"{info.channels} ch, quality {quality}",
            }
        )
    )
    return 0


# ---------------------------------------------------------------- parent side


@dataclass
class Run:
    minutes: float
    cache: str
    wall: float
    exit: int | str | None
    main_peak_mb: float
    children_peak_mb: float
    cpu_s: float
    audio_s: float = 0.0
    encode_s: float = 0.0
    speech_s: float = 0.0  # seconds of distinct phrases (cold: what was synthesized)

    @property
    def realtime(self) -> float:
        return self.audio_s / self.wall if self.wall else 0.0

    @property
    def ratio(self) -> float:
        return self.wall / self.encode_s if self.encode_s else float("inf")


def _child(args: list[str], env: dict[str, str], timeout: float) -> tuple[float, dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench: child {' '.join(args)} failed (exit {proc.returncode})")
    data = json.loads(lines[-1])
    if data.get("exit") not in (None, 0):
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench: matcue {' '.join(args)} exited {data['exit']}")
    return wall, data


def _distinct_speech(timeline: Path) -> float:
    """Seconds of speech of the session's distinct phrases (each counted once)."""
    events = json.loads(timeline.read_text(encoding="utf-8"))
    first: dict[str, float] = {}
    for e in events:
        if e.get("kind") == "speech":
            first.setdefault(str(e.get("text")), e["end"] - e["start"])
    return sum(first.values())


def bench_length(
    routine: str, minutes: float, work: Path, engine: str | None
) -> tuple[Run, Run, dict]:
    """Cold and warm renders of ``routine`` at ``minutes`` with ``engine`` (None:
    the default engine), and the encoder alone on the same session's PCM."""
    tag = f"{minutes:g}-{engine or 'default'}"
    cache = work / f"cache-{tag}"
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    env = {**os.environ, "MATCUE_CACHE_DIR": str(cache)}
    timeout = 60 + 20 * minutes
    common = [routine, "--minutes", f"{minutes:g}", "--no-transcript"]
    if engine:
        common += ["--engine", engine]
    timeline = work / f"{routine}-{tag}.json"
    runs = []
    for label in ("cold", "warm"):
        out = work / f"{routine}-{tag}-{label}.mp3"
        args = ["--child-render", *common, "-o", str(out)]
        if label == "cold":
            args += ["--timeline", str(timeline)]
        wall, data = _child(args, env, timeout)
        runs.append(
            Run(
                minutes,
                label,
                wall,
                data["exit"],
                data["main_peak_mb"],
                data["children_peak_mb"],
                data["cpu_s"],
            )
        )
        print(
            f"  {minutes:g} min {label} ({engine or 'default engine'}): {wall:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    wav = work / f"{routine}-{tag}.wav"
    _child(["--child-render", *common, "--format", "wav", "-o", str(wav)], env, timeout)
    _, enc = _child(["--child-encode", str(wav)], env, timeout)
    wav.unlink()
    speech = _distinct_speech(timeline)
    for r in runs:
        r.audio_s = enc["seconds"]
        r.encode_s = enc["encode_s"]
        r.speech_s = speech
    same = (work / f"{routine}-{tag}-cold.mp3").read_bytes() == (
        work / f"{routine}-{tag}-warm.mp3"
    ).read_bytes()
    enc["identical"] = same
    return runs[0], runs[1], enc


def bench_voice(work: Path) -> list[str]:
    """thaw cold and warm with the default voice: the figures of issue 11."""
    cache = work / "cache-voice"
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    env = {**os.environ, "MATCUE_CACHE_DIR": str(cache)}
    walls: dict[str, float] = {}
    peaks: dict[str, float] = {}
    cpu: dict[str, float] = {}
    timeline = work / "voice.json"
    for label in ("cold", "warm"):
        out = work / f"voice-{label}.mp3"
        args = ["--child-render", VOICE_ROUTINE, "--no-transcript", "-o", str(out)]
        wall, data = _child([*args, "--timeline", str(timeline)], env, 600)
        walls[label] = wall
        peaks[label] = max(data["main_peak_mb"], data["children_peak_mb"])
        cpu[label] = data["cpu_s"]
        print(f"  {VOICE_ROUTINE} voice {label}: {wall:.1f} s", file=sys.stderr, flush=True)
    events = json.loads(timeline.read_text(encoding="utf-8"))
    speech = sum(e["end"] - e["start"] for e in events if e.get("kind") == "speech")
    synthesis = max(walls["cold"] - walls["warm"], 1e-6)
    same = (work / "voice-cold.mp3").read_bytes() == (work / "voice-warm.mp3").read_bytes()
    peak = max(peaks.values())
    return [
        "",
        f"voice: {VOICE_ROUTINE} with the default engine (piper, en_US-joe-medium)",
        f"  cold {walls['cold']:.1f} s (cpu/wall {cpu['cold'] / walls['cold']:.2f}), "
        f"warm {walls['warm']:.1f} s; {speech:.0f} s of speech synthesized at "
        f"{speech / synthesis:.1f} s of speech per second; peak {peak:.0f} MB",
        f"{_verdict(walls['cold'] <= TARGET_VOICE_COLD_S)}  {VOICE_ROUTINE} cold within "
        f"{TARGET_VOICE_COLD_S:g} s: {walls['cold']:.1f} s",
        f"{_verdict(peak <= TARGET_VOICE_MEMORY_MB)}  peak memory with the voice at most "
        f"{TARGET_VOICE_MEMORY_MB:g} MB (largest process): {peak:.0f} MB",
        f"{_verdict(cpu['cold'] / walls['cold'] >= 1.3)}  both cores busy during synthesis: "
        f"cpu/wall {cpu['cold'] / walls['cold']:.2f}",
        f"{_verdict(same)}  {VOICE_ROUTINE} cold and warm byte-identical",
    ]


LARGEST_PHRASES = 990
"""Different lines in the many-phrases routine: near :data:`matcue.limits.MAX_PHRASES`."""


def _largest_routines(work: Path) -> dict[str, Path]:
    """The two largest accepted inputs, written to ``work``."""
    from num2words import num2words

    from matcue.limits import (
        MAX_DISTINCT_SPEECH_SECONDS,
        MAX_PHRASES,
        MAX_SESSION_SECONDS,
        SPEECH_WPM,
    )

    assert LARGEST_PHRASES < MAX_PHRASES
    long = work / "four-hours.yaml"
    rest = int(MAX_SESSION_SECONDS // 4) - 60  # four rests and their speech inside 4 hours
    long.write_text(
        "title: Four hours\nsteps:\n"
        + "".join(
            f"  - {{kind: rest, name: Rest {i}, duration: {rest}, every: 600}}\n" for i in range(4)
        ),
        encoding="utf-8",
    )
    many = work / "many-lines.yaml"
    # As many words as the limit on different speech lets through (with 3% to spare):
    # "Line <n in words>" and then filler words up to each line's share.
    budget = int(MAX_DISTINCT_SPEECH_SECONDS / 60 * SPEECH_WPM * 0.97) // LARGEST_PHRASES
    lines = "".join(
        f"      - Line {n}" + " now" * max(0, budget - 1 - len(num2words(n).split())) + ".\n"
        for n in range(1, LARGEST_PHRASES)
    )
    many.write_text(
        f"title: Many lines\nsteps:\n  - kind: say\n    pause: 0\n    text:\n{lines}",
        encoding="utf-8",
    )
    return {"four hours of timed parts": long, f"{LARGEST_PHRASES} different lines": many}


def bench_largest(work: Path) -> list[str]:
    """Peak memory for the largest accepted inputs (cold, pyttsx3)."""
    out = ["", "largest accepted input (pyttsx3, cold)"]
    for label, routine in _largest_routines(work).items():
        cache = work / f"cache-{routine.stem}"
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        env = {**os.environ, "MATCUE_CACHE_DIR": str(cache)}
        target = work / f"{routine.stem}.mp3"
        args = ["--child-render", str(routine), "--engine", "pyttsx3", "--no-transcript"]
        try:
            wall, data = _child([*args, "-o", str(target)], env, 3600)
        except SystemExit as exc:  # one refused case still leaves the tables above
            out.append(f"FAIL  {label}: {exc}")
            continue
        peak = max(data["main_peak_mb"], data["children_peak_mb"])
        print(f"  largest: {label}: {wall:.0f} s, peak {peak:.0f} MB", file=sys.stderr, flush=True)
        target.unlink(missing_ok=True)
        # Four hours is a length: the length target. Many lines hold many clips: the
        # target of a render with the natural voice's clips, issue 11's.
        target_mb = TARGET_MEMORY_MB if routine.stem == "four-hours" else TARGET_VOICE_MEMORY_MB
        out.append(
            f"{_verdict(peak <= target_mb)}  {label}: peak memory at most "
            f"{target_mb:g} MB (largest process): {peak:.0f} MB ({wall:.0f} s)"
        )
    return out


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(runs: list[Run], encodes: dict[float, dict], title: str) -> list[str]:
    """The table of ``runs``, under ``title``."""
    lines = [title]
    head = (
        f"{'session':>9} {'cache':>5} {'audio':>7} {'wall s':>7} {'x real':>7} "
        f"{'main MB':>8} {'helpers MB':>10} {'cpu/wall':>8} {'encoder s':>9} {'ratio':>6}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for r in runs:
        lines.append(
            f"{r.minutes:>7g} m {r.cache:>5} {r.audio_s / 60:>5.1f} m {r.wall:>7.1f} "
            f"{r.realtime:>6.0f}x {r.main_peak_mb:>8.0f} {r.children_peak_mb:>10.0f} "
            f"{r.cpu_s / r.wall:>8.2f} {r.encode_s:>9.1f} {r.ratio:>5.2f}x"
        )
    any_enc = next(iter(encodes.values()))
    lines.append(f"encoder alone: lameenc {any_enc['settings']}, fed the same session's PCM")
    lines.append("")
    return lines


def _identical(encodes: dict[float, dict]) -> str:
    differ = [f"{m:g} min" for m, e in encodes.items() if not e["identical"]]
    return f"{_verdict(not differ)}  cold and warm renders byte-identical at every length" + (
        f" (they differ at {', '.join(differ)})" if differ else ""
    )


def report(runs: list[Run], encodes: dict[float, dict], routine: str) -> list[str]:
    """The baseline rows (pyttsx3) and issue 6's targets."""
    lines = table(runs, encodes, f"{routine} with --engine {BASELINE_ENGINE} (issue 6's targets)")
    by = {(r.minutes, r.cache): r for r in runs}
    lengths = sorted({r.minutes for r in runs})
    longest, shortest = lengths[-1], lengths[0]
    cold, warm = by[(longest, "cold")], by[(longest, "warm")]
    lines.append(
        f"{_verdict(cold.ratio <= TARGET_COLD)}  {longest:g} min cold within "
        f"{TARGET_COLD}x of the encoder alone: {cold.ratio:.2f}x"
    )
    lines.append(
        f"{_verdict(warm.ratio <= TARGET_WARM)}  {longest:g} min warm within "
        f"{TARGET_WARM}x of the encoder alone: {warm.ratio:.2f}x"
    )
    peak = max(max(r.main_peak_mb, r.children_peak_mb) for r in runs if r.minutes == longest)
    lines.append(
        f"{_verdict(peak <= TARGET_MEMORY_MB)}  peak memory at {longest:g} min at most "
        f"{TARGET_MEMORY_MB:g} MB (largest process): {peak:.0f} MB"
    )
    grow = max(
        by[(longest, c)].main_peak_mb - by[(shortest, c)].main_peak_mb for c in ("cold", "warm")
    )
    lines.append(
        f"{_verdict(grow <= MEMORY_GROWTH_MB)}  memory does not grow with length "
        f"({shortest:g} -> {longest:g} min): {grow:+.0f} MB (allowed {MEMORY_GROWTH_MB:g})"
    )
    if len(lengths) >= 3:
        a, b, c = lengths[0], lengths[len(lengths) // 2], lengths[-1]
        for cache in ("cold", "warm"):
            ra, rb, rc = by[(a, cache)], by[(b, cache)], by[(c, cache)]
            # Marginal cost per minute of audio actually rendered (fitting is approximate).
            ma, mb, mc = ra.audio_s / 60, rb.audio_s / 60, rc.audio_s / 60
            s1 = (rb.wall - ra.wall) / (mb - ma) if mb > ma else float("nan")
            s2 = (rc.wall - rb.wall) / (mc - mb) if mc > mb else float("nan")
            ok = s1 > 0 and s2 / s1 <= LINEARITY
            lines.append(
                f"{_verdict(ok)}  linear in length ({cache}): {s1:.2f} s per audio minute "
                f"from {ma:.1f} to {mb:.1f} min, {s2:.2f} from {mb:.1f} to {mc:.1f} min; "
                f"whole render {ra.wall / ma:.2f} s/min at {ma:.1f} min, "
                f"{rc.wall / mc:.2f} s/min at {mc:.1f} min"
            )
    cores = max(r.cpu_s / r.wall for r in runs)
    lines.append(
        f"{_verdict(cores >= 1.3)}  uses both cores: best cpu/wall {cores:.2f} "
        f"(1.0 = one core busy)"
    )
    lines.append(_identical(encodes))
    return lines


def report_voice_lengths(
    runs: list[Run], encodes: dict[float, dict], routine: str, baseline: list[Run]
) -> list[str]:
    """The same lengths with the natural voice, and issue 11's targets for them."""
    lines = [""] + table(
        runs, encodes, f"{routine} with the default engine (piper, Joe; issue 11's targets)"
    )
    lengths = sorted({r.minutes for r in runs})
    longest = lengths[-1]
    by = {(r.minutes, r.cache): r for r in runs}
    base = {(r.minutes, r.cache): r for r in baseline}
    for minutes in lengths:
        peak = max(max(r.main_peak_mb, r.children_peak_mb) for r in runs if r.minutes == minutes)
        lines.append(
            f"{_verdict(peak <= TARGET_VOICE_MEMORY_MB)}  peak memory at {minutes:g} min at most "
            f"{TARGET_VOICE_MEMORY_MB:g} MB (largest process): {peak:.0f} MB"
        )
    warm = by[(longest, "warm")]
    was = base.get((longest, "warm"))
    lines.append(
        f"{_verdict(warm.ratio <= TARGET_WARM)}  {longest:g} min warm within {TARGET_WARM}x "
        f"of the encoder alone: {warm.ratio:.2f}x"
        + (f" ({BASELINE_ENGINE}: {was.ratio:.2f}x)" if was else "")
    )
    for minutes in lengths:
        cold, warm = by[(minutes, "cold")], by[(minutes, "warm")]
        extra = max(cold.wall - warm.wall, 1e-6)
        lines.append(
            f"      {minutes:g} min cold: {cold.ratio:.2f}x of the encoder alone, "
            f"cpu/wall {cold.cpu_s / cold.wall:.2f}; {cold.speech_s:.0f} s of distinct "
            f"speech at {cold.speech_s / extra:.1f} s of speech per second (reported)"
        )
    lines.append(_identical(encodes))
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child-render"]:
        return child_render(argv[1:])
    if argv[:1] == ["--child-encode"]:
        return child_encode(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 60])
    parser.add_argument("--routine", default="control")
    parser.add_argument("--keep", type=Path, help="Keep the renders in this folder.")
    parser.add_argument(
        "--no-voice", action="store_true", help="Skip every figure of the natural voice."
    )
    parser.add_argument(
        "--no-voice-lengths",
        action="store_true",
        help="Skip the lengths rendered with the natural voice (the longest part of the bench).",
    )
    parser.add_argument(
        "--no-largest", action="store_true", help="Skip the largest accepted inputs."
    )
    parser.add_argument(
        "--largest-only", action="store_true", help="Only the largest accepted inputs."
    )
    opts = parser.parse_args(argv)
    work = opts.keep or Path(tempfile.mkdtemp(prefix="matcue-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"matcue bench: {opts.routine} at {', '.join(f'{m:g}' for m in opts.minutes)} minutes, "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        file=sys.stderr,
        flush=True,
    )
    runs: list[Run] = []
    encodes: dict[float, dict] = {}
    started = time.perf_counter()
    lines: list[str] = []
    try:
        if not opts.largest_only:
            for minutes in opts.minutes:
                cold, warm, enc = bench_length(opts.routine, minutes, work, BASELINE_ENGINE)
                runs += [cold, warm]
                encodes[minutes] = enc
            lines = report(runs, encodes, opts.routine)
            if not (opts.no_voice or opts.no_voice_lengths):
                voiced: list[Run] = []
                voiced_enc: dict[float, dict] = {}
                for minutes in opts.minutes:
                    cold, warm, enc = bench_length(opts.routine, minutes, work, None)
                    voiced += [cold, warm]
                    voiced_enc[minutes] = enc
                lines += report_voice_lengths(voiced, voiced_enc, opts.routine, runs)
            if not opts.no_voice:
                lines += bench_voice(work)
        if not opts.no_largest:
            lines += bench_largest(work)
    finally:
        if opts.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    for line in lines:
        print(line)
    print(f"\n(bench took {time.perf_counter() - started:.0f} s; targets are read, not enforced)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
