"""Helpers for the MQTT tests: a real broker fixture and a watching client that waits on conditions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml

from bench.mosquitto import PASSWORD, USERNAME, Mosquitto, find_mosquitto

from .support import SHIPPED_CONFIG


def require_mosquitto() -> None:
    """Skip with a clear message where Debian's mosquitto is not installed (.ci/run installs it)."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed: apt-get install mosquitto mosquitto-clients")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a random localhost port, password file, anonymous access off."""
    require_mosquitto()
    directory = tmp_path / "broker"
    directory.mkdir()
    mosquitto = Mosquitto(directory, log_publishes=True).start()
    yield mosquitto
    mosquitto.stop()


def write_config(directory: Path, broker: Mosquitto, base_topic: str = "edge/pi01", **mqtt: Any) -> Path:
    """The shipped edge.yaml on the sim board with an ``mqtt:`` section for ``broker``."""
    config = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    config["board"]["name"] = "sim"
    config["feedback"]["sounds"] = False
    for key in ("model", "vocabulary"):
        config.setdefault("intent", {}).pop(key, None)
    section = broker.config_section(base_topic, "edge-" + base_topic.replace("/", "-"))
    section.update(mqtt)
    config["mqtt"] = section
    path = directory / f"{base_topic.replace('/', '_')}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class Watcher:
    """A client like Home Assistant's: subscribes to everything and lets a test wait for a message."""

    def __init__(self, broker: Mosquitto, password: str = PASSWORD) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.retained: dict[str, bytes] = {}
        self._changed = threading.Condition()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.username_pw_set(USERNAME, password)
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        # Subscribe on every connect: a restarted broker (persistence off) has forgotten the subscription.
        self.client.on_connect = lambda client, *_args: client.subscribe("#", qos=1)
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "no SUBACK from the broker"

    def _on_message(self, _client: Any, _userdata: object, message: Any) -> None:
        with self._changed:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
            self.retained[message.topic] = message.payload
            self._changed.notify_all()

    def wait_for(self, check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
        """Wait until ``check()`` returns something truthy (evaluated under the lock) and return it."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                result = check()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    topics = sorted({topic for topic, _, _ in self.messages})
                    raise AssertionError(f"condition not met within {timeout_s} s; topics seen: {topics}")
                self._changed.wait(remaining)

    def json(self, topic: str) -> Any:
        """The last payload on ``topic`` as JSON, or None."""
        payload = self.retained.get(topic)
        return json.loads(payload) if payload is not None else None

    def wait_json(self, topic: str, check: Callable[[Any], bool], timeout_s: float = 20.0) -> Any:
        """Wait until the last JSON on ``topic`` satisfies ``check``."""

        def ready() -> Any:
            value = self.json(topic)
            return value if value is not None and check(value) else None

        return self.wait_for(ready, timeout_s)

    def publish(self, topic: str, payload: str) -> None:
        """Publish as Home Assistant does (QoS 1, not retained)."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def forget(self) -> None:
        """Drop what was seen so far (e.g. before a broker restart)."""
        with self._changed:
            self.messages.clear()
            self.retained.clear()

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


class BridgedEdge:
    """A second edge's real MQTT bridge on the same broker, its commands run here as its daemon would."""

    def __init__(self, broker: Mosquitto, directory: Path, base_topic: str) -> None:
        from edge.config import load_config
        from edge.devices.bank import DeviceBank, mock_pin_factory
        from edge.integrations.mqtt.bridge import MqttBridge

        config = load_config(write_config(directory, broker, base_topic=base_topic))
        assert config.mqtt is not None
        self.bank = DeviceBank.from_config(config, mock_pin_factory(config.board))
        self.bridge = MqttBridge(config, config.mqtt, self.bank)
        self.bridge.start(self._run)

    def _run(self, request: Any) -> bool:
        events: list[Any] = request()
        for event in events:
            self.bridge.on_event(event)
        return True

    def command(self, topic: str, payload: str) -> None:
        """Publish as Home Assistant does, on the bridge's own connection."""
        self.bridge.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        """Safe states, then offline (retained), as a daemon stopping does."""
        self.bank.to_safe_state()
        self.bridge.close(self.bank.states())
        self.bank.close()
