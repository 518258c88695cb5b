"""Settings of the devices (the ``devices`` section of edge.yaml): lights and fans on the board's pins.

Every pin is checked against the board profile (``edge.devices.board``): known, not reserved, PWM when asked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

from edge.devices.board import BoardProfile
from edge.errors import ConfigError
from edge.yamlfields import Section

DeviceKind = Literal["light", "fan"]
DEVICE_KINDS: tuple[str, ...] = ("light", "fan")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SPOKEN = re.compile(r"^[a-z][a-z ']*[a-z]$")


@dataclass(frozen=True)
class DeviceConfig:
    """One light or fan wired to a GPIO pin."""

    name: str  # identifier, e.g. "kitchen_light"
    kind: DeviceKind
    pwm: bool  # True: dimmable light / variable-speed fan on a PWM pin; False: on/off (relay)
    pin: str  # gpiozero pin name, e.g. "GPIO18"
    active_high: bool = True
    safe_state: Literal["off", "on"] = "off"  # where the output goes at start and on every exit
    aliases: tuple[str, ...] = ()  # other spoken names, lower-case
    room: str | None = None
    levels: Mapping[str, int] = field(default_factory=dict)  # fans: named speed -> percent
    step_percent: int = 25  # brighter/dimmer and faster/slower step
    pwm_frequency_hz: int = 100

    @property
    def spoken_names(self) -> tuple[str, ...]:
        """Names people say for this device: the identifier with spaces, then the aliases."""
        return (self.name.replace("_", " "), *self.aliases)


class HasDevices(Protocol):
    """What the device bank needs of the whole config (``edge.config.Config`` has it)."""

    @property
    def devices(self) -> tuple[DeviceConfig, ...]: ...


def read_devices(section: Section, board: BoardProfile) -> tuple[DeviceConfig, ...]:
    """The ``devices`` section: at least one device, each on its own pin with its own spoken names."""
    if not section.data:
        raise ConfigError(section.source, "devices", "at least one device is required (a light or a fan)")
    devices: list[DeviceConfig] = []
    pins: dict[str, str] = {}
    spoken: dict[str, str] = {}
    for name in section.data:
        if not isinstance(name, str) or not _NAME.match(name):
            section.fail(
                str(name), "device names are lower-case letters, digits and '_', starting with a letter"
            )
        device = _read_device(section.section(name), name, board)
        if device.pin in pins:
            section.fail(f"{name}.pin", f"{device.pin} is already used by device {pins[device.pin]!r}")
        pins[device.pin] = name
        for spoken_name in device.spoken_names:
            if spoken_name in spoken:
                section.fail(
                    f"{name}.aliases", f"{spoken_name!r} already names device {spoken[spoken_name]!r}"
                )
            spoken[spoken_name] = name
        devices.append(device)
    section.finish()
    return tuple(devices)


def _read_device(section: Section, name: str, board: BoardProfile) -> DeviceConfig:
    kind = section.string("kind", choices=DEVICE_KINDS)
    pwm = section.boolean("pwm", False)
    pin = check_output_pin(section, "pin", board, pwm=pwm)
    aliases = tuple(
        _spoken(section, "aliases", alias, index)
        for index, alias in enumerate(section.string_list("aliases"))
    )
    room = section.string("room", None)
    if room is not None:
        room = _spoken(section, "room", room, None)
    levels: dict[str, int] = {}
    levels_section = section.section("levels")
    if levels_section.data and kind != "fan":
        section.fail("levels", "only fans have named speed levels")
    for level_name in levels_section.data:
        levels[str(level_name)] = levels_section.integer(str(level_name), low=1, high=100)
    levels_section.finish()
    if levels and not pwm:
        section.fail("levels", "named speed levels need a variable-speed fan (pwm: true)")
    device = DeviceConfig(
        name=name,
        kind=kind,
        pwm=pwm,
        pin=pin,
        active_high=section.boolean("active_high", True),
        safe_state=section.string("safe_state", "off", choices=("off", "on")),
        aliases=aliases,
        room=room,
        levels=MappingProxyType(levels),
        step_percent=section.integer("step_percent", 25, low=1, high=100),
        pwm_frequency_hz=section.integer("pwm_frequency_hz", 100, low=1, high=50_000),
    )
    section.finish()
    return device


def check_output_pin(section: Section, key: str, board: BoardProfile, *, pwm: bool) -> str:
    """Read a pin name and check the board has it, does not reserve it, and can do PWM if asked."""
    raw = section.raw(key)
    if isinstance(raw, int) and not isinstance(raw, bool):
        section.fail(key, f"write pins as gpiozero names, e.g. 'GPIO{raw}', not the number {raw}")
    pin = section.string(key)
    if pin in board.reserved:
        section.fail(key, f"pin {pin!r} is reserved on {board.name}: {board.reserved[pin]}")
    if pin not in board.gpio_pins:
        section.fail(key, f"unknown pin {pin!r} ({board.name} has {board.pin_range()})")
    if pwm and pin not in board.pwm_pins:
        section.fail(
            key, f"pin {pin!r} has no hardware PWM on {board.name} (PWM pins: {', '.join(board.pwm_pins)})"
        )
    return pin


def _spoken(section: Section, key: str, value: str, index: int | None) -> str:
    text = value.strip().lower()
    if not _SPOKEN.match(text):
        where = f"{key}[{index}]" if index is not None else key
        section.fail(
            where, f"{value!r} must be words as spoken: letters and spaces, no digits or punctuation"
        )
    return text
