"""The writer registry (matcue.writers): formats, extensions and messages come from it,
and a writer registered there is used end to end by a real render."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from matcue import writers
from matcue.batch import audio_format, output_path, render_one
from matcue.cli import main
from matcue.errors import InputError
from matcue.export import Tags, destination, int16_blocks
from matcue.timeline import Chapter
from matcue.writers import AudioSpec, AudioWriter


class RawWriter(AudioWriter):
    """A real (if bare) writer for these tests: headerless little-endian int16 PCM.
    It is what the recipe in docs/architecture.md asks of a new format."""

    name = "raw"
    suffixes = (".raw", ".pcm")
    label = "a raw PCM"

    def write(
        self,
        chunks: Iterable[np.ndarray],
        path: Path,
        *,
        spec: AudioSpec,
        tags: Tags | None,
        chapters: Sequence[Chapter],
        atomic: bool = True,
    ) -> None:
        with destination(path, atomic) as tmp, open(tmp, "wb") as f:
            for block in int16_blocks(
                chunks, channels=spec.channels, length=spec.length, dither=False
            ):
                f.write(block.tobytes())


@pytest.fixture
def raw_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(writers.WRITERS, "raw", RawWriter())


def test_cli_format_choices_and_help_come_from_the_registry() -> None:
    result = CliRunner().invoke(main, ["render", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert f"--format [{'|'.join(writers.formats())}]" in text
    for suffix in writers.suffixes():
        assert suffix in text


def test_a_registered_writer_is_named_by_its_extensions(raw_registered: None) -> None:
    assert audio_format("out/session.RAW", None) == "raw"
    assert audio_format("out/session.pcm", "raw") == "raw"
    assert output_path("thaw", None, "raw") == Path("audio_out/thaw.raw")
    with pytest.raises(InputError, match=r"names a raw PCM file; .* name a \.mp3 file"):
        audio_format("session.raw", "mp3")
    with pytest.raises(InputError, match=r"name a \.mp3, \.wav, \.raw or \.pcm file"):
        audio_format("session.ogg", None)


def test_unregistered_extension_is_refused() -> None:
    with pytest.raises(InputError, match=r"unknown audio extension '\.raw'"):
        audio_format("session.raw", None)


CUE = """\
# matcue cue script 1
@title Writer test
Breathe in.
@pause 0.5
Breathe out.
"""


def test_a_registered_writer_renders_a_session(raw_registered: None, tmp_path: Path) -> None:
    script = tmp_path / "short.cue"
    script.write_text(CUE, encoding="utf-8")
    out = tmp_path / "short.raw"
    result = render_one(str(script), {}, str(out), None, transcript=False)
    pcm = np.frombuffer(out.read_bytes(), dtype="<i2")
    assert len(pcm) == result.timeline.length  # mono, every sample of the session
    assert np.abs(pcm).max() > 1000  # speech, not silence
