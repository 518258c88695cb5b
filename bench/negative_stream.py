"""An hour (or any length) of speech and noise with no wake phrase in it, made deterministically.

The clips of ``bench/audio`` (written by ``bench/make_speech_corpus.py``) are looped with a seeded random
speed change (0.9-1.1x), gain (-12..0 dB), background noise (white, pink or brown, 15-35 dB below the speech)
and pauses, with stretches of noise alone. Nothing is stored: the stream is generated chunk by chunk, so an
hour costs no disk and little memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.speech.audio import SAMPLE_RATE_HZ, read_wav

CORPUS_DIR = Path(__file__).resolve().parent / "audio"


def load_corpus(directory: Path = CORPUS_DIR) -> list[np.ndarray]:
    """Return the committed speech clips as float32 arrays in -1..1."""
    clips = [read_wav(path).astype(np.float32) / 32768 for path in sorted(directory.glob("speech_*.wav"))]
    if not clips:
        raise FileNotFoundError(f"no speech clips in {directory}: run bench/make_speech_corpus.py")
    return clips


def _noise(rng: np.random.Generator, samples: int, colour: str) -> np.ndarray:
    white = rng.standard_normal(samples).astype(np.float32)
    if colour == "white":
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(samples, 1 / SAMPLE_RATE_HZ)
    freqs[0] = freqs[1] if samples > 1 else 1.0
    shaped = spectrum / (np.sqrt(freqs) if colour == "pink" else freqs)
    noise = np.fft.irfft(shaped, samples).astype(np.float32)
    return noise / (np.std(noise) + 1e-9)


def _rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(signal**2)) + 1e-9)


def _segment(rng: np.random.Generator, clips: list[np.ndarray]) -> np.ndarray:
    """One clip with speed, gain and noise, followed by a pause; now and then noise alone."""
    colour = ("white", "pink", "brown")[int(rng.integers(3))]
    if rng.random() < 0.1:
        seconds = float(rng.uniform(5, 20))
        noise = _noise(rng, int(seconds * SAMPLE_RATE_HZ), colour)
        return noise * (10 ** (rng.uniform(-40, -20) / 20))
    clip = clips[int(rng.integers(len(clips)))]
    speed = float(rng.uniform(0.9, 1.1))
    positions = np.arange(0, len(clip) - 1, speed)
    speech = np.interp(positions, np.arange(len(clip)), clip).astype(np.float32)
    speech *= 10 ** (rng.uniform(-12, 0) / 20)
    pause = np.zeros(int(rng.uniform(0.3, 3.0) * SAMPLE_RATE_HZ), dtype=np.float32)
    segment = np.concatenate([speech, pause])
    noise = _noise(rng, len(segment), colour)
    snr_db = rng.uniform(15, 35)
    segment += noise * (_rms(speech) / 10 ** (snr_db / 20))
    return segment


def negative_stream(seconds: float, *, seed: int = 7, chunk_ms: int = 30) -> Iterator[np.ndarray]:
    """Yield int16 chunks of ``chunk_ms`` until ``seconds`` of audio have been produced."""
    rng = np.random.default_rng(seed)
    clips = load_corpus()
    chunk = SAMPLE_RATE_HZ * chunk_ms // 1000
    total = int(seconds * SAMPLE_RATE_HZ)
    produced = 0
    pending = np.zeros(0, dtype=np.float32)
    while produced < total:
        while len(pending) < chunk:
            pending = np.concatenate([pending, _segment(rng, clips)])
        piece, pending = pending[:chunk], pending[chunk:]
        produced += chunk
        yield (np.clip(piece, -1, 1) * 32767).astype(np.int16)
