"""openWakeWord's speech embeddings, computed by the real TFLite interpreter, one per 80 ms of audio.

pyopen-wakeword ships the two feature models (a melspectrogram and a speech embedding network trained by
Google on a large speech corpus). This module runs them with ai-edge-litert on one thread, framed exactly as
pyopen-wakeword's ``OpenWakeWordFeatures`` frames them (1760 samples per mel call, 1280-sample hop, mels
scaled by ``x / 10 + 2``, 76 mel frames per embedding). Training and detection share this one code path,
so the head is trained on the very numbers it sees at run time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import BackendMissingError

log = logging.getLogger(__name__)

HOP_SAMPLES = 1280  # one embedding per 80 ms
MEL_SAMPLES = 1760  # what the mel model sees per call: the hop plus 480 samples of history
EMBEDDING_MEL_FRAMES = 76  # 775 ms of mels per embedding
MEL_BINS = 32
EMBEDDING_SIZE = 96


def feature_models_dir() -> Path:
    """Folder of pyopen-wakeword's bundled melspectrogram and embedding models."""
    try:
        import pyopen_wakeword
    except ImportError:
        raise BackendMissingError("the custom wake word engine needs: pip install pyopen-wakeword") from None
    return Path(pyopen_wakeword.__file__).resolve().parent / "models"


def feature_models_version() -> str:
    """The pyopen-wakeword version whose feature models a head was trained on."""
    from importlib.metadata import version

    return version("pyopen-wakeword")


def _interpreter(path: Path, shape: list[int]) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    # One thread: the daemon runs beside ASR on a small board, and more threads only add spin-wait CPU here.
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], shape)
    interpreter.allocate_tensors()
    return interpreter


class EmbeddingStream:
    """Streaming 16 kHz int16 audio in, one 96-d embedding out per 1280 samples."""

    def __init__(self) -> None:
        models = feature_models_dir()
        self._mel = _interpreter(models / "melspectrogram.tflite", [1, MEL_SAMPLES])
        self._embedding = _interpreter(
            models / "embedding_model.tflite", [1, EMBEDDING_MEL_FRAMES, MEL_BINS, 1]
        )
        self._mel_in = self._mel.get_input_details()[0]["index"]
        self._mel_out = self._mel.get_output_details()[0]["index"]
        self._emb_in = self._embedding.get_input_details()[0]["index"]
        self._emb_out = self._embedding.get_output_details()[0]["index"]
        self.reset()

    def reset(self) -> None:
        """Forget all audio: the history becomes silence."""
        self._audio = np.zeros(MEL_SAMPLES, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        silence_mels = self._mels(self._audio)
        self._mels_window = np.tile(silence_mels[-1], (EMBEDDING_MEL_FRAMES, 1)).astype(np.float32)

    def _mels(self, audio: np.ndarray) -> np.ndarray:
        self._mel.set_tensor(self._mel_in, audio.reshape(1, MEL_SAMPLES))
        self._mel.invoke()
        mels = self._mel.get_tensor(self._mel_out).reshape(-1, MEL_BINS)
        return mels / 10.0 + 2.0

    def _advance(self, hop: np.ndarray) -> None:
        self._audio = np.concatenate([self._audio[HOP_SAMPLES:], hop])
        mels = self._mels(self._audio)
        self._mels_window = np.concatenate([self._mels_window[len(mels) :], mels])

    def _embed(self) -> np.ndarray:
        window = self._mels_window.reshape(1, EMBEDDING_MEL_FRAMES, MEL_BINS, 1)
        self._embedding.set_tensor(self._emb_in, window)
        self._embedding.invoke()
        return self._embedding.get_tensor(self._emb_out).reshape(EMBEDDING_SIZE).copy()

    def process(self, pcm: np.ndarray) -> Iterator[np.ndarray]:
        """Feed int16 samples; yield an embedding for every full 80 ms hop completed."""
        self._pending = np.concatenate([self._pending, pcm.astype(np.float32)])
        while len(self._pending) >= HOP_SAMPLES:
            hop, self._pending = self._pending[:HOP_SAMPLES], self._pending[HOP_SAMPLES:]
            self._advance(hop)
            yield self._embed()

    def embed(self, samples: np.ndarray, frames: Iterable[int] | None = None) -> np.ndarray:
        """Embeddings (frames x 96) of a whole int16 recording from silence; only ``frames`` if given.

        An embedding depends on the last 775 ms of audio only, so skipping the frames a caller does not
        need (while still computing the cheap mels) gives exactly the numbers a stream would.
        """
        self.reset()
        hops = len(samples) // HOP_SAMPLES
        wanted = set(range(hops)) if frames is None else set(frames)
        out = []
        for index in range(hops):
            self._advance(samples[index * HOP_SAMPLES : (index + 1) * HOP_SAMPLES].astype(np.float32))
            if index in wanted:
                out.append(self._embed())
        return np.stack(out) if out else np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
