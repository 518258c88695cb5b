"""``edge audio-devices``: the sound inputs PortAudio can see, to pick ``audio.device``."""

from __future__ import annotations

import argparse
from typing import Any

from edge.commands.common import print_json
from edge.errors import AudioError
from edge.speech.audio import import_sounddevice


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``audio-devices`` command."""
    parser = subparsers.add_parser(
        "audio-devices",
        parents=[common],
        help="list microphones and other audio inputs",
        description="List the audio input devices with their index, channels and default rate. Put the index "
        "or (part of) the name in audio.device.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def input_devices() -> list[dict[str, Any]]:
    """One row per device that can record."""
    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
        default_input = sd.default.device[0]
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as err:
        raise AudioError(f"cannot list audio devices: {err}") from None
    return [
        {
            "index": int(device["index"]),
            "name": device["name"],
            "hostapi": hostapis[device["hostapi"]]["name"],
            "channels": int(device["max_input_channels"]),
            "default_samplerate_hz": int(device["default_samplerate"]),
            "default": int(device["index"]) == default_input,
        }
        for device in devices
        if device["max_input_channels"] > 0
    ]


def run(args: argparse.Namespace) -> int:
    """Print the input devices."""
    rows = input_devices()
    if args.json:
        print_json({"inputs": rows})
        return 0
    if not rows:
        print("no audio input devices found (is a microphone connected? see `arecord -l`)")
        return 0
    print(f"{'INDEX':>5}  {'CHANNELS':>8}  {'RATE':>6}  NAME")
    for row in rows:
        mark = " (default)" if row["default"] else ""
        print(
            f"{row['index']:>5}  {row['channels']:>8}  {row['default_samplerate_hz']:>6}  {row['name']} [{row['hostapi']}]{mark}"
        )
    return 0
