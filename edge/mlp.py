"""The two-layer MLP's training arithmetic, shared by the intent model and the custom wake heads.

Kept below both stages so a wake head's trainer does not import understanding's (and the other way round).
"""

from __future__ import annotations

import numpy as np


def gradients(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, class_weight: np.ndarray
) -> list[np.ndarray]:
    """Softmax cross-entropy gradients of (w1, b1, w2, b2), each sample weighted by its class's weight."""
    w1, b1, w2, b2 = params
    pre = x @ w1 + b1
    hidden = np.maximum(pre, 0.0)
    logits = hidden @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    sample_weight = class_weight[y] / class_weight[y].sum()
    d_logits = probs
    d_logits[np.arange(len(y)), y] -= 1.0
    d_logits *= sample_weight[:, None]
    d_hidden = (d_logits @ w2.T) * (pre > 0)
    return [x.T @ d_hidden, d_hidden.sum(axis=0), hidden.T @ d_logits, d_logits.sum(axis=0)]
