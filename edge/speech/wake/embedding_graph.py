"""openWakeWord's speech embedding network as a graph: its shape, one model per input shape, and cutting it.

Shared by the streaming stages (``embedding_stages``), the int8 rewrite (``embedding_int8``) and its
calibration (``embedding_calibration``), so none of them has to import another for these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.tflite_model import schema

EMBEDDING_MEL_FRAMES = 76  # mel frames per embedding (775 ms)
MELS_PER_HOP = 8  # the network's time stride (three halvings): one embedding per 8 mel frames (80 ms)
MEL_BINS = 32


class SizedModel:
    """One TFLite model, with an interpreter per input shape (a TFLite tensor has one shape at a time)."""

    def __init__(self, path: Path | None = None, content: bytes | None = None) -> None:
        self._path = path
        self._content = content
        self._by_shape: dict[tuple[int, ...], Any] = {}

    def __call__(self, values: np.ndarray) -> np.ndarray:
        interpreter = self._by_shape.get(values.shape)
        if interpreter is None:
            from ai_edge_litert.interpreter import Interpreter

            # One thread: the daemon runs beside ASR on a small board, and more threads only add spin-wait.
            if self._content is not None:
                interpreter = Interpreter(model_content=self._content, num_threads=1)
            else:
                interpreter = Interpreter(model_path=str(self._path), num_threads=1)
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(values.shape))
            interpreter.allocate_tensors()
            self._by_shape[values.shape] = interpreter
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], values)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])  # type: ignore[no-any-return]


def cut_graph(content: bytes, first_op: int, last_op: int) -> bytes:
    """A model of operators ``first_op``..``last_op`` of ``content``'s graph (inputs: what they consume).

    Buffers the kept operators do not use are emptied, so a stage holds only its own weights.
    """
    import flatbuffers

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(content, 0))
    graph = model.subgraphs[0]
    operators = graph.operators[first_op : last_op + 1]
    produced = {index for op in operators for index in op.outputs}
    used = {index for op in operators for index in [*op.inputs, *op.outputs] if index >= 0}
    weights = {i for i in used if model.buffers[graph.tensors[i].buffer].data is not None}
    graph.operators = operators
    graph.inputs = sorted({i for op in operators for i in op.inputs if i >= 0} - produced - weights)
    graph.outputs = list(operators[-1].outputs)
    kept_buffers = {graph.tensors[i].buffer for i in used}
    for number, buffer in enumerate(model.buffers):
        if number not in kept_buffers:
            buffer.data = None
    model.signatureDefs = None  # the signature names the whole model's input and output
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
