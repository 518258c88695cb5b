"""``edge check-config``: validate the config, build every device on mock pins, print a summary."""

from __future__ import annotations

import argparse
import sys

from edge.commands.common import load
from edge.config import Config
from edge.devices.bank import DeviceBank, mock_pin_factory
from edge.integrations.wyoming.settings import WyomingConfig
from edge.runtime.footprint import expected, fit_warning, whisper_over_budget
from edge.understanding.validation import validate_models


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``check-config`` command."""
    parser = subparsers.add_parser(
        "check-config",
        parents=[common],
        help="validate the config and build every device on mock pins",
        description="Validate the configuration strictly, build every device on gpiozero mock pins "
        "(so gpiozero itself checks them), load the intent vocabulary and model, and print a summary.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate and print the summary; errors propagate as one-line EdgeErrors."""
    config = load(args)
    bank = DeviceBank.from_config(config, mock_pin_factory(config.board))
    bank.close()
    model_summary = validate_models(config)
    print(f"{config.source}: ok")
    print(
        f"  board:   {config.board.name} ({config.board.description}), pin factory {config.board.pin_factory}"
    )
    for device in config.devices:
        kind = (
            ("dimmable " if device.pwm else "on/off ") + device.kind
            if device.kind == "light"
            else (("variable-speed " if device.pwm else "on/off ") + device.kind)
        )
        names = ", ".join(device.spoken_names)
        print(
            f"  device:  {device.name:<16} {device.pin:<7} {kind:<20} safe={device.safe_state}  says: {names}"
        )
    if config.feedback.status_led:
        print(f"  status LED: {config.feedback.status_led}")
    phrases = " | ".join(map(repr, config.wake.phrases))
    print(f"  wake:    {config.wake.engine} {phrases} sensitivity={config.wake.sensitivity}")
    if config.wake.model is not None:
        check = "each wake confirmed by Whisper" if config.wake.verify else "no Whisper check"
        print(f"  wake model: {config.wake.model} (step {config.wake.step_ms} ms, {check})")
    print(f"  asr:     {config.asr.engine} ({config.asr.mode})")
    for line in model_summary:
        print(f"  {line}")
    if config.wyoming is not None:
        print(f"  {wyoming_summary(config.wyoming)}")
    _print_memory(config)
    return 0


def _print_memory(config: Config) -> None:
    """The estimated peak against the board's budget; a warning line on stderr when it will not fit."""
    footprint = expected(config)
    budget = config.board.memory_budget_mb
    against = (
        f"{config.board.name} budget {budget} MB" if budget else f"no memory budget on {config.board.name}"
    )
    print(f"  memory:  {footprint.describe()} peak for edge run ({against})")
    passed_by = whisper_over_budget(config)
    if passed_by:
        print(f"  asr auto: not Whisper on this board: {passed_by}")
    warning = fit_warning(config, footprint)
    if warning:
        print(f"edge: warning: {warning}", file=sys.stderr)


def wyoming_summary(wyoming: WyomingConfig) -> str:
    """One line: what the Wyoming server offers Home Assistant and who can reach it."""
    offers = [
        name
        for name, on in (
            ("satellite", wyoming.satellite),
            ("wake words", wyoming.wake_service),
            ("speech-to-text", wyoming.asr_service),
        )
        if on
    ]
    if wyoming.loopback:
        reach = "this machine only"
    else:
        reach = "the local network" + (", announced by zeroconf" if wyoming.zeroconf else "")
    return f"wyoming: {', '.join(offers)} on {wyoming.host}:{wyoming.port} ({reach})"
