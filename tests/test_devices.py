"""Devices on gpiozero's real mock backend: pin states at start, on commands, and in the safe state."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from edge.config import Config
from edge.devices.bank import Device, DeviceBank
from edge.devices.settings import DeviceConfig
from edge.errors import DeviceError


def test_every_output_starts_in_its_safe_state(shipped_config: Config, pin_factory: MockFactory) -> None:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    assert pin_factory.pin("GPIO12").state == 0
    assert pin_factory.pin("GPIO23").state == 0
    assert pin_factory.pin("GPIO24").state == 0
    assert pin_factory.pin("GPIO13").state == 0
    assert bank.states() == {
        "kitchen_light": {"on": False, "level_percent": 0},
        "bedroom_light": {"on": False, "level_percent": 0},
        "living_room_light": {"on": False, "level_percent": 0},
        "ceiling_fan": {"on": False, "level_percent": 0},
    }
    bank.close()


def test_dimmable_light_levels_drive_the_pwm_duty_cycle(pin_factory: MockFactory) -> None:
    light = Device(DeviceConfig(name="lamp", kind="light", pwm=True, pin="GPIO12"), pin_factory)
    light.set_level(40)
    light.set_off()
    light.set_on()  # back to the last chosen level, as a dimmer does
    pin_factory.pin("GPIO12").assert_states([0, 0.4, 0, 0.4])
    light.close()
    assert pin_factory.pin("GPIO12").state == 0


def test_relay_active_low_inverts_the_pin(pin_factory: MockFactory) -> None:
    relay = Device(
        DeviceConfig(name="fan", kind="fan", pwm=False, pin="GPIO23", active_high=False), pin_factory
    )
    pin = pin_factory.pin("GPIO23")
    assert pin.state == 1  # off, and the relay board switches on a low input
    relay.set_on()
    assert pin.state == 0
    relay.set_off()
    relay.set_level(30)  # a relay is on for any level above zero
    assert pin.state == 0
    assert relay.state() == {"on": True, "level_percent": 100}


def test_safe_state_on_is_honoured(pin_factory: MockFactory) -> None:
    pump = Device(DeviceConfig(name="fan", kind="fan", pwm=False, pin="GPIO17", safe_state="on"), pin_factory)
    pin = pin_factory.pin("GPIO17")
    assert pin.state == 1
    pump.set_off()
    assert pin.state == 0
    pump.to_safe_state()
    assert pin.state == 1


def test_level_outside_range_is_rejected(pin_factory: MockFactory) -> None:
    fan = Device(DeviceConfig(name="fan", kind="fan", pwm=True, pin="GPIO13"), pin_factory)
    with pytest.raises(DeviceError, match=r"level 120 % is outside 0\.\.100"):
        fan.set_level(120)
    assert pin_factory.pin("GPIO13").state == 0


def test_find_by_name_alias_and_kind(shipped_config: Config, pin_factory: MockFactory) -> None:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    assert bank.find("lamp") is bank["kitchen_light"]
    assert bank.find("Kitchen Light") is bank["kitchen_light"]
    assert bank.find("bedside light") is bank["bedroom_light"]
    assert bank.find("garage") is None
    assert [d.name for d in bank.of_kind("fan")] == ["ceiling_fan"]
    bank.close()


def test_a_failed_build_releases_the_pins_it_took(shipped_config: Config, pin_factory: MockFactory) -> None:
    from gpiozero import LED

    blocker = LED("GPIO13", pin_factory=pin_factory)  # the fan's pin is taken by someone else
    with pytest.raises(DeviceError, match="ceiling_fan"):
        DeviceBank.from_config(shipped_config, pin_factory)
    # the lights built before the failure were released and can be built again
    again = Device(shipped_config.device("kitchen_light"), pin_factory)
    again.close()
    blocker.close()


def test_safe_state_continues_past_a_failing_output(shipped_config: Config, pin_factory: MockFactory) -> None:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    for device in bank.values():
        device.set_on()
    bank["kitchen_light"]._output.close()  # a write to this one now fails inside gpiozero
    with pytest.raises(DeviceError, match="kitchen_light"):
        bank.to_safe_state()
    assert pin_factory.pin("GPIO23").state == 0
    assert pin_factory.pin("GPIO13").state == 0
