"""Measure the int8 ranges of the embedding convolutions on this project's synthetic speech (a maintainer's step).

Regenerate ``models/wake_embedding_int8.json`` (only when pyopen-wakeword ships another embedding model;
heads trained before must then be trained again): ``python -m edge.speech.wake.embedding_calibration``.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from edge.speech.wake.embedding_graph import EMBEDDING_MEL_FRAMES, MELS_PER_HOP, SizedModel, cut_graph
from edge.speech.wake.embedding_int8 import conv_operators
from edge.speech.wake.features import (
    HOP_SAMPLES,
    MEL_SAMPLES,
    MelFrontend,
    feature_models_dir,
    feature_models_version,
)
from edge.speech.wake.head_file import ranges_path
from edge.speech.wake.synthesis import (
    Utterance,
    everyday_sentences,
    installed_voices,
    noise,
    synthesize,
    vary,
)
from edge.tflite_model import schema

CALIBRATION_WINDOW_FRAMES = EMBEDDING_MEL_FRAMES + MELS_PER_HOP * 63  # 64 embeddings per calibration call


def calibrate(content: bytes, mels: np.ndarray) -> list[list[float]]:
    """[in_lo, in_hi, out_lo, out_hi] of every convolution but the last, over float ``mels`` (frames x 32)."""
    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(content, 0))
    # One window shape for every call: one interpreter per prefix of the graph.
    frames = CALIBRATION_WINDOW_FRAMES
    windows = [
        mels[start : start + frames]
        for start in range(0, len(mels) - frames + 1, frames - EMBEDDING_MEL_FRAMES)
    ]
    rows = []
    for index in conv_operators(model)[:-1]:
        row = []
        # The input of a convolution is the output of the operator before it (the first: the PAD).
        for last in (max(index - 1, 0), index):
            prefix = SizedModel(content=cut_graph(content, 0, last))
            values = [prefix(w.reshape(1, frames, -1, 1).astype(np.float32)) for w in windows]
            row += [min(float(v.min()) for v in values), max(float(v.max()) for v in values)]
        rows.append([round(v, 5) for v in row])
    return rows


def _calibration_mels(seed: int = 0, sentences: int = 160) -> np.ndarray:
    """Mels of this project's synthetic everyday speech, loud and quiet, over noise 0-40 dB below it."""
    rng = np.random.default_rng(seed)
    voices, _ = installed_voices()
    utterances = [
        Utterance(
            text,
            voices[int(rng.integers(len(voices)))],
            float(rng.uniform(0.8, 1.6)),
            float(rng.uniform(-4, 4)),
        )
        for text in everyday_sentences(rng, sentences)
    ]
    pause = np.zeros(8000, dtype=np.float32)
    speech = np.concatenate(
        [vary(rng, np.concatenate([pause, audio])) for audio in synthesize(utterances, workers=4)]
    )
    level = float(np.sqrt(np.mean(speech**2)))
    # The noise level drifts from 0 to 40 dB under the speech, a few seconds at a time.
    drift = np.repeat(10 ** (-rng.uniform(0, 40, len(speech) // 48000 + 1) / 20), 48000)[: len(speech)]
    samples = (speech + noise(rng, len(speech)) * level * drift) * 32767
    hops = (len(samples) - (MEL_SAMPLES - HOP_SAMPLES)) // HOP_SAMPLES
    frontend = MelFrontend(feature_models_dir() / "melspectrogram.tflite")
    return frontend(samples[: MEL_SAMPLES - HOP_SAMPLES + hops * HOP_SAMPLES]) / 10 + 2  # type: ignore[no-any-return]


def main() -> None:
    """Measure the ranges on synthetic speech and write them to models/ (a maintainer's step, ~30 s)."""
    path = feature_models_dir() / "embedding_model.tflite"
    content = path.read_bytes()
    mels = _calibration_mels()
    ranges = {
        "about": "int8 ranges of openWakeWord's embedding convolutions; see edge/speech/wake/embedding_int8.py",
        "model": f"pyopen-wakeword {feature_models_version()} embedding_model.tflite",
        "model_sha256": hashlib.sha256(content).hexdigest(),
        "calibration": f"{len(mels) / 100:.0f} s of edge's synthetic everyday speech over noise, seed 0",
        "convolutions": calibrate(content, mels),
    }
    header = json.dumps({k: v for k, v in ranges.items() if k != "convolutions"}, indent=1)[:-2]
    rows = ",\n".join(f"  {json.dumps(row)}" for row in ranges["convolutions"])
    ranges_path().write_text(f'{header},\n "convolutions": [\n{rows}\n ]\n}}\n')
    print(f"wrote {ranges_path()}")


if __name__ == "__main__":
    main()
