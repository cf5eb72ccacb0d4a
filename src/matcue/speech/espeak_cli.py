"""The ``espeak-ng`` engine: the espeak-ng command-line program, one process per phrase.

Useful where the program is installed and one wants exactly what it says (its
data, its voices, mbrola voices) without pyttsx3. Text goes in on stdin, so a
phrase that starts with ``-`` is never taken for an option; audio comes back on
stdout as WAV, whose streaming header carries placeholder sizes, so we parse
the chunks ourselves and take all the data that follows.
"""

from __future__ import annotations

import logging
import shutil
import struct
import subprocess

import numpy as np

from matcue.errors import EngineUnavailable, InputError, SpeechError
from matcue.speech.base import (
    DEFAULT_RATE,
    ESPEAK_WPM_FACTOR,
    Clip,
    SpeechSettings,
    Voice,
    check_rate,
    match_voice,
)
from matcue.speech.stretch import is_silent, trim_silence

DEFAULT_WPM = 175
"""espeak-ng's speed without ``-s``."""

logger = logging.getLogger(__name__)

PROGRAM = "espeak-ng"

INSTALL_ADVICE = (
    "The espeak-ng engine needs the `espeak-ng` program, which was not found on PATH. "
    "Install it (`apt install espeak-ng`, `dnf install espeak-ng`, `brew install espeak-ng`, "
    "or the installer from https://github.com/espeak-ng/espeak-ng/releases on Windows), "
    "or use the default engine: --engine pyttsx3."
)

TIMEOUT_S = 60.0


def _program() -> str:
    path = shutil.which(PROGRAM)
    if path is None:
        raise EngineUnavailable(INSTALL_ADVICE)
    return path


def parse_wav_stream(data: bytes) -> tuple[np.ndarray, int]:
    """Decode espeak-ng's ``--stdout`` WAV (16-bit mono PCM) to float32 and its rate.

    The RIFF and data sizes in a streamed header are placeholders (0x7ffff000),
    so they are ignored: the data chunk runs to the end of the stream.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV stream")
    pos = 12
    rate = channels = bits = None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            _fmt, channels, rate, _brate, _align, bits = struct.unpack(
                "<HHIIHH", data[body : body + 16]
            )
        elif chunk == b"data":
            if rate is None or bits != 16:
                raise ValueError(f"unsupported WAV format (rate {rate}, {bits} bits)")
            pcm = data[body:]
            pcm = pcm[: len(pcm) - len(pcm) % (2 * (channels or 1))]
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            if channels and channels > 1:
                samples = samples.reshape(-1, channels).mean(axis=1)
            return samples, int(rate)
        pos = body + size + (size & 1)
    raise ValueError("WAV stream has no data chunk")


class EspeakCliEngine:
    """Speech from the ``espeak-ng`` program."""

    name = "espeak-ng"

    def __init__(self, *, workers: int = 1) -> None:
        self._voices: list[Voice] | None = None
        self._version: str | None = None

    def _run(self, args: list[str], stdin: bytes | None = None) -> bytes:
        try:
            proc = subprocess.run(
                [_program(), *args],
                input=stdin,
                capture_output=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SpeechError(f"espeak-ng did not finish within {TIMEOUT_S:g} s") from exc
        except OSError as exc:
            raise EngineUnavailable(f"espeak-ng could not be started: {exc}") from exc
        if proc.returncode != 0:
            raise SpeechError(
                f"espeak-ng failed (exit {proc.returncode}): "
                f"{proc.stderr.decode('utf-8', 'replace').strip()}"
            )
        return proc.stdout

    def version(self) -> str:
        """E.g. ``espeak-ng 1.51`` (from ``espeak-ng --version``)."""
        if self._version is None:
            out = self._run(["--version"]).decode("utf-8", "replace")
            # "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/..."
            head = out.split("Data at:")[0]
            number = head.split(":")[-1].strip() if ":" in head else head.strip()
            # With the rate mapping: a new calibration must not hit older clips.
            self._version = f"espeak-ng {number}; rate factor {ESPEAK_WPM_FACTOR:g}"
        return self._version

    def default_rate(self) -> int:
        """Words per minute when no rate is chosen (the same on every engine)."""
        return DEFAULT_RATE

    def default_voice(self) -> str | None:
        return None

    def describe(self, settings: SpeechSettings) -> dict[str, str]:
        return {"voice": settings.voice or "default"}

    def helper_pids(self) -> list[int]:
        """None: each phrase's program has finished when synthesize returns."""
        return []

    def close(self, *, kill: bool = False) -> None:
        """Nothing to stop (one program per phrase)."""

    def voices(self, model: str | None = None) -> list[Voice]:
        """Voices from ``espeak-ng --voices``; ids are the voice files, lower-cased."""
        if self._voices is None:
            out = self._run(["--voices"]).decode("utf-8", "replace")
            voices = []
            for line in out.splitlines()[1:]:
                parts = line.split()
                if len(parts) < 5:
                    continue
                _pty, lang, age_gender, name, file_id = parts[:5]
                gender = {"M": "Male", "F": "Female"}.get(age_gender.rsplit("/", 1)[-1])
                voices.append(
                    Voice(
                        id=file_id.lower(),
                        name=name.replace("_", " "),
                        languages=(lang,),
                        gender=gender,
                    )
                )
            self._voices = voices
        return list(self._voices)

    def synthesize(self, text: str, settings: SpeechSettings) -> Clip:
        """Run ``espeak-ng --stdout`` once for ``text`` and return the trimmed clip."""
        if not text or not text.strip():
            raise SpeechError(f"cannot speak empty text {text!r}")
        args = ["--stdout", "-b", "1"]  # -b 1: the text on stdin is UTF-8
        if settings.voice:
            args += ["-v", match_voice(self.voices(), settings.voice, self.name)]
        check_rate(settings.rate)
        rate = settings.rate if settings.rate is not None else DEFAULT_RATE
        args += ["-s", str(max(80, int(round(rate / ESPEAK_WPM_FACTOR))))]
        if settings.volume is not None:
            if not 0.0 < settings.volume <= 1.0:
                raise InputError(f"speech volume must be in (0, 1], got {settings.volume}")
            # espeak's amplitude is 0..200 with 100 the default; volume 1.0 = default.
            args += ["-a", str(int(round(settings.volume * 100)))]
        try:
            data = self._run(args, stdin=text.encode("utf-8"))
        except SpeechError as exc:
            raise SpeechError(f"espeak-ng failed to speak {text!r}: {exc}") from exc
        try:
            samples, rate = parse_wav_stream(data)
        except ValueError as exc:
            raise SpeechError(f"espeak-ng gave unreadable audio for {text!r}: {exc}") from exc
        if is_silent(samples):
            raise SpeechError(f"espeak-ng produced no audio for {text!r}")
        return Clip(samples=trim_silence(samples, rate).astype(np.float32), sample_rate=rate)


__all__ = ["EspeakCliEngine", "parse_wav_stream", "INSTALL_ADVICE"]
