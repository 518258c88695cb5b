"""How good a wake detector is: miss rate on clips of the phrase, false wakes per hour on a negative stream.

Both drive the detector exactly as the pipeline does: 16 kHz chunks of ``chunk_ms``, a reset after each wake
and the refractory period skipped. Clips get a second of quiet noise before and after, because a real
microphone never starts at the first sample of the phrase and the detector needs the phrase's end.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.speech.audio import SAMPLE_RATE_HZ, chunk_samples, read_wav
from edge.speech.wake.engines import WakeDetector
from edge.speech.wake.synthesis import Utterance, installed_voices, noise, synthesize, vary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamResult:
    """False wakes counted on a negative stream of ``seconds``."""

    false_wakes: int
    seconds: float

    @property
    def per_hour(self) -> float:
        """False wakes per hour of audio."""
        return self.false_wakes / (self.seconds / 3600) if self.seconds else 0.0


def pad(clip: np.ndarray, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    """The int16 clip with ``seconds`` of quiet noise (about -60 dBFS) on both sides."""
    quiet = int(seconds * SAMPLE_RATE_HZ)
    bed = noise(rng, len(clip) + 2 * quiet) * 30.0
    audio = bed
    audio[quiet : quiet + len(clip)] += clip.astype(np.float32)
    return np.clip(audio, -32768, 32767).astype(np.int16)


def detects(detector: WakeDetector, audio: np.ndarray, chunk_ms: int = 30) -> bool:
    """True when the detector wakes anywhere in ``audio`` (int16), from a fresh state."""
    detector.reset()
    return any(detector.process(chunk) is not None for chunk in chunk_samples(audio, chunk_ms))


def miss_rate(
    detector: WakeDetector, clips: Sequence[np.ndarray], chunk_ms: int = 30, seed: int = 0
) -> float:
    """Share of int16 clips the detector does not wake on (each padded with quiet noise)."""
    rng = np.random.default_rng(seed)
    missed = sum(not detects(detector, pad(clip, rng), chunk_ms) for clip in clips)
    return missed / len(clips) if clips else 0.0


def false_wakes(
    detector: WakeDetector, chunks: Iterable[np.ndarray], chunk_ms: int = 30, refractory_ms: int = 2000
) -> StreamResult:
    """Count wakes on a stream of int16 chunks that never holds the phrase."""
    detector.reset()
    count, audio_ms, skip_until_ms = 0, 0, -1
    for samples in chunks:
        for chunk in chunk_samples(samples, chunk_ms, audio_ms):
            if chunk.timestamp_ms >= skip_until_ms and detector.process(chunk) is not None:
                count += 1
                detector.reset()
                skip_until_ms = chunk.timestamp_ms + refractory_ms
        audio_ms += round(len(samples) / SAMPLE_RATE_HZ * 1000)
    return StreamResult(count, audio_ms / 1000)


def held_back_positives(phrase: str, count: int, seed: int = 1) -> list[np.ndarray]:
    """``count`` int16 clips of the phrase by voices training never uses, varied like training clips."""
    rng = np.random.default_rng(seed)
    _train, held = installed_voices()
    picks = rng.integers(len(held), size=count)
    speeds = rng.uniform(0.85, 1.2, size=count)
    pitches = rng.uniform(-3, 3, size=count)
    utterances = [
        Utterance(phrase, held[v], float(s), float(p)) for v, s, p in zip(picks, speeds, pitches, strict=True)
    ]
    clips = []
    for audio in synthesize(utterances):
        if len(audio) == 0:
            continue
        audio = vary(rng, audio)
        audio = audio + noise(rng, len(audio)) * float(np.sqrt(np.mean(audio**2))) * 10 ** (
            -rng.uniform(10, 30) / 20
        )
        clips.append((np.clip(audio, -1, 1) * 32767).astype(np.int16))
    return clips


def wilson(misses: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (clip counts are small)."""
    if total == 0:
        return (0.0, 1.0)
    share = misses / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - half), min(1.0, centre + half))


def real_clips(eval_audio: Path, phrase: str) -> list[np.ndarray]:
    """int16 clips of real people saying ``phrase`` in a dev set folder with a manifest.jsonl; [] if none."""
    manifest = eval_audio / "manifest.jsonl"
    if not manifest.is_file():
        return []
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [read_wav(eval_audio / row["file"]) for row in rows if row.get("wake_word") == phrase]
