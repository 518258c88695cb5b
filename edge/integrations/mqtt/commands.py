"""Commands from Home Assistant, turned into the intents voice produces and run by the same plan/execute code.

Parsing happens on paho's network thread and touches nothing but the config; the returned request runs on
the pipeline thread (through ``Daemon.submit``), where ``plan_action`` and ``execute`` apply the same rules
as a spoken command: levels clamped to what the device can do, PWM only on PWM devices.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from edge.devices.bank import DeviceBank
from edge.devices.settings import DeviceConfig
from edge.events import ActionResult, Event, NotUnderstood
from edge.integrations.mqtt.discovery import Topics
from edge.understanding.actions import execute, plan_action
from edge.understanding.slots import Slots

log = logging.getLogger(__name__)

_LIGHT_JSON = 'a JSON object like {"state": "ON", "brightness": 60}'
_LIGHT_KEYS = frozenset({"state", "brightness", "transition"})  # HA adds transition when a user sets one


class CommandRefused(ValueError):
    """A command message edge will not act on; the message says which topic and what is allowed."""


@dataclass(frozen=True)
class DeviceCommand:
    """One device change asked for over MQTT, in the vocabulary of the voice intents."""

    device: str
    intent: str  # light_on, light_off, light_set_brightness, fan_on, fan_off, fan_set_speed
    percent: int | None = None
    level: str | None = None

    @property
    def text(self) -> str:
        """How the command reads in events and logs."""
        detail = self.level or (f"{self.percent} %" if self.percent is not None else "")
        return f"mqtt: {self.intent} {self.device} {detail}".rstrip()

    def run(self, bank: DeviceBank) -> list[Event]:
        """Plan and execute on the pipeline thread; a plan with a problem becomes NotUnderstood."""
        slots = Slots(device=self.device, how="named", percent=self.percent, level=self.level)
        plan = plan_action(self.intent, slots, bank)
        if plan.problem:
            log.info("mqtt: %s refused: %s", self.text, plan.problem)
            return [NotUnderstood(0, self.text, plan.problem, 1.0)]
        outcome = execute(plan, bank)
        return [ActionResult(0, self.intent, self.device, outcome.description, outcome.state)]


def parse_command(
    topic: str, payload: bytes, topics: Topics, devices: dict[str, DeviceConfig]
) -> DeviceCommand:
    """Read one HA command message; CommandRefused names the topic and what is allowed."""
    suffix = topic[len(topics.base) + 1 :] if topic.startswith(topics.base + "/") else ""
    name, _, action = suffix.partition("/")
    device = devices.get(name)
    if device is None or action not in ("set", "percentage/set", "preset/set"):
        raise CommandRefused(f"{topic}: not a command topic of this edge")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandRefused(f"{topic}: payload is not UTF-8 text") from None
    if device.kind == "light":
        if action != "set":
            raise CommandRefused(f"{topic}: lights take JSON on {topics.command(name)}")
        return _light(topic, text, device)
    if action == "set":
        return _fan_switch(topic, text, device)
    if action == "percentage/set":
        return _fan_percentage(topic, text, device)
    return _fan_preset(topic, text, device)


def _light(topic: str, text: str, device: DeviceConfig) -> DeviceCommand:
    try:
        data = json.loads(text)
    except ValueError:
        raise CommandRefused(f"{topic}: {text[:40]!r} is not JSON (allowed: {_LIGHT_JSON})") from None
    if not isinstance(data, dict):
        raise CommandRefused(f"{topic}: {text[:40]!r} is not a JSON object (allowed: {_LIGHT_JSON})")
    unknown = sorted(set(data) - _LIGHT_KEYS)
    if unknown:
        raise CommandRefused(
            f"{topic}: unsupported key {unknown[0]!r} (allowed: brightness, state, transition)"
        )
    state = data.get("state")
    if state not in ("ON", "OFF"):
        raise CommandRefused(f"{topic}: state {state!r} is not allowed (allowed: ON, OFF)")
    if state == "OFF":
        return DeviceCommand(device.name, "light_off")
    if "brightness" not in data or not device.pwm:
        return DeviceCommand(device.name, "light_on")
    percent = _percent(topic, data["brightness"], "brightness")
    if percent == 0:
        return DeviceCommand(device.name, "light_off")
    return DeviceCommand(device.name, "light_set_brightness", percent)


def _fan_switch(topic: str, text: str, device: DeviceConfig) -> DeviceCommand:
    if text not in ("ON", "OFF"):
        raise CommandRefused(f"{topic}: payload {text[:40]!r} is not allowed (allowed: ON, OFF)")
    return DeviceCommand(device.name, "fan_on" if text == "ON" else "fan_off")


def _fan_percentage(topic: str, text: str, device: DeviceConfig) -> DeviceCommand:
    if not device.pwm:
        raise CommandRefused(f"{topic}: {device.name} is on/off only (send ON or OFF to its set topic)")
    try:
        value = int(text)
    except ValueError:
        raise CommandRefused(f"{topic}: payload {text[:40]!r} is not a whole number from 0 to 100") from None
    percent = _percent(topic, value, "percentage")
    if percent == 0:
        return DeviceCommand(device.name, "fan_off")
    return DeviceCommand(device.name, "fan_set_speed", percent)


def _fan_preset(topic: str, text: str, device: DeviceConfig) -> DeviceCommand:
    if text not in device.levels:
        allowed = ", ".join(device.levels) or "none configured"
        raise CommandRefused(f"{topic}: preset {text[:40]!r} is not allowed (allowed: {allowed})")
    return DeviceCommand(device.name, "fan_set_speed", device.levels[text], text)


def _percent(topic: str, value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandRefused(f"{topic}: {key} {value!r} is not a number from 0 to 100")
    if not 0 <= value <= 100:
        raise CommandRefused(f"{topic}: {key} {value} is out of range (allowed: 0 to 100)")
    return round(value)


def request_for(command: DeviceCommand, bank: DeviceBank) -> Callable[[], list[Event]]:
    """The request ``Daemon.submit`` runs on the pipeline thread."""
    return lambda: command.run(bank)
