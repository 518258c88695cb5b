"""Lights and fans as gpiozero output devices, built from the config on an injected pin factory."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from gpiozero import DigitalOutputDevice, GPIOZeroError, OutputDevice, PWMOutputDevice
from gpiozero.pins import Factory

from edge.devices.board import BoardProfile
from edge.devices.settings import DeviceConfig, HasDevices
from edge.errors import BackendMissingError, DeviceError

log = logging.getLogger(__name__)

_FACTORY_MODULES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory", "pip install lgpio==0.2.2.0"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory", "pip install RPi.GPIO"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory", "pip install pigpio (and run pigpiod)"),
    "native": ("gpiozero.pins.native", "NativeFactory", ""),
}


def mock_pin_factory(board: BoardProfile) -> Factory:
    """Return gpiozero's mock factory for the board, with PWM-capable pins."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(revision=board.revision, pin_class=MockPWMPin)


def make_pin_factory(board: BoardProfile, *, mock: bool = False) -> Factory:
    """Build the pin factory the board profile names (or the mock one when ``mock`` is true)."""
    if mock or board.pin_factory == "mock":
        return mock_pin_factory(board)
    module_name, class_name, install = _FACTORY_MODULES[board.pin_factory]
    try:
        module = __import__(module_name, fromlist=[class_name])
        factory: Factory = getattr(module, class_name)()
    except ImportError as err:
        raise BackendMissingError(
            f"pin factory {board.pin_factory!r} needs a missing library ({err}): {install}"
        ) from None
    except (GPIOZeroError, OSError) as err:
        raise DeviceError(f"cannot open GPIO with {board.pin_factory!r} on {board.name}: {err}") from None
    return factory


class Device:
    """One light or fan: on/off on a relay pin, or a level in percent on a PWM pin."""

    def __init__(self, config: DeviceConfig, pin_factory: Factory) -> None:
        self.config = config
        safe_value = 1.0 if config.safe_state == "on" else 0.0
        try:
            output: OutputDevice | PWMOutputDevice
            if config.pwm:
                output = PWMOutputDevice(
                    config.pin,
                    active_high=config.active_high,
                    initial_value=safe_value,
                    frequency=config.pwm_frequency_hz,
                    pin_factory=pin_factory,
                )
            else:
                output = DigitalOutputDevice(
                    config.pin,
                    active_high=config.active_high,
                    initial_value=bool(safe_value),
                    pin_factory=pin_factory,
                )
        except (GPIOZeroError, ValueError, OSError) as err:
            raise DeviceError(f"device {config.name!r} on {config.pin}: {err}") from None
        self._output = output
        # "on" restores the last level a person chose, as a dimmer does.
        self._last_level = 100

    @property
    def name(self) -> str:
        """The device's identifier."""
        return self.config.name

    @property
    def kind(self) -> str:
        """``light`` or ``fan``."""
        return self.config.kind

    @property
    def pwm(self) -> bool:
        """True for a dimmable light or variable-speed fan."""
        return self.config.pwm

    @property
    def level_percent(self) -> int:
        """Current output level, 0..100 (0 or 100 on a relay device)."""
        return round(float(self._output.value) * 100)

    @property
    def is_on(self) -> bool:
        """True when the output is driven at all."""
        return self.level_percent > 0

    def set_on(self) -> None:
        """Switch on (a PWM device returns to its last chosen level)."""
        self.set_level(self._last_level)

    def set_off(self) -> None:
        """Switch off."""
        self.set_level(0)

    def set_level(self, percent: int) -> None:
        """Set the level in percent; a relay device is on for any level above zero."""
        if not 0 <= percent <= 100:
            raise DeviceError(f"device {self.name!r}: level {percent} % is outside 0..100")
        if percent and self.pwm:
            self._last_level = percent
        try:
            self._output.value = percent / 100 if self.pwm else (1 if percent else 0)
        except (GPIOZeroError, OSError) as err:
            raise DeviceError(f"device {self.name!r} on {self.config.pin}: {err}") from None

    def to_safe_state(self) -> None:
        """Drive the output to its configured safe state."""
        self.set_level(100 if self.config.safe_state == "on" else 0)

    def state(self) -> dict[str, Any]:
        """Return ``{"on": bool, "level_percent": int}``."""
        return {"on": self.is_on, "level_percent": self.level_percent}

    def close(self) -> None:
        """Release the pin (after driving it to the safe state); closing twice does nothing."""
        if self._output.closed:
            return
        try:
            self.to_safe_state()
        finally:
            self._output.close()


class DeviceBank(Mapping[str, Device]):
    """All configured devices by name, with lookup by spoken name and safe-state helpers."""

    def __init__(self, devices: list[Device]) -> None:
        self._devices = {device.name: device for device in devices}

    @classmethod
    def from_config(cls, config: HasDevices, pin_factory: Factory) -> DeviceBank:
        """Build every device on ``pin_factory``; on any failure, release what was built and raise."""
        built: list[Device] = []
        try:
            for device_config in config.devices:
                built.append(Device(device_config, pin_factory))
        except BaseException:
            for device in built:
                device.close()
            raise
        log.debug("devices: %s", ", ".join(f"{d.name}={d.config.pin}" for d in built))
        return cls(built)

    def __getitem__(self, name: str) -> Device:
        return self._devices[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._devices)

    def __len__(self) -> int:
        return len(self._devices)

    def find(self, spoken: str) -> Device | None:
        """Return the device whose identifier, spoken name or alias is ``spoken``."""
        wanted = spoken.strip().lower().replace("_", " ")
        for device in self._devices.values():
            if wanted in device.config.spoken_names:
                return device
        return None

    def of_kind(self, kind: str) -> list[Device]:
        """Return the devices of one kind, in config order."""
        return [device for device in self._devices.values() if device.kind == kind]

    def states(self) -> dict[str, dict[str, Any]]:
        """Return every device's state by name."""
        return {name: device.state() for name, device in self._devices.items()}

    def to_safe_state(self) -> None:
        """Drive every output to its safe state, continuing past failures so no output is skipped."""
        failures: list[str] = []
        for device in self._devices.values():
            try:
                device.to_safe_state()
            except DeviceError as err:
                failures.append(str(err))
        if failures:
            raise DeviceError("; ".join(failures))

    def close(self) -> None:
        """Drive every output safe and release every pin."""
        for device in self._devices.values():
            try:
                device.close()
            except (DeviceError, GPIOZeroError, OSError) as err:
                log.error("devices: could not close %s cleanly: %s", device.name, err)
