"""The web view's fleet subscription against a real Mosquitto: it follows edges coming and going, and a
broker restart, without anyone reloading anything."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.mosquitto import Mosquitto
from edge.config import load_config
from edge.integrations.mqtt.fleetwatch import FleetWatch

from .mqtt_support import BridgedEdge, write_config


class Page:
    """Stands where the web server's ``publish`` is: keeps every fleet message and lets a test wait on one."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def publish(self, message: dict[str, Any]) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def wait_for(
        self, check: Callable[[dict[str, Any]], bool], what: str, timeout_s: float = 20
    ) -> dict[str, Any]:
        """The first message from now on (or the latest) for which ``check`` holds."""
        with self._changed:
            if self._changed.wait_for(lambda: self.messages and check(self.messages[-1]), timeout_s):
                return self.messages[-1]
        raise AssertionError(f"no fleet message showed {what}; the last was {self.messages[-1:]}")


def _edge(message: dict[str, Any], base_topic: str) -> dict[str, Any] | None:
    return next((edge for edge in message["edges"] if edge["base_topic"] == base_topic), None)


def _online(message: dict[str, Any], base_topic: str) -> bool:
    edge = _edge(message, base_topic)
    return message["connected"] and edge is not None and edge["online"] is True


def test_the_fleet_view_follows_edges_and_comes_back_after_a_broker_restart(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = load_config(write_config(tmp_path, broker, base_topic="edge/teacher"))
    assert config.mqtt is not None
    page = Page()
    watch = FleetWatch(config.mqtt, page.publish)
    watch.start()
    pi02 = BridgedEdge(broker, tmp_path, "edge/pi02")
    try:
        page.wait_for(lambda m: _online(m, "edge/pi02"), "pi02 online")
        pi02.command("edge/pi02/kitchen_light/set", '{"state": "ON", "brightness": 40}')
        message = page.wait_for(
            lambda m: (_edge(m, "edge/pi02") or {}).get("last_command") is not None, "a command"
        )
        assert _edge(message, "edge/pi02")["devices"]["kitchen_light"] == {"on": True, "level_percent": 40}
        assert message["filter"] == "edge/+" and message["broker"] == f"127.0.0.1:{broker.port}"

        # The broker restarts and forgets everything (persistence off, subscriptions included): the view says
        # so, keeps the last list it had, reconnects with backoff and subscribes again.
        broker.stop()
        lost = page.wait_for(lambda m: not m["connected"], "the broker lost")
        assert lost["problem"] and str(broker.port) in lost["problem"]
        assert _edge(lost, "edge/pi02")["devices"]["kitchen_light"]["level_percent"] == 40
        broker.start()
        page.wait_for(lambda m: m["connected"], "the broker back", timeout_s=60)
        page.wait_for(lambda m: _online(m, "edge/pi02"), "pi02 online again", timeout_s=60)
        # pi02's bridge reconnects on its own backoff; Home Assistant's next command needs it back.
        deadline = time.monotonic() + 60
        while not pi02.bridge.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.1)
        pi02.command("edge/pi02/kitchen_light/set", '{"state": "ON", "brightness": 70}')
        message = page.wait_for(
            lambda m: (
                (_edge(m, "edge/pi02") or {}).get("devices", {}).get("kitchen_light", {}).get("level_percent")
                == 70
            ),
            "the command after the restart",
            timeout_s=60,
        )
        assert message["connected"] and _edge(message, "edge/pi02")["online"] is True
    finally:
        pi02.close()
    page.wait_for(lambda m: (_edge(m, "edge/pi02") or {}).get("online") is False, "pi02 offline")
    watch.close()
    # It only ever read: nothing under its own base topic, and it never appeared as an edge.
    assert all(_edge(m, "edge/teacher") is None for m in page.messages)
