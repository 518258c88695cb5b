"""Household noise beds for synthetic training speech, made in seeded numpy.

A synthesizer speaks in silence; real wake words come over coloured noise, other talkers, mains hum, a fan
or music. Each bed draws its randomness from the generator it is given, so the same seed gives the same
audio. Measured on the real dev clips (seeds 0-3, one head): beds instead of coloured noise alone missed 8
instead of 20 real "snowboy" and 16 instead of 30 real "smart mirror".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.speech.audio import SAMPLE_RATE_HZ
from edge.speech.wake.synthesis import noise


def _hum(rng: np.random.Generator, samples: int) -> np.ndarray:
    """Mains hum (50 or 60 Hz and its odd harmonics) over a little hiss."""
    t = np.arange(samples) / SAMPLE_RATE_HZ
    base = float(rng.choice([50.0, 60.0]))
    out = sum(
        rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi))
        for k in (1, 3, 5, 7)
    )
    return np.asarray(out) + 0.05 * rng.standard_normal(samples)


def _fan(rng: np.random.Generator, samples: int) -> np.ndarray:
    """A fan or air conditioner: low noise swelling at the blade rate, with a blade tone."""
    t = np.arange(samples) / SAMPLE_RATE_HZ
    brown = np.cumsum(rng.standard_normal(samples))
    brown -= np.convolve(brown, np.ones(400) / 400, mode="same")  # drop the random walk's drift
    brown /= np.std(brown) + 1e-9
    blade = float(rng.uniform(15, 60))
    swell = 1 + 0.3 * np.sin(2 * np.pi * blade * t)
    return brown * swell + 0.2 * np.sin(2 * np.pi * blade * 4 * t)


def _tones(rng: np.random.Generator, samples: int) -> np.ndarray:
    """Music-like sound: notes of a random scale with harmonics, each decaying, one after another."""
    out = np.zeros(samples)
    position = 0
    while position < samples:
        length = min(int(rng.uniform(0.15, 0.6) * SAMPLE_RATE_HZ), samples - position)
        t = np.arange(length) / SAMPLE_RATE_HZ
        note = 110.0 * 2 ** (int(rng.integers(0, 36)) / 12)
        voice = sum(np.sin(2 * np.pi * note * k * t) / k for k in (1, 2, 3))
        out[position : position + length] += np.asarray(voice) * np.exp(-t * rng.uniform(2, 8))
        position += length
    return out


def _babble(rng: np.random.Generator, samples: int, speech: Sequence[np.ndarray]) -> np.ndarray:
    """Several talkers at once, far away: other training speech overlaid at random offsets."""
    out = np.zeros(samples)
    pool = [s for s in speech if len(s)]
    if not pool:
        return rng.standard_normal(samples)
    for _ in range(int(rng.integers(3, 7))):
        clip = pool[int(rng.integers(len(pool)))]
        start = int(rng.integers(samples))
        piece = np.tile(clip, samples // len(clip) + 2)[start % len(clip) :][:samples]
        out += piece / (np.std(piece) + 1e-9)
    return out


def noise_bed(rng: np.random.Generator, samples: int, speech: Sequence[np.ndarray]) -> np.ndarray:
    """Unit-RMS household noise: coloured noise, babble, mains hum, a fan or music-like tones."""
    kind = int(rng.integers(5))
    maker = {0: lambda: noise(rng, samples), 1: lambda: _babble(rng, samples, speech)}
    maker |= {2: lambda: _hum(rng, samples), 3: lambda: _fan(rng, samples), 4: lambda: _tones(rng, samples)}
    bed = np.asarray(maker[kind](), dtype=np.float64)
    return (bed / (np.sqrt(np.mean(bed**2)) + 1e-9)).astype(np.float32)  # a coloured noise's DC counts too
