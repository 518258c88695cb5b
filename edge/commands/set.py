"""``edge set DEVICE STATE``: drive one output by hand to check the wiring."""

from __future__ import annotations

import argparse
import re
import signal
import time

from edge.commands.common import Shutdown, load, print_json, raise_on_termination, stderr
from edge.devices.bank import Device, DeviceBank, make_pin_factory
from edge.devices.settings import DeviceConfig
from edge.errors import UsageError

_PERCENT = re.compile(r"^(\d{1,3})\s*%?$")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``set`` command."""
    parser = subparsers.add_parser(
        "set",
        parents=[common],
        help="set a device by hand (e.g. `edge set fan 60%%`) to check wiring",
        description="Set one device, hold it there until Ctrl-C (or --hold seconds), then return every output "
        "to its safe state. STATE is on, off, a percent (60%% or 60) or a fan's named level (low, high).",
    )
    parser.add_argument("device", help="device name or a spoken alias (kitchen_light, lamp, fan)")
    parser.add_argument("state", help="on | off | PERCENT | LEVEL")
    parser.add_argument(
        "--hold",
        type=float,
        metavar="SECONDS",
        help="how long to hold the state before returning to safe state (default: until Ctrl-C or SIGTERM)",
    )
    parser.add_argument("--json", action="store_true", help="print states as JSON lines")
    parser.set_defaults(handler=run)


def parse_state(device: DeviceConfig, text: str) -> int:
    """Turn ``on``/``off``/``60%``/``high`` into a level in percent for ``device``."""
    word = text.strip().lower()
    if word == "on":
        return 100
    if word == "off":
        return 0
    if word in device.levels:
        return device.levels[word]
    match = _PERCENT.match(word)
    if match and int(match.group(1)) <= 100:
        percent = int(match.group(1))
        if not device.pwm and percent not in (0, 100):
            raise UsageError(f"state {text!r}: {device.name} is on/off only (allowed: on, off, 0%, 100%)")
        return percent
    levels = f", {', '.join(device.levels)}" if device.levels else ""
    raise UsageError(f"state {text!r} for {device.name} is not allowed (allowed: on, off, 0%..100%{levels})")


def run(args: argparse.Namespace) -> int:
    """Apply the state, hold it, then return to safe state on every exit path."""
    config = load(args)
    bank = DeviceBank.from_config(config, make_pin_factory(config.board))
    try:
        raise_on_termination()
        try:
            device = _find(bank, args.device)
            device.set_level(parse_state(device.config, args.state))
            _report(args, bank, "set")
            _hold(args.hold)
        except Shutdown as stop:
            stderr(f"edge: {stop}: returning outputs to their safe state")
    finally:
        # A second signal must not cut the way back to safe short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        bank.to_safe_state()
        _report(args, bank, "safe")
        bank.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return 0


def _find(bank: DeviceBank, name: str) -> Device:
    device = bank.get(name) or bank.find(name)
    if device is None:
        raise UsageError(f"unknown device {name!r} (devices: {', '.join(bank)})")
    return device


def _hold(seconds: float | None) -> None:
    if seconds is None:
        stderr("edge: holding; press Ctrl-C to return outputs to their safe state")
        while True:
            signal.pause()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.5))


def _report(args: argparse.Namespace, bank: DeviceBank, phase: str) -> None:
    states = bank.states()
    if args.json:
        print_json({"type": "state", "phase": phase, "devices": states})
        return
    for name, state in states.items():
        level = f" {state['level_percent']} %" if bank[name].pwm and state["on"] else ""
        print(f"{phase}: {name} {'on' if state['on'] else 'off'}{level}", flush=True)
