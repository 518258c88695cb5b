"""``edge replay FILE.wav...``: the full pipeline on recorded audio, against mock GPIO."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from edge.commands.common import load, print_json
from edge.events import Event
from edge.runtime.assembly import Runtime, build_runtime
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk, WavSource


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``replay`` command."""
    parser = subparsers.add_parser(
        "replay",
        parents=[common],
        help="run the full pipeline on WAV files against mock GPIO",
        description="Run wake word, recognition, intent and actions on WAV files (any common rate, width and "
        "channel count), one after another as one stream, with devices on gpiozero's mock pins. Prints what was "
        "heard, understood and done; with --json one object per event and, last, the final device states.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.wav")
    parser.add_argument("--json", action="store_true", help="one JSON object per event, then the final state")
    parser.add_argument(
        "--realtime", action="store_true", help="pace the audio in real time, as a microphone would"
    )
    parser.set_defaults(handler=run)


def replay(runtime: Runtime, files: list[Path], *, realtime: bool = False) -> Iterator[tuple[Path, Event]]:
    """Feed the files through the pipeline as one stream; yield (file, event) pairs as they happen."""
    offset_ms = 0
    for path in files:
        source = WavSource(path, chunk_ms=runtime.config.audio.chunk_ms, realtime=realtime)
        end_ms = offset_ms
        try:
            for chunk in source.chunks():
                shifted = AudioChunk(chunk.pcm, chunk.timestamp_ms + offset_ms)
                for event in runtime.pipeline.feed(shifted):
                    yield path, event
                end_ms = shifted.timestamp_ms + round(shifted.duration_ms)
        finally:
            source.close()
        offset_ms = end_ms
        # A microphone keeps hearing the room after the speaker stops: trailing silence lets the
        # endpointer close a command that runs to the end of the file.
        for chunk in _silence(runtime, offset_ms, runtime.config.endpoint.no_speech_timeout_ms + 200):
            for event in runtime.pipeline.feed(chunk):
                yield path, event
            offset_ms = chunk.timestamp_ms + round(chunk.duration_ms)


def _silence(runtime: Runtime, start_ms: int, duration_ms: int) -> list[AudioChunk]:
    chunk_ms = runtime.config.audio.chunk_ms
    pcm = bytes(2 * SAMPLE_RATE_HZ * chunk_ms // 1000)
    return [AudioChunk(pcm, start_ms + offset) for offset in range(0, duration_ms, chunk_ms)]


def run(args: argparse.Namespace) -> int:
    """Replay the files and print the events and the final device states."""
    config = load(args)
    runtime = build_runtime(config, mock_gpio=True, sounds=False)
    try:
        for path, event in replay(runtime, args.files, realtime=args.realtime):
            if args.json:
                print_json({**event.to_dict(), "file": str(path)})
            else:
                print(f"{path.name}: {describe(event)}")
        states = runtime.bank.states()
        if args.json:
            print_json({"type": "state", "devices": states})
        else:
            for name, state in states.items():
                level = f" {state['level_percent']} %" if runtime.bank[name].pwm and state["on"] else ""
                print(f"final: {name} {'on' if state['on'] else 'off'}{level}")
    finally:
        runtime.close()
    return 0


def describe(event: Event) -> str:
    """One human line per event, for classroom demos."""
    data = event.to_dict()
    at = f"{data.pop('timestamp_ms') / 1000:6.2f}s"
    kind = data.pop("type")
    details = " ".join(f"{key}={_short(value)}" for key, value in data.items() if value not in (None, {}, ""))
    return f"{at} {kind:<15} {details}"


def _short(value: object) -> str:
    # Scores and latencies to two decimals: a class reads "0.98", not "0.9796875".
    return f"{value:.2f}" if isinstance(value, float) else repr(value)
