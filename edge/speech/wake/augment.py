"""Make synthetic training speech sound like a person in a room on a cheap microphone, in seeded numpy.

A synthesizer has a few vocal tracts, one studio channel and silence around it; real wake words come from
many throats, through rooms, cheap microphones and household noise. Each function draws its randomness from
the generator it is given, so the same seed gives the same audio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.speech.audio import SAMPLE_RATE_HZ
from edge.speech.wake.synthesis import noise

# Control points of the random microphone response (Hz), spaced evenly on a log scale up to Nyquist.
_EQ_POINTS_HZ = np.geomspace(60, 8000, 8)


def warp_tract(rng: np.random.Generator, audio: np.ndarray, spread: float) -> np.ndarray:
    """Resample by 1 +- ``spread``: formants, pitch and pace move together, as from a longer or shorter throat."""
    if spread <= 0 or len(audio) < 2:
        return audio
    factor = float(rng.uniform(1 - spread, 1 + spread))
    length = max(int(len(audio) / factor), 2)
    positions = np.linspace(0, len(audio) - 1, length)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def _spectral_gain(rng: np.random.Generator, freqs: np.ndarray, db: float) -> np.ndarray:
    """A smooth random response: +-``db`` at each control point, a rumble cut and a treble roll-off."""
    points = rng.uniform(-db, db, len(_EQ_POINTS_HZ))
    gain_db = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(_EQ_POINTS_HZ), points)
    high_pass = float(rng.uniform(40, 250))
    low_pass = float(rng.uniform(3500, 8000))
    # Second-order slopes: a cheap microphone's capsule and a laptop's anti-aliasing filter.
    shape = 1 / (1 + (high_pass / np.maximum(freqs, 1.0)) ** 4) / (1 + (freqs / low_pass) ** 4)
    return (10 ** (gain_db / 20) * np.sqrt(shape)).astype(np.float32)


def equalize(rng: np.random.Generator, audio: np.ndarray, db: float) -> np.ndarray:
    """Filter through a random microphone and speaker response, keeping the level."""
    if db <= 0 or len(audio) < 2:
        return audio
    spectrum = np.fft.rfft(audio)
    gain = _spectral_gain(rng, np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE_HZ), db)
    out = np.fft.irfft(spectrum * gain, len(audio))
    out *= np.sqrt(np.mean(audio**2) / (np.mean(out**2) + 1e-12))
    return out.astype(np.float32)


def room_response(rng: np.random.Generator) -> np.ndarray:
    """A room's impulse response: direct sound, sparse early reflections, then a tail that dulls as it decays.

    High frequencies die faster than low ones in a furnished room, so the tail is the sum of a bright and a
    dark decaying noise with a shorter and a longer RT60.
    """
    rt60_s = float(rng.uniform(0.2, 0.8))
    length = int(rt60_s * SAMPLE_RATE_HZ)
    t = np.arange(length) / SAMPLE_RATE_HZ
    white = rng.standard_normal(length)
    dark = np.convolve(white, np.ones(8) / np.sqrt(8), mode="same")  # a moving average: little above 2 kHz
    tail = white * np.exp(-6.9 * t / (rt60_s * 0.5)) + dark * np.exp(-6.9 * t / rt60_s)
    onset = int(rng.uniform(0.002, 0.02) * SAMPLE_RATE_HZ)  # first wall bounce after the direct sound
    tail[:onset] = 0.0
    tail *= float(rng.uniform(0.05, 0.3))
    for _ in range(int(rng.integers(3, 9))):
        delay = int(rng.uniform(0.001, 0.03) * SAMPLE_RATE_HZ)
        if delay < length:
            tail[delay] += float(rng.uniform(0.2, 0.7)) * float(rng.choice([-1.0, 1.0]))
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate_room(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """Convolve with ``room_response``, keeping the level."""
    if len(audio) < 2:
        return audio
    response = room_response(rng)
    size = len(audio) + len(response) - 1
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(response, size), size)[: len(audio)]
    wet *= np.sqrt(np.mean(audio**2) / (np.mean(wet**2) + 1e-12))
    return wet.astype(np.float32)


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
    """Several talkers at once, far away: the other training sentences overlaid at random offsets."""
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
