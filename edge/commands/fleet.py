"""``edge fleet``: every edge on the MQTT broker, online or not, with its last command and device states."""

from __future__ import annotations

import argparse
from typing import Any

from edge.commands.common import load, print_json
from edge.errors import ConfigError
from edge.integrations.mqtt.fleet import collect_fleet, default_filter


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``fleet`` command."""
    parser = subparsers.add_parser(
        "fleet",
        parents=[common],
        help="list every edge on the MQTT broker (name, online, last command, devices)",
        description="Connect to the broker of the config's mqtt: section and list every edge found from the "
        "retained topics they publish: name, online or not, last command and device states.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--topic",
        metavar="FILTER",
        help="base topics to list, with MQTT wildcards (default: this edge's siblings, e.g. edge/+)",
    )
    parser.add_argument(
        "--wait", type=float, default=5.0, metavar="S", help="give up waiting for retained messages after S s"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Collect and print the fleet."""
    config = load(args)
    if config.mqtt is None:
        raise ConfigError(
            str(config.source), "mqtt", "no mqtt: section; add one with the broker's host to see the fleet"
        )
    topic_filter = args.topic or default_filter(config.mqtt)
    members = collect_fleet(config.mqtt, topic_filter, timeout_s=args.wait)
    if args.json:
        print_json({"broker": f"{config.mqtt.host}:{config.mqtt.port}", "filter": topic_filter,
                    "edges": [member.to_dict() for member in members]})  # fmt: skip
        return 0
    print(f"{len(members)} edge(s) under {topic_filter} on {config.mqtt.host}:{config.mqtt.port}")
    if members:
        print(f"{'NAME':<16} {'ONLINE':<7} {'LAST COMMAND':<30} DEVICES")
    for member in members:
        data = member.to_dict()
        online = {True: "yes", False: "no", None: "?"}[member.online]
        command = (member.last_command or {}).get("description", "-")
        print(f"{data['name']:<16} {online:<7} {command:<30} {_devices(member.devices)}")
    return 0


def _devices(devices: dict[str, Any]) -> str:
    shown = []
    for name, state in devices.items():
        if not state.get("on"):
            shown.append(f"{name}=off")
        elif state.get("level_percent") not in (None, 100):
            shown.append(f"{name}={state['level_percent']}%")
        else:
            shown.append(f"{name}=on")
    return " ".join(shown) or "-"
