"""The MQTT bridge: voice events and device states out, Home Assistant commands in, never blocking the pipeline.

Three threads meet here, each with one job. The pipeline thread calls ``on_event`` (a daemon sink), which
only updates the cached states under a lock and queues the event in a bounded outbox. paho's network thread
(``loop_start``) connects, reconnects with backoff and delivers commands, which go to ``Daemon.submit`` so
the devices are only ever driven from the pipeline thread. The publisher thread drains the outbox and the
changed retained states into paho whenever the broker is connected.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from edge.config import Config
from edge.devices.bank import DeviceBank
from edge.errors import ConfigError
from edge.events import ActionResult, Detection, Event, Intent, NotUnderstood, Transcript
from edge.integrations.mqtt.commands import CommandRefused, parse_command, request_for
from edge.integrations.mqtt.config import MqttConfig
from edge.integrations.mqtt.discovery import OFFLINE, ONLINE, Topics, device_state, discovery_messages
from edge.integrations.mqtt.outbox import Message, Outbox

log = logging.getLogger(__name__)

Submit = Callable[[Callable[[], list[Event]]], bool]
OUTBOX_SIZE = 256  # events waiting for the broker; older ones are dropped (states are cached, never dropped)
PAHO_QUEUE_SIZE = 512  # QoS 1 messages paho holds unacknowledged
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
SENT_MS_PROPERTY = "sent_ms"  # MQTT 5 user property: wall-clock time of the event, for delay measurements


class MqttBridge:
    """Publishes one edge to an MQTT broker and takes Home Assistant's commands for its devices."""

    def __init__(self, config: Config, mqtt: MqttConfig, bank: DeviceBank) -> None:
        self.config = config
        self.mqtt = mqtt
        self.topics = Topics(mqtt)
        self.bank = bank  # only handed to requests, which run on the pipeline thread
        self.outbox = Outbox(OUTBOX_SIZE)
        self.published = 0
        self.paho_dropped = 0
        self._devices = {device.name: device for device in config.devices}
        self._lock = threading.Lock()
        self._states: dict[str, dict[str, Any]] = {name: dict(state) for name, state in bank.states().items()}
        self._summary: dict[str, Any] = {
            "name": mqtt.name,
            "base_topic": mqtt.base_topic,
            "devices": self._states,
            "last_command": None,
            "last_transcript": "",
            "last_intent": "",
            "wake_count": 0,
        }
        self._dirty: set[str] = set()  # devices (and "summary") whose retained state is not yet published
        self._seq = 0
        self._submit: Submit | None = None
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._last_problem: str | None = None
        self._publisher = threading.Thread(target=self._publish_loop, name="mqtt-publisher", daemon=True)
        self.client = self._make_client()

    @classmethod
    def from_config(cls, config: Config, bank: DeviceBank) -> MqttBridge | None:
        """The bridge the config's ``mqtt:`` section asks for, or None (no network at all)."""
        if config.mqtt is None:
            return None
        return cls(config, config.mqtt, bank)

    def _make_client(self) -> Any:
        import paho.mqtt.client as paho

        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=self.mqtt.client_id, protocol=paho.MQTTv5
        )
        client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(PAHO_QUEUE_SIZE)
        if self.mqtt.username:
            client.username_pw_set(self.mqtt.username, self.mqtt.read_password())
        if self.mqtt.tls:
            tls = self.mqtt.tls
            try:
                client.tls_set(
                    ca_certs=str(tls.ca_file),
                    certfile=str(tls.cert_file) if tls.cert_file else None,
                    keyfile=str(tls.key_file) if tls.key_file else None,
                )
            except (OSError, ValueError) as err:
                raise ConfigError(
                    str(self.config.source), "mqtt.tls", f"cannot use the certificates: {err}"
                ) from None
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self, submit: Submit) -> None:
        """Connect in the background (never waits for the broker); commands go to ``submit``."""
        self._submit = submit
        self._publisher.start()
        self.client.connect_async(self.mqtt.host, self.mqtt.port, keepalive=self.mqtt.keepalive_s)
        self.client.loop_start()
        log.info("mqtt: connecting to %s:%d as %s", self.mqtt.host, self.mqtt.port, self.mqtt.client_id)

    # -- the pipeline thread ------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Daemon sink: cache what changed and queue the event; never waits (runs on the pipeline thread)."""
        sent_ms = int(time.time() * 1000)
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._remember(event)
        payload = json.dumps(event.to_dict()).encode()
        self.outbox.put(Message(self.topics.events, payload, sent_ms=sent_ms, seq=seq))

    def _remember(self, event: Event) -> None:
        summary = self._summary
        if isinstance(event, Detection):
            summary["wake_count"] += 1
        elif isinstance(event, Transcript):
            summary["last_transcript"] = event.text
        elif isinstance(event, Intent):
            summary["last_intent"] = event.name
        elif isinstance(event, NotUnderstood):
            summary["last_intent"] = "not understood"
        elif isinstance(event, ActionResult):
            summary["last_command"] = {
                "intent": event.intent,
                "device": event.device,
                "description": event.description,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            self._update_states(event.state if event.device is None else {event.device: event.state})
        else:
            return
        self._dirty.add("summary")

    def _update_states(self, states: Mapping[str, Any]) -> None:
        for name, state in states.items():
            if name in self._states and isinstance(state, Mapping) and dict(state) != self._states[name]:
                self._states[name] = dict(state)
                self._dirty.add(name)

    def close(
        self, final_states: Mapping[str, Mapping[str, Any]] | None = None, timeout_s: float = 3.0
    ) -> None:
        """Publish the final (safe) states and ``offline``, then disconnect; a dead broker costs no wait."""
        if final_states is not None:
            with self._lock:
                self._update_states(final_states)
                self._dirty.add("summary")
        self.outbox.wake()
        deadline = time.monotonic() + timeout_s
        while self._connected.is_set() and time.monotonic() < deadline and (len(self.outbox) or self._dirty):
            time.sleep(0.02)
        self._stopping.set()
        self.outbox.close()
        self._publisher.join(timeout=2)
        if self._connected.is_set():
            info = self.client.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
            # The connection may go meanwhile; the broker's last will then says offline for us.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()
        log.info(
            "mqtt: closed; %d messages published, %d dropped",
            self.published,
            self.outbox.dropped + self.paho_dropped,
        )

    # -- the publisher thread -----------------------------------------------------------------------------

    def _publish_loop(self) -> None:
        while not self._stopping.is_set():
            if not self._connected.wait(0.2):
                continue
            self._publish_dirty()
            message = self.outbox.get(0.2)
            if message is not None:
                self._send(message)

    def _publish_dirty(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            messages = [self._retained_message(name) for name in sorted(dirty)]
        for message in messages:
            self._send(message)

    def _retained_message(self, name: str) -> Message:
        if name == "summary":
            return Message(self.topics.summary, json.dumps(self._summary).encode(), retain=True)
        payload = device_state(self._devices[name], self._states[name])
        return Message(self.topics.state(name), json.dumps(payload).encode(), retain=True)

    def _send(self, message: Message) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = None
        if message.sent_ms:
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = [(SENT_MS_PROPERTY, str(message.sent_ms)), ("seq", str(message.seq))]
        info = self.client.publish(
            message.topic, message.payload, qos=1, retain=message.retain, properties=properties
        )
        if info.rc == paho.MQTT_ERR_QUEUE_SIZE:
            self.paho_dropped += 1
        else:
            # NO_CONN included: paho keeps a QoS 1 message and sends it after reconnecting.
            self.published += 1

    # -- paho's network thread ----------------------------------------------------------------------------

    def _on_connect(
        self, client: Any, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        if reason.is_failure:
            hint = " (check mqtt.username and mqtt.password_file)" if reason.value in (134, 135) else ""
            self._problem(f"the broker at {self._where()} refused {self.mqtt.client_id}: {reason}{hint}")
            return
        self._last_problem = None
        log.info(
            "mqtt: connected to %s as %s, base topic %s", self._where(), self.mqtt.client_id, self.topics.base
        )
        client.publish(self.topics.availability, ONLINE, qos=1, retain=True)
        for pattern in ("+/set", "+/percentage/set", "+/preset/set"):
            client.subscribe(f"{self.topics.base}/{pattern}", qos=1)
        client.subscribe(self.topics.ha_status, qos=1)
        self._announce()
        self._connected.set()
        self.outbox.wake()

    def _announce(self) -> None:
        """Discovery configs and every retained state: at connect, and again when HA comes online."""
        for topic, payload in discovery_messages(self.config, self.mqtt):
            self.client.publish(topic, json.dumps(payload), qos=1, retain=True)
        with self._lock:
            self._dirty.update(self._states)
            self._dirty.add("summary")
        self.outbox.wake()

    def _on_connect_fail(self, _client: Any, _userdata: object) -> None:
        self._problem(f"cannot reach the broker at {self._where()}")

    def _on_disconnect(
        self, _client: Any, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and not self._stopping.is_set():
            log.warning("mqtt: lost the broker at %s (%s); reconnecting with backoff", self._where(), reason)

    def _on_message(self, _client: Any, _userdata: object, message: Any) -> None:
        if message.topic == self.topics.ha_status:
            if message.payload == b"online":
                log.info("mqtt: Home Assistant is online; announcing again")
                self._announce()
            return
        if message.retain:
            return  # a stale command left retained on the broker must not switch anything at start
        try:
            command = parse_command(message.topic, message.payload, self.topics, self._devices)
        except CommandRefused as err:
            log.warning("mqtt: refused: %s", err)
            return
        log.info("mqtt: command %s", command.text)
        if self._submit is not None:
            self._submit(request_for(command, self.bank))

    def _problem(self, text: str) -> None:
        # One line per distinct problem, not one per retry: a broker down all night must not fill the journal.
        if text != self._last_problem:
            log.warning("mqtt: %s; retrying with backoff (up to %d s)", text, RECONNECT_MAX_S)
            self._last_problem = text
        else:
            log.debug("mqtt: %s (again)", text)

    def _where(self) -> str:
        return f"{self.mqtt.host}:{self.mqtt.port}"
