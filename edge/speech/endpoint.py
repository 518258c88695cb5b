"""End-of-command detection with an energy voice activity detector that adapts to the room's noise floor.

A chunk counts as speech when its level is well above the noise floor (the quietest 200 ms of the last 3 s,
so a humming fan raises it and a quiet room lowers it) or above a fixed ``energy_threshold_db``. The floor is
best learnt from the audio heard while listening: the pipeline passes it to ``observe``. The
command ends after ``silence_ms`` of non-speech following some speech, at ``max_command_ms``, or with
``no_speech`` when nobody spoke within ``no_speech_timeout_ms``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

import numpy as np

from edge.config import EndpointConfig
from edge.speech.audio import AudioChunk

EndpointReason = Literal["silence", "max_length", "no_speech"]

# Speech is this far above the noise floor. Measured on the fixtures with the floor learnt while listening:
# 10 dB cut soft words in 10 dB SNR clips (41/59 commands right), 6 dB kept them (46/59).
SPEECH_MARGIN_DB = 6.0
MIN_SPEECH_DB = -55.0  # quieter than this (dBFS RMS) is never speech, however quiet the room
MIN_SPEECH_MS = 60  # this much speech, in total, before trailing silence can end a command
_FLOOR_HISTORY_MS = 3000
_FLOOR_SMOOTHING_MS = 200
_FLOOR_MIN_HISTORY_MS = 500
_SILENT_DB = -100.0


def level_db(chunk: AudioChunk) -> float:
    """RMS level of a chunk in dB relative to full scale (digital silence is -100)."""
    samples = chunk.samples().astype(np.float64)
    if samples.size == 0:
        return _SILENT_DB
    rms = math.sqrt(float(np.mean(samples * samples))) / 32768.0
    return max(20 * math.log10(rms), _SILENT_DB) if rms > 0 else _SILENT_DB


class Endpointer:
    """Decides, chunk by chunk, when a spoken command is over."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        # Kept across commands: the noise floor is a property of the room, not of one utterance.
        self._levels: deque[float] = deque()
        self._levels_ms = 0.0
        self.reset()

    def reset(self) -> None:
        """Start a new command window."""
        self._elapsed_ms = 0.0
        self._speech_ms = 0.0
        self._trailing_ms = 0.0

    @property
    def trailing_silence_ms(self) -> int:
        """Non-speech heard since the last speech chunk."""
        return round(self._trailing_ms)

    @property
    def threshold_db(self) -> float:
        """The level above which a chunk counts as speech now."""
        if self.config.energy_threshold_db is not None:
            return self.config.energy_threshold_db
        if self._levels_ms < _FLOOR_MIN_HISTORY_MS:
            return (
                MIN_SPEECH_DB  # too little heard to know the room; the absolute floor errs towards "speech"
            )
        return max(self.noise_floor_db + SPEECH_MARGIN_DB, MIN_SPEECH_DB)

    @property
    def noise_floor_db(self) -> float:
        """The quietest stretch of recent audio: the minimum of the levels averaged over ~200 ms.

        Minimum statistics need only one short pause (before the command, between words) to find the floor,
        where a percentile of a window that is mostly speech would put it inside the speech.
        """
        levels = np.fromiter(self._levels, dtype=np.float64)
        powers = 10 ** (levels / 10)
        chunk_ms = self._levels_ms / len(levels)
        width = max(1, min(round(_FLOOR_SMOOTHING_MS / chunk_ms), len(powers)))
        smoothed = np.convolve(powers, np.ones(width) / width, mode="valid")
        return float(10 * np.log10(max(float(smoothed.min()), 1e-10)))

    def observe(self, chunk: AudioChunk) -> None:
        """Learn the room's noise floor from audio outside a command window (e.g. while listening)."""
        self._remember(level_db(chunk), chunk.duration_ms)

    def process(self, chunk: AudioChunk) -> EndpointReason | None:
        """Take one chunk of the command window; return why the command ended, or None to go on."""
        duration_ms = chunk.duration_ms
        level = level_db(chunk)
        self._remember(level, duration_ms)
        self._elapsed_ms += duration_ms
        if level >= self.threshold_db:
            self._speech_ms += duration_ms
            self._trailing_ms = 0.0
        else:
            self._trailing_ms += duration_ms
        if self._speech_ms >= MIN_SPEECH_MS and self._trailing_ms >= self.config.silence_ms:
            return "silence"
        if self._elapsed_ms >= self.config.max_command_ms:
            return "max_length" if self._speech_ms >= MIN_SPEECH_MS else "no_speech"
        if self._speech_ms < MIN_SPEECH_MS and self._elapsed_ms >= self.config.no_speech_timeout_ms:
            return "no_speech"
        return None

    def _remember(self, level: float, duration_ms: float) -> None:
        self._levels.append(level)
        self._levels_ms += duration_ms
        while self._levels_ms > _FLOOR_HISTORY_MS and len(self._levels) > 1:
            self._levels.popleft()
            self._levels_ms -= duration_ms
