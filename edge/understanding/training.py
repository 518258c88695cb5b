"""Train the intent MLP on the device with numpy alone: Adam, softmax cross-entropy, a fixed seed.

The template sentences are split by a hash of their text (not the seed) into train (80 %), calibration
(10 %, picks the confidence threshold) and held-out test (10 %, never seen by training or calibration).
Training copies get recognizer-style noise (a dropped word, a sound-alike word) so the model tolerates
the mistakes of a small offline recognizer.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.mlp import gradients
from edge.tflite_model import MLPWeights, write_tflite
from edge.understanding.features import FeatureSettings, Lexicon, SparseRows
from edge.understanding.vocabulary import INTENTS, Vocabulary

log = logging.getLogger(__name__)

# How much more a wrongly accepted out-of-scope sentence costs than a refused command when the confidence
# threshold is picked: acting on what nobody asked for is the failure people remember.
REJECT_WEIGHT = 2.0
# The lowest threshold ever stored: a label the model gives less than an even chance is no decision.
MIN_THRESHOLD = 0.5

# Typical confusions of small offline recognizers (sound-alikes and near misses), used for augmentation.
_SOUNDALIKES = {
    "off": ["of", "up"],
    "on": ["an", "in"],
    "light": ["lite", "like", "right", "night", "lied"],
    "lights": ["likes", "lice", "nights"],
    "fan": ["van", "fun", "pan", "fin"],
    "turn": ["learn", "term", "tern"],
    "dim": ["them", "tim"],
    "dimmer": ["dinner", "timer"],
    "brighter": ["writer", "brighten"],
    "faster": ["master", "fast"],
    "slower": ["lower", "slow"],
    "speed": ["feed", "speak"],
    "switch": ["which", "itch"],
    "the": ["a", "uh"],
    "to": ["two", "too"],
    "percent": ["present", "per"],
    "lamp": ["lamb", "lump"],
    "please": ["plea", "police"],
}


@dataclass
class TrainResult:
    """A trained model with what it took to get it."""

    weights: MLPWeights
    manifest: dict[str, Any]
    model_bytes: bytes
    heldout_accuracy: float
    heldout_size: int
    train_size: int
    seconds: float
    heldout: list[tuple[str, str]] = field(default_factory=list)


def split_of(text: str) -> str:
    """``train``, ``calibrate`` or ``test`` for a template sentence, by a stable hash of its text."""
    bucket = zlib.crc32(text.encode()) % 10
    return "test" if bucket == 0 else "calibrate" if bucket == 1 else "train"


def augment(sentences: Sequence[tuple[str, str]], rng: random.Random, share: float) -> list[tuple[str, str]]:
    """Noisy copies of about ``share`` of the sentences: one word dropped or swapped for a sound-alike."""
    noisy: list[tuple[str, str]] = []
    for text, intent in sentences:
        if rng.random() >= share:
            continue
        words = text.split()
        swappable = [i for i, word in enumerate(words) if word in _SOUNDALIKES]
        if swappable and rng.random() < 0.7:
            i = rng.choice(swappable)
            words[i] = rng.choice(_SOUNDALIKES[words[i]])
        elif len(words) > 2:
            del words[rng.randrange(len(words))]
        noisy.append((" ".join(words), intent))
    return noisy


def train(
    vocabulary: Vocabulary,
    lexicon: Lexicon,
    *,
    seed: int = 0,
    hidden: int = 64,
    epochs: int = 14,
    settings: FeatureSettings | None = None,
    reject_weight: float = REJECT_WEIGHT,
) -> TrainResult:
    """Train on the vocabulary's sentences and return the model, its manifest and held-out accuracy."""
    started = time.perf_counter()
    settings = settings or FeatureSettings()
    labels = list(vocabulary.labels)
    sentences = vocabulary.labelled_sentences()
    parts: dict[str, list[tuple[str, str]]] = {"train": [], "calibrate": [], "test": []}
    for text, intent in sentences:
        parts[split_of(text)].append((text, intent))
    rng = random.Random(seed)
    training = parts["train"] + augment(parts["train"], rng, share=0.5)
    x = SparseRows.build([t for t, _ in training], lexicon, settings)
    y = np.array([labels.index(i) for _, i in training])
    weights = _fit(x, y, len(labels), hidden, epochs, np.random.default_rng(seed))
    threshold = _calibrate(weights, parts["calibrate"], labels, lexicon, settings, reject_weight)
    accuracy = evaluate(weights, parts["test"], labels, lexicon, settings, threshold)
    manifest = {
        "format": "edge-intent-mlp",
        "labels": labels,
        "features": settings.to_dict(),
        "threshold": round(threshold, 4),
        "hidden": hidden,
        "seed": seed,
        "weights_sha256": weights.digest(),
        "vocabulary_sha256": hashlib.sha256(repr(sentences).encode()).hexdigest(),
        "heldout_accuracy": round(accuracy, 4),
    }
    return TrainResult(
        weights=weights,
        manifest=manifest,
        model_bytes=write_tflite(weights, manifest),
        heldout_accuracy=accuracy,
        heldout_size=len(parts["test"]),
        train_size=len(training),
        seconds=time.perf_counter() - started,
        heldout=parts["test"],
    )


def _fit(
    x: SparseRows, y: np.ndarray, classes: int, hidden: int, epochs: int, rng: np.random.Generator
) -> MLPWeights:
    try:
        from threadpoolctl import threadpool_limits

        # OpenBLAS threads spin on these small products: one thread was 20x faster on a busy 2-core machine,
        # and one thread adds up in the same order every time (the same model bytes twice).
        limits: contextlib.AbstractContextManager[Any] = threadpool_limits(limits=1, user_api="blas")
    except ImportError:  # only slower
        limits = contextlib.nullcontext()
    with limits:
        return _fit_one_thread(x, y, classes, hidden, epochs, rng)


def _fit_one_thread(
    x: SparseRows, y: np.ndarray, classes: int, hidden: int, epochs: int, rng: np.random.Generator
) -> MLPWeights:
    features = x.dims
    params = [
        (rng.standard_normal((features, hidden)) * np.sqrt(2.0 / features)).astype(np.float32),
        np.zeros(hidden, np.float32),
        (rng.standard_normal((hidden, classes)) * np.sqrt(2.0 / hidden)).astype(np.float32),
        np.zeros(classes, np.float32),
    ]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    # Rare intents (stop_cancel has few templates) weigh more so they are not drowned out.
    counts = np.bincount(y, minlength=classes).astype(np.float32)
    class_weight = (counts.max() / np.maximum(counts, 1.0)) ** 0.5
    lr, beta1, beta2, decay, batch, step = 0.01, 0.9, 0.999, 1e-5, 256, 0
    for _epoch in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch):
            rows = order[start : start + batch]
            grads = gradients(params, x.dense(rows), y[rows], class_weight)
            step += 1
            for i, grad in enumerate(grads):
                grad = grad + decay * params[i]
                moments[i] = beta1 * moments[i] + (1 - beta1) * grad
                squares[i] = beta2 * squares[i] + (1 - beta2) * grad * grad
                corrected = moments[i] / (1 - beta1**step)
                params[i] -= (lr * corrected / (np.sqrt(squares[i] / (1 - beta2**step)) + 1e-8)).astype(
                    np.float32
                )
    return MLPWeights(params[0].T.copy(), params[1], params[2].T.copy(), params[3])


def forward(
    weights: MLPWeights, texts: Sequence[str], lexicon: Lexicon, settings: FeatureSettings
) -> np.ndarray:
    """Probabilities per text with the numpy reference, a block of rows at a time (bounded memory)."""
    rows = SparseRows.build(texts, lexicon, settings)
    blocks = [weights.forward(rows.dense(slice(start, start + 1024))) for start in range(0, len(rows), 1024)]
    return np.concatenate(blocks) if blocks else np.zeros((0, len(weights.b2)), np.float32)


def predict(
    weights: MLPWeights,
    texts: Sequence[str],
    labels: list[str],
    lexicon: Lexicon,
    settings: FeatureSettings,
    threshold: float,
) -> list[tuple[str, float]]:
    """(intent, confidence) per text with the numpy reference; below ``threshold`` is ``none``."""
    if not texts:
        return []
    probs = forward(weights, texts, lexicon, settings)
    result = []
    for row in probs:
        best = int(row.argmax())
        label = labels[best] if row[best] >= threshold else "none"
        result.append((label, float(row[best])))
    return result


def evaluate(
    weights: MLPWeights,
    data: Sequence[tuple[str, str]],
    labels: list[str],
    lexicon: Lexicon,
    settings: FeatureSettings,
    threshold: float,
) -> float:
    """Share of ``data`` classified right (1.0 when empty)."""
    predicted = predict(weights, [t for t, _ in data], labels, lexicon, settings, threshold)
    right = sum(p == want for (p, _), (_, want) in zip(predicted, data, strict=True))
    return right / len(data) if data else 1.0


def _calibrate(
    weights: MLPWeights,
    data: Sequence[tuple[str, str]],
    labels: list[str],
    lexicon: Lexicon,
    settings: FeatureSettings,
    reject_weight: float,
) -> float:
    """The threshold with the best weighted accuracy (in scope right, out of scope rejected): mid-plateau, >= 0.5."""
    if not data:
        return 0.5
    probs = forward(weights, [t for t, _ in data], lexicon, settings)
    best_label = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    want = np.array([labels.index(i) for _, i in data])
    # Out of scope: ``none`` and the internal unsupported labels, which also come out as ``none``.
    acts = np.array([label in INTENTS and label != "none" for label in labels])
    in_scope = acts[want]
    candidates = np.round(np.arange(0.3, 0.96, 0.01), 2)
    scores = []
    for t in candidates:
        accepted = acts[best_label] & (confidence >= t)
        right = (accepted & (best_label == want))[in_scope].mean() if in_scope.any() else 1.0
        rejected = (~accepted)[~in_scope].mean() if (~in_scope).any() else 1.0
        scores.append(round(float(right + reject_weight * rejected) / (1 + reject_weight), 4))
    top = max(scores)
    plateau = [float(t) for t, score in zip(candidates, scores, strict=True) if score == top]
    return max(plateau[len(plateau) // 2], MIN_THRESHOLD)
