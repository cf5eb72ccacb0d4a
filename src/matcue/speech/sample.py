"""A short sample of a voice, written as WAV (``matcue say``, ``matcue voices --sample``)."""

from __future__ import annotations

from pathlib import Path

from matcue.speech.base import SpeechSettings
from matcue.speech.synth import Synthesizer

SAMPLE_RATE = 22050


def write_sample(text: str, settings: SpeechSettings, path: Path) -> str:
    """Speak ``text`` with ``settings`` into the WAV file ``path`` (processed as in a
    render: trimmed, faded, normalised; not cached). Returns what spoke, e.g.
    ``piper en_US-joe-medium``."""
    import soundfile as sf

    from matcue.atomic import atomic_output

    with Synthesizer(settings, sample_rate=SAMPLE_RATE, cache=None, workers=0) as synth:
        samples = synth.get(text)
        described = synth.engine.describe(settings)
        name = synth.engine.name
    spoke = described.get("voice", "default")
    if settings.model and "model" in described:  # a model file: name it, not speaker 0
        spoke = described["model"] + (f" speaker {spoke}" if settings.voice else "")
    with atomic_output(path) as tmp:
        sf.write(str(tmp), samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return f"{name} {spoke}"


__all__ = ["write_sample"]
