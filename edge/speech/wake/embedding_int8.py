"""openWakeWord's speech embedding network with int8 convolutions, made at load time from the bundled model.

Every convolution but the last gets a QUANTIZE before it and a DEQUANTIZE after it: its weights become int8
per output channel, its input and output int8 with one fixed range each, and the leaky ReLUs, clamps and
poolings between convolutions stay float. Under XNNPACK that is about 3x faster than the float network.
The ranges were measured once on this project's own synthetic speech and noise (``calibrate``, below) and
are committed in ``models/wake_embedding_int8.json`` with the sha256 of the float model they belong to.

Integer convolutions are exact, so the numbers still do not depend on how many hops a call computes: the
stages of ``edge.speech.wake.embedding_stages`` and the batches of training give the same embeddings. They are
not the float network's numbers (about 7 % apart, relative L2, on speech), so a head trained on int8
embeddings runs on int8 embeddings and one trained on float runs on float; openWakeWord's pretrained heads
were trained on float. The last convolution stays float: quantizing it costs accuracy and saves nothing.

Regenerate the ranges (only needed if pyopen-wakeword ships another embedding model; heads trained before
must then be trained again): ``python -m edge.speech.wake.embedding_calibration``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import ModelError
from edge.speech.wake.head_file import ranges_path
from edge.tflite_model import schema


def load_ranges(path: Path | None = None) -> dict[str, Any]:
    """The committed ranges file: {"model_sha256", "convolutions": [[in_lo, in_hi, out_lo, out_hi], ...]}."""
    path = path or ranges_path()
    try:
        ranges = json.loads(path.read_text())
        convolutions = [[float(v) for v in row] for row in ranges["convolutions"]]
        model_sha256 = str(ranges["model_sha256"])
    except OSError as err:
        raise ModelError(f"{path}: cannot read the int8 embedding ranges: {err.strerror or err}") from None
    except (ValueError, KeyError, TypeError):
        raise ModelError(f"{path}: not an int8 embedding ranges file; regenerate it") from None
    if not convolutions or any(len(row) != 4 for row in convolutions):
        raise ModelError(f"{path}: convolutions must be rows of [in_lo, in_hi, out_lo, out_hi]")
    return {**ranges, "convolutions": convolutions, "model_sha256": model_sha256}


def _activation(low: float, high: float) -> tuple[float, int]:
    """(scale, zero point) of an int8 tensor covering low..high (and 0, which must be exact)."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = max(high - low, 1e-6) / 255.0
    return scale, int(np.clip(round(-128 - low / scale), -128, 127))


def conv_operators(model: Any) -> list[int]:
    s = schema()
    codes = [oc.builtinCode or oc.deprecatedBuiltinCode for oc in model.operatorCodes]
    graph = model.subgraphs[0]
    return [i for i, op in enumerate(graph.operators) if codes[op.opcodeIndex] == s.BuiltinOperator.CONV_2D]


def quantize_embedding(content: bytes, ranges: dict[str, Any], source: str) -> bytes:
    """The float embedding model ``content`` with int8 convolutions (all but the last), as .tflite bytes."""
    import flatbuffers

    if hashlib.sha256(content).hexdigest() != ranges["model_sha256"]:
        raise ModelError(
            f"{source}: the int8 ranges were measured on another embedding model (pyopen-wakeword "
            "changed?); regenerate them with `python -m edge.speech.wake.embedding_calibration`"
        )
    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(content, 0))
    graph = model.subgraphs[0]
    convolutions = conv_operators(model)
    if len(convolutions) != len(ranges["convolutions"]) + 1:
        raise ModelError(f"{source}: {len(convolutions)} convolutions, the int8 ranges are for another model")

    def opcode(code: int, version: int) -> int:
        for index, existing in enumerate(model.operatorCodes):
            if (existing.builtinCode or existing.deprecatedBuiltinCode) == code:
                existing.version = max(existing.version, version)
                return index
        added = s.OperatorCodeT()
        added.builtinCode, added.deprecatedBuiltinCode, added.version = code, min(code, 127), version
        model.operatorCodes.append(added)
        return len(model.operatorCodes) - 1

    def quantization(scale: Any, zero_point: Any) -> Any:
        params = s.QuantizationParametersT()
        params.scale = [float(v) for v in np.atleast_1d(scale)]
        params.zeroPoint = [int(v) for v in np.atleast_1d(zero_point)]
        params.quantizedDimension = 0
        return params

    def int8_tensor(like: Any, name: str, scale: float, zero_point: int) -> int:
        tensor = s.TensorT()
        tensor.shape, tensor.type, tensor.buffer = list(like.shape), s.TensorType.INT8, 0
        tensor.name, tensor.quantization = name.encode(), quantization(scale, zero_point)
        graph.tensors.append(tensor)
        return len(graph.tensors) - 1

    def constant(tensor: Any, values: np.ndarray, kind: int, scale: np.ndarray) -> None:
        model.buffers[tensor.buffer].data = np.frombuffer(values.tobytes(), dtype=np.uint8)
        tensor.type, tensor.quantization = kind, quantization(scale, np.zeros(len(scale), dtype=np.int64))

    quantize, dequantize = opcode(s.BuiltinOperator.QUANTIZE, 2), opcode(s.BuiltinOperator.DEQUANTIZE, 2)
    opcode(s.BuiltinOperator.CONV_2D, 3)  # version 3: int8 with per-channel weights
    by_operator = dict(zip(convolutions, ranges["convolutions"], strict=False))
    operators = []
    for index, op in enumerate(graph.operators):
        if index not in by_operator:
            operators.append(op)
            continue
        in_low, in_high, out_low, out_high = by_operator[index]
        source_in, weights, bias = op.inputs
        source_out = op.outputs[0]
        in_scale, in_zero = _activation(in_low, in_high)
        out_scale, out_zero = _activation(out_low, out_high)
        w_tensor, b_tensor = graph.tensors[weights], graph.tensors[bias]
        w = np.frombuffer(bytes(model.buffers[w_tensor.buffer].data), dtype=np.float32).reshape(
            w_tensor.shape
        )
        b = np.frombuffer(bytes(model.buffers[b_tensor.buffer].data), dtype=np.float32)
        w_scale = np.maximum(np.abs(w).reshape(len(w), -1).max(axis=1) / 127.0, 1e-12)
        w_int8 = np.clip(np.round(w / w_scale[:, None, None, None]), -127, 127).astype(np.int8)
        constant(w_tensor, w_int8, s.TensorType.INT8, w_scale)
        constant(
            b_tensor,
            np.round(b / (in_scale * w_scale)).astype(np.int32),
            s.TensorType.INT32,
            in_scale * w_scale,
        )
        q_in = int8_tensor(graph.tensors[source_in], f"conv{index}_int8_in", in_scale, in_zero)
        q_out = int8_tensor(graph.tensors[source_out], f"conv{index}_int8_out", out_scale, out_zero)
        before, after = s.OperatorT(), s.OperatorT()
        before.opcodeIndex, before.inputs, before.outputs = quantize, [source_in], [q_in]
        after.opcodeIndex, after.inputs, after.outputs = dequantize, [q_out], [source_out]
        op.inputs, op.outputs = [q_in, weights, bias], [q_out]
        operators += [before, op, after]
    graph.operators = operators
    model.signatureDefs = None
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
