"""Helpers shared by the subcommands: loading the config and printing results."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType
from typing import Any

from edge.config import Config, find_config_path, load_config
from edge.errors import ConfigError


def load(args: argparse.Namespace) -> Config:
    """Load and validate the config the arguments name."""
    path = find_config_path(args.config)
    if not args.config and not path.is_file():
        raise ConfigError(
            str(path),
            "",
            "no config found (looked for -c FILE, $EDGE_CONFIG, ./edge.yaml, /etc/edge/edge.yaml); "
            "start from the example edge.yaml in the repository",
        )
    return load_config(path, board_override=args.board)


def print_json(value: Any) -> None:
    """Print one JSON object on one line and flush, so readers of a pipe see it at once."""
    print(json.dumps(value, sort_keys=False), flush=True)


class Shutdown(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT so every ``finally`` (safe GPIO state) runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_on_termination() -> None:
    """Turn SIGTERM and SIGINT into a ``Shutdown`` exception in the main thread."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Shutdown(signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def stderr(message: str) -> None:
    """Print a line for the person at the terminal."""
    print(message, file=sys.stderr, flush=True)
