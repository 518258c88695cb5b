"""Intent classifier benchmark: accuracy, out-of-scope rejection, speed and size of the shipped model.

    python -m bench.intent_bench [--quick]

Measured on (1) template sentences of the held-out split the trainer never saw and (2) the hand-written
paraphrases in tests/data/paraphrases.yaml, next to exact template matching (Rhasspy's approach: a sentence
is understood only if the grammar generates it word for word) on the same paraphrases, and (3) the three real
third-party development sets in ../shared/eval (bench/intent_dev.py; skipped with a message when absent).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bench import intent_dev
from edge.config import Config, load_config
from edge.understanding.features import Lexicon, tokens
from edge.understanding.intent import LiteRTIntentClassifier
from edge.understanding.templates import Node
from edge.understanding.training import split_of, train
from edge.understanding.vocabulary import Vocabulary, load_vocabulary

REPO = Path(__file__).resolve().parent.parent
PARAPHRASES = REPO / "tests" / "data" / "paraphrases.yaml"


def load_paraphrases(path: Path = PARAPHRASES) -> tuple[list[dict[str, Any]], list[str]]:
    """(in-scope entries with text/intent/asr, out-of-scope texts)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["in_scope"]), list(data["out_of_scope"])


def template_match(vocabulary: Vocabulary, text: str) -> str:
    """The intent whose templates generate ``text`` exactly, else ``none`` (Rhasspy-style matching)."""
    words = tuple(tokens(text))
    for intent, _text, node in vocabulary.templates:
        if intent != "none" and len(words) in _ends(node, words, 0):
            return intent
    return "none"


def _ends(node: Node, words: tuple[str, ...], start: int) -> frozenset[int]:
    return _ends_cached(node, words, start)


@cache
def _ends_cached(node: Node, words: tuple[str, ...], start: int) -> frozenset[int]:
    if node.options:
        return frozenset().union(*(_ends_cached(o, words, start) for o in node.options))
    if not node.parts:
        size = len(node.words)
        return frozenset({start + size}) if words[start : start + size] == node.words else frozenset()
    positions = frozenset({start})
    for part in node.parts:
        positions = frozenset().union(*(_ends_cached(part, words, p) for p in positions))
        if not positions:
            break
    return positions


def _score(predict: Any, in_scope: list[dict[str, Any]], out_of_scope: list[str]) -> dict[str, Any]:
    right = [predict(item["text"]) == item["intent"] for item in in_scope]
    asr = [ok for ok, item in zip(right, in_scope, strict=True) if item.get("asr")]
    rejected = [predict(text) == "none" for text in out_of_scope]
    return {
        "in_scope_accuracy": round(sum(right) / len(right), 4),
        "asr_error_accuracy": round(sum(asr) / len(asr), 4) if asr else None,
        "out_of_scope_rejected": round(sum(rejected) / len(rejected), 4),
        "in_scope": len(right),
        "asr_errors": len(asr),
        "out_of_scope": len(rejected),
    }


def _timing(classifier: LiteRTIntentClassifier, texts: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        for text in texts:
            started = time.perf_counter()
            classifier.classify(text)
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def _backends(config: Config, texts: list[str], repeats: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for backend in ("tflite_c", "litert", "tflite_runtime"):
        try:
            classifier = LiteRTIntentClassifier(config.intent.model, devices=config.devices, backend=backend)
        except ImportError as err:
            result[backend] = {"available": False, "why": str(err)}
            continue
        result[backend] = {"available": True, "median_classify_ms": _timing(classifier, texts, repeats)}
    return result


def _dev_sets() -> dict[str, Any]:
    """The real third-party development sets (see bench/intent_dev.py), without the lists of misses."""
    return intent_dev.run_all()


def run(quick: bool) -> dict[str, Any]:
    """Measure the shipped model (and, unless quick, a fresh training run) on the shipped config."""
    config = load_config(REPO / "edge.yaml", board_override="sim")
    vocabulary = load_vocabulary(config.intent.vocabulary, config.devices)
    classifier = LiteRTIntentClassifier(config.intent.model, devices=config.devices)
    in_scope, out_of_scope = load_paraphrases()
    heldout = [(text, intent) for text, intent in vocabulary.sentences() if split_of(text) == "test"]
    heldout_right = sum(classifier.classify(text)[0] == intent for text, intent in heldout)
    texts = [item["text"] for item in in_scope] + out_of_scope
    result: dict[str, Any] = {
        "model_file": str(config.intent.model),
        "model_bytes": config.intent.model.stat().st_size,
        "model": classifier.describe(),
        "threshold": classifier.threshold,
        "heldout_templates": {"accuracy": round(heldout_right / len(heldout), 4), "sentences": len(heldout)},
        "paraphrases_classifier": _score(lambda t: classifier.classify(t)[0], in_scope, out_of_scope),
        "paraphrases_exact_templates": _score(
            lambda t: template_match(vocabulary, t), in_scope, out_of_scope
        ),
        "median_classify_ms": _timing(classifier, texts, 1 if quick else 5),
        "backends": _backends(config, texts, 1 if quick else 3),
        "dev_sets": _dev_sets(),
    }
    if not quick:
        started = time.perf_counter()
        trained = train(vocabulary, Lexicon.from_devices(config.devices), seed=0)
        result["training"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "sentences": trained.train_size,
            "same_bytes_as_shipped": trained.model_bytes == config.intent.model.read_bytes(),
        }
    return result


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv[1:]), indent=2))
