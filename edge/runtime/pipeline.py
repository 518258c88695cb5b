"""The voice pipeline as a plain state machine, advanced one audio chunk at a time.

LISTENING --wake--> COMMAND --endpoint--> (understand, act) --> LISTENING

``Pipeline.feed(chunk)`` returns the events that chunk caused. It is deterministic given its input, so tests
feed WAV chunks and assert events with no sleeps or threads. Latencies are wall-clock time spent in each
stage; timestamps are audio time since the stream began.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from edge.events import Detection, Event, StageError, Timeout, Transcript
from edge.speech.audio import AudioChunk
from edge.speech.endpoint import Endpointer
from edge.speech.wake import WakeDetector

log = logging.getLogger(__name__)


class Recognizer(Protocol):
    """Command speech recognizer, fed only while a command is being spoken."""

    engine: str

    def start(self) -> None: ...
    def process(self, chunk: AudioChunk) -> None: ...
    def finish(self) -> str: ...
    def reset(self) -> None: ...


class CommandHandler(Protocol):
    """Turns a transcript into intent, action and outcome events."""

    def handle(self, text: str, timestamp_ms: int) -> list[Event]: ...


class State(enum.Enum):
    """Where the pipeline is."""

    LISTENING = "listening"
    COMMAND = "command"


class Pipeline:
    """Wake word, then command recognition until the endpoint, then the command handler."""

    def __init__(
        self,
        wake: WakeDetector,
        recognizer: Recognizer,
        endpointer: Endpointer,
        handler: CommandHandler,
        *,
        refractory_ms: int = 2000,
        preroll_ms: int = 0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.wake = wake
        self.recognizer = recognizer
        self.endpointer = endpointer
        self.handler = handler
        self.refractory_ms = refractory_ms
        self.preroll_ms = preroll_ms
        self._clock = clock
        self.state = State.LISTENING
        self._refractory_until_ms = -1
        # Audio heard just before the wake fired: a command said in one breath may start before the
        # detector has finished deciding, so the recognizer gets this much back-history.
        self._recent: deque[AudioChunk] = deque()

    def feed(self, chunk: AudioChunk) -> list[Event]:
        """Advance by one chunk and return the events it caused."""
        if self.state is State.LISTENING:
            return self._listen(chunk)
        return self._command(chunk)

    def reset(self) -> None:
        """Forget any utterance in progress and go back to listening."""
        self.state = State.LISTENING
        self._recent.clear()
        self.wake.reset()
        self.recognizer.reset()
        self.endpointer.reset()

    def _listen(self, chunk: AudioChunk) -> list[Event]:
        self._remember(chunk)
        # The room heard while listening is what the endpointer measures its noise floor against.
        self.endpointer.observe(chunk)
        started = self._clock()
        try:
            detection = self.wake.process(chunk)
        except Exception as err:  # a broken stage must not kill the listener
            log.exception("wake: failed on chunk at %d ms", chunk.timestamp_ms)
            self.reset()
            return [StageError(chunk.timestamp_ms, "wake", f"{type(err).__name__}: {err}")]
        if detection is None:
            return []
        end_ms = chunk.timestamp_ms + round(chunk.duration_ms)
        if end_ms < self._refractory_until_ms:
            log.debug("wake: %s ignored, refractory until %d ms", detection.name, self._refractory_until_ms)
            return []
        detection = Detection(end_ms, detection.name, detection.score, (self._clock() - started) * 1000)
        log.info("wake: %s score=%.2f", detection.name, detection.score)
        self.state = State.COMMAND
        self.endpointer.reset()
        self.recognizer.start()
        events: list[Event] = [detection]
        for earlier in self._preroll():
            events += self._command(earlier)
        return events

    def _command(self, chunk: AudioChunk) -> list[Event]:
        try:
            self.recognizer.process(chunk)
            endpoint = self.endpointer.process(chunk)
        except Exception as err:
            log.exception("asr: failed on chunk at %d ms", chunk.timestamp_ms)
            self._back_to_listening(chunk)
            return [StageError(chunk.timestamp_ms, "asr", f"{type(err).__name__}: {err}")]
        if endpoint is None:
            return []
        end_ms = chunk.timestamp_ms + round(chunk.duration_ms)
        if endpoint == "no_speech":
            log.info("command: no speech, back to listening")
            self._back_to_listening(chunk)
            return [Timeout(end_ms, "no speech after the wake word")]
        return self._finish_command(chunk, endpoint, end_ms)

    def _finish_command(self, chunk: AudioChunk, endpoint: str, end_ms: int) -> list[Event]:
        events: list[Event] = []
        started = self._clock()
        try:
            text = self.recognizer.finish()
            transcript = Transcript(
                end_ms,
                text,
                self.recognizer.engine,
                endpoint,
                float(self.endpointer.trailing_silence_ms),
                (self._clock() - started) * 1000,
            )
            log.info("asr: %r %.0f ms (%s)", text, transcript.latency_ms, endpoint)
            events.append(transcript)
            events += self.handler.handle(text, end_ms)
        except Exception as err:
            log.exception("command: failed to handle the utterance ending at %d ms", end_ms)
            events.append(StageError(end_ms, "command", f"{type(err).__name__}: {err}"))
        self._back_to_listening(chunk)
        return events

    def _back_to_listening(self, chunk: AudioChunk) -> None:
        self._refractory_until_ms = chunk.timestamp_ms + round(chunk.duration_ms) + self.refractory_ms
        self.reset()

    def _remember(self, chunk: AudioChunk) -> None:
        self._recent.append(chunk)
        while self._recent and sum(c.duration_ms for c in self._recent) > self.preroll_ms + chunk.duration_ms:
            self._recent.popleft()

    def _preroll(self) -> Sequence[AudioChunk]:
        # The chunk that fired the wake is already in _recent; the pre-roll is what came before it, plus it.
        chunks = list(self._recent) if self.preroll_ms else []
        self._recent.clear()
        return chunks
