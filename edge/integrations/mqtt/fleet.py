"""The fleet on one broker, read from the retained topics every edge keeps up to date (nothing is polled)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from edge.errors import EdgeError
from edge.integrations.mqtt.config import MqttConfig

CONNECT_TIMEOUT_S = 10.0


@dataclass
class FleetMember:
    """One edge as the broker remembers it."""

    base_topic: str
    online: bool | None = None  # None: no availability seen (an edge that never connected with a will)
    name: str = ""
    last_command: dict[str, Any] | None = None
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name or self.base_topic.rsplit("/", 1)[-1],
            "base_topic": self.base_topic,
            "online": self.online,
            "last_command": self.last_command,
            "devices": self.devices,
        }


def default_filter(mqtt: MqttConfig) -> str:
    """The base topics of this edge's siblings: ``edge/pi01`` gives ``edge/+``."""
    parent, _, _ = mqtt.base_topic.rpartition("/")
    return f"{parent}/+" if parent else "+"


def subscriptions(topic_filter: str) -> list[tuple[str, int]]:
    """The retained topics a fleet reader subscribes to (QoS 1)."""
    return [(f"{topic_filter}/availability", 1), (f"{topic_filter}/summary", 1)]


def apply_message(members: dict[str, FleetMember], topic: str, payload: bytes) -> bool:
    """Fold one availability or summary message into ``members``; False when it was not an edge's."""
    base, _, leaf = topic.rpartition("/")
    if leaf == "availability":
        members.setdefault(base, FleetMember(base)).online = payload == b"online"
        return True
    try:
        summary = json.loads(payload)
    except ValueError:
        return False  # not an edge's summary; the table shows what is known
    if not isinstance(summary, dict):
        return False
    member = members.setdefault(base, FleetMember(base))
    member.name = str(summary.get("name") or "")
    member.last_command = summary.get("last_command")
    member.devices = summary.get("devices") or {}
    return True


def fleet_client(mqtt: MqttConfig, client_id: str) -> Any:
    """A paho client with the config's credentials and TLS, for reading the fleet (it publishes nothing)."""
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    if mqtt.username:
        client.username_pw_set(mqtt.username, mqtt.read_password())
    if mqtt.tls:
        client.tls_set(
            ca_certs=str(mqtt.tls.ca_file),
            certfile=str(mqtt.tls.cert_file) if mqtt.tls.cert_file else None,
            keyfile=str(mqtt.tls.key_file) if mqtt.tls.key_file else None,
        )
    return client


class _Collector:
    def __init__(self) -> None:
        self.members: dict[str, FleetMember] = {}
        self.last_message_s = time.monotonic()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.refusal: str | None = None

    def on_message(self, _client: Any, _userdata: object, message: Any) -> None:
        self.last_message_s = time.monotonic()
        apply_message(self.members, message.topic, message.payload)

    def on_connect(
        self, _client: Any, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        if reason.is_failure:
            self.refusal = str(reason)
        self.connected.set()


def collect_fleet(
    mqtt: MqttConfig, topic_filter: str, quiet_s: float = 0.5, timeout_s: float = 5.0
) -> list[FleetMember]:
    """Every edge under ``topic_filter`` with its retained availability and summary, sorted by topic."""
    collector = _Collector()
    client = fleet_client(mqtt, f"edge-fleet-{secrets.token_hex(4)}")
    client.on_message = collector.on_message
    client.on_connect = collector.on_connect
    client.on_subscribe = lambda *_args: collector.subscribed.set()
    where = f"{mqtt.host}:{mqtt.port}"
    try:
        client.connect(mqtt.host, mqtt.port, keepalive=30)
    except OSError as err:
        raise EdgeError(f"cannot reach the MQTT broker at {where}: {err}") from None
    client.loop_start()
    try:
        if not collector.connected.wait(CONNECT_TIMEOUT_S):
            raise EdgeError(f"the MQTT broker at {where} did not answer within {CONNECT_TIMEOUT_S:.0f} s")
        if collector.refusal:
            raise EdgeError(f"the MQTT broker at {where} refused the connection: {collector.refusal}")
        client.subscribe(subscriptions(topic_filter))
        if not collector.subscribed.wait(CONNECT_TIMEOUT_S):
            raise EdgeError(f"the MQTT broker at {where} did not confirm the subscription to {topic_filter}")
        # Retained messages follow the SUBACK at once; the fleet is complete when they stop coming.
        deadline = time.monotonic() + timeout_s
        collector.last_message_s = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - collector.last_message_s < quiet_s:
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    return [collector.members[base] for base in sorted(collector.members)]
