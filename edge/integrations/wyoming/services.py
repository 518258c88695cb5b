"""edge's engines as Wyoming services: its wake words and its Whisper speech-to-text for Home Assistant.

Each connection gets its own session (a wake detector keeps streaming state; a transcription keeps its
audio). The engines run on one worker thread shared by every session, never on the loop, so a long decode
delays only the next decode, never another connection, and the services never take more than one core.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk as WyChunk
from wyoming.audio import AudioChunkConverter, AudioStart, AudioStop
from wyoming.event import Event as WyEvent
from wyoming.wake import Detect, Detection, NotDetected

from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk

log = logging.getLogger(__name__)

MAX_TRANSCRIBE_S = 30  # Whisper's own window; audio beyond it is not kept
Send = Callable[[WyEvent], Awaitable[bool]]


@dataclass(frozen=True)
class Engines:
    """Factories for the engines the services run (called on the worker thread) and that worker."""

    executor: Executor
    new_wake: Callable[[], Any] | None = None  # a fresh WakeDetector (its own streaming state)
    transcribe: Callable[[bytes], str] | None = None  # 16 kHz int16 mono PCM -> text


class WakeSession:
    """Detect, then audio: a Detection for the first wake word heard, NotDetected at the audio's end."""

    def __init__(self, engines: Engines, names: list[str] | None) -> None:
        self.engines = engines
        self.names = set(names or [])  # empty: any of edge's wake words
        self._detector: Any = None
        self._converter = AudioChunkConverter(rate=SAMPLE_RATE_HZ, width=2, channels=1)
        self._audio_ms = 0
        self._detected = False

    async def on_event(self, event: WyEvent, send: Send) -> None:
        """Feed audio to this session's detector."""
        loop = asyncio.get_running_loop()
        if AudioStart.is_type(event.type):
            self._audio_ms, self._detected = 0, False
            if self._detector is None and self.engines.new_wake is not None:
                self._detector = await loop.run_in_executor(self.engines.executor, self.engines.new_wake)
            elif self._detector is not None:
                await loop.run_in_executor(self.engines.executor, self._detector.reset)
        elif WyChunk.is_type(event.type) and self._detector is not None and not self._detected:
            chunk = self._converter.convert(WyChunk.from_event(event))
            edge_chunk = AudioChunk(chunk.audio, self._audio_ms)
            self._audio_ms += round(edge_chunk.duration_ms)
            found = await loop.run_in_executor(self.engines.executor, self._detector.process, edge_chunk)
            if found is not None and (not self.names or found.name in self.names):
                self._detected = True
                log.info("wyoming: wake service heard %s at %d ms", found.name, found.timestamp_ms)
                await send(Detection(name=found.name, timestamp=found.timestamp_ms).event())
        elif AudioStop.is_type(event.type) and not self._detected:
            await send(NotDetected().event())

    def close(self) -> None:
        """Release the detector (on the worker thread's time, it is idle by now)."""
        if self._detector is not None:
            self._detector.close()
            self._detector = None


class TranscribeSession:
    """Transcribe, then audio: one Transcript of the whole audio at its end."""

    def __init__(self, engines: Engines, language: str | None) -> None:
        self.engines = engines
        self.language = language
        self._converter = AudioChunkConverter(rate=SAMPLE_RATE_HZ, width=2, channels=1)
        self._pcm = bytearray()

    async def on_event(self, event: WyEvent, send: Send) -> None:
        """Keep the audio; decode it when it ends."""
        if AudioStart.is_type(event.type):
            self._pcm.clear()
        elif WyChunk.is_type(event.type):
            if len(self._pcm) < MAX_TRANSCRIBE_S * SAMPLE_RATE_HZ * 2:
                self._pcm += self._converter.convert(WyChunk.from_event(event)).audio
        elif AudioStop.is_type(event.type) and self.engines.transcribe is not None:
            pcm = bytes(self._pcm)
            self._pcm.clear()
            loop = asyncio.get_running_loop()
            text = await loop.run_in_executor(self.engines.executor, self.engines.transcribe, pcm)
            log.info("wyoming: speech-to-text service: %r (%d ms of audio)", text, len(pcm) // 32)
            await send(Transcript(text=text, language="en").event())

    def close(self) -> None:
        """Drop the audio."""
        self._pcm.clear()


def start_session(engines: Engines, event: WyEvent) -> WakeSession | TranscribeSession | None:
    """The session a request event opens (Detect or Transcribe), if that service is on."""
    if Detect.is_type(event.type) and engines.new_wake is not None:
        return WakeSession(engines, Detect.from_event(event).names)
    if Transcribe.is_type(event.type) and engines.transcribe is not None:
        return TranscribeSession(engines, Transcribe.from_event(event).language)
    return None
