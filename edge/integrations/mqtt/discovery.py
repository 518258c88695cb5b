"""Topics and Home Assistant MQTT discovery payloads: what edge announces and publishes, as plain data.

Lights use HA's ``json`` schema (one JSON command and state topic, ``brightness_scale`` 100 so brightness is
the percent edge already speaks); fans use HA's fan platform with value templates over one JSON state topic,
``percentage`` for variable-speed fans and ``preset_modes`` from the configured ``levels``. Every entity
shares one HA device (this Pi) and the availability topic that the broker's last will sets ``offline``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge import __version__
from edge.config import Config
from edge.devices.settings import DeviceConfig
from edge.integrations.mqtt.config import MqttConfig

ONLINE = "online"
OFFLINE = "offline"
NO_PRESET = "None"  # HA's payload_reset_preset_mode default: the speed matches no named level
SENSORS: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    # (key in the summary, HA name, icon, extra config)
    ("last_transcript", "Last transcript", "mdi:text-to-speech", {}),
    ("last_intent", "Last intent", "mdi:head-lightbulb-outline", {}),
    ("wake_count", "Wake count", "mdi:counter", {"state_class": "total_increasing"}),
)


class Topics:
    """Every topic one edge uses, derived from its base topic and HA's discovery prefix."""

    def __init__(self, mqtt: MqttConfig) -> None:
        self.base = mqtt.base_topic
        self.discovery_prefix = mqtt.discovery_prefix
        self.node_id = mqtt.node_id
        self.availability = f"{self.base}/availability"
        self.events = f"{self.base}/events"
        self.summary = f"{self.base}/summary"
        self.ha_status = f"{self.discovery_prefix}/status"

    def state(self, device: str) -> str:
        """Retained JSON state of one device."""
        return f"{self.base}/{device}/state"

    def command(self, device: str) -> str:
        """Where HA sends on/off (fans) or the JSON command (lights)."""
        return f"{self.base}/{device}/set"

    def percentage_command(self, device: str) -> str:
        """Where HA sends a fan's speed in percent."""
        return f"{self.base}/{device}/percentage/set"

    def preset_command(self, device: str) -> str:
        """Where HA sends a fan's named level."""
        return f"{self.base}/{device}/preset/set"

    def discovery(self, component: str, object_id: str) -> str:
        """HA discovery config topic of one entity."""
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_id}/config"

    def command_filter(self) -> str:
        """Subscription covering every command topic."""
        return f"{self.base}/+/#"


def ha_device(config: Config, mqtt: MqttConfig) -> dict[str, Any]:
    """The one HA device entry (this Pi) every entity belongs to."""
    return {
        "identifiers": [f"edge_{mqtt.node_id}"],
        "name": f"edge {mqtt.name}",
        "manufacturer": "edge",
        "model": config.board.description,
        "sw_version": __version__,
    }


def _common(topics: Topics, device_info: dict[str, Any], object_id: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "unique_id": f"edge_{topics.node_id}_{object_id}",
        "availability_topic": topics.availability,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": device_info,
        "qos": 1,
    }


def light_config(device: DeviceConfig, topics: Topics, device_info: dict[str, Any]) -> dict[str, Any]:
    """HA ``light`` discovery payload (json schema), with brightness when the light is PWM."""
    payload = _common(topics, device_info, device.name, device.name.replace("_", " "))
    payload.update(
        {
            "schema": "json",
            "command_topic": topics.command(device.name),
            "state_topic": topics.state(device.name),
            "supported_color_modes": ["brightness"] if device.pwm else ["onoff"],
            "brightness": device.pwm,
            # GPIO outputs cannot flash or fade: HA should not offer what edge would refuse.
            "flash": False,
            "transition": False,
        }
    )
    if device.pwm:
        payload["brightness_scale"] = 100  # HA scales its 0..255 to this, so brightness is edge's percent
    return payload


def fan_config(device: DeviceConfig, topics: Topics, device_info: dict[str, Any]) -> dict[str, Any]:
    """HA ``fan`` discovery payload: on/off, percentage when PWM, preset modes from ``levels``."""
    state_topic = topics.state(device.name)
    payload = _common(topics, device_info, device.name, device.name.replace("_", " "))
    payload.update(
        {
            "command_topic": topics.command(device.name),
            "state_topic": state_topic,
            "state_value_template": "{{ value_json.state }}",
            "payload_on": "ON",
            "payload_off": "OFF",
        }
    )
    if device.pwm:
        payload.update(
            {
                "percentage_command_topic": topics.percentage_command(device.name),
                "percentage_state_topic": state_topic,
                "percentage_value_template": "{{ value_json.percentage }}",
                "speed_range_min": 1,
                "speed_range_max": 100,
            }
        )
    if device.levels:
        payload.update(
            {
                "preset_modes": list(device.levels),
                "preset_mode_command_topic": topics.preset_command(device.name),
                "preset_mode_state_topic": state_topic,
                "preset_mode_value_template": "{{ value_json.preset_mode }}",
            }
        )
    return payload


def sensor_configs(topics: Topics, device_info: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """HA ``sensor`` payloads for the last transcript, the last intent and the wake count."""
    configs: list[tuple[str, dict[str, Any]]] = []
    for key, name, icon, extra in SENSORS:
        payload = _common(topics, device_info, key, name)
        payload.update(
            {
                "state_topic": topics.summary,
                "value_template": f"{{{{ value_json.{key} }}}}",
                "icon": icon,
                **extra,
            }
        )
        configs.append((topics.discovery("sensor", key), payload))
    return configs


def discovery_messages(config: Config, mqtt: MqttConfig) -> list[tuple[str, dict[str, Any]]]:
    """Every discovery (topic, payload) for this edge: lights, fans, then sensors."""
    topics = Topics(mqtt)
    info = ha_device(config, mqtt)
    messages: list[tuple[str, dict[str, Any]]] = []
    for device in config.devices:
        if device.kind == "light":
            messages.append((topics.discovery("light", device.name), light_config(device, topics, info)))
        else:
            messages.append((topics.discovery("fan", device.name), fan_config(device, topics, info)))
    messages.extend(sensor_configs(topics, info))
    return messages


def device_state(device: DeviceConfig, state: Mapping[str, Any]) -> dict[str, Any]:
    """The retained state payload HA reads for one device, from edge's ``{"on", "level_percent"}``."""
    on = bool(state.get("on"))
    level = int(state.get("level_percent", 0))
    payload: dict[str, Any] = {"state": "ON" if on else "OFF"}
    if device.kind == "light":
        payload["color_mode"] = "brightness" if device.pwm else "onoff"
        if device.pwm and on:
            payload["brightness"] = level
        return payload
    if device.pwm:
        payload["percentage"] = level
    if device.levels:
        named = [name for name, percent in device.levels.items() if on and percent == level]
        payload["preset_mode"] = named[0] if named else NO_PRESET
    return payload
