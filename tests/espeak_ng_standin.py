"""A stand-in for the ``espeak-ng`` program, for machines without it (CI has no
apt): the few options matcue's espeak-ng engine uses, spoken by the real
libespeak-ng that espeakng-loader ships (path in ``MATCUE_TEST_LIBESPEAK``).

It is not espeak-ng's own front end: ``--voices`` lists two voices, and only
``--version``, ``--voices``, ``--stdout``, ``-b``, ``-v``, ``-s`` and ``-a``
are understood. Output is what the program writes with ``--stdout``: a
streamed WAV whose RIFF and data sizes are placeholders."""

from __future__ import annotations

import ctypes
import os
import struct
import sys

VOICES = [
    ("gmw/en", "en-gb", "M", "English_(Great_Britain)"),
    ("gmw/en-us", "en-us", "M", "English_(America)"),
]


def speak(text: bytes, voice: str, rate: int | None, amplitude: int | None) -> tuple[int, bytes]:
    lib = ctypes.CDLL(os.environ["MATCUE_TEST_LIBESPEAK"])
    callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )
    chunks: list[bytes] = []

    def on_audio(wav, count, events):  # type: ignore[no-untyped-def]
        if count > 0:
            chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    callback = callback_type(on_audio)
    sample_rate = lib.espeak_Initialize(2, 1000, None, 0)  # AUDIO_OUTPUT_SYNCHRONOUS
    lib.espeak_SetSynthCallback.argtypes = [callback_type]
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        sys.stderr.write(f"Error: voice '{voice}' not found\n")
        sys.exit(1)
    if rate is not None:
        lib.espeak_SetParameter(1, rate, 0)  # espeakRATE
    if amplitude is not None:
        lib.espeak_SetParameter(2, amplitude, 0)  # espeakVOLUME
    lib.espeak_Synth(text + b"\0", len(text) + 1, 0, 1, 0, 1, None, None)  # UTF-8
    lib.espeak_Synchronize()
    return sample_rate, b"".join(chunks)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        print("eSpeak NG text-to-speech: 1.51-standin  Data at: (espeakng-loader)")
        return 0
    if argv[:1] == ["--voices"]:
        print(
            "Pty Language       Age/Gender VoiceName          File                 Other Languages"
        )
        for file_id, lang, gender, name in VOICES:
            print(f" 5  {lang:<15} --/{gender}      {name:<18} {file_id}")
        return 0
    voice, rate, amplitude, stdout = "gmw/en", None, None, False
    args = iter(argv)
    for arg in args:
        if arg == "--stdout":
            stdout = True
        elif arg == "-b":
            next(args)
        elif arg == "-v":
            voice = next(args)
        elif arg == "-s":
            rate = int(next(args))
        elif arg == "-a":
            amplitude = int(next(args))
        else:
            sys.stderr.write(f"espeak-ng stand-in: unexpected argument {arg!r}\n")
            return 2
    if not stdout:
        sys.stderr.write("espeak-ng stand-in: only --stdout is supported\n")
        return 2
    sample_rate, pcm = speak(sys.stdin.buffer.read(), voice, rate, amplitude)
    placeholder = 0x7FFFF000
    header = b"RIFF" + struct.pack("<I", placeholder) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", placeholder)
    sys.stdout.buffer.write(header + pcm)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
