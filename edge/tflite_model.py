"""The intent model as a .tflite flatbuffer: a two-layer MLP plus a JSON manifest in its metadata.

Written through the official TFLite schema (``schema_py_generated``, shipped inside ai-edge-litert) with only
ops that tflite-runtime 2.14 already runs: FULLY_CONNECTED v1 (fused RELU) and SOFTMAX v1, float32.
The manifest (metadata buffer ``edge_manifest``) carries the labels, feature settings, threshold and the
sha256 of the weights, so a file that was cut short or altered is refused before any inference.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import struct
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from edge.errors import BackendMissingError, ModelError

MANIFEST_NAME = "edge_manifest"
FILE_IDENTIFIER = b"TFL3"
_SCHEMA_MODULES = (
    "ai_edge_litert.schema_py_generated",
    "tflite_runtime.schema_py_generated",
    "tensorflow.lite.python.schema_py_generated",
)


def schema() -> ModuleType:
    """Import the generated TFLite schema from whichever package ships it."""
    for name in _SCHEMA_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise BackendMissingError(
        "the TFLite schema (schema_py_generated) was not found: pip install ai-edge-litert flatbuffers"
    )


@dataclass(frozen=True)
class MLPWeights:
    """input (F) -> FULLY_CONNECTED+RELU (H) -> FULLY_CONNECTED (C) -> SOFTMAX; matrices are (out, in)."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The numpy reference of the TFLite graph: probabilities for a batch (N x F)."""
        hidden = np.maximum(x @ self.w1.T + self.b1, 0.0)
        logits = hidden @ self.w2.T + self.b2
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def digest(self) -> str:
        """sha256 of the raw float32 weights in graph order."""
        sha = hashlib.sha256()
        for array in (self.w1, self.b1, self.w2, self.b2):
            sha.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
        return sha.hexdigest()


def _tensor(s: ModuleType, name: str, shape: list[int], buffer: int) -> Any:
    tensor = s.TensorT()
    tensor.name, tensor.shape, tensor.type, tensor.buffer = name, shape, s.TensorType.FLOAT32, buffer
    return tensor


def _buffer(s: ModuleType, data: bytes | None) -> Any:
    buffer = s.BufferT()
    if data is not None:
        buffer.data = np.frombuffer(data, dtype=np.uint8)
    return buffer


def _operator(s: ModuleType, code: int, inputs: list[int], outputs: list[int], options: Any) -> Any:
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = code, inputs, outputs
    if isinstance(options, s.FullyConnectedOptionsT):
        op.builtinOptionsType = s.BuiltinOptions.FullyConnectedOptions
    else:
        op.builtinOptionsType = s.BuiltinOptions.SoftmaxOptions
    op.builtinOptions = options
    return op


def write_tflite(
    weights: MLPWeights, manifest: dict[str, Any], description: str = "edge intent classifier"
) -> bytes:
    """Serialize the MLP and its manifest; the same inputs give the same bytes."""
    import flatbuffers

    s = schema()
    hidden, features = weights.w1.shape
    classes = weights.w2.shape[0]
    raw = [
        np.ascontiguousarray(a, dtype="<f4").tobytes()
        for a in (weights.w1, weights.b1, weights.w2, weights.b2)
    ]
    # Buffer 0 is the empty sentinel the format requires; activations get empty buffers too.
    buffers = [_buffer(s, None), _buffer(s, None), *(_buffer(s, data) for data in raw[:2])]
    buffers += [_buffer(s, None), *(_buffer(s, data) for data in raw[2:]), _buffer(s, None), _buffer(s, None)]
    tensors = [
        _tensor(s, "features", [1, features], 1),
        _tensor(s, "dense1/weights", [hidden, features], 2),
        _tensor(s, "dense1/bias", [hidden], 3),
        _tensor(s, "dense1/relu", [1, hidden], 4),
        _tensor(s, "dense2/weights", [classes, hidden], 5),
        _tensor(s, "dense2/bias", [classes], 6),
        _tensor(s, "logits", [1, classes], 7),
        _tensor(s, "probabilities", [1, classes], 8),
    ]
    relu = s.FullyConnectedOptionsT()
    relu.fusedActivationFunction = s.ActivationFunctionType.RELU
    softmax = s.SoftmaxOptionsT()
    softmax.beta = 1.0
    subgraph = s.SubGraphT()
    subgraph.tensors, subgraph.inputs, subgraph.outputs, subgraph.name = tensors, [0], [7], "main"
    subgraph.operators = [
        _operator(s, 0, [0, 1, 2], [3], relu),
        _operator(s, 0, [3, 4, 5], [6], s.FullyConnectedOptionsT()),
        _operator(s, 1, [6], [7], softmax),
    ]
    codes = []
    for builtin in (s.BuiltinOperator.FULLY_CONNECTED, s.BuiltinOperator.SOFTMAX):
        code = s.OperatorCodeT()
        code.deprecatedBuiltinCode, code.builtinCode, code.version = builtin, builtin, 1
        codes.append(code)
    metadata = s.MetadataT()
    metadata.name, metadata.buffer = MANIFEST_NAME, len(buffers)
    buffers.append(_buffer(s, json.dumps(manifest, sort_keys=True).encode()))
    model = s.ModelT()
    model.version, model.description = 3, description
    model.operatorCodes, model.subgraphs, model.buffers, model.metadata = (
        codes,
        [subgraph],
        buffers,
        [metadata],
    )
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def read_tflite(data: bytes, source: str) -> tuple[dict[str, Any], MLPWeights]:
    """Return (manifest, weights) of a model written by ``write_tflite``; ModelError if it is not one."""
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise ModelError(f"{source}: not a TFLite model (run `edge train` to rebuild it)")
    try:
        # Read with flatbuffers' Table, not the generated schema: importing that module alone costs the
        # daemon ~7 MB of resident memory (measured), for four arrays and a JSON string.
        model = _Table.root(bytearray(data))
        buffers = model.tables(_MODEL_BUFFERS)
        manifest_index = next(
            meta.scalar(_METADATA_BUFFER, "<I")
            for meta in model.tables(_MODEL_METADATA)
            if meta.text(_METADATA_NAME) == MANIFEST_NAME
        )
        manifest = json.loads(buffers[manifest_index].bytes(_BUFFER_DATA).decode())
        tensors = model.tables(_MODEL_SUBGRAPHS)[0].tables(_SUBGRAPH_TENSORS)
        arrays = []
        for index in (1, 2, 4, 5):
            tensor = tensors[index]
            raw = buffers[tensor.scalar(_TENSOR_BUFFER, "<I")].bytes(_BUFFER_DATA)
            shape = np.frombuffer(tensor.bytes(_TENSOR_SHAPE, item_bytes=4), dtype="<i4")
            arrays.append(np.frombuffer(raw, dtype="<f4").reshape([int(d) for d in shape]).astype(np.float32))
    except BackendMissingError:
        raise
    except StopIteration:
        raise ModelError(
            f"{source}: no edge manifest in this model (run `edge train` to rebuild it)"
        ) from None
    except Exception as err:  # any malformed flatbuffer: the parser raises many kinds
        raise ModelError(
            f"{source}: corrupt model file ({type(err).__name__}; run `edge train` to rebuild it)"
        ) from None
    weights = MLPWeights(*arrays)
    if not isinstance(manifest, dict) or manifest.get("weights_sha256") != weights.digest():
        raise ModelError(
            f"{source}: model weights do not match their manifest (run `edge train` to rebuild it)"
        )
    return manifest, weights


# Field numbers of the TFLite schema (schema.fbs) that read_tflite needs.
_MODEL_SUBGRAPHS, _MODEL_BUFFERS, _MODEL_METADATA = 2, 4, 6
_SUBGRAPH_TENSORS = 0
_TENSOR_SHAPE, _TENSOR_BUFFER = 0, 2
_BUFFER_DATA = 0
_METADATA_NAME, _METADATA_BUFFER = 0, 1


class _Table:
    """One flatbuffer table: its fields by number (offsets are checked by struct and by slicing)."""

    def __init__(self, buf: bytearray, position: int) -> None:
        self.buf = buf
        self.position = position
        self.vtable = position - struct.unpack_from("<i", buf, position)[0]

    @classmethod
    def root(cls, buf: bytearray) -> _Table:
        """The buffer's root table."""
        return cls(buf, struct.unpack_from("<I", buf, 0)[0])

    def _field(self, number: int) -> int:
        vtable_size = struct.unpack_from("<H", self.buf, self.vtable)[0]
        slot = 4 + 2 * number
        offset = struct.unpack_from("<H", self.buf, self.vtable + slot)[0] if slot < vtable_size else 0
        return self.position + offset if offset else 0

    def _vector(self, number: int) -> tuple[int, int]:
        field = self._field(number)
        if not field:
            return 0, 0
        start = field + struct.unpack_from("<I", self.buf, field)[0]
        return start + 4, struct.unpack_from("<I", self.buf, start)[0]

    def scalar(self, number: int, fmt: str) -> int:
        """An integer field (0 when absent, as flatbuffers defaults it)."""
        field = self._field(number)
        return int(struct.unpack_from(fmt, self.buf, field)[0]) if field else 0

    def bytes(self, number: int, item_bytes: int = 1) -> bytes:
        """A vector of scalars (or a string) as raw bytes."""
        start, length = self._vector(number)
        data = bytes(self.buf[start : start + length * item_bytes])
        if len(data) != length * item_bytes:
            raise ValueError("vector runs past the end of the buffer")
        return data

    def text(self, number: int) -> str:
        """A string field."""
        return self.bytes(number).decode()

    def tables(self, number: int) -> list[_Table]:
        """A vector of tables."""
        start, length = self._vector(number)
        items = []
        for index in range(length):
            slot = start + 4 * index
            items.append(_Table(self.buf, slot + struct.unpack_from("<I", self.buf, slot)[0]))
        return items
