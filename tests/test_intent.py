"""The intent classifier: LiteRT equals the numpy reference, training is deterministic, bad models are refused."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge.config import Config
from edge.errors import ModelError
from edge.tflite_model import read_tflite, write_tflite
from edge.understanding.features import Lexicon, featurize_many
from edge.understanding.intent import LiteRTIntentClassifier, load_classifier
from edge.understanding.training import TrainResult, train
from edge.understanding.unsupported import UNSUPPORTED
from edge.understanding.vocabulary import INTENTS, load_vocabulary

from .support import REPO

PARAPHRASES = REPO / "tests" / "data" / "paraphrases.yaml"
SHIPPED_MODEL = REPO / "models" / "intent.tflite"


@pytest.fixture(scope="module")
def small_training(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainResult, Path, Config]:
    """A quick model (few sentences per template), written to a file."""
    from edge.config import load_config

    from .support import SHIPPED_CONFIG

    config = load_config(SHIPPED_CONFIG, board_override="sim")
    vocabulary = replace(load_vocabulary(config.intent.vocabulary, config.devices), per_template=8)
    result = train(vocabulary, Lexicon.from_devices(config.devices), seed=3, epochs=4)
    path = tmp_path_factory.mktemp("model") / "small.tflite"
    path.write_bytes(result.model_bytes)
    return result, path, config


def _interpreters() -> list[str]:
    """ai-edge-litert always; tflite-runtime 2.14 too where it installs (it needs numpy < 2)."""
    found = ["litert"]
    if importlib.util.find_spec("tflite_runtime") is not None:
        found.append("tflite_runtime")
    return found


def _litert_matches_numpy(path: Path, config: Config, backend: str = "litert") -> None:
    classifier = LiteRTIntentClassifier(path, devices=config.devices, backend=backend)
    assert classifier.backend == backend
    texts = ["turn on the lamp", "fan to high", "what's the weather like", "", "dim them kitchen lite"]
    expected = classifier.weights.forward(featurize_many(texts, classifier.lexicon, classifier.settings))
    for text, want in zip(texts, expected, strict=True):
        assert np.allclose(classifier.probabilities(text), want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", _interpreters())
def test_shipped_model_interpreter_equals_numpy_reference(shipped_config: Config, backend: str) -> None:
    _litert_matches_numpy(SHIPPED_MODEL, shipped_config, backend)


def test_fresh_model_litert_equals_numpy_reference(small_training: tuple[TrainResult, Path, Config]) -> None:
    _result, path, config = small_training
    _litert_matches_numpy(path, config)


def test_training_is_deterministic(small_training: tuple[TrainResult, Path, Config]) -> None:
    first, _path, config = small_training
    vocabulary = replace(load_vocabulary(config.intent.vocabulary, config.devices), per_template=8)
    again = train(vocabulary, Lexicon.from_devices(config.devices), seed=3, epochs=4)
    assert again.model_bytes == first.model_bytes
    other = train(vocabulary, Lexicon.from_devices(config.devices), seed=4, epochs=4)
    assert other.model_bytes != first.model_bytes


def test_model_round_trips_with_its_manifest(small_training: tuple[TrainResult, Path, Config]) -> None:
    result, path, _config = small_training
    manifest, weights = read_tflite(path.read_bytes(), str(path))
    assert manifest == json.loads(json.dumps(result.manifest))
    assert weights.digest() == manifest["weights_sha256"]
    assert manifest["labels"] == [*INTENTS, *UNSUPPORTED] and 0.0 < manifest["threshold"] < 1.0


def test_shipped_model_is_small_and_classifies(shipped_config: Config) -> None:
    classifier = load_classifier(shipped_config.intent, shipped_config.devices)
    models = sum(path.stat().st_size for path in (REPO / "models").rglob("*") if path.is_file())
    assert models <= 30 * 1024 * 1024  # issue 18: everything in models/ stays within 30 MB
    assert SHIPPED_MODEL.stat().st_size <= 4 * 1024 * 1024  # the n-gram MLP alone, a small part of it
    assert classifier.classify("please switch on the lamp")[0] == "light_on"
    assert classifier.classify("set the ceiling fan to high")[0] == "fan_set_speed"
    assert classifier.classify("how's the weather tomorrow")[0] == "none"
    assert classifier.classify("   ") == ("none", 0.0)


def test_paraphrase_accuracy_meets_the_target(shipped_config: Config) -> None:
    data = yaml.safe_load(PARAPHRASES.read_text())
    assert len(data["in_scope"]) + len(data["out_of_scope"]) >= 120 and len(data["out_of_scope"]) >= 40
    classifier = load_classifier(shipped_config.intent, shipped_config.devices)
    right = [classifier.classify(item["text"])[0] == item["intent"] for item in data["in_scope"]]
    rejected = [classifier.classify(text)[0] == "none" for text in data["out_of_scope"]]
    assert sum(right) / len(right) >= 0.95
    assert sum(rejected) / len(rejected) >= 0.95


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)),
        lambda data: b"",
        lambda data: b"GIF89a this is not a model at all",
        lambda data: data[:8] + bytes(len(data) - 8),
        lambda data: (
            data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1 :]
        ),
    ],
    ids=["truncated", "random", "empty", "not-tflite", "zeroed", "one-byte-flipped"],
)
def test_corrupt_models_give_one_clear_error(tmp_path: Path, damage, shipped_config: Config) -> None:
    path = tmp_path / "broken.tflite"
    path.write_bytes(damage(SHIPPED_MODEL.read_bytes()))
    with pytest.raises(ModelError) as caught:
        LiteRTIntentClassifier(path, devices=shipped_config.devices)
    message = str(caught.value)
    assert message.startswith(str(path)) and "edge train" in message and "\n" not in message


def _rewrite_manifest(tmp_path: Path, change) -> Path:
    manifest, weights = read_tflite(SHIPPED_MODEL.read_bytes(), "shipped")
    change(manifest)
    path = tmp_path / "mismatched.tflite"
    path.write_bytes(write_tflite(weights, manifest))
    return path


def test_model_for_other_feature_code_is_refused(tmp_path: Path) -> None:
    path = _rewrite_manifest(tmp_path, lambda m: m["features"].update(version=99))
    with pytest.raises(
        ModelError, match=r"mismatched.tflite: model uses text features v99.*run `edge train`"
    ):
        LiteRTIntentClassifier(path)


def test_model_for_other_intents_is_refused(tmp_path: Path) -> None:
    path = _rewrite_manifest(tmp_path, lambda m: m.update(labels=[*m["labels"][:-1], "weather"]))
    with pytest.raises(ModelError, match=r"model intents .* differ from edge's .*run `edge train`"):
        LiteRTIntentClassifier(path)


def test_missing_model_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read model"):
        LiteRTIntentClassifier(tmp_path / "absent.tflite")
