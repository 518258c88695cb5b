"""The fleet kept up to date for the web view: a read-only subscription to every edge's retained topics.

paho's network thread folds each message into the fleet (the same parsing as ``edge fleet``); a small
flusher thread hands the whole fleet to ``publish`` at most a few times a second, so a burst of retained
messages at connect becomes one update. Nothing here touches the pipeline thread or publishes to the broker.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import Any

from edge.integrations.mqtt.config import MqttConfig
from edge.integrations.mqtt.fleet import (
    FleetMember,
    apply_message,
    default_filter,
    fleet_client,
    subscriptions,
)

log = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], None]
FLUSH_INTERVAL_S = 0.2  # the fleet page updates at most 5 times a second, however busy the broker
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
MAX_EDGES = 1000  # a wrong topic filter on a busy broker must not grow memory without bound


class FleetWatch:
    """Follows every edge under this edge's sibling filter and publishes ``{"kind": "fleet", ...}``."""

    def __init__(self, mqtt: MqttConfig, publish: Publish, topic_filter: str | None = None) -> None:
        self.mqtt = mqtt
        self.publish = publish
        self.topic_filter = topic_filter or default_filter(mqtt)
        self._members: dict[str, FleetMember] = {}
        self._lock = threading.Lock()
        self._connected = False
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._last_problem: str | None = None
        self._flusher = threading.Thread(target=self._flush_loop, name="mqtt-fleet-view", daemon=True)
        # Its own client id, so it never takes over the bridge's session.
        self.client = fleet_client(mqtt, f"{mqtt.client_id}-view")
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        """Connect in the background; never waits for the broker."""
        self._flusher.start()
        self._changed.set()  # the page shows "connecting" at once
        self.client.connect_async(self.mqtt.host, self.mqtt.port, keepalive=self.mqtt.keepalive_s)
        self.client.loop_start()

    def close(self) -> None:
        """Disconnect and stop the flusher."""
        self._stopping.set()
        self._changed.set()
        self.client.disconnect()
        self.client.loop_stop()
        if self._flusher.is_alive():
            self._flusher.join(timeout=2)

    def message(self) -> dict[str, Any]:
        """The fleet as the page gets it (any thread)."""
        with self._lock:
            edges = [self._members[base].to_dict() for base in sorted(self._members)]
            connected = self._connected
        return {
            "kind": "fleet",
            "broker": f"{self.mqtt.host}:{self.mqtt.port}",
            "filter": self.topic_filter,
            "connected": connected,
            "problem": None if connected else self._last_problem,
            "edges": copy.deepcopy(edges),
        }

    def _flush_loop(self) -> None:
        while not self._stopping.is_set():
            if not self._changed.wait(1.0):
                continue
            self._changed.clear()
            if self._stopping.is_set():
                return
            self.publish(self.message())
            self._stopping.wait(FLUSH_INTERVAL_S)

    # -- paho's network thread ----------------------------------------------------------------------------

    def _on_connect(
        self, client: Any, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        if reason.is_failure:
            self._problem(f"the broker at {self._where()} refused the fleet view: {reason}")
            return
        # A restarted broker has forgotten the subscription; its retained messages come again after it.
        client.subscribe(subscriptions(self.topic_filter))
        with self._lock:
            self._connected = True
        self._last_problem = None
        log.info("mqtt: fleet view follows %s on %s", self.topic_filter, self._where())
        self._changed.set()

    def _on_connect_fail(self, _client: Any, _userdata: object) -> None:
        self._problem(f"cannot reach the broker at {self._where()}")

    def _on_disconnect(
        self, _client: Any, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        with self._lock:
            self._connected = False
        if not self._stopping.is_set():
            self._problem(f"lost the broker at {self._where()} ({reason})")

    def _on_message(self, _client: Any, _userdata: object, message: Any) -> None:
        with self._lock:
            base = message.topic.rpartition("/")[0]
            if base not in self._members and len(self._members) >= MAX_EDGES:
                return
            changed = apply_message(self._members, message.topic, message.payload)
        if changed:
            self._changed.set()

    def _problem(self, text: str) -> None:
        # One line per distinct problem: a broker down all night must not fill the journal.
        if text != self._last_problem:
            log.warning("mqtt: fleet view: %s; retrying with backoff (up to %d s)", text, RECONNECT_MAX_S)
            self._last_problem = text
        self._changed.set()

    def _where(self) -> str:
        return f"{self.mqtt.host}:{self.mqtt.port}"
