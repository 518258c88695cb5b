"""A wake word trained on the device (`edge wake train`): openWakeWord embeddings and a small TFLite head.

Every 80 ms the feature models turn the last 775 ms of audio into one embedding; the head scores the last
``window_embeddings`` of them. A wake needs ``trigger_frames`` consecutive scores over the threshold, which
the head was trained for (a finished phrase scores high on four frames in a row; a stray frame is noise).
Sensitivity 0.5 keeps the trained threshold; 0 and 1 move it by 2 in logit space, as for micro models.
With ``verify`` (the default in the config), a head wake is only a candidate: Whisper must hear the phrase in
the last seconds of audio (``edge.speech.wake_verify``) before it becomes a Detection.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import ModelError
from edge.events import Detection
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk
from edge.speech.wake_features import EMBEDDING_SIZE, HOP_SAMPLES, EmbeddingStream
from edge.speech.wake_verify import VERIFY_SECONDS, PhraseVerifier, Verdict
from edge.tflite_model import read_tflite

log = logging.getLogger(__name__)

MANIFEST_KIND = "edge-wake-head"
STREAM_HOPS = 8


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
    return manifest, data


def shift_logit(probability: float, shift: float) -> float:
    """Move a probability by ``shift`` in logit space."""
    probability = min(max(probability, 1e-6), 1 - 1e-6)
    logit = float(np.log(probability / (1 - probability))) + shift
    return float(1 / (1 + np.exp(-logit)))


class CustomWakeDetector:
    """Streaming detector for a head trained by `edge wake train`."""

    def __init__(
        self,
        model: Path,
        sensitivity: float = 0.5,
        *,
        verify: bool = False,
        whisper_model: Path | None = None,
        source: str | None = None,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        manifest, data = load_wake_head(model, source)
        self.phrase = str(manifest.get("phrase", model.stem))
        self.name = self.phrase.replace(" ", "_")
        self.window = int(manifest["window_embeddings"])
        self.trigger_frames = int(manifest.get("trigger_frames", 1))
        self.default_threshold = float(manifest["threshold"])
        self.threshold = shift_logit(self.default_threshold, 4.0 * (0.5 - sensitivity))
        self.last_score = 0.0
        # Eight hops per model call (up to 640 ms later than hop by hop, about a quarter of the CPU), and the
        # embedding model is skipped in quiet stretches with enough kept back to fill the head's window.
        self._features = EmbeddingStream(STREAM_HOPS, lookback=self.window - 1)
        self._head = Interpreter(model_content=data, num_threads=1)
        self._head.allocate_tensors()
        self._input = self._head.get_input_details()[0]["index"]
        self._output = self._head.get_output_details()[0]["index"]
        self._embeddings: deque[np.ndarray] = deque(maxlen=self.window)
        self._over = 0
        self.verifier = PhraseVerifier(self.phrase, whisper_model) if verify else None
        self.decision_lag_ms = 0  # audio heard after the frame that decided the last wake (batched frames)
        self.candidates = 0  # head wakes so far, accepted or not
        self.refused = 0  # head wakes the verifier did not hear as the phrase
        self._recent = np.zeros(0, dtype=np.int16)  # the latest audio, for the verifier
        log.debug("wake: custom %s threshold %.3f window %d", self.name, self.threshold, self.window)

    def score(self, embedding: np.ndarray) -> float | None:
        """Add one embedding; the head's wake probability once the window is full."""
        self._embeddings.append(embedding)
        if len(self._embeddings) < self.window:
            return None
        self._head.set_tensor(self._input, np.concatenate(self._embeddings).reshape(1, -1))
        self._head.invoke()
        return float(self._head.get_tensor(self._output)[0, 1])

    def process(self, chunk: AudioChunk) -> Detection | None:
        """Feed one chunk; a Detection when enough consecutive frames pass the threshold (and Whisper agrees)."""
        samples = chunk.samples()
        if self.verifier is not None:
            # The verifier's seconds plus the frames a batch may still hold back.
            keep = int(VERIFY_SECONDS * SAMPLE_RATE_HZ) + (STREAM_HOPS + 2) * HOP_SAMPLES
            self._recent = np.concatenate([self._recent, samples])[-keep:]
        skipped = self._features.skipped_hops
        for embedding in self._features.process(samples):
            if self._features.skipped_hops != skipped:  # a quiet stretch went by unscored
                skipped, self._over = self._features.skipped_hops, 0
            score = self.score(embedding)
            if score is None:
                continue
            self.last_score = score
            self._over = self._over + 1 if score > self.threshold else 0
            if self._over >= self.trigger_frames:
                self._over = 0
                features = self._features
                late_samples = features.samples_seen - (features.last_hop + 1) * HOP_SAMPLES
                heard = self._recent[: max(len(self._recent) - late_samples, 0)]
                if self.verify(heard[-int(VERIFY_SECONDS * SAMPLE_RATE_HZ) :]).accepted:
                    self.decision_lag_ms = round(late_samples * 1000 / SAMPLE_RATE_HZ)
                    return Detection(chunk.timestamp_ms + round(chunk.duration_ms), self.name, score)
        return None

    def verify(self, recent: np.ndarray) -> Verdict:
        """Ask the verifier about a head wake on ``recent`` int16 audio; accepted when there is none."""
        self.candidates += 1
        if self.verifier is None:
            return Verdict(True, "")
        verdict = self.verifier.check(recent)
        if not verdict.accepted:
            self.refused += 1
            log.info(
                "wake: %r candidate refused: Whisper heard %r (%.0f ms)",
                self.phrase,
                verdict.heard,
                self.verifier.last_decode_ms,
            )
        else:
            log.debug("wake: %r confirmed by Whisper (%.0f ms)", self.phrase, self.verifier.last_decode_ms)
        return verdict

    def reset(self) -> None:
        """Forget the audio heard so far."""
        self._features.reset()
        self._embeddings.clear()
        self._over = 0
        self.last_score = 0.0
        self.decision_lag_ms = 0
        self._recent = np.zeros(0, dtype=np.int16)

    def close(self) -> None:
        """Nothing to release: the interpreters go with the object."""
        self._embeddings.clear()
