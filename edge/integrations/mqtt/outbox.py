"""A bounded queue of outgoing MQTT messages: the pipeline thread puts without ever waiting, oldest dropped."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

log = logging.getLogger(__name__)

DROP_LOG_INTERVAL_S = 10.0


@dataclass(frozen=True)
class Message:
    """One message to publish; ``sent_ms`` is wall-clock time when the event happened."""

    topic: str
    payload: bytes
    retain: bool = False
    sent_ms: int = 0
    seq: int = 0


class Outbox:
    """Drop-oldest queue between the pipeline thread (put) and the publisher thread (get)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.dropped = 0
        self._messages: deque[Message] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._last_drop_log_s = 0.0

    def put(self, message: Message) -> None:
        """Queue ``message`` at once; when full, the oldest message goes (counted, logged at a limited rate)."""
        with self._ready:
            if len(self._messages) >= self.size:
                self._messages.popleft()
                self.dropped += 1
                now = time.monotonic()
                if now - self._last_drop_log_s >= DROP_LOG_INTERVAL_S:
                    self._last_drop_log_s = now
                    log.warning(
                        "mqtt: outgoing queue full (%d), %d message(s) dropped so far",
                        self.size,
                        self.dropped,
                    )
            self._messages.append(message)
            self._ready.notify()

    def get(self, timeout_s: float) -> Message | None:
        """The oldest message, waiting up to ``timeout_s``; None on timeout or once closed and empty."""
        with self._ready:
            if not self._messages and not self._closed:
                self._ready.wait(timeout_s)
            return self._messages.popleft() if self._messages else None

    def put_back(self, message: Message) -> None:
        """Return a message that could not be sent to the front, unless newer ones filled the queue."""
        with self._ready:
            if len(self._messages) >= self.size:
                self.dropped += 1
                return
            self._messages.appendleft(message)

    def __len__(self) -> int:
        with self._ready:
            return len(self._messages)

    def close(self) -> None:
        """Wake the reader for good."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def wake(self) -> None:
        """Wake a waiting reader (the connection came back)."""
        with self._ready:
            self._ready.notify_all()
