"""MQTT against a real Mosquitto: Home Assistant discovery, commands to mock pins, restarts, bad passwords."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from gpiozero.pins.mock import MockFactory

from bench.mosquitto import Mosquitto, free_port
from edge.config import Config, load_config
from edge.errors import AudioError
from edge.events import Detection
from edge.integrations.mqtt.bridge import OUTBOX_SIZE, MqttBridge
from edge.runtime.assembly import Runtime, build_runtime
from edge.runtime.daemon import Backoff, Daemon
from edge.speech.audio import AudioSource

from .mqtt_support import Watcher, write_config
from .support import REPO, edge_command, subprocess_env

FIXTURES = REPO / "tests" / "fixtures"
CLIPS = yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))["clips"]
BASE = "edge/pi01"


@dataclass
class LiveEdge:
    """An edge daemon in this process with no microphone: it serves MQTT commands while waiting for one."""

    config: Config
    runtime: Runtime
    daemon: Daemon
    bridge: MqttBridge
    watcher: Watcher


def _no_microphone() -> AudioSource:
    raise AudioError("no microphone in this test")


@pytest.fixture
def live_edge(broker: Mosquitto, tmp_path: Path, pin_factory: MockFactory) -> Iterator[LiveEdge]:
    config = load_config(write_config(tmp_path, broker))
    runtime = build_runtime(config, pin_factory=pin_factory)
    bridge = MqttBridge(config, config.mqtt, runtime.bank) if config.mqtt else None
    assert bridge is not None
    daemon = Daemon(
        _no_microphone, runtime.pipeline, runtime.bank, sinks=(bridge.on_event,), backoff=Backoff(60)
    )
    watcher = Watcher(broker)
    bridge.start(daemon.submit)
    thread = threading.Thread(target=daemon.run, name="pipeline")
    thread.start()
    try:
        yield LiveEdge(config, runtime, daemon, bridge, watcher)
    finally:
        daemon.stop()
        thread.join(30)
        bridge.close(runtime.bank.states())
        runtime.close()
        watcher.close()


def test_discovery_announces_every_device_with_the_fields_home_assistant_requires(
    live_edge: LiveEdge, broker: Mosquitto
) -> None:
    watcher = live_edge.watcher
    light_topic = "homeassistant/light/edge_pi01/kitchen_light/config"
    relay_topic = "homeassistant/light/edge_pi01/bedroom_light/config"
    fan_topic = "homeassistant/fan/edge_pi01/ceiling_fan/config"
    sensors = [
        f"homeassistant/sensor/edge_pi01/{key}/config"
        for key in ("last_transcript", "last_intent", "wake_count")
    ]
    watcher.wait_for(
        lambda: all(topic in watcher.retained for topic in [light_topic, relay_topic, fan_topic, *sensors])
    )
    late = Watcher(broker)  # a Home Assistant that starts later still finds everything, retained
    try:
        wanted = {light_topic, relay_topic, fan_topic, *sensors, f"{BASE}/kitchen_light/state"}
        late.wait_for(lambda: wanted <= {topic for topic, _, retained in late.messages if retained})
    finally:
        late.close()

    light = watcher.json(light_topic)
    assert light["schema"] == "json"
    assert light["command_topic"] == f"{BASE}/kitchen_light/set"
    assert light["state_topic"] == f"{BASE}/kitchen_light/state"
    assert light["supported_color_modes"] == ["brightness"] and light["brightness"] is True
    assert light["brightness_scale"] == 100
    assert light["flash"] is False and light["transition"] is False
    relay = watcher.json(relay_topic)
    assert relay["supported_color_modes"] == ["onoff"] and relay["brightness"] is False

    fan = watcher.json(fan_topic)
    assert fan["command_topic"] == f"{BASE}/ceiling_fan/set"
    assert fan["percentage_command_topic"] == f"{BASE}/ceiling_fan/percentage/set"
    assert fan["preset_modes"] == ["low", "medium", "high"]
    assert fan["preset_mode_command_topic"] == f"{BASE}/ceiling_fan/preset/set"

    payloads = [watcher.json(topic) for topic in [light_topic, relay_topic, fan_topic, *sensors]]
    assert len({payload["unique_id"] for payload in payloads}) == len(payloads)
    assert len({json.dumps(payload["device"]) for payload in payloads}) == 1  # one HA device: this Pi
    assert payloads[0]["device"]["identifiers"]
    assert {payload["availability_topic"] for payload in payloads} == {f"{BASE}/availability"}
    assert watcher.wait_for(lambda: watcher.retained.get(f"{BASE}/availability") == b"online")
    assert watcher.wait_json(f"{BASE}/kitchen_light/state", lambda s: s["state"] == "OFF")


def test_a_light_command_sent_as_home_assistant_does_drives_the_pin_and_the_state_comes_back(
    live_edge: LiveEdge, pin_factory: MockFactory
) -> None:
    watcher = live_edge.watcher
    watcher.wait_for(lambda: watcher.retained.get(f"{BASE}/availability") == b"online")
    watcher.publish(f"{BASE}/kitchen_light/set", '{"state": "ON", "brightness": 40}')
    state = watcher.wait_json(f"{BASE}/kitchen_light/state", lambda s: s["state"] == "ON")
    assert state == {"state": "ON", "color_mode": "brightness", "brightness": 40}
    assert pin_factory.pin("GPIO12").state == pytest.approx(0.4)

    watcher.publish(f"{BASE}/bedroom_light/set", '{"state": "ON", "brightness": 30}')  # a relay: on, no PWM
    watcher.wait_json(f"{BASE}/bedroom_light/state", lambda s: s["state"] == "ON")
    assert pin_factory.pin("GPIO23").state == 1

    watcher.publish(f"{BASE}/kitchen_light/set", '{"state": "OFF"}')
    watcher.wait_json(f"{BASE}/kitchen_light/state", lambda s: s["state"] == "OFF")
    assert pin_factory.pin("GPIO12").state == 0
    action = watcher.wait_for(
        lambda: [json.loads(p) for t, p, _ in watcher.messages if t == f"{BASE}/events"]
    )
    assert action[0]["type"] == "action" and action[0]["device"] == "kitchen_light"
    summary = watcher.wait_json(f"{BASE}/summary", lambda s: s["last_command"]["intent"] == "light_off")
    assert summary["devices"]["bedroom_light"] == {"on": True, "level_percent": 100}


def test_fan_percentage_and_preset_commands_set_the_speed(
    live_edge: LiveEdge, pin_factory: MockFactory
) -> None:
    watcher = live_edge.watcher
    watcher.wait_for(lambda: watcher.retained.get(f"{BASE}/availability") == b"online")
    watcher.publish(f"{BASE}/ceiling_fan/preset/set", "medium")
    state = watcher.wait_json(f"{BASE}/ceiling_fan/state", lambda s: s["state"] == "ON")
    assert state == {"state": "ON", "percentage": 60, "preset_mode": "medium"}
    assert pin_factory.pin("GPIO13").state == pytest.approx(0.6)
    watcher.publish(f"{BASE}/ceiling_fan/percentage/set", "45")
    state = watcher.wait_json(f"{BASE}/ceiling_fan/state", lambda s: s["percentage"] == 45)
    assert state["preset_mode"] == "None"
    assert pin_factory.pin("GPIO13").state == pytest.approx(0.45)
    watcher.publish(f"{BASE}/ceiling_fan/set", "OFF")
    watcher.wait_json(f"{BASE}/ceiling_fan/state", lambda s: s["state"] == "OFF")
    assert pin_factory.pin("GPIO13").state == 0


def test_bad_commands_are_refused_with_one_line_each_and_change_nothing(
    live_edge: LiveEdge, pin_factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = live_edge.watcher
    watcher.wait_for(lambda: watcher.retained.get(f"{BASE}/availability") == b"online")
    caplog.set_level(logging.WARNING, logger="edge.integrations.mqtt")
    bad = [
        (f"{BASE}/kitchen_light/set", '{"state": "ON", "brightness": 250}'),
        (f"{BASE}/kitchen_light/set", "ON"),
        (f"{BASE}/kitchen_light/set", '{"state": "ON", "color": {"r": 255}}'),
        (f"{BASE}/ceiling_fan/preset/set", "turbo"),
        (f"{BASE}/ceiling_fan/percentage/set", "-5"),
    ]
    for topic, payload in bad:
        watcher.publish(topic, payload)
    # A good command afterwards: once its state arrives, every earlier message has been handled.
    watcher.publish(f"{BASE}/bedroom_light/set", '{"state": "ON"}')
    watcher.wait_json(f"{BASE}/bedroom_light/state", lambda s: s["state"] == "ON")
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == len(bad), refusals
    assert all("\n" not in line and "allowed" in line for line in refusals), refusals
    assert "(allowed: low, medium, high)" in refusals[3]
    assert pin_factory.pin("GPIO12").state == 0 and pin_factory.pin("GPIO13").state == 0


def test_home_assistant_coming_online_gets_everything_announced_again(live_edge: LiveEdge) -> None:
    watcher = live_edge.watcher
    topic = "homeassistant/fan/edge_pi01/ceiling_fan/config"
    watcher.wait_for(lambda: topic in watcher.retained)
    watcher.forget()
    watcher.publish("homeassistant/status", "online")
    watcher.wait_for(lambda: any(t == topic and not retained for t, _, retained in watcher.messages))
    watcher.wait_json(f"{BASE}/ceiling_fan/state", lambda s: s["state"] == "OFF")


def test_a_broker_restart_loses_nothing_the_pipeline_did_and_states_are_republished(
    live_edge: LiveEdge, broker: Mosquitto, pin_factory: MockFactory
) -> None:
    watcher = live_edge.watcher
    watcher.wait_for(lambda: watcher.retained.get(f"{BASE}/availability") == b"online")
    watcher.publish(f"{BASE}/kitchen_light/set", '{"state": "ON", "brightness": 70}')
    watcher.wait_json(f"{BASE}/kitchen_light/state", lambda s: s.get("brightness") == 70)
    broker.stop()  # persistence is off: every retained message is gone with it
    watcher.forget()
    assert live_edge.config.mqtt is not None
    client_id, events_topic = live_edge.config.mqtt.client_id, f"{BASE}/events"
    events_before = broker.publishes(client_id, events_topic)
    # While the broker is down the pipeline goes on: a request runs and its event is queued, not blocked.
    done = threading.Event()
    assert live_edge.daemon.submit(lambda: (done.set(), [Detection(0, "hey_jarvis", 0.9)])[1])
    assert done.wait(10)
    broker.start()
    state = watcher.wait_json(f"{BASE}/kitchen_light/state", lambda s: s["state"] == "ON", timeout_s=40)
    assert state["brightness"] == 70
    assert pin_factory.pin("GPIO12").state == pytest.approx(0.7)
    watcher.wait_for(lambda: watcher.retained.get(f"{BASE}/availability") == b"online")
    watcher.wait_for(lambda: "homeassistant/light/edge_pi01/kitchen_light/config" in watcher.retained)
    summary = watcher.wait_json(f"{BASE}/summary", lambda s: s["wake_count"] == 1)
    assert summary["devices"]["kitchen_light"] == {"on": True, "level_percent": 70}
    # Queued while the broker was down, sent after. Events are not retained, so the watcher sees the wake only
    # if it resubscribed before the bridge reconnected; the broker's own log shows it arrived either way.
    watcher.wait_for(lambda: broker.publishes(client_id, events_topic) > events_before)
    seen = [json.loads(p)["type"] for t, p, _ in watcher.messages if t == events_topic]
    assert seen in ([], ["wake"])


def test_a_wrong_password_gives_one_clear_line_and_keeps_retrying(
    broker: Mosquitto, tmp_path: Path, pin_factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n", encoding="utf-8")
    config = load_config(write_config(tmp_path, broker, password_file=str(wrong)))
    runtime = build_runtime(config, pin_factory=pin_factory)
    assert config.mqtt is not None
    bridge = MqttBridge(config, config.mqtt, runtime.bank)
    caplog.set_level(logging.DEBUG, logger="edge.integrations.mqtt")
    attempts = threading.Semaphore(0)
    original = bridge.client.on_connect

    def counting(*args: object) -> None:
        original(*args)
        attempts.release()

    bridge.client.on_connect = counting
    try:
        bridge.start(lambda _request: True)
        assert attempts.acquire(timeout=20) and attempts.acquire(timeout=20), "no retry after the refusal"
    finally:
        bridge.close()
        runtime.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert f"127.0.0.1:{broker.port}" in warnings[0]
    assert "mqtt.password_file" in warnings[0] and "retrying" in warnings[0]


def test_an_unreachable_broker_never_blocks_the_pipeline_and_the_queue_stays_bounded(
    shipped_config: Config, pin_factory: MockFactory, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from edge.integrations.mqtt.config import MqttConfig

    mqtt = MqttConfig(host="127.0.0.1", port=free_port(), client_id="edge-test", base_topic=BASE,
                      discovery_prefix="homeassistant")  # fmt: skip
    runtime = build_runtime(shipped_config, pin_factory=pin_factory)
    bridge = MqttBridge(shipped_config, mqtt, runtime.bank)
    caplog.set_level(logging.WARNING, logger="edge.integrations.mqtt")
    failed = threading.Event()
    original = bridge.client.on_connect_fail
    bridge.client.on_connect_fail = lambda *args: (original(*args), failed.set())
    try:
        bridge.start(lambda _request: True)
        for index in range(OUTBOX_SIZE + 100):
            bridge.on_event(Detection(index, "hey_jarvis", 0.9))
        assert len(bridge.outbox) == OUTBOX_SIZE
        assert bridge.outbox.dropped == 100
        assert failed.wait(20)
    finally:
        bridge.close()
        runtime.close()
    lines = [r.getMessage() for r in caplog.records if "cannot reach" in r.getMessage()]
    assert len(lines) == 1 and "retrying" in lines[0], lines


def test_edge_run_publishes_the_same_events_as_its_json_output(broker: Mosquitto, tmp_path: Path) -> None:
    clip = next(c for c in CLIPS if c["intent"] == "light_on" and c["snr_db"] is None and not c["one_breath"])
    config_path = write_config(tmp_path, broker, base_topic="edge/classroom-07")
    watcher = Watcher(broker)
    try:
        result = subprocess.run(
            edge_command("run", "-c", str(config_path), "--input", str(FIXTURES / clip["file"]),
                         "--mock-gpio", "--events", "json", "--status-file", str(tmp_path / "status.json")),
            capture_output=True, text=True, timeout=120, env=subprocess_env(),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        printed = [json.loads(line) for line in result.stdout.splitlines()]
        assert any(event["type"] == "action" for event in printed), printed
        base = "edge/classroom-07"
        watcher.wait_for(lambda: watcher.retained.get(f"{base}/availability") == b"offline")
        published = [json.loads(p) for t, p, _ in watcher.messages if t == f"{base}/events"]
        assert published == printed
        # The daemon left every output safe, and said so before going offline.
        assert watcher.json(f"{base}/kitchen_light/state")["state"] == "OFF"
        assert any(
            json.loads(p)["state"] == "ON"
            for t, p, _ in watcher.messages
            if t == f"{base}/kitchen_light/state"
        )
        assert "Traceback" not in result.stderr
    finally:
        watcher.close()


def test_edge_fleet_lists_every_edge_on_the_broker_online_or_not(
    live_edge: LiveEdge, broker: Mosquitto, tmp_path: Path
) -> None:
    from edge.devices.bank import DeviceBank, mock_pin_factory

    watcher = live_edge.watcher
    watcher.wait_for(lambda: watcher.retained.get(f"{BASE}/availability") == b"online")
    watcher.publish(f"{BASE}/ceiling_fan/preset/set", "low")
    watcher.wait_json(f"{BASE}/summary", lambda s: s["last_command"] is not None)
    # A second edge that came and went: its retained availability says offline.
    other = load_config(write_config(tmp_path, broker, base_topic="edge/pi02"))
    assert other.mqtt is not None
    bank = DeviceBank.from_config(other, mock_pin_factory(other.board))
    bridge = MqttBridge(other, other.mqtt, bank)
    bridge.start(lambda _request: True)
    watcher.wait_for(lambda: watcher.retained.get("edge/pi02/summary"))
    bridge.close(bank.states())
    bank.close()
    watcher.wait_for(lambda: watcher.retained.get("edge/pi02/availability") == b"offline")

    config_path = write_config(tmp_path, broker, base_topic="edge/teacher")
    result = subprocess.run(edge_command("fleet", "-c", str(config_path), "--json"), capture_output=True, text=True,
                            timeout=60, env=subprocess_env())  # fmt: skip
    assert result.returncode == 0, result.stderr
    edges = {edge["base_topic"]: edge for edge in json.loads(result.stdout)["edges"]}
    assert set(edges) == {"edge/pi01", "edge/pi02"}
    assert edges["edge/pi01"]["online"] is True and edges["edge/pi02"]["online"] is False
    assert edges["edge/pi01"]["last_command"]["description"] == "ceiling_fan 30 %"
    assert edges["edge/pi01"]["devices"]["ceiling_fan"] == {"on": True, "level_percent": 30}
    table = subprocess.run(edge_command("fleet", "-c", str(config_path)), capture_output=True, text=True,
                           timeout=60, env=subprocess_env())  # fmt: skip
    lines = table.stdout.splitlines()
    assert lines[0] == f"2 edge(s) under edge/+ on 127.0.0.1:{broker.port}"
    assert lines[2].split()[:2] == ["pi01", "yes"] and "ceiling_fan=30%" in lines[2]
    assert lines[3].split()[:2] == ["pi02", "no"]


def test_edge_fleet_without_an_mqtt_section_is_a_config_error() -> None:
    from .support import SHIPPED_CONFIG

    result = subprocess.run(edge_command("fleet", "-c", str(SHIPPED_CONFIG), "--board", "sim"), capture_output=True,
                            text=True, timeout=60, env=subprocess_env())  # fmt: skip
    assert result.returncode == 78
    assert result.stderr.strip().splitlines() == [
        f"edge: error: {SHIPPED_CONFIG}: mqtt: no mqtt: section; add one with the broker's host to see the fleet"
    ]
