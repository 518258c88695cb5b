"""Slot parsing: devices by name, alias, room or default; spoken numbers; ambiguity reported."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge.config import Config
from edge.devices.settings import DeviceConfig
from edge.understanding.numbers import parse_number, spoken
from edge.understanding.slots import SlotParser
from edge.understanding.targets import TargetFinder, Targets


@pytest.fixture
def parser(shipped_config: Config) -> SlotParser:
    return SlotParser(shipped_config.devices, shipped_config.intent.default_devices)


@pytest.mark.parametrize(
    ("text", "intent", "device", "how"),
    [
        ("turn on the kitchen light", "light_on", "kitchen_light", "named"),
        ("switch the lamp off", "light_off", "kitchen_light", "named"),
        ("turn on the light in the bedroom", "light_on", "bedroom_light", "room"),
        ("bedside light on", "light_on", "bedroom_light", "named"),
        ("turn on the light", "light_on", "kitchen_light", "default"),
        ("make it faster", "fan_faster", "ceiling_fan", "only"),
        ("turn on the fan in the living room", "fan_on", "ceiling_fan", "room"),
        ("switch off the bedroom lamp", "light_off", "bedroom_light", "named"),  # room + kind beats the alias
        ("turn on the living room lamp", "light_on", "living_room_light", "named"),
        ("turn on the lamp in the bedroom", "light_on", "bedroom_light", "room"),
    ],
)
def test_device_by_name_alias_room_or_default(parser: SlotParser, text, intent, device, how) -> None:
    slots = parser.parse(text, intent)
    assert (slots.device, slots.how, slots.problem) == (device, how, None)


def test_ambiguous_device_is_reported_not_guessed(shipped_config: Config) -> None:
    parser = SlotParser(shipped_config.devices, {})
    slots = parser.parse("turn on the light", "light_on")
    assert slots.device is None
    assert slots.problem == "which light: kitchen_light or bedroom_light or living_room_light?"
    assert slots.candidates == ("kitchen_light", "bedroom_light", "living_room_light")


def test_two_named_devices_are_both_meant(parser: SlotParser) -> None:
    slots = parser.parse("turn on the lamp and the bedside light", "light_on")
    assert slots.device is None and slots.devices == ("kitchen_light", "bedroom_light")


def test_room_without_such_a_device_is_reported(parser: SlotParser) -> None:
    problem = parser.parse("turn on the fan in the kitchen", "fan_on").problem
    assert problem == "no fan configured in the kitchen"


@pytest.mark.parametrize(
    ("text", "intent", "devices", "how"),
    [
        (
            "turn off all the lights",
            "light_off",
            ("kitchen_light", "bedroom_light", "living_room_light"),
            "all",
        ),
        (
            "switch off every light",
            "light_off",
            ("kitchen_light", "bedroom_light", "living_room_light"),
            "all",
        ),
        ("turn the lights off", "light_off", ("kitchen_light", "bedroom_light", "living_room_light"), "all"),
        (
            "turn everything off",
            "light_off",
            ("kitchen_light", "bedroom_light", "living_room_light", "ceiling_fan"),
            "all",
        ),
        ("lights on in the kitchen and bedroom", "light_on", ("kitchen_light", "bedroom_light"), "room"),
        ("turn off everything in the living room", "light_off", ("living_room_light", "ceiling_fan"), "room"),
        ("turn on the light", "light_on", ("kitchen_light",), "default"),  # singular: the default one
        ("olly, lights off", "light_off", ("kitchen_light", "bedroom_light", "living_room_light"), "all"),
        (
            "turn off the lights in every room",
            "light_off",
            ("kitchen_light", "bedroom_light", "living_room_light"),
            "all",
        ),
    ],
)
def test_several_devices(
    parser: SlotParser, text: str, intent: str, devices: tuple[str, ...], how: str
) -> None:
    slots = parser.parse(text, intent)
    assert (slots.devices, slots.how, slots.problem) == (devices, how, None)


@pytest.mark.parametrize(
    ("text", "intent", "place", "kind"),
    [
        ("turn on the garage light", "light_on", "garage", "light"),
        ("switch on hallway light", "light_on", "hallway", "light"),
        ("turn off the lights in the first floor", "light_off", "first floor", "light"),
        ("is the front door light on", "status_query", "front door", "light"),
        ("turn on the desk fan", "fan_on", "desk", "fan"),
        ("please lower the lights in the dining room", "light_dimmer", "dining room", "light"),
        ("set brightness to eighty in the garage", "light_set_brightness", "garage", "light"),
    ],
)
def test_unknown_place_or_device_is_named_never_replaced(
    parser: SlotParser, text: str, intent: str, place: str, kind: str
) -> None:
    slots = parser.parse(text, intent)
    assert slots.devices == () and slots.problem is not None
    assert slots.problem.startswith(f"there is no {place} {kind}; I have: ")
    if kind == "light":
        assert slots.problem.endswith("kitchen light, bedroom light, living room light")


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("set the lamp to fifty percent", 50),
        ("lamp to seventy five", 75),
        ("lamp at seventy-five %", 75),
        ("dim the kitchen light to half", 50),
        ("kitchen light 30%", 30),
        ("set the lamp to a hundred percent", 100),
        ("lamp to maximum brightness", 100),
        ("set the lamp to one", 1),
        ("set the lamp to zero percent", 0),
    ],
)
def test_brightness_with_spoken_numbers(parser: SlotParser, text: str, percent: int) -> None:
    slots = parser.parse(text, "light_set_brightness")
    assert (slots.device, slots.percent) == ("kitchen_light", percent)


@pytest.mark.parametrize(
    ("text", "percent", "level"),
    [
        ("set the fan to high", 100, "high"),
        ("fan on low", 30, "low"),
        ("fan speed two", 60, "medium"),
        ("fan speed to", 60, "medium"),  # "two" as a recognizer often writes it
        ("set the fan to three", 100, "high"),
        ("fan to forty percent", 40, None),
        ("run the fan at sixty five", 65, None),
        ("fan to maximum", 100, None),
        ("fan to minimum", 30, "low"),
    ],
)
def test_fan_speed_by_level_index_or_percent(parser: SlotParser, text: str, percent: int, level) -> None:
    slots = parser.parse(text, "fan_set_speed")
    assert (slots.device, slots.percent, slots.level) == ("ceiling_fan", percent, level)


def test_missing_number_is_a_problem(parser: SlotParser) -> None:
    assert parser.parse("set the lamp brightness", "light_set_brightness").problem == (
        "no brightness heard for kitchen_light"
    )


def test_status_query_without_a_device_is_about_everything(parser: SlotParser) -> None:
    assert parser.parse("what's on", "status_query").device is None
    assert parser.parse("is the lamp on", "status_query").device == "kitchen_light"


def test_no_device_of_the_kind(shipped_config: Config) -> None:
    lights = [d for d in shipped_config.devices if d.kind == "light"]
    assert SlotParser(lights, {}).parse("fan on", "fan_on").problem == "no fan configured"


def test_configured_aliases_are_used(shipped_config: Config) -> None:
    devices = [
        replace(d, aliases=("reading lamp",)) if d.name == "bedroom_light" else d
        for d in shipped_config.devices
    ]
    parser = SlotParser(devices, {})
    assert parser.parse("reading lamp off", "light_off").device == "bedroom_light"
    assert isinstance(devices[0], DeviceConfig)


def test_spoken_numbers_round_trip() -> None:
    for number in range(101):
        words = spoken(number).split()
        assert parse_number(words, 0) == (number, len(words))
    assert parse_number(["to"], 0) is None
    assert parse_number(["to"], 0, soundalikes=True) == (2, 1)


def test_a_room_followed_by_an_unknown_noun_switches_nothing_in_that_room(shipped_config) -> None:
    """Whisper heard "the living room lane" for "lamp": the living room's fan must not come on."""
    finder = TargetFinder(shipped_config.devices, shipped_config.intent.default_devices)

    def find(text: str, kind: str) -> Targets:
        return finder.find(text.split(), kind)

    found = find("turn on the living room lane", "fan")
    assert not found.devices
    assert found.problem is not None and found.problem.startswith("there is no living room lane; I have:")
    assert find("turn on the living room lamp", "light").devices == ("living_room_light",)
    assert find("turn the kitchen light on too", "light").devices == ("kitchen_light",)
