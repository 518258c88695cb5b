"""Sample-rate conversion for audio that does not arrive at 16 kHz (44.1/48 kHz microphones, any WAV file)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

MAX_DOWN_FACTOR = 1000


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float audio in -1..1 to int16, clipped."""
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


class Resampler:
    """Streaming polyphase resampler (Kaiser-windowed sinc) between two integer rates.

    Anti-aliasing cuts off at 95 % of the lower Nyquist frequency; the stop band is about 80 dB down, which
    is far below what matters for speech recognition. State carries over between ``process`` calls.
    """

    def __init__(self, from_hz: int, to_hz: int, zero_crossings: int = 16) -> None:
        # The filter grows with the up factor: an odd rate such as 44099 Hz would need hundreds of thousands
        # of taps. Approximating the ratio with a denominator of at most 1000 changes pitch by < 0.01 %.
        ratio = Fraction(int(to_hz), int(from_hz)).limit_denominator(MAX_DOWN_FACTOR)
        self.up, self.down = ratio.numerator, ratio.denominator
        cutoff = 0.5 * min(from_hz, to_hz) * 0.95 / (self.up * from_hz)  # cycles per upsampled sample
        self._half = math.ceil(zero_crossings / (2 * cutoff))
        n = np.arange(-self._half, self._half + 1)
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(len(n), 8.0) * self.up
        self._taps_per_phase = math.ceil(len(taps) / self.up)
        padded = np.zeros(self._taps_per_phase * self.up)
        padded[: len(taps)] = taps
        self._phases = padded.reshape(self._taps_per_phase, self.up).T  # [phase, k] = taps[phase + k*up]
        self._buffer = np.zeros(self._taps_per_phase)  # silence before the stream began
        self._buffer_start = -self._taps_per_phase
        self._inputs = 0
        self._outputs = 0

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Resample the next block of float samples; returns what can be computed so far."""
        if self.up == self.down:
            return np.asarray(audio, dtype=np.float64)
        self._buffer = np.concatenate([self._buffer, np.asarray(audio, dtype=np.float64)])
        self._inputs += len(audio)
        return self._emit(self._inputs - 1)

    def flush(self) -> np.ndarray:
        """Return the remaining output for the input seen so far (the filter's tail)."""
        if self.up == self.down:
            return np.zeros(0)
        self._buffer = np.concatenate([self._buffer, np.zeros(self._taps_per_phase)])
        total = -(-self._inputs * self.up // self.down)
        return self._emit(self._buffer_start + len(self._buffer) - 1, limit=total)

    def _emit(self, last_index: int, limit: int | None = None) -> np.ndarray:
        # Output n sits at upsampled position n*down; it needs inputs up to (n*down + half) // up.
        stop = (last_index * self.up + self.up - 1 - self._half) // self.down + 1
        if limit is not None:
            stop = min(stop, limit)
        n = np.arange(self._outputs, max(stop, self._outputs))
        position = n * self.down + self._half
        base, phase = position // self.up, position % self.up
        k = np.arange(self._taps_per_phase)
        out = np.empty(len(n))
        for lo in range(0, len(n), 4096):
            sl = slice(lo, lo + 4096)
            gathered = self._buffer[base[sl, None] - k[None, :] - self._buffer_start]
            out[sl] = np.einsum("nk,nk->n", gathered, self._phases[phase[sl]])
        self._outputs += len(n)
        keep_from = (self._outputs * self.down + self._half) // self.up - self._taps_per_phase + 1
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start :]
            self._buffer_start = keep_from
        return out


def resample(audio: np.ndarray, from_hz: int, to_hz: int = 16000) -> np.ndarray:
    """Resample a whole float signal."""
    resampler = Resampler(from_hz, to_hz)
    return np.concatenate([resampler.process(audio), resampler.flush()])
