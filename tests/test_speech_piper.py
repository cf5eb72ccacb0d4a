"""The piper engine, run for real on a tiny voice model the test builds itself.

The model is an ONNX graph with piper's interface (``input``, ``input_lengths``,
``scales`` -> audio) that outputs a 220 Hz tone of ``256 * n_phonemes *
length_scale`` samples plus unseeded noise (like a real VITS voice), so the
REAL piper library (phonemizer, id mapping, onnxruntime session) runs end to end
without downloading any voice.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from matcue.errors import EngineUnavailable, InputError, SpeechError
from matcue.speech import SpeechSettings, get_engine

# Importing piper here imports onnxruntime in the test process itself, outside
# matcue's worker (which turns the telemetry file off before its import).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
piper = pytest.importorskip("piper")
onnx = pytest.importorskip("onnx")

SAMPLE_RATE = 22050
HOP = 256


def build_tiny_model(folder: Path) -> Path:
    """Write ``tiny.onnx`` + ``tiny.onnx.json`` and return the model path."""
    from onnx import TensorProto, helper
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    def const(name: str, value: float | int, dtype: int) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name + "_t", dtype, [], [value])
        )

    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        const("one_i", 1, TensorProto.INT64),
        helper.make_node("Gather", ["shape", "one_i"], ["n"], axis=0),  # scalar N
        helper.make_node("Cast", ["n"], ["n_f"], to=TensorProto.FLOAT),
        const("hop", float(HOP), TensorProto.FLOAT),
        const("one_idx", 1, TensorProto.INT64),
        helper.make_node("Gather", ["scales", "one_idx"], ["length_scale"], axis=0),
        helper.make_node("Mul", ["n_f", "hop"], ["t0"]),
        helper.make_node("Mul", ["t0", "length_scale"], ["t1"]),
        helper.make_node("Floor", ["t1"], ["t2"]),
        helper.make_node("Cast", ["t2"], ["t_len"], to=TensorProto.INT64),
        const("zero_i", 0, TensorProto.INT64),
        helper.make_node("Range", ["zero_i", "t_len", "one_i"], ["idx"]),
        helper.make_node("Cast", ["idx"], ["idx_f"], to=TensorProto.FLOAT),
        const("omega", float(2 * np.pi * 220 / SAMPLE_RATE), TensorProto.FLOAT),
        helper.make_node("Mul", ["idx_f", "omega"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        const("amp", 0.5, TensorProto.FLOAT),
        helper.make_node("Mul", ["wave", "amp"], ["clean"]),
        # Unseeded noise scaled by noise_scale, as in piper's real VITS voices:
        # onnxruntime draws it from a generator that is clock-seeded per session
        # and advances on every run.
        helper.make_node("RandomNormalLike", ["clean"], ["noise"], dtype=TensorProto.FLOAT),
        const("zero_idx", 0, TensorProto.INT64),
        helper.make_node("Gather", ["scales", "zero_idx"], ["noise_scale"], axis=0),
        const("noise_amp", 0.01, TensorProto.FLOAT),
        helper.make_node("Mul", ["noise", "noise_scale"], ["n1"]),
        helper.make_node("Mul", ["n1", "noise_amp"], ["n2"]),
        helper.make_node("Add", ["clean", "n2"], ["scaled"]),
        helper.make_node(
            "Constant",
            [],
            ["out_shape"],
            value=helper.make_tensor("os", TensorProto.INT64, [3], [1, 1, -1]),
        ),
        helper.make_node("Reshape", ["scaled", "out_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_piper",
        [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, "n"]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "t"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = folder / "tiny.onnx"
    onnx.save(model, str(path))
    config = {
        "audio": {"sample_rate": SAMPLE_RATE},
        "espeak": {"voice": "en-us"},
        "phoneme_type": "espeak",
        "num_symbols": 256,
        "num_speakers": 1,
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
    }
    (folder / "tiny.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("piper")))


def test_piper_speaks_with_tiny_model(tiny_model: str) -> None:
    engine = get_engine("piper")
    clip = engine.synthesize("Breathe in.", SpeechSettings(engine="piper", model=tiny_model))
    assert clip.sample_rate == SAMPLE_RATE
    assert clip.samples.dtype == np.float32
    assert len(clip.samples) > HOP * 4
    assert float(np.max(np.abs(clip.samples))) > 0.5
    # The model's tone survives piper's pipeline: dominant frequency 220 Hz.
    spec = np.abs(np.fft.rfft(clip.samples, 8 * len(clip.samples)))
    freq = np.argmax(spec) * SAMPLE_RATE / (8 * len(clip.samples))
    assert freq == pytest.approx(220, rel=0.02)


def test_piper_longer_text_and_slower_rate_give_longer_clips(tiny_model: str) -> None:
    engine = get_engine("piper")
    base = SpeechSettings(engine="piper", model=tiny_model)
    short = engine.synthesize("Rest.", base)
    long = engine.synthesize("Rest here, and let the breath soften.", base)
    assert len(long.samples) > 2 * len(short.samples)
    slow = engine.synthesize("Rest.", SpeechSettings(engine="piper", model=tiny_model, rate=85))
    # The default is 155 wpm; 85 wpm speaks the calibration passage in 155/85 of
    # its time, its speech (without the fixed sentence pauses) in about 1.9 times.
    assert len(slow.samples) == pytest.approx(1.9 * len(short.samples), rel=0.1)


def test_piper_missing_model_names_the_path(tmp_path: Path) -> None:
    engine = get_engine("piper")
    missing = tmp_path / "nope.onnx"
    with pytest.raises(InputError, match="nope.onnx"):
        engine.synthesize("Hello.", SpeechSettings(engine="piper", model=str(missing)))
    # Without a model piper speaks with the bundled voice now (issue 11), so a
    # missing model is no longer an error: it is described as the bundled voice.
    assert engine.describe(SpeechSettings(engine="piper"))["voice"] == "en_US-joe-medium"


def test_piper_model_without_config_names_the_config(tmp_path: Path, tiny_model: str) -> None:
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(Path(tiny_model).read_bytes())
    with pytest.raises(InputError, match="lonely.onnx.json"):
        get_engine("piper").synthesize("Hi.", SpeechSettings(engine="piper", model=str(lonely)))


def test_piper_empty_text_is_an_error(tiny_model: str) -> None:
    with pytest.raises(SpeechError, match="' '"):
        get_engine("piper").synthesize(" ", SpeechSettings(engine="piper", model=tiny_model))


def test_piper_unknown_speaker_points_at_a_command_that_lists_them(tiny_model: str) -> None:
    """Regression: the error said "Run `matcue voices`", which lists pyttsx3's
    voices, and `matcue voices --engine piper` printed nothing (no way to name a
    model). The command in the message must list the model's speakers."""
    import shlex

    from click.testing import CliRunner

    from matcue.cli import main

    with pytest.raises(EngineUnavailable) as info:
        get_engine("piper").synthesize(
            "Hi.", SpeechSettings(engine="piper", model=tiny_model, voice="alice")
        )
    command = re.search(r"Run `([^`]+)`", str(info.value))
    assert command, str(info.value)
    argv = shlex.split(command[1])
    assert argv[:2] == ["matcue", "voices"] and "piper" in argv and tiny_model in argv
    r = CliRunner().invoke(main, argv[1:])
    assert r.exit_code == 0, r.output
    assert r.output == "0\ttiny\ten-us\n"


def test_cli_voices_lists_a_multi_speaker_models_speakers(tiny_model: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from matcue.cli import main

    model = tmp_path / "duo.onnx"
    model.write_bytes(Path(tiny_model).read_bytes())
    config = json.loads(Path(tiny_model + ".json").read_text(encoding="utf-8"))
    config.update(num_speakers=2, speaker_id_map={"bob": 1, "alice": 0})
    (tmp_path / "duo.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    r = CliRunner().invoke(main, ["voices", "--engine", "piper", "--voice-model", str(model)])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["0\talice\ten-us", "1\tbob\ten-us"]
    # Only piper takes a model: without --engine the model's speakers are listed
    # too (it was ignored, and every engine's voices were listed instead).
    r = CliRunner().invoke(main, ["voices", "--voice-model", str(model)])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["0\talice\ten-us", "1\tbob\ten-us"]
    r = CliRunner().invoke(main, ["voices", "--voice-model", str(tmp_path / "nope.onnx")])
    assert r.exit_code == 2 and r.output.startswith("matcue: piper voice model not found")


def test_cli_voices_piper_without_a_model_lists_the_installed_voices() -> None:
    """Before issue 11 this was an error asking for --voice-model; now piper has a
    bundled voice, and the voices added with `matcue voices add`."""
    from click.testing import CliRunner

    from matcue.cli import main

    r = CliRunner().invoke(main, ["voices", "--engine", "piper"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("en_US-joe-medium\t")


def test_piper_same_phrase_same_samples_whatever_came_before(tiny_model: str) -> None:
    """Regression: onnxruntime's unseeded noise made a phrase depend on the
    process (clock seed) and on what the session spoke before."""
    settings = SpeechSettings(engine="piper", model=tiny_model)
    first_engine = get_engine("piper")
    first = first_engine.synthesize("Breathe in.", settings)
    first_engine.synthesize("Something else entirely, to move any generator on.", settings)
    again = first_engine.synthesize("Breathe in.", settings)
    other_engine = get_engine("piper")  # a second piper process
    elsewhere = other_engine.synthesize("Breathe in.", settings)
    first_engine.close()
    other_engine.close()
    assert np.array_equal(first.samples, again.samples)
    assert np.array_equal(first.samples, elsewhere.samples)
    # The noise is really there (so this test can fail): a clean 220 Hz tone of
    # amplitude 0.5 has second differences of rms ~0.001, the noise ~0.016.
    assert float(np.std(np.diff(first.samples, 2))) > 0.005


def test_cli_renders_a_session_with_piper_and_the_tiny_model(
    tiny_model: str, tmp_path: Path
) -> None:
    """The whole pipeline with --engine piper --voice-model: a playable MP3 whose
    speech is the model's 220 Hz tone, with the engine recorded in the tags."""
    import soundfile as sf
    from click.testing import CliRunner
    from mutagen.id3 import ID3

    from matcue.cli import main

    out = tmp_path / "p.mp3"
    tl = tmp_path / "p.json"
    r = CliRunner().invoke(
        main,
        [
            "render",
            "desk-break",
            "--engine",
            "piper",
            "--voice-model",
            tiny_model,
            "--no-chime",
            "-o",
            str(out),
            "--timeline",
            str(tl),
        ],
    )
    assert r.exit_code == 0, r.output
    audio, rate = sf.read(out, dtype="float32")
    assert rate == SAMPLE_RATE and len(audio) > 60 * rate
    speech = next(e for e in json.loads(tl.read_text()) if e["kind"] == "speech")
    first = audio[int((speech["start"] + 0.05) * rate) : int((speech["start"] + 0.3) * rate)]
    spec = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    assert np.argmax(spec) * rate / len(first) == pytest.approx(220, rel=0.03)
    comment = str(ID3(out).getall("COMM")[0])
    assert "engine=piper" in comment
    # Regression: piper sessions said voice=default and did not name the model.
    assert "; voice=0; " in comment and "; model=tiny.onnx; " in comment
    note = out.with_suffix(".vtt").read_text(encoding="utf-8").split("\n\n")[1]
    assert "\nvoice: 0\n" in note and "\nmodel: tiny.onnx\n" in note


def test_a_changed_model_replaces_its_prepared_copy(tmp_path: Path, monkeypatch) -> None:
    """Regression: every modification time of a model left a prepared copy of its own
    in the cache's piper-models folder (542 MB had gathered unseen on one machine):
    one copy per model path is kept, and another model's copy is left alone."""
    from matcue.speech.piper_engine import patched_model

    monkeypatch.setenv("MATCUE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "one").mkdir()
    (tmp_path / "other").mkdir()
    one = build_tiny_model(tmp_path / "one")
    other = build_tiny_model(tmp_path / "other")
    folder = tmp_path / "cache" / "piper-models"
    folder.mkdir(parents=True)
    (folder / ("0" * 32 + ".onnx")).write_bytes(b"a copy named the old way")
    first = patched_model(str(one))
    kept = patched_model(str(other))
    assert patched_model(str(one)) == first  # made once
    os.utime(one, ns=(1_000_000_000, 1_000_000_000))  # the voice reinstalled
    second = patched_model(str(one))
    assert second != first
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(p).name for p in (second, kept))
    assert onnx.load(second).graph.input  # a whole, loadable model
