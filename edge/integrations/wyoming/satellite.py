"""edge as Home Assistant's Assist satellite: hand over what edge cannot do, play what Home Assistant says.

Two threads meet here and share nothing but a bounded queue. On the pipeline thread ``CommandRecorder``
keeps the audio of the command in progress and ``Satellite.offer`` queues a handover with it. On the
Wyoming loop ``Satellite`` sends it as Home Assistant's satellite protocol expects (detection, run-pipeline
from speech-to-text to text-to-speech, the audio), and turns the audio Home Assistant sends back (its answer,
an announcement) and its finished timers into clips for the speaker thread.

Home Assistant's Wyoming satellite entity runs a pipeline from a satellite's audio only (it has no text
input), so the command's own audio is what goes: edge already holds it, and its transcript may be blank
(Whisper's command-word check empties out-of-domain words).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from wyoming.asr import Transcript as WyTranscript
from wyoming.audio import AudioChunk as WyChunk
from wyoming.audio import AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event as WyEvent
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated
from wyoming.tts import Synthesize
from wyoming.wake import Detection as WyDetection

from edge.events import ActionResult, Detection, Event, HandedOver, NotUnderstood, StageError, Timeout
from edge.integrations.wyoming.handover import HandOver
from edge.integrations.wyoming.playback import Clip, Playback, alarm_tone
from edge.runtime.speaker import Submit
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk

log = logging.getLogger(__name__)

MAX_COMMAND_AUDIO_MS = 15000  # longer than endpoint.max_command_ms can make a command
MAX_CLIP_S = 120.0  # an answer or announcement longer than this is cut: the speaker must not be held forever
HANDOVERS_WAITING = 2
SEND_CHUNK_BYTES = 2048  # 64 ms of 16 kHz audio per event, as Home Assistant's own satellite code sends
_ENDS_COMMAND = (ActionResult, NotUnderstood, Timeout, StageError, HandedOver)


def timer_sentence(name: str | None) -> str:
    """What edge says when a timer Home Assistant set on it ends."""
    return f"the {name} timer is done" if name else "your timer is done"


class Session(Protocol):
    """One connection from Home Assistant, as the satellite sees it (edge.integrations.wyoming.connection)."""

    peer: str
    running: bool

    async def send(self, event: WyEvent) -> bool: ...


class CommandRecorder:
    """Daemon tap and sink on the pipeline thread: the audio of the command in progress, from the wake on."""

    def __init__(self, max_ms: int = MAX_COMMAND_AUDIO_MS) -> None:
        self.max_bytes = max_ms * SAMPLE_RATE_HZ // 1000 * 2
        self._pcm = bytearray()
        self._from_ms: int | None = None  # recording from this audio time; None: not recording
        self.wake_name: str | None = None

    def on_event(self, event: Event) -> None:
        """Start at a wake, stop when the command has its outcome."""
        if isinstance(event, Detection):
            self._pcm.clear()
            self._from_ms = event.timestamp_ms  # the chunk that carried the wake phrase's end is not kept
            self.wake_name = event.name
        elif isinstance(event, _ENDS_COMMAND):
            self._from_ms = None
            self._pcm.clear()

    def on_chunk(self, chunk: AudioChunk) -> None:
        """Keep the chunk while a command is being heard (a bool test otherwise)."""
        if self._from_ms is None or chunk.timestamp_ms < self._from_ms:
            return
        if len(self._pcm) < self.max_bytes:
            self._pcm += chunk.pcm

    def take(self) -> bytes:
        """The command's audio so far; recording stops."""
        pcm = bytes(self._pcm)
        self._pcm.clear()
        self._from_ms = None
        return pcm


@dataclass(frozen=True)
class Handover:
    """A command on its way to Home Assistant, with its audio and when edge let go of it."""

    event: HandedOver
    wake_name: str | None
    pcm: bytes
    offered_s: float


class Satellite:
    """The satellite side of the Wyoming server (see the module docstring for which thread runs what)."""

    def __init__(
        self,
        playback: Playback,
        *,
        timeout_s: float = 15.0,
        announce_timer: Callable[[str | None], Clip] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.playback = playback
        self.timeout_s = timeout_s
        self.recorder = CommandRecorder()
        self.handover: HandOver | None = None
        self.submit: Submit | None = None  # the daemon's inbox, set once the daemon exists
        self._announce_timer = announce_timer or (
            lambda name: Clip(alarm_tone(), SAMPLE_RATE_HZ, "timer alarm", say=timer_sentence(name))
        )
        self._clock = clock
        self._waiting: queue.Queue[Handover] = queue.Queue(maxsize=HANDOVERS_WAITING)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        # Owned by the loop thread:
        self._session: Session | None = None
        self._clip: tuple[AudioChunkConverter, int, bytearray, str] | None = None
        self._answer_due: asyncio.TimerHandle | None = None
        self._timers: dict[str, str | None] = {}
        self.sent = 0
        self.lost = 0
        self.unanswered = 0
        self.send_ms: deque[float] = deque(maxlen=100)  # edge's share of each handover, offer to last byte

    # -- pipeline thread -------------------------------------------------------------------------------

    def offer(self, event: HandedOver) -> bool:
        """Queue the command for Home Assistant; False (edge answers itself) when it cannot go now."""
        loop, wakeup = self._loop, self._wakeup
        pcm = self.recorder.take()
        if loop is None or wakeup is None or not pcm:
            return False
        try:
            self._waiting.put_nowait(Handover(event, self.recorder.wake_name, pcm, self._clock()))
        except queue.Full:
            log.warning(
                "wyoming: %d handovers already waiting, answering %r here", HANDOVERS_WAITING, event.text
            )
            return False
        try:
            loop.call_soon_threadsafe(wakeup.set)
        except RuntimeError:  # the server has stopped (edge is shutting down): answer here
            return False
        return True

    # -- loop thread -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Send handovers as they come, one at a time, until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while True:
                try:
                    handover = self._waiting.get_nowait()
                except queue.Empty:
                    break
                await self._send(handover)

    def detach(self, session: Session) -> None:
        """A connection closed; if it was the satellite's, hand nothing over until Home Assistant is back."""
        if self._session is session:
            log.info("wyoming: Home Assistant's satellite connection from %s closed", session.peer)
            self._session = None
            self._clip = None
            self._set_available(False)

    async def on_event(self, session: Session, event: WyEvent) -> bool:
        """Handle one satellite event; False when it is not one (the connection tries the services)."""
        if RunSatellite.is_type(event.type):
            if self._session is not None and self._session is not session:
                log.info(
                    "wyoming: satellite connection from %s replaces %s", session.peer, self._session.peer
                )
            self._session, session.running = session, True
            log.info("wyoming: Home Assistant runs the satellite (%s)", session.peer)
            self._set_available(True)
        elif PauseSatellite.is_type(event.type):
            session.running = False
            log.info("wyoming: Home Assistant paused the satellite")
            if self._session is session:
                self._set_available(False)
        elif self._session is not session:
            return False
        else:
            await self._on_pipeline_event(session, event)
        return True

    async def _on_pipeline_event(self, session: Session, event: WyEvent) -> None:
        if AudioStart.is_type(event.type):
            self._answered()
            start = AudioStart.from_event(event)
            what = "Home Assistant's answer" if self._answer_due is not None else "an announcement"
            self._clip = (AudioChunkConverter(width=2, channels=1), start.rate, bytearray(), what)
        elif WyChunk.is_type(event.type) and self._clip is not None:
            converter, rate, pcm, _what = self._clip
            chunk = converter.convert(WyChunk.from_event(event))
            if chunk.rate == rate and len(pcm) < MAX_CLIP_S * rate * 2:
                pcm += chunk.audio
        elif AudioStop.is_type(event.type) and self._clip is not None:
            _converter, rate, pcm, what = self._clip
            self._clip = None
            self.playback.play(
                Clip(np.frombuffer(bytes(pcm), dtype="<i2"), rate, what, self._played_later(session))
            )
        elif WyTranscript.is_type(event.type):
            self._answered()
            log.info("wyoming: Home Assistant heard %r", WyTranscript.from_event(event).text)
        elif Synthesize.is_type(event.type):
            log.info("wyoming: Home Assistant answers %r", Synthesize.from_event(event).text)
        elif Error.is_type(event.type):
            self._answered()
            error = Error.from_event(event)
            log.warning("wyoming: Home Assistant's pipeline failed: %s (%s)", error.text, error.code)
        else:
            self._on_timer(event)

    def _on_timer(self, event: WyEvent) -> None:
        if TimerStarted.is_type(event.type):
            timer = TimerStarted.from_event(event)
            self._timers[timer.id] = timer.name
            log.info("wyoming: timer %s started (%d s)", timer.name or timer.id, timer.total_seconds)
        elif TimerUpdated.is_type(event.type):
            log.info("wyoming: timer %s updated", TimerUpdated.from_event(event).id)
        elif TimerCancelled.is_type(event.type):
            self._timers.pop(TimerCancelled.from_event(event).id, None)
        elif TimerFinished.is_type(event.type):
            timer_id = TimerFinished.from_event(event).id
            name = self._timers.pop(timer_id, None)
            log.info("wyoming: timer %s finished", name or timer_id)
            self.playback.play(self._announce_timer(name))
        else:
            log.debug("wyoming: satellite event %s ignored", event.type)

    def _played_later(self, session: Session) -> Callable[[], None]:
        """A callback for the playback thread: tell Home Assistant the clip was played (it waits for it)."""
        loop = self._loop

        def done() -> None:
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(lambda: loop.create_task(session.send(Played().event())))

        return done

    async def _send(self, handover: Handover) -> None:
        session = self._session
        text = handover.event.text
        if session is None or not session.running:
            self._lost(handover, "Home Assistant's satellite connection is gone")
            return
        stage = RunPipeline(
            start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS, wake_word_name=handover.wake_name
        )
        events = [WyDetection(name=handover.wake_name).event(), stage.event()]
        events.append(AudioStart(rate=SAMPLE_RATE_HZ, width=2, channels=1, timestamp=0).event())
        pcm = handover.pcm
        for offset in range(0, len(pcm), SEND_CHUNK_BYTES):
            piece = pcm[offset : offset + SEND_CHUNK_BYTES]
            events.append(
                WyChunk(rate=SAMPLE_RATE_HZ, width=2, channels=1, audio=piece, timestamp=offset // 32).event()
            )
        events.append(AudioStop(timestamp=len(pcm) // 32).event())
        for event in events:
            if not await session.send(event):
                self._lost(handover, f"sending to {session.peer} failed")
                return
        share_ms = (self._clock() - handover.offered_s) * 1000
        self.send_ms.append(share_ms)
        self.sent += 1
        log.info(
            "wyoming: %r sent to Home Assistant (%d ms of audio, %.1f ms)", text, len(pcm) // 32, share_ms
        )
        self._expect_answer(text)

    def _expect_answer(self, text: str) -> None:
        if self._answer_due is not None:
            self._answer_due.cancel()
        assert self._loop is not None  # set by run(), which sends

        def overdue() -> None:
            self._answer_due = None
            self.unanswered += 1
            log.warning("wyoming: Home Assistant did not answer %r within %.0f s", text, self.timeout_s)

        self._answer_due = self._loop.call_later(self.timeout_s, overdue)

    def _answered(self) -> None:
        if self._answer_due is not None:
            self._answer_due.cancel()
            self._answer_due = None

    def _lost(self, handover: Handover, why: str) -> None:
        """Home Assistant cannot take it: edge says its own answer instead, and still does nothing."""
        self.lost += 1
        event = handover.event
        log.warning("wyoming: %r not handed over (%s); answering here", event.text, why)
        if self.submit is not None:
            refusal = NotUnderstood(event.timestamp_ms, event.text, event.reason)
            self.submit(lambda: [refusal])

    def _set_available(self, available: bool) -> None:
        handover, submit = self.handover, self.submit
        if handover is not None and submit is not None:
            submit(lambda: handover.set_available(available))
