"""A wake word trained on the device (`edge wake train`): openWakeWord embeddings and a small TFLite head.

Every 80 ms the feature models turn the last 775 ms of audio into one embedding; the head scores the last
``window_embeddings`` of them. A wake needs ``trigger_frames`` consecutive scores over the threshold, which
the head was trained for (a finished phrase scores high on four frames in a row; a stray frame is noise).
Sensitivity 0.5 keeps the trained threshold; 0 and 1 move it by 2 in logit space, as for micro models.
With ``verify`` (the default in the config), a head wake is only a candidate: Whisper must hear the phrase in
the last seconds of audio (``edge.speech.wake.verify``) before it becomes a Detection.

The features are computed ``step_ms`` of audio at a time (640 ms by default, well under half the hop-by-hop
CPU) and the embedding model rests in quiet rooms (``EmbeddingStream``). A wake can so come up to a step
after its deciding frame: ``decision_lag_ms`` says how much audio followed that frame, and the pipeline
replays it to the endpointer so a command said in the same breath keeps its first words.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

import numpy as np

from edge.events import Detection
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk
from edge.speech.wake.embedding_graph import SizedModel
from edge.speech.wake.features import HOP_SAMPLES, EmbeddingStream
from edge.speech.wake.head_file import Precision, load_wake_head
from edge.speech.wake.verify import VERIFY_SECONDS, PhraseVerifier, Verdict

log = logging.getLogger(__name__)

CHECKED_TRIGGER_FRAMES = 2
# After Whisper refuses a candidate, the head's next one waits this many frames (480 ms): speech that fooled
# the head once tends to hold its score up, and each check costs ~40 ms. On the dev stream a trained
# "snowboy" asked 398 times an hour without the pause and 239 with it, missing the same real clips.
REFUSED_PAUSE_FRAMES = 6
VERIFY_TAIL_HOPS = 2  # Whisper also hears up to 160 ms after the deciding frame, when a batch holds it


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
        step_ms: int = 640,
        whisper_model: Path | None = None,
        source: str | None = None,
    ) -> None:
        manifest, data = load_wake_head(model, source)
        self.phrase = str(manifest.get("phrase", model.stem))
        self.name = self.phrase.replace(" ", "_")
        self.precision: Precision = manifest["embedding_precision"]
        self.window = int(manifest["window_embeddings"])
        trained_frames = int(manifest.get("trigger_frames", 1))
        # Behind Whisper's check a head may wake on fewer frames: many real speakers hold the head's score
        # over the threshold for only two frames. Measured on the real dev clips (bench.wake_real): trained
        # "smart mirror" misses 5.4 % at three frames and 1.4 % at two, with no false wake after the check;
        # one frame halves that again but triples the checks on speech (over the listening CPU budget).
        self.trigger_frames = min(trained_frames, CHECKED_TRIGGER_FRAMES) if verify else trained_frames
        self.default_threshold = float(manifest["threshold"])
        self.threshold = shift_logit(self.default_threshold, 4.0 * (0.5 - sensitivity))
        self.last_score = 0.0
        # Several hops per model call (by default 8: up to 640 ms later than hop by hop, for well under half
        # the CPU), and the embedding model skipped in quiet stretches with enough kept back for the window.
        self.step_hops = max(step_ms // (HOP_SAMPLES * 1000 // SAMPLE_RATE_HZ), 1)
        self._features = EmbeddingStream(self.step_hops, lookback=self.window - 1, precision=self.precision)
        self._head = SizedModel(content=data)
        self._embeddings: deque[np.ndarray] = deque(maxlen=self.window)
        self._over = 0
        self._frame = 0  # frames scored since the last reset
        self._next_check = 0  # the first frame a candidate may be checked at
        self.verifier = PhraseVerifier(self.phrase, whisper_model) if verify else None
        self.decision_lag_ms = 0  # audio heard after the frame that decided the last wake (batched frames)
        self.candidates = 0  # head wakes so far, accepted or not
        self.refused = 0  # head wakes the verifier did not hear as the phrase
        self._recent: deque[np.ndarray] = deque()  # the latest chunks, for the verifier
        self._recent_samples = 0
        log.debug("wake: custom %s threshold %.3f window %d", self.name, self.threshold, self.window)

    def scores(self, embeddings: list[np.ndarray]) -> list[float | None]:
        """Add embeddings in order; the head's wake probability for each, None until the window is full.

        The windows of one step go through the head in one call.
        """
        history = list(self._embeddings)
        self._embeddings.extend(embeddings)
        sequence = history + embeddings
        ends = range(len(history), len(sequence))
        rows = [
            np.concatenate(sequence[end + 1 - self.window : end + 1])
            for end in ends
            if end + 1 >= self.window
        ]
        probabilities = list(self._head(np.stack(rows))[:, 1]) if rows else []
        padding: list[float | None] = [None] * (len(embeddings) - len(rows))
        return padding + [float(p) for p in probabilities]

    def process(self, chunk: AudioChunk) -> Detection | None:
        """Feed one chunk; a Detection when enough consecutive frames pass the threshold (and Whisper agrees)."""
        samples = chunk.samples()
        if self.verifier is not None:
            # The verifier's seconds plus the frames a batch may still hold back.
            keep = int(VERIFY_SECONDS * SAMPLE_RATE_HZ) + (self.step_hops + 2) * HOP_SAMPLES
            self._recent.append(samples)
            self._recent_samples += len(samples)
            while self._recent_samples - len(self._recent[0]) >= keep:
                self._recent_samples -= len(self._recent.popleft())
        features = self._features
        skipped = features.skipped_hops
        embeddings = list(features.process(samples))
        if not embeddings:
            return None
        if features.skipped_hops != skipped:  # a quiet stretch went by: older frames are not contiguous
            self._embeddings.clear()
            self._over = 0
        first_hop = features.last_hop - len(embeddings) + 1
        for offset, score in enumerate(self.scores(embeddings)):
            if score is None:
                continue
            self.last_score = score
            if not self.candidate(score):
                continue
            late_samples = features.samples_seen - (first_hop + offset + 1) * HOP_SAMPLES
            tail = min(late_samples, VERIFY_TAIL_HOPS * HOP_SAMPLES)
            recent = np.concatenate(self._recent) if self._recent else np.zeros(0, dtype=np.int16)
            heard = recent[: max(len(recent) - late_samples + tail, 0)]
            if self.verify(heard[-int(VERIFY_SECONDS * SAMPLE_RATE_HZ) :]).accepted:
                self.decision_lag_ms = round(late_samples * 1000 / SAMPLE_RATE_HZ)
                return Detection(chunk.timestamp_ms + round(chunk.duration_ms), self.name, score)
        return None

    def candidate(self, score: float) -> bool:
        """Count one frame's head score; True when it completes a candidate for the verifier (or a wake)."""
        self._frame += 1
        self._over = self._over + 1 if score > self.threshold else 0
        if self._over < self.trigger_frames or self._frame < self._next_check:
            return False
        self._over = 0
        return True

    def verify(self, recent: np.ndarray) -> Verdict:
        """Ask the verifier about a head wake on ``recent`` int16 audio; accepted when there is none."""
        self.candidates += 1
        if self.verifier is None:
            return Verdict(True, "")
        verdict = self.verifier.check(recent)
        if not verdict.accepted:
            self.refused += 1
            self._next_check = self._frame + REFUSED_PAUSE_FRAMES
            log.info(
                "wake: %r candidate refused: Whisper heard %r (phrase log-probability %.1f, %.0f ms)",
                self.phrase,
                verdict.heard,
                verdict.phrase_logprob,
                self.verifier.last_decode_ms,
            )
        else:
            log.debug(
                "wake: %r confirmed by Whisper (phrase log-probability %.1f, %.0f ms)",
                self.phrase,
                verdict.phrase_logprob,
                self.verifier.last_decode_ms,
            )
        return verdict

    def reset(self) -> None:
        """Forget the audio heard so far."""
        self._features.reset()
        self._embeddings.clear()
        self._over = 0
        self._frame = self._next_check = 0
        self.last_score = 0.0
        self.decision_lag_ms = 0
        self._recent.clear()
        self._recent_samples = 0

    def close(self) -> None:
        """Nothing to release: the interpreters go with the object."""
        self._embeddings.clear()
