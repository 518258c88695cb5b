"""Draw docs/wiring.svg: the 40-pin header with every device of the shipped edge.yaml at its pin.

The pins come from the config and the board profile (checked by the same code as `edge check-config`), and
the header's physical numbering from gpiozero's board data, as `edge pins` draws it. Run
`python docs/make_wiring.py [--board rpi4b] [--config edge.yaml]`; `--check` exits 1 when the SVG is stale.
"""

from __future__ import annotations

import argparse
import sys
from html import escape
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge.config import Config, load_config  # noqa: E402
from edge.devices.bank import mock_pin_factory  # noqa: E402
from edge.devices.settings import DeviceConfig  # noqa: E402

OUTPUT = REPO / "docs" / "wiring.svg"
ROW_PX = 26
TOP_PX = 70
HEADER_X = 560  # left column of pins; the right column is one pitch further
PITCH_PX = 34
BOX_W = 380
LABEL_PX = 95  # from a pin to the end of its name, where a wire starts
BOX_H = 62
COLOURS = {"GND": "#222", "3V3": "#e08a00", "5V": "#c62828"}

# What sits between the pin and the load, by kind and switching: a pin gives 3.3 V and a few mA.
CIRCUITS = {
    ("light", True): ("logic-level N-MOSFET (IRLZ44N, AO3400)", "gate 100 Ω, 10 kΩ gate-GND; LED strip"),
    ("light", False): ("opto-isolated relay module", "lamp on the relay contacts"),
    ("fan", True): ("logic-level N-MOSFET + flyback diode", "DC fan; never straight on the pin"),
    ("fan", False): ("opto-isolated relay module", "fan on the relay contacts"),
}


def _header_info(config: Config) -> Any:
    """gpiozero's J8 header of the config's board: pins with names, physical numbers, rows and columns."""
    return mock_pin_factory(config.board).board_info.headers["J8"]


def _pin_xy(row: int, col: int) -> tuple[int, int]:
    return HEADER_X + (col - 1) * PITCH_PX, TOP_PX + (row - 1) * ROW_PX


def _header(header: Any, wired: set[str]) -> list[str]:
    parts = [
        f'<rect x="{HEADER_X - 22}" y="{TOP_PX - 22}" width="{PITCH_PX + 44}" '
        f'height="{20 * ROW_PX + 18}" rx="6" fill="#1b5e20"/>'
    ]
    for pin in header.pins.values():
        x, y = _pin_xy(pin.row, pin.col)
        name = pin.name
        fill = COLOURS.get(name, "#29b6f6" if name in wired else "#bdbdbd")
        ink = "#fff" if name == "GND" else "#000"
        parts.append(f'<circle cx="{x}" cy="{y}" r="9" fill="{fill}" stroke="#fff" stroke-width="1.5"/>')
        parts.append(f'<text x="{x}" y="{y + 3}" class="num" fill="{ink}">{pin.number}</text>')
        side_x = x - 30 if pin.col == 1 else x + 30
        anchor = "end" if pin.col == 1 else "start"
        label = name if name.startswith("GPIO") or name in COLOURS else ""
        if label:
            parts.append(f'<text x="{side_x}" y="{y + 4}" text-anchor="{anchor}" class="pin">{label}</text>')
    return parts


def _box(device: DeviceConfig, x: int, y: int) -> list[str]:
    switch, load = CIRCUITS[(device.kind, device.pwm)]
    title = f"{device.name} ({device.kind}, {'PWM' if device.pwm else 'on/off'})"
    lines = [
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#fff" stroke="#555"/>',
        f'<text x="{x + 10}" y="{y + 19}" class="title">{escape(title)}</text>',
        f'<text x="{x + 10}" y="{y + 37}">{escape(device.pin)} → {escape(switch)}</text>',
        f'<text x="{x + 10}" y="{y + 54}">{escape(load)}</text>',
    ]
    return lines


def draw(config: Config) -> str:
    """The SVG text for ``config``'s devices and status LED on its board's header."""
    header = _header_info(config)
    pins = {pin.name: (pin.number, pin.row, pin.col) for pin in header.pins.values()}
    outputs = [(device.pin, device) for device in config.devices]
    wired = {pin for pin, _ in outputs} | (
        {config.feedback.status_led} if config.feedback.status_led else set()
    )
    parts = _header(header, wired)
    for col, box_x in ((1, 20), (2, HEADER_X + PITCH_PX + 150)):
        side = sorted((pins[pin][1], device) for pin, device in outputs if pins[pin][2] == col)
        next_free = TOP_PX - 20
        for row, device in side:
            pin_x, pin_y = _pin_xy(row, col)
            pin_x += -LABEL_PX if col == 1 else LABEL_PX
            box_y = max(pin_y - BOX_H // 2, next_free)
            next_free = box_y + BOX_H + 12
            edge_x = box_x + BOX_W if col == 1 else box_x
            mid_x = (pin_x + edge_x) // 2
            parts.append(
                f'<polyline points="{pin_x},{pin_y} {mid_x},{pin_y} {mid_x},{box_y + BOX_H // 2} '
                f'{edge_x},{box_y + BOX_H // 2}" fill="none" stroke="#f9a825" stroke-width="3"/>'
            )
            parts += _box(device, box_x, box_y)
    grounds = ", ".join(str(pin.number) for pin in header.pins.values() if pin.name == "GND")
    height = TOP_PX + 20 * ROW_PX + 90
    title = f"{config.board.description}: the devices of {config.source.name} (header seen from above)"
    notes = [
        f"Every load's ground joins the Pi's GND (pins {grounds}). Loads take their own supply, never the pin's.",
        "Many relay boards switch on a low input: set active_high: false. Mains wiring is for qualified people.",
    ]
    body = "\n".join(parts)
    texts = "\n".join(
        f'<text x="40" y="{height - 44 + 18 * i}">{escape(note)}</text>' for i, note in enumerate(notes)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="1180" height="{height}" '
        f'viewBox="0 0 1180 {height}" font-family="DejaVu Sans, sans-serif" font-size="13">\n'
        "<style>.num{font-size:8px;text-anchor:middle}.pin{font-size:11px;fill:#333}"
        ".title{font-weight:bold}</style>\n"
        f'<rect width="100%" height="100%" fill="#fafafa"/>\n'
        f'<text x="40" y="28" class="title" font-size="16">{escape(title)}</text>\n'
        f"{body}\n{texts}\n</svg>\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Write docs/wiring.svg, or with --check tell whether it is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "edge.yaml"))
    parser.add_argument("--board", default="rpi4b", help="board profile to draw (default rpi4b)")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/wiring.svg is stale")
    args = parser.parse_args(argv)
    svg = draw(load_config(Path(args.config), board_override=args.board))
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != svg:
            print("docs/wiring.svg is stale: run python docs/make_wiring.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(svg, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
