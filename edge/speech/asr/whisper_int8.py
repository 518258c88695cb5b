"""An int8 copy of a float16 CTranslate2 Whisper model, made once and kept in edge's cache folder.

CTranslate2 quantizes a float16 model to int8 while it loads it: it reads every float16 variable first, then
converts each through a float32 copy. For tiny.en that load peaks ~90 MB above the loaded model, the largest
single spike in ``edge run`` (measured in a process holding only CTranslate2: 206 MB peak, 115 MB after).
A model saved as int8 loads with no conversion. This writes that copy the way CTranslate2 would quantize it
on load (per-row scale ``127 / max|row|``, rounded), one block of rows at a time, so writing it costs a few
MB; the transcripts are the same (``tests/test_whisper_int8.py`` compares them on the fixtures).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

# CTranslate2's DataType ids, in the order of its types.h (and of model_spec.py's writer).
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_FORMAT = "int8-v1"  # part of the cache key: a change of this writer makes a new copy
_ROWS_PER_BLOCK = 2048  # 2048 x 384 float32 is 3 MB of scratch


@dataclass(frozen=True)
class _Variable:
    name: str
    shape: tuple[int, ...]
    dtype: str
    offset: int  # where the data starts in the file
    num_bytes: int

    @property
    def quantizable(self) -> bool:
        # CTranslate2 quantizes variables named "...weight"; some versions leave Whisper's two input
        # convolutions in float, so they stay float here and each version does with them what it does on load.
        return (
            self.name.endswith("weight")
            and "conv" not in self.name
            and len(self.shape) == 2
            and self.dtype in ("float16", "float32")
        )


@dataclass(frozen=True)
class _Header:
    binary_version: int
    spec: str
    revision: int
    variables: tuple[_Variable, ...]
    aliases: tuple[tuple[str, str], ...]


def cache_dir() -> Path:
    """Where edge keeps files it can remake: $EDGE_CACHE_DIR, systemd's CacheDirectory, or ~/.cache/edge."""
    for env in ("EDGE_CACHE_DIR", "CACHE_DIRECTORY"):
        value = os.environ.get(env)
        if value:
            return Path(value.split(":")[0])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge"


def int8_model_dir(model_dir: Path, cache: Path | None = None) -> Path:
    """A folder holding ``model_dir``'s model with int8 weights: itself if already int8, else a cached copy.

    Falls back to ``model_dir`` (CTranslate2 then quantizes while loading, at a higher peak) when the copy
    cannot be written; the model file is never altered.
    """
    header = _float_header(model_dir)
    if header is None:
        return model_dir
    target = _copy_dir(model_dir, cache)
    if (target / "model.bin").is_file():
        return target
    try:
        _write_copy(model_dir, header, target)
    except OSError as err:
        log.warning(
            "asr: cannot write an int8 copy of %s in %s (%s); loading it as it is peaks ~70 MB higher",
            model_dir,
            target.parent,
            err.strerror or err,
        )
        return model_dir
    log.info("asr: wrote an int8 copy of %s to %s (loads without a float16 spike)", model_dir, target)
    return target


def int8_load_possible(model_dir: Path, cache: Path | None = None) -> bool:
    """True when ``model_dir`` is int8 already, its copy exists, or the cache folder can take one."""
    if _float_header(model_dir) is None or (_copy_dir(model_dir, cache) / "model.bin").is_file():
        return True
    folder = cache or cache_dir()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def _float_header(model_dir: Path) -> _Header | None:
    """The model's header when it has float weights to quantize; None when int8 already or unreadable."""
    try:
        with (model_dir / "model.bin").open("rb") as handle:
            header = _read_header(handle)
    except (OSError, ValueError, IndexError, struct.error):
        return None  # let CTranslate2 report a broken model in its own words
    return header if any(var.quantizable for var in header.variables) else None


def _copy_dir(model_dir: Path, cache: Path | None) -> Path:
    return (cache or cache_dir()) / "whisper-int8" / _cache_key(model_dir / "model.bin")


def _cache_key(source: Path) -> str:
    stat = source.stat()
    text = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{_FORMAT}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_copy(model_dir: Path, header: _Header, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        for item in model_dir.iterdir():
            if item.is_file() and item.name != "model.bin":
                shutil.copyfile(item, scratch / item.name)
        with (model_dir / "model.bin").open("rb") as src, (scratch / "model.bin").open("wb") as dst:
            _write_model(src, dst, header)
        try:
            scratch.rename(target)  # atomic: a reader sees no copy or a whole one
        except OSError:
            if not (target / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _read_header(handle: BinaryIO) -> _Header:
    """Every variable's name, shape, type and place in the file (CTranslate2's model.bin, version >= 4)."""
    version = _unpack(handle, "I")
    if version < 4:
        raise ValueError(f"model.bin binary version {version} is older than this reader")
    spec, revision = _read_string(handle), _unpack(handle, "I")
    variables = []
    for _ in range(_unpack(handle, "I")):
        name = _read_string(handle)
        shape = tuple(_unpack(handle, "I") for _ in range(_unpack(handle, "B")))
        dtype, num_bytes = _DTYPES[_unpack(handle, "B")], _unpack(handle, "I")
        variables.append(_Variable(name, shape, dtype, handle.tell(), num_bytes))
        handle.seek(num_bytes, os.SEEK_CUR)
    aliases = tuple((_read_string(handle), _read_string(handle)) for _ in range(_unpack(handle, "I")))
    return _Header(version, spec, revision, tuple(variables), aliases)


def _write_model(src: BinaryIO, dst: BinaryIO, header: _Header) -> None:
    count = len(header.variables) + sum(var.quantizable for var in header.variables)
    dst.write(struct.pack("<I", header.binary_version))
    _write_string(dst, header.spec)
    dst.write(struct.pack("<II", header.revision, count))
    for var in header.variables:
        src.seek(var.offset)
        if var.quantizable:
            rows, columns = var.shape
            _write_variable_header(dst, var.name, var.shape, "int8", rows * columns)
            scales = np.empty(rows, dtype=np.float32)
            for start, block in _row_blocks(src, var):
                quantized, scales[start : start + len(block)] = _quantize(block)
                dst.write(quantized.tobytes())
            _write_variable_header(dst, var.name + "_scale", (rows,), "float32", scales.nbytes)
            dst.write(scales.tobytes())
        else:
            data = src.read(var.num_bytes)
            if var.dtype == "float16" and var.shape:
                # What CTranslate2 does with the other float16 variables for an int8 compute type.
                data = np.frombuffer(data, dtype="<f2").astype("<f4").tobytes()
                _write_variable_header(dst, var.name, var.shape, "float32", len(data))
            else:
                _write_variable_header(dst, var.name, var.shape, var.dtype, len(data))
            dst.write(data)
    dst.write(struct.pack("<I", len(header.aliases)))
    for alias, name in header.aliases:
        _write_string(dst, alias)
        _write_string(dst, name)


def _row_blocks(src: BinaryIO, var: _Variable) -> Iterator[tuple[int, np.ndarray]]:
    rows, columns = var.shape
    item = np.dtype("<f2" if var.dtype == "float16" else "<f4")
    for start in range(0, rows, _ROWS_PER_BLOCK):
        count = min(_ROWS_PER_BLOCK, rows - start)
        data = src.read(count * columns * item.itemsize)
        yield start, np.frombuffer(data, dtype=item).reshape(count, columns).astype(np.float32)


def _quantize(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows to int8 with one scale each, as CTranslate2's quantizer (binary version >= 5 rounds)."""
    amax = np.abs(block).max(axis=1)
    amax[amax == 0] = 127.0
    amax = np.maximum(amax, np.float32(127) / np.finfo(np.float32).max)
    scale = (np.float32(127.0) / amax).astype(np.float32)
    return np.rint(block * scale[:, None]).astype(np.int8), scale


def _write_variable_header(dst: BinaryIO, name: str, shape: tuple[int, ...], dtype: str, size: int) -> None:
    _write_string(dst, name)
    dst.write(struct.pack("<B", len(shape)))
    for dim in shape:
        dst.write(struct.pack("<I", dim))
    dst.write(struct.pack("<BI", _DTYPES.index(dtype), size))


def _unpack(handle: BinaryIO, fmt: str) -> int:
    size = struct.calcsize("<" + fmt)
    data = handle.read(size)
    if len(data) != size:
        raise ValueError("model.bin ends early")
    return int(struct.unpack("<" + fmt, data)[0])


def _read_string(handle: BinaryIO) -> str:
    length = _unpack(handle, "H")
    data = handle.read(length)
    if len(data) != length:
        raise ValueError("model.bin ends early")
    return data[:-1].decode("utf-8")


def _write_string(dst: BinaryIO, text: str) -> None:
    data = text.encode("utf-8") + b"\0"
    dst.write(struct.pack("<H", len(data)))
    dst.write(data)
