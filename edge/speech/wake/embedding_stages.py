"""openWakeWord's speech embedding network, cut at its time poolings and run as a stream.

The embedding model turns 76 mel frames into one embedding, and 76 + 8*(k-1) frames into k of them: its
convolutions are "valid" in time and three max-poolings halve the time axis. Run on a sliding window, most
of its work redoes rows it computed for the previous window. So the graph is cut into stages after each
time-halving pooling but the last, and each stage keeps the last rows of its own input, the context its
convolutions need, between calls: a step of k new hops then costs the k hops' rows and a little context
(about 1.5x less than the whole window at 8 hops, with identical numbers).

The stages are sub-graphs of the bundled model itself, cut from its flatbuffer through the TFLite schema
(no weights are copied or changed), and the cut is checked against the whole model when it is made.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import numpy as np

from edge.errors import ModelError
from edge.speech.wake.embedding_graph import (
    EMBEDDING_MEL_FRAMES,
    MEL_BINS,
    MELS_PER_HOP,
    SizedModel,
    cut_graph,
)
from edge.speech.wake.embedding_int8 import load_ranges, quantize_embedding
from edge.speech.wake.head_file import EMBEDDING_SIZE, Precision
from edge.tflite_model import schema


def _halving_poolings(content: bytes) -> list[int]:
    """The operator index of every MAX_POOL_2D that halves time, for one 76-frame window; [] if none."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=content, num_threads=1)
        interpreter.resize_tensor_input(
            interpreter.get_input_details()[0]["index"], [1, EMBEDDING_MEL_FRAMES, MEL_BINS, 1]
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError):  # the interpreter's words for a model of another shape
        return []
    details = interpreter.get_tensor_details()
    poolings = []
    for op in interpreter._get_ops_details():  # the public API has no operator list
        if op["op_name"] == "MAX_POOL_2D":
            rows_in = int(details[op["inputs"][0]]["shape"][1])
            rows_out = int(details[op["outputs"][0]]["shape"][1])
            if rows_out * 2 == rows_in:
                poolings.append(int(op["index"]))
    return poolings


class StagedEmbedding:
    """The embedding network as stages that keep their context, fed MELS_PER_HOP mel frames a hop.

    ``start(mels)`` embeds a whole window from scratch (76 + 8*(k-1) frames, k embeddings) and remembers the
    context; ``advance(mels)`` then takes only the 8*k frames that follow and returns their k embeddings.
    ``forget()`` drops the context (the next call must be ``start``), as after a gap in the audio.
    """

    def __init__(self, path: Path, precision: Precision = "int8") -> None:
        unknown = f"{path}: not the speech embedding model edge knows (pyopen-wakeword changed?)"
        try:
            content = path.read_bytes()
        except OSError as err:
            raise ModelError(
                f"{path}: cannot read the speech embedding model: {err.strerror or err}"
            ) from None
        self.precision = precision
        poolings = _halving_poolings(content)
        if len(poolings) != 3:
            raise ModelError(unknown)
        if precision == "int8":
            content = _int8_model(content, str(path))
            poolings = _halving_poolings(content)  # QUANTIZE and DEQUANTIZE operators moved them
        graphs = _stage_graphs(content, poolings[0], poolings[1])
        self._stages = [SizedModel(content=graph) for graph in graphs]
        # A stage's context: the input rows it reads beyond twice its output rows (every stage halves time).
        rows = self._stage_rows(np.zeros((1, EMBEDDING_MEL_FRAMES, MEL_BINS, 1), dtype=np.float32))
        self.contexts = [rows_in - 2 * rows_out for rows_in, rows_out in itertools.pairwise(rows)]
        self._kept: list[np.ndarray] | None = None
        self._check(path, content)
        # Fresh interpreters: those of the probe shapes above would hold their memory for nothing.
        self._stages = [SizedModel(content=graph) for graph in graphs]

    def _stage_rows(self, window: np.ndarray) -> list[int]:
        rows = [window.shape[1]]
        values = window
        for stage in self._stages:
            values = stage(values)
            rows.append(values.shape[1])
        return rows

    def _check(self, path: Path, content: bytes) -> None:
        """The stages, started and then advanced, must give the whole model's numbers."""
        rng = np.random.default_rng(0)
        hops = 4
        mels = rng.uniform(0, 3, (1, EMBEDDING_MEL_FRAMES + MELS_PER_HOP * (2 * hops - 1), MEL_BINS, 1))
        mels = mels.astype(np.float32)
        expected = SizedModel(content=content)(mels).reshape(-1, EMBEDDING_SIZE)
        split = EMBEDDING_MEL_FRAMES + MELS_PER_HOP * (hops - 1)
        got = np.concatenate([self.start(mels[:, :split]), self.advance(mels[:, split:])])
        self.forget()
        if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-4):
            raise ModelError(
                f"{path}: the embedding model's stages differ from the model; edge needs an update"
            )

    @property
    def started(self) -> bool:
        """True while the stages hold the context of the audio just before the next ``advance``."""
        return self._kept is not None

    def forget(self) -> None:
        """Drop the kept context: the next frames do not follow the last ones."""
        self._kept = None

    def start(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings (k x 96) of a whole window of 76 + 8*(k-1) mel frames, shaped (1, frames, 32, 1)."""
        kept = []
        values = mels
        for stage, context in zip(self._stages, self.contexts, strict=True):
            kept.append(values[:, values.shape[1] - context :])
            values = stage(values)
        self._kept = kept
        return values.reshape(-1, EMBEDDING_SIZE).copy()

    def advance(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings of the 8*k mel frames that follow those seen last (after ``start``)."""
        if self._kept is None:
            raise RuntimeError("StagedEmbedding.advance before start")
        values = mels
        for number, stage in enumerate(self._stages):
            values = np.concatenate([self._kept[number], values], axis=1)
            self._kept[number] = values[:, values.shape[1] - self.contexts[number] :]
            values = stage(values)
        return values.reshape(-1, EMBEDDING_SIZE).copy()


@functools.cache
def _int8_model(content: bytes, source: str) -> bytes:
    """The int8 network, made once per process (about 100 ms)."""
    return quantize_embedding(content, load_ranges(), source)


@functools.cache
def _stage_graphs(content: bytes, first_end: int, second_end: int) -> tuple[bytes, bytes, bytes]:
    """The three stages: to the end of the first two time poolings, then to the end of the graph.

    Cached: cutting takes about 150 ms, and training makes an embedding stream per worker thread.
    """
    operators = int(schema().Model.GetRootAsModel(content, 0).Subgraphs(0).OperatorsLength())
    bounds = ((0, first_end), (first_end + 1, second_end), (second_end + 1, operators - 1))
    first, second, third = (cut_graph(content, start, end) for start, end in bounds)
    return first, second, third
