"""``edge status``: what the running daemon has done, read from its status file (never from the daemon)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edge.commands.common import print_json
from edge.errors import EXIT_FAILURE
from edge.runtime.status import default_status_path, read_status


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``status`` command."""
    parser = subparsers.add_parser(
        "status",
        parents=[common],
        help="show the running daemon's counters, latencies and device states",
        description="Print the running daemon's status file: wakes, commands understood or not, timeouts, "
        "errors, per-stage latency percentiles, audio drops and restarts, uptime and device states. "
        "Exits 1 when no daemon is running (no file, a stopped daemon, or a file not updated recently).",
    )
    parser.add_argument("--json", action="store_true", help="print the status as one JSON object")
    parser.add_argument(
        "--file",
        "--status-file",
        dest="status_file",
        type=Path,
        help="the daemon's status file (default: $EDGE_STATUS_FILE or /run/edge/status.json)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the status, or say why there is none and return 1."""
    path = default_status_path(args.status_file)
    snapshot, problem = read_status(path)
    if snapshot is None:
        print(f"edge: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print_json(snapshot)
    else:
        for line in format_status(snapshot):
            print(line)
    return 0


def format_status(snapshot: dict[str, Any]) -> list[str]:
    """Return the status as lines for a person."""
    detail = f": {snapshot['detail']}" if snapshot.get("detail") else ""
    lines = [f"edge: {snapshot.get('state')}{detail} (pid {snapshot.get('pid')}, up {_duration(snapshot)})"]
    counters = snapshot.get("counters", {})
    lines.append(
        "  commands: {wakes} wakes, {commands_understood} understood, {commands_not_understood} not "
        "understood, {timeouts} timeouts, {errors} errors".format_map(_Zero(counters))
    )
    latency = snapshot.get("latency_ms", {})
    if latency:
        lines.append(f"  latency:  {'stage':<8} {'p50':>7} {'p90':>7} {'p99':>7}  (last n)")
        for stage, numbers in latency.items():
            lines.append(
                f"            {stage:<8} {numbers['p50']:>7.1f} {numbers['p90']:>7.1f} {numbers['p99']:>7.1f}  "
                f"({numbers['count']})"
            )
    audio = snapshot.get("audio", {})
    lines.append(
        "  audio:    {drops} chunks dropped, {overflows} overflows, {restarts} source restarts".format_map(
            _Zero(audio)
        )
    )
    for name, state in snapshot.get("devices", {}).items():
        shown = "on" if state.get("on") else "off"
        if state.get("on") and state.get("level_percent") not in (None, 100):
            shown += f" {state['level_percent']} %"
        lines.append(f"  device:   {name:<16} {shown}")
    return lines


def _duration(snapshot: dict[str, Any]) -> str:
    seconds = int(snapshot.get("uptime_s") or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


class _Zero(dict):
    def __missing__(self, key: str) -> int:
        return 0
