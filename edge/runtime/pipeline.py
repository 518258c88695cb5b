"""The voice pipeline as a plain state machine, advanced one audio chunk at a time.

LISTENING --wake--> COMMAND --endpoint--> (understand, act) --> LISTENING

In COMMAND the endpointer decides which audio is the command (never the wake phrase's own tail) and when it
is over; with a ``complete_after`` check the command also ends after a short silence once the recognizer's
current words are a whole command, and waits the full ``silence_ms`` while they are not ("set the fan to ...").
``Pipeline.feed(chunk)`` returns the events that chunk caused. It is deterministic given its input, so tests
feed WAV chunks and assert events with no sleeps or threads. Latencies are wall-clock time spent in each
stage; timestamps are audio time since the stream began. Every decision is made in audio time, so a slower
CPU acts later, never differently. A source that had to drop audio (a live microphone whose queue overflowed)
stamps the next chunk later by what was lost: a command heard across such a gap is dropped, not acted on.
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
from edge.speech.wake.engines import WakeDetector

log = logging.getLogger(__name__)

# Audio kept while listening and handed to the endpointer when the wake fires: enough for its voice activity
# detector to know whether someone is still speaking at the wake decision.
HISTORY_MS = 480
# A detector that decides on batches of frames (the custom engine: wake.step_ms, up to 1280 ms) says how late
# its decision came; that much more audio is kept so the command that began meanwhile can be replayed.
MAX_DECISION_LAG_MS = 1500


class Recognizer(Protocol):
    """Command speech recognizer, fed only while a command is being spoken."""

    engine: str

    def start(self) -> None: ...
    def process(self, chunk: AudioChunk) -> None: ...
    def finish(self) -> str: ...
    def reset(self) -> None: ...


class CommandEndpointer(Protocol):
    """Finds the command's audio after the wake and says when it is over (see edge.speech.endpoint)."""

    @property
    def started(self) -> bool: ...
    @property
    def in_speech(self) -> bool: ...
    @property
    def trailing_silence_ms(self) -> int: ...
    def begin(self, history: Sequence[AudioChunk]) -> None: ...
    def process(self, chunk: AudioChunk) -> str | None: ...
    def release(self) -> list[AudioChunk]: ...
    def observe(self, chunk: AudioChunk) -> None: ...
    def reset(self) -> None: ...


class Cleaner(Protocol):
    """Audio clean-up in front of the stages (noise suppression)."""

    def process(self, chunk: AudioChunk) -> AudioChunk: ...


class CommandHandler(Protocol):
    """Turns a transcript into intent, action and outcome events."""

    def handle(self, text: str, timestamp_ms: int, heard: Transcript | None = None) -> list[Event]: ...


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
        endpointer: CommandEndpointer,
        handler: CommandHandler,
        *,
        refractory_ms: int = 2000,
        complete_after: Callable[[str], int | None] | None = None,
        cleaner: Cleaner | None = None,
        clean_wake: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.wake = wake
        self.recognizer = recognizer
        self.endpointer = endpointer
        self.handler = handler
        self.refractory_ms = refractory_ms
        # The silence (ms) after which these words end the command; None while they are not a whole command.
        self.complete_after = complete_after
        self.cleaner = cleaner
        self.clean_wake = clean_wake
        self._clock = clock
        self.state = State.LISTENING
        self._refractory_until_ms = -1
        self._candidate: tuple[str, int] | None = None  # complete words seen in this pause, and since when
        # Audio heard just before the wake fired: the endpointer judges from it whether the command began
        # in the same breath, and then hands the end of it (the pre-roll) to the recognizer.
        self._recent: deque[AudioChunk] = deque()
        self._next_ms: int | None = None  # where the next chunk should start; later means audio was lost

    def feed(self, chunk: AudioChunk) -> list[Event]:
        """Advance by one chunk and return the events it caused."""
        lost = self._audio_lost(chunk)
        if self.cleaner is not None and (self.clean_wake or self.state is State.COMMAND):
            chunk = self.cleaner.process(chunk)
        if self.state is State.LISTENING:
            return lost + self._listen(chunk)
        return lost + self._command(chunk)

    def reset(self) -> None:
        """Forget any utterance in progress and go back to listening."""
        self.state = State.LISTENING
        self._candidate = None
        self._recent.clear()
        self._next_ms = None
        self.wake.reset()
        self.recognizer.reset()
        self.endpointer.reset()

    def _audio_lost(self, chunk: AudioChunk) -> list[Event]:
        """A gap before ``chunk`` drops the command in progress, or restarts the wake word's context."""
        expected = self._next_ms
        if expected is None or chunk.timestamp_ms - expected <= chunk.duration_ms / 2:
            self._next_ms = chunk.timestamp_ms + round(chunk.duration_ms)
            return []
        gap_ms = chunk.timestamp_ms - expected
        events: list[Event] = []
        if self.state is State.COMMAND:
            log.warning("audio: %d ms lost while a command was heard (fell behind); command dropped", gap_ms)
            events.append(
                StageError(chunk.timestamp_ms, "audio", f"{gap_ms} ms of the command lost: dropped")
            )
        else:
            log.warning("audio: %d ms lost while listening (fell behind)", gap_ms)
        self.reset()  # no refractory: the person will say it again
        self._next_ms = chunk.timestamp_ms + round(chunk.duration_ms)
        return events

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
        self.recognizer.start()
        history = list(self._recent)
        self._recent.clear()
        # Audio heard after the frame that decided: handled as if it came after an on-time wake.
        lag_ms = min(getattr(self.wake, "decision_lag_ms", 0), MAX_DECISION_LAG_MS)
        late = round(lag_ms / chunk.duration_ms) if chunk.duration_ms else 0
        late = min(late, len(history))
        on_time = history[: len(history) - late]
        self.endpointer.begin(on_time[-(HISTORY_MS // max(round(chunk.duration_ms), 1) + 1) :])
        events: list[Event] = [detection]
        for replayed in history[len(history) - late :]:
            if self.state is not State.COMMAND:
                break
            events.extend(self._command(replayed))
        return events

    def _command(self, chunk: AudioChunk) -> list[Event]:
        try:
            endpoint = self.endpointer.process(chunk)
            for ready in self.endpointer.release():
                self.recognizer.process(ready)
            if endpoint is None and self._words_complete():
                endpoint = "complete"
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

    def _words_complete(self) -> bool:
        """In a pause, whether the recognizer's words are a whole command that held for half its short silence.

        A decoder may still revise its best path as silence comes in ("turn on the kitchen light" becoming
        "... light off"): the same complete words must be seen over half the short silence as well.
        """
        endpointer = self.endpointer
        if self.complete_after is None or not endpointer.started or endpointer.in_speech:
            self._candidate = None
            return False
        silence_ms = endpointer.trailing_silence_ms
        partial = getattr(self.recognizer, "partial", None)
        # Asked from the pause's first chunk on: a recognizer that decodes on demand (Whisper) then spends
        # its decode while the short silence is still being heard, not after it.
        if partial is None or silence_ms <= 0:
            return False
        text = partial()
        needed_ms = self.complete_after(text)
        if needed_ms is None:
            self._candidate = None
            return False
        if self._candidate is None or self._candidate[0] != text:
            self._candidate = (text, silence_ms)
        return silence_ms >= needed_ms and silence_ms - self._candidate[1] >= needed_ms / 2

    def _finish_command(self, chunk: AudioChunk, endpoint: str, end_ms: int) -> list[Event]:
        events: list[Event] = []
        started = self._clock()
        try:
            text = self.recognizer.finish()
            sure = getattr(self.recognizer, "last_certainty", None)
            transcript = Transcript(
                end_ms,
                text,
                self.recognizer.engine,
                endpoint,
                float(self.endpointer.trailing_silence_ms),
                (self._clock() - started) * 1000,
                avg_logprob=round(sure.avg_logprob, 4) if sure else None,
                word_probability=round(sure.word_probability, 4) if sure else None,
                no_speech_prob=round(sure.no_speech_prob, 4) if sure else None,
            )
            log.info("asr: %r %.0f ms (%s)", text, transcript.latency_ms, endpoint)
            events.append(transcript)
            events += self.handler.handle(text, end_ms, transcript)
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
        while len(self._recent) * chunk.duration_ms > HISTORY_MS + MAX_DECISION_LAG_MS + chunk.duration_ms:
            self._recent.popleft()
