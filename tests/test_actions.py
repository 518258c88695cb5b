"""Actions and the Understanding handler on gpiozero's MockPWMPin: pin states are what is asserted."""

from __future__ import annotations

import logging

import pytest
from gpiozero.pins.mock import MockFactory

from edge.config import Config
from edge.devices.bank import DeviceBank
from edge.events import ActionResult, Intent, NotUnderstood
from edge.understanding.actions import align_intent, execute, plan_action
from edge.understanding.handler import Understanding
from edge.understanding.slots import Slots


@pytest.fixture
def bank(shipped_config: Config, pin_factory: MockFactory) -> DeviceBank:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    yield bank
    bank.close()


@pytest.fixture
def understanding(shipped_config: Config, bank: DeviceBank) -> Understanding:
    return Understanding.from_config(shipped_config, bank)


def test_light_on_set_dim_and_off_drive_the_pwm_pin(
    understanding: Understanding, pin_factory: MockFactory
) -> None:
    for text in ("turn on the lamp", "set the lamp to forty percent", "dim the lamp", "turn off the lamp"):
        understanding.handle(text, 0)
    assert [round(s.state, 2) for s in pin_factory.pin("GPIO12").states][-4:] == [1.0, 0.4, 0.15, 0.0]


def test_relay_light_switches_its_pin(understanding: Understanding, pin_factory: MockFactory) -> None:
    events = understanding.handle("switch on the bedside light", 1500)
    assert pin_factory.pin("GPIO23").state == 1
    assert [type(e) for e in events] == [Intent, ActionResult]
    intent, result = events
    assert (intent.name, intent.slots, intent.timestamp_ms) == ("light_on", {"device": "bedroom_light"}, 1500)
    assert result.state == {"on": True, "level_percent": 100} and result.device == "bedroom_light"
    assert intent.latency_ms >= 0


def test_fan_speed_level_and_steps(understanding: Understanding, pin_factory: MockFactory) -> None:
    understanding.handle("fan speed two", 0)
    assert pin_factory.pin("GPIO13").state == pytest.approx(0.6)
    understanding.handle("make the fan go faster", 0)
    assert pin_factory.pin("GPIO13").state == pytest.approx(0.85)
    understanding.handle("faster please", 0)
    assert pin_factory.pin("GPIO13").state == pytest.approx(1.0)
    understanding.handle("slow the fan down", 0)
    assert pin_factory.pin("GPIO13").state == pytest.approx(0.75)
    understanding.handle("stop the fan", 0)
    assert pin_factory.pin("GPIO13").state == 0


def test_on_restores_the_last_level(understanding: Understanding, pin_factory: MockFactory) -> None:
    for text in ("lamp to thirty percent", "lamp off", "lamp on"):
        understanding.handle(text, 0)
    assert pin_factory.pin("GPIO12").state == pytest.approx(0.3)


def test_status_query_answers_without_changing_pins(
    understanding: Understanding, pin_factory: MockFactory
) -> None:
    understanding.handle("fan on high", 0)
    before = len(pin_factory.pin("GPIO13").states)
    intent, result = understanding.handle("what's on right now", 0)
    assert intent.name == "status_query" and len(pin_factory.pin("GPIO13").states) == before
    assert result.state["ceiling_fan"] == {"on": True, "level_percent": 100}
    assert "ceiling_fan on 100 %" in result.description and "kitchen_light off" in result.description


def test_stop_cancel_is_acknowledged_and_does_nothing(understanding: Understanding, bank: DeviceBank) -> None:
    before = bank.states()
    intent, result = understanding.handle("never mind", 0)
    assert (intent.name, result.description) == ("stop_cancel", "cancelled, nothing changed")
    assert bank.states() == before


def test_out_of_scope_and_ambiguity_are_not_understood(shipped_config: Config, bank: DeviceBank) -> None:
    understanding = Understanding.from_config(shipped_config, bank)
    (event,) = understanding.handle("tell me a joke", 0)
    assert isinstance(event, NotUnderstood) and event.reason == "not a command for the lights or fans"
    (event,) = understanding.handle("play some jazz", 0)
    assert isinstance(event, NotUnderstood) and event.reason == "I can't play media or change the volume"
    no_default = Understanding(understanding.classifier, bank, shipped_config.devices, {})
    (event,) = no_default.handle("turn on the light", 0)
    assert isinstance(event, NotUnderstood)
    assert event.reason == "which light: kitchen_light or bedroom_light or living_room_light?"
    assert bank.states()["kitchen_light"]["on"] is False and bank.states()["bedroom_light"]["on"] is False


def test_relay_cannot_dim(understanding: Understanding, pin_factory: MockFactory) -> None:
    understanding.handle("bedside light on", 0)
    (event,) = understanding.handle("dim the bedside light", 0)
    assert isinstance(event, NotUnderstood) and "on/off only" in event.reason
    assert pin_factory.pin("GPIO23").state == 1


def test_one_info_line_per_intent(understanding: Understanding, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="edge.understanding.handler"):
        understanding.handle("turn on the kitchen light", 0)
    lines = [r.getMessage() for r in caplog.records if r.name == "edge.understanding.handler"]
    assert (
        len(lines) == 1
        and lines[0].startswith("intent: light_on conf=")
        and lines[0].endswith("device=kitchen_light")
    )


def test_plan_has_no_side_effects_and_intents_follow_the_device(bank: DeviceBank) -> None:
    plan = plan_action("light_on", Slots("kitchen_light", "named"), bank)
    assert plan.switch_on and bank["kitchen_light"].is_on is False
    execute(plan, bank)
    assert bank["kitchen_light"].is_on
    assert align_intent("light_brighter", "fan") == "fan_faster"
    assert align_intent("fan_set_speed", "light") == "light_set_brightness"
    assert align_intent("status_query", "fan") == "status_query"


def test_all_the_lights_switch_every_light_and_the_event_lists_them(
    understanding: Understanding, pin_factory: MockFactory
) -> None:
    understanding.handle("turn on the kitchen light", 0)
    intent, result = understanding.handle("turn off all the lights", 0)
    assert intent.name == "light_off" and intent.slots["devices"] == [
        "kitchen_light",
        "bedroom_light",
        "living_room_light",
    ]
    assert result.device is None and result.devices == ("kitchen_light",)  # the others were off already
    understanding.handle("turn everything on", 0)
    assert [pin_factory.pin(pin).state for pin in ("GPIO12", "GPIO23", "GPIO24", "GPIO13")] == [1, 1, 1, 1]
    intent, result = understanding.handle("turn everything off", 0)
    assert set(result.devices) == {"kitchen_light", "bedroom_light", "living_room_light", "ceiling_fan"}
    assert result.to_dict()["devices"] == result.devices
    assert [pin_factory.pin(pin).state for pin in ("GPIO12", "GPIO23", "GPIO24", "GPIO13")] == [0, 0, 0, 0]


def test_room_and_kind_beat_an_alias(understanding: Understanding, pin_factory: MockFactory) -> None:
    understanding.handle("turn on the bedroom lamp", 0)
    assert pin_factory.pin("GPIO23").state == 1 and pin_factory.pin("GPIO12").state == 0


def test_a_missing_place_keeps_the_intent_and_names_what_there_is(
    understanding: Understanding, bank: DeviceBank
) -> None:
    before = bank.states()
    found = understanding.interpret("turn on the garage light")
    assert found.intent == "light_on" and found.to_dict()["action"] is None
    assert found.reason == "there is no garage light; I have: kitchen light, bedroom light, living room light"
    (event,) = understanding.handle("turn on the garage light", 0)
    assert isinstance(event, NotUnderstood) and event.reason == found.reason
    assert bank.states() == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("turn the lights red", "I can't change colours"),
        ("flash the lights", "I can't make lights flash or run effects"),
        ("turn on the smart socket", "I have no plugs or sockets to switch"),
        ("set the curtain to 50%", "I can't open, close or lock doors, covers, curtains or blinds"),
    ],
)
def test_unsupported_requests_get_a_reason_and_no_action(
    understanding: Understanding, bank: DeviceBank, text: str, reason: str
) -> None:
    before = bank.states()
    found = understanding.interpret(text)
    assert (found.intent, found.reason, found.to_dict()["action"]) == ("none", reason, None)
    understanding.handle(text, 0)
    assert bank.states() == before


def test_status_question_answers_for_what_it_names(understanding: Understanding) -> None:
    understanding.handle("fan on high", 0)
    _intent, result = understanding.handle("are the lights on", 0)
    assert "ceiling_fan" not in result.description and "living_room_light off" in result.description
    _intent, result = understanding.handle("is the fan on", 0)
    assert result.description == "ceiling_fan on 100 %"
