"""``edge pins [BOARD]``: the board's 40-pin header with what is wired where."""

from __future__ import annotations

import argparse

from edge.commands.common import load
from edge.config import Config
from edge.devices.bank import mock_pin_factory
from edge.devices.board import BoardProfile, load_board


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``pins`` command."""
    parser = subparsers.add_parser(
        "pins",
        parents=[common],
        help="draw the GPIO header with what is wired where",
        description="Draw the board's GPIO header as seen from above, with the USB ports at the bottom, "
        "marking the configured devices, the status LED and reserved pins. Check your wiring against it.",
    )
    parser.add_argument(
        "board_name", nargs="?", metavar="BOARD", help="board profile (default: the config's)"
    )
    parser.set_defaults(handler=run)


def wiring(config: Config | None, board: BoardProfile) -> dict[str, str]:
    """Map pin names to what uses them: devices, the status LED, reservations, PWM capability."""
    labels = {pin: f"[{reason}]" for pin, reason in board.reserved.items()}
    # Wired pins are drawn with an arrow; reserved ones in brackets.
    if config is not None:
        for device in config.devices:
            labels[device.pin] = f"{device.name} ({'pwm' if device.pwm else 'on/off'} {device.kind})"
        if config.feedback.status_led:
            labels[config.feedback.status_led] = "status LED"
    return labels


def draw_header(board: BoardProfile, labels: dict[str, str]) -> list[str]:
    """Return the header drawing, one line per row of two pins."""
    header = mock_pin_factory(board).board_info.headers["J8"]
    width = max((len(label) + 3 for label in labels.values()), default=0)
    lines = [f"{board.description} ({board.name}): J8 header, pin 1 at the top left", ""]
    for row in range(1, header.rows + 1):
        left = header.pins[2 * row - 1]
        right = header.pins[2 * row]
        left_label = _label(labels, board, left.name, "{} ->")
        right_label = _label(labels, board, right.name, "<- {}")
        left_text = f"{left_label:>{width}} {left.name:>6} ({left.number:>2})"
        right_text = f"({right.number:>2}) {right.name:<6} {right_label}"
        lines.append(f"{left_text}  {right_text}".rstrip())
    lines += ["", "->/<- wired in the config   [reserved]   pwm: has hardware PWM"]
    return lines


def _label(labels: dict[str, str], board: BoardProfile, pin: str, arrow: str) -> str:
    if pin in labels:
        text = labels[pin]
        return text if text.startswith("[") else arrow.format(text)
    return "pwm" if pin in board.pwm_pins else ""


def run(args: argparse.Namespace) -> int:
    """Print the header; with a BOARD argument and no usable config, draw the bare board."""
    if args.board_name:
        board = load_board(args.board_name, source="edge pins", key="BOARD")
        config = None
        if args.config:
            config = load(args)
    else:
        config = load(args)
        board = config.board
    for line in draw_header(board, wiring(config, board)):
        print(line)
    return 0
