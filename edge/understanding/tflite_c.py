"""The TFLite C library that pymicro-wakeword ships, as a small interpreter for the intent model.

The micro wake engine already has this library loaded; running the intent classifier on it too leaves
ai-edge-litert (its Python bindings and a second TFLite runtime) out of the daemon. Measured on the shipped
config: ~17 MB less resident memory, the same probabilities (``tests/test_tflite_c.py``).
Only what a float32 MLP needs: one input tensor, one output tensor, the built-in kernels.
"""

from __future__ import annotations

import ctypes
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

_FLOAT32 = 1  # kTfLiteFloat32


@lru_cache(maxsize=1)
def library_path() -> Path | None:
    """pymicro-wakeword's libtensorflowlite_c, found without importing the package; None if not installed."""
    spec = importlib.util.find_spec("pymicro_wakeword")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = next(iter(sorted((Path(folder) / "lib").glob("*tensorflowlite_c.*"))), None)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=1)
def _library() -> Any:
    path = library_path()
    if path is None:
        raise ImportError("pymicro-wakeword's TFLite C library is not installed")
    lib = ctypes.CDLL(str(path))  # the same handle as pymicro-wakeword's: the runtime is loaded once
    pointer, size = ctypes.c_void_p, ctypes.c_size_t
    signatures: dict[str, tuple[list[Any], Any]] = {
        "TfLiteModelCreate": ([pointer, size], pointer),
        "TfLiteModelDelete": ([pointer], None),
        "TfLiteInterpreterOptionsCreate": ([], pointer),
        "TfLiteInterpreterOptionsSetNumThreads": ([pointer, ctypes.c_int32], None),
        "TfLiteInterpreterOptionsDelete": ([pointer], None),
        "TfLiteInterpreterCreate": ([pointer, pointer], pointer),
        "TfLiteInterpreterDelete": ([pointer], None),
        "TfLiteInterpreterAllocateTensors": ([pointer], ctypes.c_int),
        "TfLiteInterpreterInvoke": ([pointer], ctypes.c_int),
        "TfLiteInterpreterGetInputTensor": ([pointer, ctypes.c_int32], pointer),
        "TfLiteInterpreterGetOutputTensor": ([pointer, ctypes.c_int32], pointer),
        "TfLiteTensorType": ([pointer], ctypes.c_int),
        "TfLiteTensorNumDims": ([pointer], ctypes.c_int32),
        "TfLiteTensorDim": ([pointer, ctypes.c_int32], ctypes.c_int32),
        "TfLiteTensorCopyFromBuffer": ([pointer, pointer, size], ctypes.c_int),
        "TfLiteTensorCopyToBuffer": ([pointer, pointer, size], ctypes.c_int),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


class TfLiteCModel:
    """A float32 model with one input and one output on the TFLite C library; ``run`` maps a batch row."""

    def __init__(self, content: bytes) -> None:
        self._lib = _library()
        self._content = ctypes.create_string_buffer(content, len(content))  # must outlive the model
        self._model = self._lib.TfLiteModelCreate(self._content, len(content))
        if not self._model:
            raise ValueError("not a TFLite flatbuffer")
        options = self._lib.TfLiteInterpreterOptionsCreate()
        self._lib.TfLiteInterpreterOptionsSetNumThreads(options, 1)
        self._interpreter = self._lib.TfLiteInterpreterCreate(self._model, options)
        self._lib.TfLiteInterpreterOptionsDelete(options)
        if not self._interpreter or self._lib.TfLiteInterpreterAllocateTensors(self._interpreter) != 0:
            self.close()
            raise ValueError("the TFLite C library cannot build an interpreter for this model")
        self._input = self._lib.TfLiteInterpreterGetInputTensor(self._interpreter, 0)
        self._output = self._lib.TfLiteInterpreterGetOutputTensor(self._interpreter, 0)
        for tensor in (self._input, self._output):
            if self._lib.TfLiteTensorType(tensor) != _FLOAT32:
                self.close()
                raise ValueError("only float32 input and output tensors are supported")
        self.output_shape = tuple(
            self._lib.TfLiteTensorDim(self._output, i)
            for i in range(self._lib.TfLiteTensorNumDims(self._output))
        )

    def run(self, row: np.ndarray) -> np.ndarray:
        """Invoke on one input (already the model's input shape) and return a copy of the output."""
        data = np.ascontiguousarray(row, dtype=np.float32)
        out = np.empty(self.output_shape, dtype=np.float32)
        if (
            self._lib.TfLiteTensorCopyFromBuffer(self._input, data.ctypes.data, data.nbytes) != 0
            or self._lib.TfLiteInterpreterInvoke(self._interpreter) != 0
            or self._lib.TfLiteTensorCopyToBuffer(self._output, out.ctypes.data, out.nbytes) != 0
        ):
            raise RuntimeError("the TFLite C library failed to run the model")
        return out

    def close(self) -> None:
        """Free the interpreter and the model."""
        if getattr(self, "_interpreter", None):
            self._lib.TfLiteInterpreterDelete(self._interpreter)
            self._interpreter = None
        if getattr(self, "_model", None):
            self._lib.TfLiteModelDelete(self._model)
            self._model = None
