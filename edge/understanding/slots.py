"""Slots from a transcript by a deterministic parser: which device, and which brightness or fan speed.

Devices are found by name or alias (``lamp``), by room (``the light in the bedroom``), or, when the command
names none, as the only device of the intent's kind or the configured default. Anything else that could
mean two devices is reported as ambiguous, never guessed. Numbers may be spoken (``seventy five``,
``half``); after ``speed``/``level`` a small number picks a named fan level by position (``speed two``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.config import DeviceConfig
from edge.understanding.features import tokens
from edge.understanding.numbers import parse_number

_LIGHT_WORDS = frozenset({"light", "lights", "lamp", "lamps", "lighting", "bulb", "bulbs"})
_FAN_WORDS = frozenset({"fan", "fans"})
_INDEX_CUES = frozenset({"speed", "level", "setting", "number", "gear", "notch"})
_MAXIMUM = frozenset({"max", "maximum", "full", "top", "highest"})
_MINIMUM = frozenset({"min", "minimum", "lowest", "bottom"})
_MINIMUM_PERCENT = 10


@dataclass(frozen=True)
class Slots:
    """What the parser found; ``problem`` says why no device could be chosen."""

    device: str | None = None
    how: str = ""  # named | room | only | default: how the device was chosen
    percent: int | None = None  # brightness or fan speed asked for
    level: str | None = None  # the fan level name it came from, if any
    problem: str | None = None
    candidates: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The slots that were filled, JSON-ready."""
        data: dict[str, Any] = {}
        if self.device:
            data["device"] = self.device
        if self.percent is not None:
            data["percent"] = self.percent
        if self.level:
            data["level"] = self.level
        return data


def intent_kind(intent: str) -> str | None:
    """``light`` or ``fan`` for the device intents, else None."""
    kind = intent.split("_", 1)[0]
    return kind if kind in ("light", "fan") else None


class SlotParser:
    """Slot extraction for one device configuration."""

    def __init__(self, devices: Sequence[DeviceConfig], default_devices: Mapping[str, str]) -> None:
        self.devices = tuple(devices)
        self.defaults = dict(default_devices)
        self._names = sorted(
            ((tuple(name.split()), d) for d in devices for name in d.spoken_names),
            key=lambda item: -len(item[0]),
        )
        self._rooms = sorted({tuple(d.room.split()) for d in devices if d.room}, key=len, reverse=True)

    def parse(self, text: str, intent: str) -> Slots:
        """Find the device and the number the intent needs; device intents always get a device or a problem."""
        words = tokens(text)
        named, rest = self._find_names(words)
        kind = intent_kind(intent)
        if intent in ("stop_cancel", "none") or (
            intent == "status_query" and not named and not self._room(rest)
        ):
            return Slots()
        slots = self._device(named, rest, kind)
        if slots.device is None:
            return slots
        device = next(d for d in self.devices if d.name == slots.device)
        if intent in ("light_set_brightness", "fan_set_speed"):
            percent, level = self._amount(rest, device, speed=intent == "fan_set_speed")
            if percent is None:
                what = "speed" if device.kind == "fan" else "brightness"
                return Slots(device.name, slots.how, problem=f"no {what} heard for {device.name}")
            return Slots(device.name, slots.how, percent, level)
        return slots

    def _find_names(self, words: list[str]) -> tuple[list[DeviceConfig], list[str]]:
        found: list[DeviceConfig] = []
        rest: list[str] = []
        i = 0
        while i < len(words):
            for name, device in self._names:
                if tuple(words[i : i + len(name)]) == name:
                    if device not in found:
                        found.append(device)
                    i += len(name)
                    break
            else:
                rest.append(words[i])
                i += 1
        return found, rest

    def _room(self, words: list[str]) -> str | None:
        for room in self._rooms:
            if any(tuple(words[i : i + len(room)]) == room for i in range(len(words))):
                return " ".join(room)
        return None

    def _device(self, named: list[DeviceConfig], rest: list[str], kind: str | None) -> Slots:
        if len(named) == 1:
            return Slots(named[0].name, "named")
        if len(named) > 1:
            names = tuple(d.name for d in named)
            return Slots(problem=f"which one: {' or '.join(names)}?", candidates=names)
        if kind is None:  # a status query about a room or nothing in particular
            kind = "fan" if _FAN_WORDS & set(rest) else "light" if _LIGHT_WORDS & set(rest) else None
        room = self._room(rest)
        pool = [d for d in self.devices if kind in (None, d.kind) and (room is None or d.room == room)]
        what = kind or "device"
        if len(pool) == 1:
            return Slots(pool[0].name, "room" if room else "only")
        if not pool:
            where = f" in the {room}" if room else ""
            return Slots(problem=f"no {what} configured{where}")
        if room is None and kind and kind in self.defaults:
            return Slots(self.defaults[kind], "default")
        names = tuple(d.name for d in pool)
        return Slots(problem=f"which {what}: {' or '.join(names)}?", candidates=names)

    def _amount(
        self, words: list[str], device: DeviceConfig, *, speed: bool
    ) -> tuple[int | None, str | None]:
        for level, percent in device.levels.items():
            if level in words:
                return percent, level
        if _MAXIMUM & set(words):
            return 100, None
        if _MINIMUM & set(words):
            levels = sorted(device.levels.items(), key=lambda item: item[1])
            return (levels[0][1], levels[0][0]) if speed and levels else (_MINIMUM_PERCENT, None)
        for i in range(len(words)):
            cue = i > 0 and words[i - 1] in _INDEX_CUES
            number = parse_number(words, i, soundalikes=cue)
            if number is None:
                continue
            value, used = number
            percent_follows = i + used < len(words) and words[i + used] in ("percent", "per", "present")
            # "speed two" or "fan on two" picks the second named level; "forty percent" is a percent.
            if speed and not percent_follows and 1 <= value <= len(device.levels) and (cue or value < 10):
                name, level_percent = sorted(device.levels.items(), key=lambda item: item[1])[value - 1]
                return level_percent, name
            return value, None
        return None, None
