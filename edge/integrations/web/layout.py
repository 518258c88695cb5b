"""What the page draws once: the board's 40-pin header with each configured device at its pin."""

from __future__ import annotations

from typing import Any

from edge.config import Config
from edge.devices.bank import mock_pin_factory


def page_setup(config: Config) -> dict[str, Any]:
    """The board, its header pins row by row, and the devices with their pins (JSON-ready)."""
    board = config.board
    header = mock_pin_factory(board).board_info.headers["J8"]
    used = {device.pin: device.name for device in config.devices}
    if config.feedback.status_led:
        used[config.feedback.status_led] = "status LED"
    pins = [
        {
            "number": pin.number,
            "name": pin.name,
            "kind": _pin_kind(pin.name),
            "pwm": pin.name in board.pwm_pins,
            "used_by": used.get(pin.name),
            "reserved": board.reserved.get(pin.name),
        }
        for pin in (header.pins[number] for number in sorted(header.pins))
    ]
    devices = [
        {
            "name": device.name,
            "kind": device.kind,
            "pin": device.pin,
            "pwm": device.pwm,
            "room": device.room,
            "levels": dict(device.levels),
        }
        for device in config.devices
    ]
    return {
        "board": {"name": board.name, "description": board.description},
        "header": {"rows": header.rows, "columns": header.columns, "pins": pins},
        "devices": devices,
        "wake_phrase": config.wake.phrase,
    }


def _pin_kind(name: str) -> str:
    if name.startswith("GPIO"):
        return "gpio"
    if name == "GND":
        return "ground"
    if name in ("3V3", "5V"):
        return "power"
    return "other"
