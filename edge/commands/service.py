"""``edge service install``: run edge at boot as a hardened systemd service."""

from __future__ import annotations

import argparse
import sys
import sysconfig
from pathlib import Path

import edge
from edge.commands.common import load
from edge.config import Config, find_config_path
from edge.errors import UsageError
from edge.runtime.service import (
    WyomingListen,
    apply,
    check_reachable,
    exec_start_command,
    existing_groups,
    plan_install,
    render_unit,
    unit_template,
    user_exists,
)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``service`` command with its ``install`` and ``unit`` actions."""
    parser = subparsers.add_parser(
        "service",
        parents=[common],
        help="install edge as a systemd service",
        description="Install edge as a hardened systemd service running as the unprivileged user 'edge'.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install",
        parents=[common],
        help="create the user, write the unit and /etc/edge/edge.yaml, enable and start (needs root)",
        description="Create the system user 'edge' (in the gpio and audio groups where they exist), write "
        "/etc/systemd/system/edge.service running this environment's `edge run`, copy the config to "
        "/etc/edge/edge.yaml unless one is there, then daemon-reload and enable --now.",
    )
    install.add_argument("--dry-run", action="store_true", help="print the actions, change nothing")
    install.add_argument(
        "--root",
        "--prefix",
        dest="root",
        type=Path,
        metavar="DIR",
        help="write the files under DIR (e.g. a mounted SD card image); user and systemctl steps are skipped",
    )
    install.add_argument("--no-start", action="store_true", help="enable at boot but do not start now")
    install.set_defaults(handler=run_install)
    unit = actions.add_parser("unit", parents=[common], help="print the unit file this machine would get")
    unit.set_defaults(handler=run_unit)


def run_install(args: argparse.Namespace) -> int:
    """Plan the installation, then print it (--dry-run) or carry it out."""
    config = load(args)  # never install a config that the service would reject at start
    try:
        # The interpreter (a venv's links to its base Python), the installed libraries and edge itself.
        check_reachable(
            [Path(sys.executable), Path(sysconfig.get_paths()["purelib"]), Path(edge.__file__).parent]
        )
    except UsageError as err:
        if not (args.dry_run or args.root):
            raise
        print(f"edge: warning: {err}", file=sys.stderr)
    actions = plan_install(
        config_source=find_config_path(args.config),
        exec_start=exec_start_command(),
        groups=existing_groups(),
        create_user=not user_exists(),
        start=not args.no_start,
        web_on_loopback=None if config.web is None else config.web.loopback,
        mqtt_host=config.mqtt.host if config.mqtt else None,
        wyoming=_wyoming_listen(config),
    )
    if args.dry_run:
        for action in actions:
            print(action.describe(args.root))
        return 0
    for line in apply(actions, root=args.root):
        print(line, flush=True)
    return 0


def _wyoming_listen(config: Config) -> WyomingListen | None:
    wyoming = config.wyoming
    if wyoming is None:
        return None
    web_port = config.web.port if config.web is not None else None
    return WyomingListen(wyoming.port, wyoming.loopback, wyoming.zeroconf, web_port)


def run_unit(_args: argparse.Namespace) -> int:
    """Print the rendered unit."""
    print(render_unit(unit_template(), exec_start_command(), existing_groups()), end="")
    return 0
