"""Several pymicro-wakeword models over one feature stream, each step quantized once and invoked directly.

pymicro-wakeword's own ``process_streaming_prob`` does per model what only needs doing once per step
(concatenate and quantize the feature windows) and averages with ``statistics.mean``; on this machine that
Python work cost ~1.7 ms CPU per second of audio per model around a 0.6 ms TFLite invoke. Listening for a
second phrase must stay within +1 ms per second of audio, so the shared work is done once here and each model
is invoked through the library's own TFLite handles. ``tests/test_wake.py`` checks the probabilities equal
the library's own, step by step.
"""

from __future__ import annotations

import ctypes
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np


class SharedFeatureModels:
    """Averaged probabilities of several micro models fed the same features."""

    def __init__(self, models: Sequence[Any]) -> None:
        first = models[0]
        for model in models[1:]:
            if (model.stride, model.input_scale, model.input_zero_point, model.input_dtype) != (
                first.stride,
                first.input_scale,
                first.input_zero_point,
                first.input_dtype,
            ):
                raise ValueError("micro wake models with different inputs cannot share one feature stream")
        self.models = list(models)
        self._windows: list[np.ndarray] = []
        self._probabilities = [deque[float](maxlen=model.sliding_window_size) for model in models]
        self._outputs = [np.empty(1, dtype=model.output_dtype) for model in models]

    def process(self, features: np.ndarray) -> list[float] | None:
        """Take one feature window; every ``stride`` windows, each model's mean probability (0 until full)."""
        first = self.models[0]
        self._windows.append(features)
        if len(self._windows) < first.stride:
            return None
        quantized = np.round(
            np.concatenate(self._windows, axis=1) / first.input_scale + first.input_zero_point
        ).astype(first.input_dtype)
        self._windows.clear()
        pointer = quantized.ctypes.data_as(ctypes.c_void_p)
        results = []
        for model, output, recent in zip(self.models, self._outputs, self._probabilities, strict=True):
            # The handles are read on every call: the library's reset() reloads the interpreter.
            model.lib.TfLiteTensorCopyFromBuffer(model.input_tensor, pointer, quantized.nbytes)
            model.lib.TfLiteInterpreterInvoke(model.interpreter)
            model.lib.TfLiteTensorCopyToBuffer(
                model.output_tensor, output.ctypes.data_as(ctypes.c_void_p), output.nbytes
            )
            recent.append((float(output[0]) - model.output_zero_point) * model.output_scale)
            full = len(recent) == recent.maxlen
            results.append(sum(recent) / len(recent) if full else 0.0)
        return results

    def reset(self) -> None:
        """Forget the windows and the models' streaming state."""
        self._windows.clear()
        for model, recent in zip(self.models, self._probabilities, strict=True):
            model.reset()
            recent.clear()


class RecentAudio:
    """The last ``size`` int16 samples heard, for a second check of a wake."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._chunks: deque[np.ndarray] = deque()
        self._held = 0

    def add(self, samples: np.ndarray) -> None:
        """Keep ``samples``; drop whole chunks no longer needed."""
        self._chunks.append(samples)
        self._held += len(samples)
        while self._held - len(self._chunks[0]) >= self.size:
            self._held -= len(self._chunks.popleft())

    def samples(self) -> np.ndarray:
        """The last ``size`` samples (fewer at the start of a stream)."""
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks)[-self.size :]

    def clear(self) -> None:
        """Forget everything."""
        self._chunks.clear()
        self._held = 0
