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

import json
import logging
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from matcue.errors import EngineUnavailable, InputError, SpeechError
from matcue.speech.base import Clip, SpeechSettings, Voice
from matcue.speech.stretch import is_silent, trim_silence

logger = logging.getLogger(__name__)

INSTALL_ADVICE = (
    "The piper engine needs the piper-tts package: pip install 'matcue[piper]' "
    "(then pass a voice model with --model path/to/voice.onnx)."
)
NO_MODEL = (
    "The piper engine needs a voice model: pass --model path/to/voice.onnx "
    "(with voice.onnx.json beside it). Voices: https://huggingface.co/rhasspy/piper-voices"
)

NOMINAL_WPM = 170


def _import_piper() -> Any:
    try:
        import piper
    except ImportError as exc:
        raise EngineUnavailable(INSTALL_ADVICE) from exc
    return piper


def _model_paths(model: str | None) -> tuple[Path, Path]:
    """The model and config paths, checked; InputError names a bad path."""
    if not model:
        raise InputError(NO_MODEL)
    path = Path(model).expanduser()
    if not path.is_file():
        raise InputError(f"piper voice model not found: {path}")
    config = path.with_name(path.name + ".json")
    if not config.is_file():
        raise InputError(f"piper voice model {path} has no config beside it: expected {config}")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"piper voice config {config} is not valid JSON: {exc}") from exc
    return path, config


class PiperEngine:
    """piper-tts behind matcue's Engine protocol. Loaded models are kept per path."""

    name = "piper"

    def __init__(self) -> None:
        self._voices: dict[Path, Any] = {}
        self._lock = threading.Lock()

    def version(self) -> str:
        _import_piper()
        parts = [f"piper-tts {metadata.version('piper-tts')}"]
        try:
            parts.append(f"onnxruntime {metadata.version('onnxruntime')}")
        except metadata.PackageNotFoundError:
            pass
        return "; ".join(parts)

    def _load(self, model: str | None) -> Any:
        piper = _import_piper()
        path, config = _model_paths(model)
        key = path.resolve()
        with self._lock:
            voice = self._voices.get(key)
            if voice is None:
                try:
                    voice = piper.PiperVoice.load(str(path), config_path=str(config))
                except Exception as exc:
                    raise InputError(f"piper could not load voice model {path}: {exc}") from exc
                self._voices[key] = voice
        return voice

    def voices(self, model: str | None = None) -> list[Voice]:
        """The speakers of ``model`` (one unnamed voice for a single-speaker model).

        Without a model there is nothing to list: piper's voices are model files.
        """
        if not model:
            _import_piper()
            return []
        cfg = self._load(model).config
        lang = (cfg.espeak_voice,) if cfg.espeak_voice else ()
        if cfg.num_speakers <= 1 or not cfg.speaker_id_map:
            stem = Path(model).name.removesuffix(".onnx")
            return [Voice(id="0", name=stem, languages=lang)]
        return [
            Voice(id=str(sid), name=name, languages=lang)
            for name, sid in sorted(cfg.speaker_id_map.items(), key=lambda kv: kv[1])
        ]

    def synthesize(self, text: str, settings: SpeechSettings) -> Clip:
        """Speak ``text`` with the model in ``settings.model``; trimmed float32 mono."""
        if not text or not text.strip():
            raise SpeechError(f"cannot speak empty text {text!r}")
        piper = _import_piper()
        voice = self._load(settings.model)
        syn = piper.SynthesisConfig(speaker_id=self._speaker_id(voice, settings))
        if settings.rate is not None:
            if not 20 <= settings.rate <= 1000:
                raise InputError(
                    f"speech rate must be 20..1000 words per minute, got {settings.rate}"
                )
            syn.length_scale = NOMINAL_WPM / float(settings.rate)
        if settings.volume is not None:
            if not 0.0 < settings.volume <= 1.0:
                raise InputError(f"speech volume must be in (0, 1], got {settings.volume}")
            syn.volume = float(settings.volume)
        try:
            chunks = list(voice.synthesize(text, syn_config=syn))
        except Exception as exc:
            raise SpeechError(f"piper failed to speak {text!r}: {exc}") from exc
        if not chunks:
            raise SpeechError(f"piper produced no audio for {text!r}")
        rate = int(chunks[0].sample_rate)
        samples = np.concatenate(
            [np.asarray(c.audio_float_array, dtype=np.float32).reshape(-1) for c in chunks]
        )
        if is_silent(samples):
            raise SpeechError(f"piper produced only silence for {text!r}")
        return Clip(samples=trim_silence(samples, rate).astype(np.float32), sample_rate=rate)

    @staticmethod
    def _speaker_id(voice: Any, settings: SpeechSettings) -> int | None:
        if not settings.voice:
            return None
        cfg = voice.config
        if settings.voice in cfg.speaker_id_map:
            return int(cfg.speaker_id_map[settings.voice])
        if settings.voice.isdigit() and int(settings.voice) < max(1, cfg.num_speakers):
            return int(settings.voice) if cfg.num_speakers > 1 else None
        from matcue.speech import match_voice

        # Raises EngineUnavailable with close matches.
        match_voice(PiperEngine.voices_of(voice, settings.model), settings.voice, "piper")
        return None  # pragma: no cover - match_voice always raises here

    @staticmethod
    def voices_of(voice: Any, model: str | None) -> list[Voice]:
        cfg = voice.config
        return [Voice(id=str(sid), name=name) for name, sid in cfg.speaker_id_map.items()] or [
            Voice(id="0", name=Path(model or "").name)
        ]


__all__ = ["PiperEngine", "INSTALL_ADVICE", "NOMINAL_WPM"]
