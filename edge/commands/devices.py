"""``edge devices``: every device with its pin, kind and current state."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge.commands.common import load, print_json
from edge.config import Config
from edge.devices.bank import DeviceBank, mock_pin_factory
from edge.runtime.status import default_status_path


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``devices`` command."""
    parser = subparsers.add_parser(
        "devices",
        parents=[common],
        help="list devices with pins, kind and current state",
        description="List the configured devices. The state comes from the running daemon's status file when "
        "there is one; otherwise it is the safe state every output starts in.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--status-file", type=Path, default=None, help="the daemon's status file")
    parser.set_defaults(handler=run)


def device_rows(config: Config, status_file: Path) -> tuple[list[dict[str, Any]], str]:
    """Return one row per device and where the states came from."""
    states, origin = _daemon_states(status_file)
    if states is None:
        bank = DeviceBank.from_config(config, mock_pin_factory(config.board))
        states, origin = bank.states(), "safe state at start (no daemon running)"
        bank.close()
    rows = [
        {
            "name": device.name,
            "kind": device.kind,
            "control": "pwm" if device.pwm else "on/off",
            "pin": device.pin,
            "room": device.room,
            "aliases": list(device.aliases),
            "levels": dict(device.levels),
            "safe_state": device.safe_state,
            "state": states.get(device.name),
        }
        for device in config.devices
    ]
    return rows, origin


def run(args: argparse.Namespace) -> int:
    """Print the device table."""
    config = load(args)
    rows, origin = device_rows(config, args.status_file or default_status_path())
    if args.json:
        print_json({"devices": rows, "state_source": origin})
        return 0
    print(f"{'NAME':<16} {'KIND':<6} {'CONTROL':<7} {'PIN':<7} {'ROOM':<12} STATE")
    for row in rows:
        state = row["state"] or {}
        shown = "on" if state.get("on") else "off"
        if row["control"] == "pwm" and state.get("on"):
            shown += f" {state.get('level_percent')} %"
        print(
            f"{row['name']:<16} {row['kind']:<6} {row['control']:<7} {row['pin']:<7} {row['room'] or '-':<12} {shown}"
        )
    print(f"(state: {origin})")
    return 0


def _daemon_states(status_file: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        snapshot = json.loads(status_file.read_text(encoding="utf-8"))
        return dict(snapshot["devices"]), f"daemon status file {status_file}"
    except (OSError, ValueError, KeyError, TypeError):
        return None, ""
