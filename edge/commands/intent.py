"""``edge intent "TEXT"``: what a sentence means and what it would do, optionally done on mock pins."""

from __future__ import annotations

import argparse

from edge.commands.common import load, print_json
from edge.devices.bank import DeviceBank, mock_pin_factory
from edge.understanding.handler import Interpretation, Understanding


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``intent`` command."""
    parser = subparsers.add_parser(
        "intent",
        parents=[common],
        help="classify a sentence and show what it would do",
        description="Run the intent classifier and slot parser on TEXT and print the intent, confidence, slots "
        "and the action it would take. With --apply the action is carried out on gpiozero mock pins and the "
        "device states afterwards are printed.",
    )
    parser.add_argument("text", help='the command as a recognizer would write it, e.g. "turn on the lamp"')
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--apply", action="store_true", help="carry the action out on mock pins")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Interpret the text (and apply it on mock pins when asked); print the result, one part per command."""
    config = load(args)
    bank = DeviceBank.from_config(config, mock_pin_factory(config.board))
    try:
        understanding = Understanding.from_config(config, bank)
        parts = understanding.interpret_all(args.text)
        result = (
            parts[0].to_dict()
            if len(parts) == 1
            else {"text": args.text, "parts": [p.to_dict() for p in parts]}
        )
        if args.apply:
            understanding.handle(args.text, 0)
            result["states"] = bank.states()
    finally:
        bank.close()
    if args.json:
        print_json(result)
        return 0
    for found in parts:
        _print_part(found, args.apply, len(parts) > 1)
    for name, state in result.get("states", {}).items():
        level = f" {state['level_percent']} %" if bank[name].pwm and state["on"] else ""
        print(f"state: {name} {'on' if state['on'] else 'off'}{level}")
    return 0


def _print_part(found: Interpretation, applied: bool, several: bool) -> None:
    """Intent, slots and the action (or why none) of one command."""
    if several:
        print(f"part: {found.text}")
    slots = " ".join(f"{key}={value}" for key, value in found.slots.to_dict().items()) or "-"
    print(f"intent: {found.intent} conf={found.confidence:.2f} slots: {slots}")
    if found.reason:
        # An intent with a target edge lacks was understood; only an out-of-scope request was not.
        print(f"{'not understood' if found.intent == 'none' else 'no action'}: {found.reason}")
    elif found.plan:
        print(f"action: {found.plan.description}{'' if applied else ' (not applied)'}")
