"""Fit the wake word head (standardize, dense+ReLU, dense, softmax) with Adam in numpy, deterministically."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

# The intent model's MLP has the same graph; its backward pass serves both.
from edge.mlp import gradients as mlp_gradients
from edge.tflite_model import MLPWeights


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: int,
    epochs: int,
    learning_rate: float,
    l2: float,
    negative_weight: float,
    seed: int,
    batch: int = 64,
) -> MLPWeights:
    """Train on float32 rows ``x`` with labels ``y`` (1 = wake); standardization is folded into layer 1."""
    try:
        from threadpoolctl import threadpool_limits

        # OpenBLAS threads spin on these small matrices: one thread is 10x faster here and on a busy Pi.
        limits: contextlib.AbstractContextManager[Any] = threadpool_limits(limits=1, user_api="blas")
    except ImportError:  # only slower
        limits = contextlib.nullcontext()
    with limits:
        return _fit(x, y, hidden, epochs, learning_rate, l2, negative_weight, seed, batch)


def _fit(
    x: np.ndarray,
    y: np.ndarray,
    hidden: int,
    epochs: int,
    learning_rate: float,
    l2: float,
    negative_weight: float,
    seed: int,
    batch: int,
) -> MLPWeights:
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-3
    z = ((x - mean) / std).astype(np.float32)
    features = z.shape[1]
    w1 = (rng.standard_normal((features, hidden)) * np.sqrt(2.0 / features)).astype(np.float32)
    b1 = np.zeros(hidden, dtype=np.float32)
    w2 = (rng.standard_normal((hidden, 2)) * np.sqrt(1.0 / hidden)).astype(np.float32)
    b2 = np.zeros(2, dtype=np.float32)
    params = [w1, b1, w2, b2]
    moments = [np.zeros_like(p) for p in params]
    velocities = [np.zeros_like(p) for p in params]
    # Balance the classes, then weigh negatives up: a false wake costs more than a repeated phrase.
    positives = max(int(y.sum()), 1)
    class_weight = np.array(
        [negative_weight * len(y) / (2 * (len(y) - positives)), len(y) / (2 * positives)], dtype=np.float32
    )
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(z))
        for start in range(0, len(z), batch):
            rows = order[start : start + batch]
            grads = mlp_gradients(params, z[rows], y[rows], class_weight)
            step += 1
            for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
                grad = grad + l2 * param if param.ndim == 2 else grad
                moments[i] = 0.9 * moments[i] + 0.1 * grad
                velocities[i] = 0.999 * velocities[i] + 0.001 * grad**2
                m_hat = moments[i] / (1 - 0.9**step)
                v_hat = velocities[i] / (1 - 0.999**step)
                param -= learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)
    # Fold (x - mean) / std into the first layer so the .tflite takes raw embeddings.
    scaled = w1 / std[:, None]
    return MLPWeights(
        w1=np.ascontiguousarray(scaled.T, dtype=np.float32),
        b1=(b1 - mean @ scaled).astype(np.float32),
        w2=np.ascontiguousarray(w2.T, dtype=np.float32),
        b2=b2.astype(np.float32),
    )


def merge_heads(heads: Sequence[MLPWeights]) -> MLPWeights:
    """One MLP whose logits are the mean of the heads' logits: their hidden layers side by side."""
    count = len(heads)
    return MLPWeights(
        w1=np.concatenate([h.w1 for h in heads]),
        b1=np.concatenate([h.b1 for h in heads]),
        w2=(np.concatenate([h.w2 for h in heads], axis=1) / count).astype(np.float32),
        b2=(np.sum([h.b2 for h in heads], axis=0) / count).astype(np.float32),
    )
