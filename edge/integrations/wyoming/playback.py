"""Home Assistant's answers on edge's speaker: a thread of its own, fed through a bounded queue.

The Wyoming loop hands over a whole clip (its spoken answer, an announcement, a timer's alarm). This thread
asks the pipeline thread to mute the wake word for the clip's length (so edge never wakes itself), plays it,
then tells the loop it was played. The loop and the pipeline never wait for the speaker.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.runtime.speaker import (
    MUTE_MARGIN_S,
    Player,
    Submit,
    Synthesizer,
    WakeMute,
    request_mute,
    stop_worker,
)

log = logging.getLogger(__name__)

QUEUE_CLIPS = 4  # the oldest clip waiting is dropped beyond this: a stale answer is worse than none
TONE_HZ = 880


@dataclass(frozen=True)
class Clip:
    """Mono int16 samples to play; ``done`` runs once played (or dropped), on the playback thread."""

    samples: np.ndarray
    rate_hz: int
    what: str
    done: Callable[[], None] | None = None
    say: str | None = None  # spoken instead of ``samples`` when edge has a voice (voice.replies)

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate_hz if self.rate_hz else 0.0


def alarm_tone(rate_hz: int = 16000, beeps: int = 3) -> np.ndarray:
    """Three short beeps: a finished timer's sound when edge has no voice (voice.replies off)."""
    beep = np.sin(2 * np.pi * TONE_HZ * np.arange(rate_hz // 5) / rate_hz) * 0.4 * 32767
    gap = np.zeros(rate_hz // 8)
    return np.concatenate([np.concatenate([beep, gap]) for _ in range(beeps)]).astype(np.int16)


class Playback:
    """Plays clips one after another on its own thread; ``play`` never blocks."""

    def __init__(
        self, player: Player | None, mute: WakeMute | None = None, synthesizer: Synthesizer | None = None
    ) -> None:
        self.player = player  # None: no sound output (logged once); clips are still reported played
        self.mute = mute
        self.synthesizer = synthesizer  # speaks a clip's ``say`` text, on this thread
        self.submit: Submit | None = None  # the daemon's inbox, set once the daemon exists
        self.played = 0
        self.dropped = 0
        self.failures = 0
        self._queue: queue.Queue[Clip | None] = queue.Queue(maxsize=QUEUE_CLIPS)
        self._thread = threading.Thread(target=self._run, name="edge-wyoming-playback", daemon=True)
        self._thread.start()

    def play(self, clip: Clip) -> None:
        """Queue ``clip`` (any thread); drop the oldest waiting one when the queue is full."""
        while True:
            try:
                self._queue.put_nowait(clip)
                return
            except queue.Full:
                try:
                    stale = self._queue.get_nowait()
                except queue.Empty:
                    continue
                self.dropped += 1
                if stale is not None and stale.done is not None:
                    stale.done()

    def _run(self) -> None:
        while True:
            clip = self._queue.get()
            if clip is None:
                return
            try:
                self._play(clip)
            except Exception as err:  # a vanished speaker must never stop listening
                level = logging.DEBUG if self.failures else logging.WARNING
                log.log(level, "wyoming: cannot play %s: %s: %s", clip.what, type(err).__name__, err)
                self.failures += 1
            finally:
                if clip.done is not None:
                    clip.done()

    def _play(self, clip: Clip) -> None:
        if clip.say is not None and self.synthesizer is not None:
            samples, rate_hz = self.synthesizer.synthesize(clip.say)
            clip = Clip(samples, rate_hz, f"{clip.what} {clip.say!r}", clip.done)
        request_mute(self.mute, self.submit, clip.duration_s + MUTE_MARGIN_S)
        log.info("wyoming: playing %s (%.1f s)", clip.what, clip.duration_s)
        if self.player is not None:
            self.player(clip.samples, clip.rate_hz)
        self.played += 1

    def close(self, timeout_s: float = 5.0) -> None:
        """Drop what waits, finish the clip playing, stop the thread."""
        stop_worker(self._queue, self._thread, timeout_s)
