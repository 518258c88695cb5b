"""A custom wake head file (`edge wake train`): what it records and how it is checked when the config is read.

Light on purpose (no interpreter, no audio): ``edge.speech.wake.settings`` checks ``wake.model`` with it, and
the detector and trainer use the same names.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from edge.errors import ModelError
from edge.resources import data_dir
from edge.tflite_model import read_tflite

MANIFEST_KIND = "edge-wake-head"
RANGES_NAME = "wake_embedding_int8.json"
EMBEDDING_SIZE = 96

# "int8": convolutions in int8 (edge.speech.wake.embedding_int8), what `edge wake train` heads use since edge 0.x;
# "float": the bundled model as it is, what openWakeWord's pretrained heads and older edge heads were trained on.
Precision = Literal["float", "int8"]
PRECISIONS: tuple[Precision, ...] = ("float", "int8")


def ranges_path() -> Path:
    """Where the committed int8 ranges live (the project's models folder)."""
    return data_dir("models") / RANGES_NAME


def ranges_digest(path: Path | None = None) -> str:
    """sha256 of the ranges file: a head records it, so a head trained on other ranges is refused."""
    path = path or ranges_path()
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise ModelError(f"{path}: cannot read the int8 embedding ranges: {err.strerror or err}") from None


def load_wake_head(path: Path, source: str | None = None) -> tuple[dict[str, Any], bytes]:
    """(manifest, file bytes) of a custom wake model; ModelError naming the file if it is not one."""
    where = source or str(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelError(f"{where}: cannot read wake model: {err.strerror or err}") from None
    try:
        manifest, weights = read_tflite(data, where)
    except ModelError as err:
        raise ModelError(str(err).replace("`edge train`", "`edge wake train`")) from None
    window = manifest.get("window_embeddings")
    if manifest.get("kind") != MANIFEST_KIND or not isinstance(window, int):
        raise ModelError(
            f"{where}: not a custom wake model (an intent model?); make one with `edge wake train`"
        )
    if weights.w1.shape[1] != window * EMBEDDING_SIZE or weights.w2.shape[0] != 2:
        raise ModelError(
            f"{where}: wake model shape does not match its manifest; retrain with `edge wake train`"
        )
    # Heads from before int8 embeddings say nothing and run on float ones, as they were trained.
    precision = manifest.setdefault("embedding_precision", "float")
    if precision not in PRECISIONS:
        raise ModelError(f"{where}: embedding_precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "int8" and manifest.get("embedding_int8_ranges_sha256") != ranges_digest():
        raise ModelError(
            f"{where}: trained on other int8 embeddings than this edge computes; retrain with `edge wake train`"
        )
    return manifest, data
