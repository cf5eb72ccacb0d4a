"""The optional piper engine: neural voices from a user-supplied ONNX voice model.

Install with ``pip install 'matcue[piper]'``. The model is ``SpeechSettings.model``:
the ``.onnx`` file, with its ``.onnx.json`` config beside it, as piper expects.
matcue never downloads voices; the user chooses and fetches them.

Rate: piper has no words-per-minute setting, only a phoneme ``length_scale``.
We map ``rate`` wpm to ``length_scale = NOMINAL_WPM / rate`` (a typical piper
voice speaks at roughly 170 wpm at scale 1.0), so larger rates speak faster.
Volume scales the (normalised) samples. A multi-speaker model's speakers are
its voices; ``voice`` picks one by name or number.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from matcue.errors import EngineUnavailable, InputError, MatcueError, SpeechError
from matcue.speech.base import Clip, SpeechSettings, Voice, check_rate
from matcue.speech.stretch import is_silent, trim_silence

logger = logging.getLogger(__name__)

INSTALL_ADVICE = (
    "The piper engine needs the piper-tts package: pip install 'matcue[piper]' "
    "(then pass a voice model with --voice-model path/to/voice.onnx)."
)
NO_MODEL = (
    "The piper engine needs a voice model: pass --voice-model path/to/voice.onnx "
    "(with voice.onnx.json beside it). Voices: https://huggingface.co/rhasspy/piper-voices"
)

NOMINAL_WPM = 170


def _import_piper() -> None:
    """Check that piper is installed, without importing it into this process."""
    if importlib.util.find_spec("piper") is None:
        raise EngineUnavailable(INSTALL_ADVICE)


def _model_paths(model: str | None) -> tuple[Path, Path, dict[str, Any]]:
    """The model and config paths and the parsed config; InputError names a bad path."""
    if not model:
        raise InputError(NO_MODEL)
    path = Path(model).expanduser()
    if not path.is_file():
        raise InputError(f"piper voice model not found: {path}")
    config = path.with_name(path.name + ".json")
    if not config.is_file():
        raise InputError(f"piper voice model {path} has no config beside it: expected {config}")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"piper voice config {config} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or "audio" not in data:
        raise InputError(f"piper voice config {config} is not a piper voice config")
    return path, config, data


# --- the isolated piper process ----------------------------------------------
# piper-tts links its own copy of espeak-ng into piper.espeakbridge. In a process
# that also has libespeak-ng loaded for pyttsx3, the two copies' symbols collide
# and the process crashes (measured: a segfault in the test suite). So piper
# always runs in its own spawned process, started once per engine.

_WORKER_VOICES: dict[str, Any] = {}

SEED = 20240601
"""onnxruntime's seed for the model's random ops (any fixed value)."""


def _piper_worker(
    model: str,
    config: str,
    text: str,
    speaker: int | None,
    length_scale: float | None,
    volume: float | None,
) -> tuple[np.ndarray, int]:
    import onnxruntime
    import piper

    voice = _WORKER_VOICES.get(model)
    if voice is None:
        try:
            voice = piper.PiperVoice.load(model, config_path=config)
        except Exception as exc:
            raise InputError(f"piper could not load voice model {model}: {exc}") from exc
        _WORKER_VOICES[model] = voice
    # piper's VITS models draw noise with RandomNormalLike ops that have no seed:
    # onnxruntime seeds them from the clock when a session is created and
    # advances them on every run, so the same phrase would differ between
    # processes and depend on what the session spoke before (checked with
    # onnxruntime 1.31). A session created after set_seed(SEED) starts from a
    # fixed state, so each phrase gets a fresh one: its clip depends only on the
    # model, the settings and the text.
    onnxruntime.set_seed(SEED)
    voice.session = onnxruntime.InferenceSession(
        model,
        sess_options=onnxruntime.SessionOptions(),
        providers=voice.session.get_providers(),
    )
    syn = piper.SynthesisConfig(speaker_id=speaker)
    if length_scale is not None:
        syn.length_scale = length_scale
    if volume is not None:
        syn.volume = volume
    try:
        chunks = list(voice.synthesize(text, syn_config=syn))
    except Exception as exc:
        raise SpeechError(f"piper failed to speak {text!r}: {exc}") from exc
    if not chunks:
        raise SpeechError(f"piper produced no audio for {text!r}")
    samples = np.concatenate(
        [np.asarray(c.audio_float_array, dtype=np.float32).reshape(-1) for c in chunks]
    )
    return samples, int(chunks[0].sample_rate)


class PiperEngine:
    """piper-tts behind matcue's Engine protocol, run in a separate process."""

    name = "piper"

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def version(self) -> str:
        _import_piper()
        parts = [f"piper-tts {metadata.version('piper-tts')}"]
        try:
            parts.append(f"onnxruntime {metadata.version('onnxruntime')}")
        except metadata.PackageNotFoundError:
            pass
        return "; ".join(parts)

    def default_rate(self) -> int:
        """Words per minute at piper's length scale 1.0 (about; see NOMINAL_WPM)."""
        return NOMINAL_WPM

    def voices(self, model: str | None = None) -> list[Voice]:
        """The speakers of ``model`` (one voice, id "0", for a single-speaker model).

        Without a model there is nothing to list (piper's voices are model files):
        InputError saying to pass one.
        """
        _import_piper()
        path, _config, cfg = _model_paths(model)
        espeak = (cfg.get("espeak") or {}).get("voice")
        lang = (str(espeak),) if espeak else ()
        speakers = cfg.get("speaker_id_map") or {}
        if int(cfg.get("num_speakers", 1)) <= 1 or not speakers:
            return [Voice(id="0", name=path.name.removesuffix(".onnx"), languages=lang)]
        return [
            Voice(id=str(sid), name=str(name), languages=lang)
            for name, sid in sorted(speakers.items(), key=lambda kv: kv[1])
        ]

    def _speaker_id(self, model: str, cfg: dict[str, Any], voice: str | None) -> int | None:
        if not voice:
            return None
        from matcue.speech.voices import match_voice

        if int(cfg.get("num_speakers", 1)) <= 1 and voice == "0":
            return None
        chosen = match_voice(self.voices(model), voice, self.name, model=model)
        return int(chosen) if int(cfg.get("num_speakers", 1)) > 1 else None

    def synthesize(self, text: str, settings: SpeechSettings) -> Clip:
        """Speak ``text`` with the model in ``settings.model``; trimmed float32 mono."""
        if not text or not text.strip():
            raise SpeechError(f"cannot speak empty text {text!r}")
        _import_piper()
        path, config, cfg = _model_paths(settings.model)
        speaker = self._speaker_id(str(path), cfg, settings.voice)
        length_scale = None
        if settings.rate is not None:
            check_rate(settings.rate)
            length_scale = NOMINAL_WPM / float(settings.rate)
        if settings.volume is not None and not 0.0 < settings.volume <= 1.0:
            raise InputError(f"speech volume must be in (0, 1], got {settings.volume}")
        future = self._ensure_pool().submit(
            _piper_worker, str(path), str(config), text, speaker, length_scale, settings.volume
        )
        try:
            samples, rate = future.result()
        except MatcueError:
            raise
        except Exception as exc:
            raise SpeechError(f"piper failed to speak {text!r}: {exc}") from exc
        if is_silent(samples):
            raise SpeechError(f"piper produced only silence for {text!r}")
        return Clip(samples=trim_silence(samples, rate).astype(np.float32), sample_rate=rate)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                )
            return self._pool

    def close(self, *, kill: bool = False) -> None:
        """Stop the piper process (also done at interpreter exit).

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


__all__ = ["PiperEngine", "INSTALL_ADVICE", "NOMINAL_WPM"]
