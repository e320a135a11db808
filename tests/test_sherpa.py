"""The sherpa-onnx engine's real code path, with a tiny stand-in VITS model built here.

The model turns each token into a 0.1 s tone whose pitch depends on the token;
it has the inputs, outputs and metadata sherpa-onnx expects of a Chinese VITS
model, so loading, the lexicon front end and generation all run for real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from broadcaster.config import SpeechSettings
from broadcaster.errors import EngineError
from broadcaster.language import Language
from broadcaster.textnorm import read
from broadcaster.tts import Speaker
from broadcaster.tts.cache import AudioCache
from broadcaster.tts.sherpa import SherpaOnnxEngine
from broadcaster.tts.verify import verify_speech

onnx = pytest.importorskip("onnx")
pytest.importorskip("sherpa_onnx")

RATE = 22050
TOKEN_SAMPLES = 2205
TEXT = "各位村民请注意"


def build_standin_model(folder: Path) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(TOKEN_SAMPLES, dtype=np.float32)[None, :] / RATE
    envelope = (0.3 * np.sin(np.pi * np.arange(TOKEN_SAMPLES) / TOKEN_SAMPLES) ** 2).astype(np.float32)
    constants = {
        "two_pi_t": 2 * np.pi * t, "envelope": envelope[None, :],
        "hz_per_token": np.array([20.0], np.float32), "base_hz": np.array([150.0], np.float32),
        "column": np.array([-1, 1], np.int64), "out_shape": np.array([1, 1, -1], np.int64),
    }  # fmt: skip
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["xf", "column"], ["xc"]),
        helper.make_node("Mul", ["xc", "hz_per_token"], ["a"]),
        helper.make_node("Add", ["a", "base_hz"], ["hz"]),
        helper.make_node("Mul", ["hz", "two_pi_t"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["wave", "envelope"], ["shaped"]),
        helper.make_node("Reshape", ["shaped", "out_shape"], ["y"]),
    ]
    scalar = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1])
              for n in ("noise_scale", "length_scale", "noise_scale_w")]  # fmt: skip
    graph = helper.make_graph(
        nodes, "standin",
        [helper.make_tensor_value_info("x", TensorProto.INT64, [1, None]),
         helper.make_tensor_value_info("x_length", TensorProto.INT64, [1]), *scalar],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, None])],
        [numpy_helper.from_array(v, k) for k, v in constants.items()],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    meta = {
        "model_type": "vits",
        "comment": "stand-in",
        "language": "Chinese",
        "sample_rate": str(RATE),
        "n_speakers": "1",
        "add_blank": "0",
        "punctuation": "， 。",
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, folder / "model.onnx")
    tokens = [
        "sil",
        "g",
        "e",
        "w",
        "ei",
        "c",
        "un",
        "m",
        "in",
        "q",
        "ing",
        "zh",
        "u",
        "y",
        "i",
        "，",
        "。",
        "eos",
    ]
    (folder / "tokens.txt").write_text(
        "".join(f"{t} {i}\n" for i, t in enumerate(tokens)) + f"  {len(tokens)}\n"
    )
    lexicon = {
        "各": "g e",
        "位": "w ei",
        "村": "c un",
        "民": "m in",
        "请": "q ing",
        "注": "zh u",
        "意": "y i",
    }
    (folder / "lexicon.txt").write_text("".join(f"{w} {p}\n" for w, p in lexicon.items()), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_standin_model(tmp_path_factory.mktemp("models") / "vits-standin")


def test_sherpa_engine_speaks_through_a_model_folder(model_dir):
    settings = SpeechSettings(model_dir=model_dir)
    pcm = SherpaOnnxEngine().synthesize(TEXT, Language.MANDARIN, settings, 30)
    assert pcm.rate_hz == RATE
    # 7 characters, two tokens each, plus the silence token: the model's own arithmetic.
    assert len(pcm.samples) >= 14 * TOKEN_SAMPLES
    verify_speech(pcm, TEXT, "sherpa-onnx")


def test_a_configured_model_is_tried_first(model_dir, tmp_path):
    settings = SpeechSettings(model_dir=model_dir)
    engines = {"sherpa-onnx": SherpaOnnxEngine()}
    speaker = Speaker(engines, AudioCache(tmp_path), platform="linux")
    assert (
        speaker.speak(read(TEXT, Language.MANDARIN), Language.MANDARIN, settings, "a").engine == "sherpa-onnx"
    )


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    settings = SpeechSettings(model_dir=tmp_path)
    with pytest.raises(EngineError, match="does not hold a model"):
        SherpaOnnxEngine().voice_for(Language.MANDARIN, settings)
