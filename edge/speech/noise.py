"""Speex noise suppression (pyspeex-noise, as Home Assistant's voice satellites use it), without its gain control.

Off by default: see docs/benchmarks.md (voice activity and noise suppression) for what it was measured to
do here. ``command`` cleans only the command window (what the VAD and the recognizer hear; no cost while
listening), ``all`` also cleans what the wake word detector hears.
"""

from __future__ import annotations

from edge.errors import BackendMissingError
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk

_FRAME_BYTES = 2 * SAMPLE_RATE_HZ // 100  # speex works on 10 ms frames
# Speex's automatic gain stays off: in pyspeex-noise 2.0.1 any auto_gain above 0 (4000, its own example, and
# 1, 30, 8000 were tried) turned a real recording's speech at -24 dBFS into digital silence here.
AUTO_GAIN = 0
SUPPRESS_DB = -30  # pyspeex-noise's default attenuation of noise


class SpeexCleaner:
    """Cleans chunks of any whole number of 10 ms frames; keeps its noise estimate across chunks."""

    def __init__(self) -> None:
        try:
            from pyspeex_noise import AudioProcessor
        except ImportError:
            raise BackendMissingError(
                "audio.noise_suppression needs: pip install pyspeex-noise (or set it to none)"
            ) from None
        self._processor = AudioProcessor(AUTO_GAIN, SUPPRESS_DB)

    def process(self, chunk: AudioChunk) -> AudioChunk:
        """The chunk with noise suppressed and gain adjusted; a trailing partial frame passes unchanged."""
        pcm = chunk.pcm
        whole = len(pcm) - len(pcm) % _FRAME_BYTES
        cleaned = b"".join(
            self._processor.process_10ms(pcm[offset : offset + _FRAME_BYTES])
            for offset in range(0, whole, _FRAME_BYTES)
        )
        return AudioChunk(cleaned + pcm[whole:], chunk.timestamp_ms)
