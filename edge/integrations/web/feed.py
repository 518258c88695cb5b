"""The pipeline-thread side of the live view: events, a 10 Hz meter and a 1 Hz status, as messages.

Everything here runs on the daemon's pipeline thread, the only thread that may touch the pipeline, the
devices and the stats. It reads them, builds small JSON-ready messages and hands them to ``publish``, which
never blocks (the web server's thread takes them from there).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge.devices.bank import DeviceBank
from edge.events import ActionResult, Event, Intent, NotUnderstood, StageError, Timeout
from edge.runtime.daemon import Request
from edge.runtime.pipeline import Pipeline
from edge.runtime.status import DaemonStats
from edge.speech.audio import AudioChunk
from edge.understanding.handler import Understanding

log = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], None]
METER_INTERVAL_S = 0.1  # 10 Hz: smooth on a projector, a few hundred bytes a second
STATUS_INTERVAL_S = 1.0
TOP_CANDIDATES = 3
SILENT_DB = -100.0
OUTCOMES = (ActionResult, NotUnderstood, Timeout, StageError)


class LiveFeed:
    """Turns what the pipeline thread sees into messages for the page."""

    def __init__(
        self,
        publish: Publish,
        pipeline: Pipeline,
        understanding: Understanding,
        bank: DeviceBank,
        stats: DaemonStats,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.publish = publish
        self.pipeline = pipeline
        self.understanding = understanding
        self.bank = bank
        self.stats = stats
        self._clock = clock
        self._wall_clock = wall_clock
        self._next_meter_s = 0.0
        self._next_status_s = 0.0
        self._peak_db = SILENT_DB
        self._peak_score: float | None = None
        self._last_timestamp_ms = 0

    def on_event(self, event: Event) -> None:
        """Daemon sink: send the event now, with the top intent candidates for a command."""
        message: dict[str, Any] = {"kind": "event", "sent_unix_ms": self._wall_clock() * 1000}
        message["event"] = event.to_dict()
        if isinstance(event, Intent | NotUnderstood) and event.text:
            message["candidates"] = self._candidates(event.text)
        self.publish(message)
        if isinstance(event, OUTCOMES):
            # Counters and devices changed; sent now, as typed commands also arrive with no microphone.
            self.publish(self.status())

    def on_chunk(self, chunk: AudioChunk) -> None:
        """Daemon tap, once per chunk: keep the peaks, send the meter at 10 Hz and the status at 1 Hz."""
        self._last_timestamp_ms = chunk.timestamp_ms
        self._peak_db = max(self._peak_db, _level_db(chunk))
        score = getattr(self.pipeline.wake, "last_score", None)
        if isinstance(score, int | float):
            self._peak_score = max(self._peak_score or 0.0, float(score))
        now = self._clock()
        if now >= self._next_meter_s:
            self._next_meter_s = now + METER_INTERVAL_S
            self.publish(self.meter())
        if now >= self._next_status_s:
            self._next_status_s = now + STATUS_INTERVAL_S
            self.publish(self.status())

    def meter(self) -> dict[str, Any]:
        """Level, wake score and threshold, pipeline state and partial words since the last meter."""
        wake = self.pipeline.wake
        threshold = getattr(wake, "threshold", None)
        message = {
            "kind": "meter",
            "sent_unix_ms": self._wall_clock() * 1000,
            "level_db": round(self._peak_db, 1),
            "wake_score": None if self._peak_score is None else round(self._peak_score, 3),
            "wake_threshold": round(threshold, 3) if isinstance(threshold, int | float) else None,
            "state": self._state(),
            "partial": self._partial(),
            "muted": bool(getattr(wake, "muted", False)),
        }
        self._peak_db = SILENT_DB
        self._peak_score = None
        return message

    def status(self) -> dict[str, Any]:
        """What ``edge status`` shows: counters, latencies, audio losses, devices."""
        self.stats.set_devices(self.bank.states())
        return {"kind": "status", "status": self.stats.snapshot()}

    def command_request(self, text: str) -> Request:
        """A request for ``Daemon.submit``: the typed text through intent and action, like speech."""

        def request() -> list[Event]:
            log.info("web: typed command %r", text)
            return self.understanding.handle(text, self._last_timestamp_ms)

        return request

    def _state(self) -> str:
        # Read by name, not by enum: the pipeline's own states may grow.
        state = getattr(self.pipeline, "state", None)
        return str(getattr(state, "value", state))

    def _partial(self) -> str | None:
        if self._state() != "command":
            return None
        recognizer = self.pipeline.recognizer
        # Whisper decodes in partial(): the view shows its last decode rather than paying for another one,
        # so watching the page never adds recognition work to the voice path.
        cached = getattr(recognizer, "last_partial", None)
        if isinstance(cached, str):
            return cached
        partial = getattr(recognizer, "partial", None)
        if not callable(partial):
            return None
        try:
            text = partial()
        except Exception as err:  # a partial result is a nicety; the command itself must go on
            log.debug("web: partial() failed: %s", err)
            return None
        return text if isinstance(text, str) else None

    def _candidates(self, text: str) -> list[dict[str, Any]]:
        classifier = self.understanding.classifier
        probabilities = getattr(classifier, "probabilities", None)
        labels = getattr(classifier, "labels", None)
        if not callable(probabilities) or labels is None:
            return []
        scores = np.asarray(probabilities(text), dtype=float)
        best = np.argsort(scores)[::-1][:TOP_CANDIDATES]
        return [{"intent": str(labels[i]), "confidence": round(float(scores[i]), 4)} for i in best]


def _level_db(chunk: AudioChunk) -> float:
    samples = chunk.samples().astype(np.float32)
    if samples.size == 0:
        return SILENT_DB
    rms = float(np.sqrt(np.mean(samples * samples))) / 32768.0
    return max(20 * float(np.log10(rms)), SILENT_DB) if rms > 0 else SILENT_DB
