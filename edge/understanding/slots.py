"""Slots from a transcript by a deterministic parser: which device, and which brightness or fan speed.

Devices are found by targets.TargetFinder: by name or alias (``lamp``), room (``the light in the bedroom``),
several at once (``all the lights``, ``everything``), or, when the command names none, as the only device
of the intent's kind or the configured default. A singular that could mean two devices is reported as
ambiguous, never guessed; a place edge lacks is reported with the devices it has. Numbers may be spoken (``seventy five``,
``half``); after ``speed``/``level`` a small number picks a named fan level by position (``speed two``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from edge.devices.settings import DeviceConfig
from edge.understanding.numbers import parse_number
from edge.understanding.targets import TargetFinder, kind_of
from edge.understanding.utterance import Utterance, as_utterance

_INDEX_CUES = frozenset({"speed", "level", "setting", "number", "gear", "notch"})
_MAXIMUM = frozenset({"max", "maximum", "full", "top", "highest"})
_MINIMUM = frozenset({"min", "minimum", "lowest", "bottom"})
_MINIMUM_PERCENT = 10
# The same action on the other kind of device: "turn on the fan" classified as light_on still means on.
_COUNTERPART = {
    "light_on": "fan_on",
    "light_off": "fan_off",
    "light_brighter": "fan_faster",
    "light_dimmer": "fan_slower",
    "light_set_brightness": "fan_set_speed",
}
_COUNTERPART.update({fan: light for light, fan in list(_COUNTERPART.items())})


@dataclass(frozen=True)
class Slots:
    """What the parser found; ``problem`` says why no device could be chosen."""

    device: str | None = None  # the one device meant; None when several (see ``devices``) or none
    how: str = ""  # named | room | all | only | default: how the device(s) were chosen
    percent: int | None = None  # brightness or fan speed asked for
    level: str | None = None  # the fan level name it came from, if any
    problem: str | None = None
    candidates: tuple[str, ...] = field(default=())
    devices: tuple[str, ...] = field(default=())  # every device meant, also the one in ``device``

    def to_dict(self) -> dict[str, Any]:
        """The slots that were filled, JSON-ready."""
        data: dict[str, Any] = {}
        if self.device:
            data["device"] = self.device
        if len(self.devices) > 1:
            data["devices"] = list(self.devices)
        if self.percent is not None:
            data["percent"] = self.percent
        if self.level:
            data["level"] = self.level
        return data


def intent_kind(intent: str) -> str | None:
    """``light`` or ``fan`` for the device intents, else None."""
    kind = intent.split("_", 1)[0]
    return kind if kind in ("light", "fan") else None


def align_intent(intent: str, device_kind: str) -> str:
    """Return the intent for ``device_kind``: light_on on a fan becomes fan_on."""
    kind = intent_kind(intent)
    if kind and kind != device_kind:
        return _COUNTERPART[intent]
    return intent


class SlotParser:
    """Slot extraction for one device configuration."""

    def __init__(self, devices: Sequence[DeviceConfig], default_devices: Mapping[str, str]) -> None:
        self.devices = tuple(devices)
        self.defaults = dict(default_devices)
        self.finder = TargetFinder(devices, default_devices)

    def parse(self, text: str | Utterance, intent: str) -> Slots:
        """Find the device(s) and the number the intent needs; device intents get a device or a problem."""
        return self.read(text, intent)[1]

    def read(self, text: str | Utterance, intent: str) -> tuple[str, Slots]:
        """(intent, slots) in one pass; one named device of the other kind turns light_on into fan_on."""
        utterance = as_utterance(text)
        words = list(utterance.words)
        if intent in ("stop_cancel", "none"):
            return intent, Slots()
        status = intent == "status_query"
        # "turn everything off" may mix lights and fans; brighter/dimmer and levels stay with one kind.
        mixed = status or intent.endswith(("_on", "_off"))
        found = self.finder.find(words, None if status else intent_kind(intent), any_kind=mixed)
        if status and not found.devices and not (found.problem or "").startswith("there is no"):
            return intent, Slots()  # a general question ("what's on?") is answered for every device
        if not found.devices:
            return intent, Slots(problem=found.problem, candidates=found.candidates)
        one = found.devices[0] if len(found.devices) == 1 else None
        if one and found.how == "named":
            intent = align_intent(intent, self._config(one).kind)
        slots = Slots(one, found.how, devices=found.devices)
        if intent in ("light_set_brightness", "fan_set_speed"):
            device = self._config(found.devices[0])
            percent, level = self._amount(utterance, device, speed=intent == "fan_set_speed")
            if percent is None:
                what = "speed" if device.kind == "fan" else "brightness"
                return intent, replace(slots, problem=f"no {what} heard for {' and '.join(found.devices)}")
            return intent, replace(slots, percent=percent, level=level)
        return intent, slots

    def read_many(self, phrases: Sequence[Utterance], intent: str) -> tuple[str, Slots, tuple[str, ...]]:
        """One intent said of several phrases ("the lights", "the fan"): (intent, every device, problems).

        Each phrase is read as if said alone with the intent turned to the kind it names; a phrase that
        finds no device gives its problem ("there is no garage light"), which the others do not stop.
        """
        devices: list[str] = []
        problems: list[str] = []
        first: Slots | None = None
        for phrase in phrases:
            kind = kind_of(phrase.words)
            _said, slots = self.read(phrase, align_intent(intent, kind) if kind else intent)
            if slots.devices:
                devices += [name for name in slots.devices if name not in devices]
                first = first or slots
            elif slots.problem:
                problems.append(slots.problem)
        if first is None:
            return intent, Slots(problem="; ".join(problems) or None), ()
        one = devices[0] if len(devices) == 1 else None
        if one:
            intent = align_intent(intent, self._config(one).kind)
        return intent, replace(first, device=one, devices=tuple(devices)), tuple(problems)

    def _config(self, name: str) -> DeviceConfig:
        return next(d for d in self.devices if d.name == name)

    def _amount(
        self, utterance: Utterance, device: DeviceConfig, *, speed: bool
    ) -> tuple[int | None, str | None]:
        words = list(utterance.words)
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
            number = parse_number(words, i, soundalikes=True) if cue else utterance.numbers.get(i)
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
