"""Where a spoken command starts and ends after the wake word, decided by a voice activity detector.

After the wake fires the endpointer is in one of three phases:

- ``tail``: the wake decision came while someone was still speaking. Either that is the end of the wake
  phrase (a pause of ``TAIL_GAP_MS`` comes before ``ONE_BREATH_MS`` of speech), which is dropped, or the
  command said in the same breath (speech goes on), which starts the command *with* the pre-roll: the audio
  just before the decision.
- ``waiting``: nobody is speaking; the command starts at the first ``ONSET_MS`` of speech, with
  ``LEAD_IN_MS`` of the audio before it, and ``no_speech`` ends the wait after ``no_speech_timeout_ms``.
- ``command``: ends after ``silence_ms`` of non-speech, or at ``max_command_ms`` from its start. The pipeline
  may end it sooner (``complete_silence_ms``) when the words so far are a whole command.

The audio the recognizer should hear is handed out by ``release()``: nothing of the wake phrase's tail, and
the held lead-in the moment the command starts.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import Literal

from edge.speech.audio import AudioChunk
from edge.speech.settings import EndpointConfig
from edge.speech.vad import VoiceActivity, level_db, vad_from_name

__all__ = ["EndpointReason", "Endpointer", "level_db"]

log = logging.getLogger(__name__)

EndpointReason = Literal["silence", "max_length", "no_speech"]
Phase = Literal["tail", "waiting", "command"]

SPEECH_ON = 0.5  # probability that starts speech (Silero's own default threshold)
SPEECH_OFF = 0.35  # and below which it stops: Silero's recommended hysteresis of 0.15
PREROLL_MS = 150  # audio before the wake decision that a one-breath command may have started in
ONE_BREATH_MS = (
    400  # this much speech past the wake decision, with no long pause, is the command, not the tail
)
TAIL_GAP_MS = 350  # a pause this long after the wake decision ends the wake phrase's tail
ONSET_MS = 60  # this much continuous speech starts the command (a click or a breath does not)
LEAD_IN_MS = 400  # audio before the onset handed to the recognizer: the detector's onset lag and a breath


class Endpointer:
    """Decides, chunk by chunk, when the command starts and when it is over."""

    def __init__(self, config: EndpointConfig, vad: VoiceActivity | None = None) -> None:
        self.config = config
        self.vad = vad if vad is not None else vad_from_name(config.vad, config.energy_threshold_db)
        self.reset()

    def reset(self) -> None:
        """Start a new command window with nobody speaking."""
        self.vad.reset()
        self.phase: Phase = "waiting"
        self.in_speech = False
        self._elapsed_ms = 0.0  # since the wake
        self._command_ms = 0.0  # since the command started
        self._speech_ms = 0.0  # continuous speech (onset) or total speech (command)
        self._trailing_ms = 0.0
        self._quiet_chunks = 0  # consecutive non-speech chunks in the tail
        self._held: deque[AudioChunk] = deque()
        self._ready: list[AudioChunk] = []

    @property
    def started(self) -> bool:
        """Whether the command has begun (the recognizer is being fed)."""
        return self.phase == "command"

    @property
    def trailing_silence_ms(self) -> int:
        """Non-speech heard since the last speech chunk of the command."""
        return round(self._trailing_ms)

    def observe(self, chunk: AudioChunk) -> None:
        """Let the detector learn the room from audio heard while listening."""
        self.vad.observe(chunk)

    def begin(self, history: Sequence[AudioChunk]) -> None:
        """The wake fired at the end of ``history`` (recent audio, oldest first): find who is speaking now."""
        self.reset()
        for chunk in history:
            self._update_speech(self.vad.speech_probability(chunk))
        if self.in_speech:
            self.phase = "tail"
            preroll: list[AudioChunk] = []
            for chunk in reversed(history):
                if sum(c.duration_ms for c in preroll) >= PREROLL_MS + chunk.duration_ms:
                    break
                preroll.insert(0, chunk)
            self._held.extend(preroll)
        log.debug("endpoint: wake %s", "during speech" if self.in_speech else "after speech")

    def release(self) -> list[AudioChunk]:
        """Command audio decided since the last call, oldest first, for the recognizer."""
        ready, self._ready = self._ready, []
        return ready

    def process(self, chunk: AudioChunk) -> EndpointReason | None:
        """Take one chunk after the wake; return why the command ended, or None to go on."""
        self._update_speech(self.vad.speech_probability(chunk))
        duration_ms = chunk.duration_ms
        self._elapsed_ms += duration_ms
        if self.phase == "command":
            return self._in_command(chunk)
        self._held.append(chunk)
        if self.phase == "tail":
            self._in_tail(duration_ms)
        else:
            self._in_wait(duration_ms)
        if self.phase == "command":
            self._ready.extend(self._held)
            self._held.clear()
            return None
        if self._elapsed_ms >= self.config.no_speech_timeout_ms:
            return "no_speech"
        return None

    def _in_tail(self, duration_ms: float) -> None:
        self._trailing_ms = 0.0 if self.in_speech else self._trailing_ms + duration_ms
        self._quiet_chunks = 0 if self.in_speech else self._quiet_chunks + 1
        self._speech_ms += duration_ms if self.in_speech else 0.0
        if self._trailing_ms >= TAIL_GAP_MS:
            log.debug("endpoint: wake phrase ended %.0f ms after the wake", self._elapsed_ms)
            self.phase = "waiting"
            self._trailing_ms = 0.0
            # The wake phrase's own audio never reaches the recognizer: only the pause after it is kept.
            while len(self._held) > self._quiet_chunks:
                self._held.popleft()
            self._speech_ms = 0.0
        elif self._speech_ms >= ONE_BREATH_MS:
            log.debug("endpoint: command said in the same breath as the wake phrase")
            self._start()

    def _in_wait(self, duration_ms: float) -> None:
        self._speech_ms = self._speech_ms + duration_ms if self.in_speech else 0.0
        if self._speech_ms >= ONSET_MS:
            log.debug("endpoint: command started %.0f ms after the wake", self._elapsed_ms)
            self._start()
        else:
            self._trim_held()

    def _start(self) -> None:
        self.phase = "command"
        self._trailing_ms = 0.0
        self._command_ms = sum(c.duration_ms for c in self._held)
        self._speech_ms = 0.0

    def _in_command(self, chunk: AudioChunk) -> EndpointReason | None:
        self._ready.append(chunk)
        self._command_ms += chunk.duration_ms
        if self.in_speech:
            self._speech_ms += chunk.duration_ms
            self._trailing_ms = 0.0
        else:
            self._trailing_ms += chunk.duration_ms
        if self._trailing_ms >= self.config.silence_ms:
            return "silence"
        if self._command_ms >= self.config.max_command_ms:
            return "max_length"
        return None

    def _update_speech(self, probability: float) -> None:
        self.in_speech = probability >= (SPEECH_OFF if self.in_speech else SPEECH_ON)

    def _trim_held(self) -> None:
        # Keep only the lead-in (plus any speech that may be an onset) for the moment the command starts.
        keep_ms = LEAD_IN_MS + self._speech_ms
        while self._held and sum(c.duration_ms for c in self._held) > keep_ms + self._held[0].duration_ms:
            self._held.popleft()
