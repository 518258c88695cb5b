"""``edge run``: the daemon's main job, listening on the microphone (or a file, for demos and tests)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from edge.commands.common import load, print_json
from edge.commands.replay import describe
from edge.config import Config
from edge.errors import UsageError
from edge.events import Event
from edge.integrations.extras import Extras, requested_web
from edge.runtime.assembly import build_runtime
from edge.runtime.daemon import Daemon
from edge.runtime.memory import limit_malloc_arenas
from edge.runtime.status import StatusWriter, default_status_path
from edge.speech.audio import (
    SAMPLE_RATE_HZ,
    AudioChunk,
    AudioSource,
    MicrophoneSource,
    RawSource,
    WavSource,
    read_wav,
)

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``run`` command."""
    parser = subparsers.add_parser(
        "run",
        parents=[common],
        help="listen on the microphone and switch devices (the daemon's main job)",
        description="Listen for the wake phrase, recognize the command offline, understand it and switch the "
        "GPIO outputs. Runs until SIGTERM or Ctrl-C; every output returns to its safe state on exit.",
    )
    parser.add_argument(
        "--input",
        metavar="SOURCE",
        help="listen to a WAV file (paced in real time) or '-' for raw 16 kHz s16le mono on stdin, "
        "instead of the microphone",
    )
    parser.add_argument(
        "--mock-gpio", action="store_true", help="drive gpiozero's mock pins, not the board's"
    )
    parser.add_argument(
        "--events",
        choices=("text", "json", "none"),
        default=None,
        help="print what was heard, understood and done (default: text on a terminal, none otherwise)",
    )
    parser.add_argument("--status-file", type=Path, help="where to write the status for `edge status`")
    parser.add_argument(
        "--no-sounds", action="store_true", help="no feedback sounds, whatever the config says"
    )
    parser.add_argument(
        "--web",
        nargs="?",
        const="",
        metavar="HOST:PORT",
        help="serve the live view (default: the config's web.listen, else 127.0.0.1:8080); any address "
        "but 127.0.0.1 needs web.token",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the runtime, then serve until stopped."""
    limit_malloc_arenas()  # before any stage starts a thread
    config = load(args)
    if args.input not in (None, "-"):
        _check_input_file(Path(args.input))
    web = requested_web(config, args.web)
    runtime = build_runtime(
        config, mock_gpio=args.mock_gpio, sounds=config.feedback.sounds and not args.no_sounds
    )
    extras = Extras()
    try:
        extras.build(config, runtime, web)
        sinks: list[Callable[[Event], None]] = [runtime.publish, *extras.sinks]
        printer = _event_printer(args.events)
        if printer is not None:
            sinks.append(printer)
        daemon = Daemon(
            _source_opener(config, args.input),
            runtime.pipeline,
            runtime.bank,
            stats=extras.stats,
            status_writer=StatusWriter(args.status_file or default_status_path()),
            sinks=tuple(sinks),
            taps=extras.taps,
            stop_when_source_ends=args.input is not None,
        )
        extras.start(daemon.submit)
        daemon.install_signal_handlers()
        daemon.run()
    finally:
        extras.close()
        runtime.close()
    return 0


def _check_input_file(path: Path) -> None:
    """Refuse a missing or malformed --input file before anything starts (the daemon would retry it)."""
    if not path.is_file():
        raise UsageError(f"--input {path}: no such file (give a WAV file, or '-' for raw audio on stdin)")
    read_wav(path)


def _source_opener(config: Config, spec: str | None) -> Callable[[], AudioSource]:
    chunk_ms = config.audio.chunk_ms
    if spec == "-":
        return lambda: RawSource(sys.stdin.buffer, chunk_ms=chunk_ms)
    if spec is not None:
        path = Path(spec)
        tail_ms = config.endpoint.no_speech_timeout_ms + 200
        return lambda: FileThenQuiet(WavSource(path, chunk_ms=chunk_ms, realtime=True), tail_ms)
    audio = config.audio
    return lambda: MicrophoneSource(
        audio.device,
        sample_rate_hz=audio.sample_rate_hz,
        channels=audio.channels,
        chunk_ms=chunk_ms,
        queue_chunks=audio.queue_chunks,
    )


class FileThenQuiet:
    """A paced file followed by a quiet room, so a command spoken at the very end still gets its endpoint."""

    def __init__(self, source: WavSource, tail_ms: int) -> None:
        self.source = source
        self.tail_ms = tail_ms

    def chunks(self) -> Iterator[AudioChunk]:
        """The file's chunks, then silence paced in real time."""
        end_ms = 0
        for chunk in self.source.chunks():
            end_ms = chunk.timestamp_ms + round(chunk.duration_ms)
            yield chunk
        chunk_ms = self.source.chunk_ms
        quiet = bytes(2 * SAMPLE_RATE_HZ * chunk_ms // 1000)
        for offset in range(0, self.tail_ms, chunk_ms):
            time.sleep(chunk_ms / 1000)
            yield AudioChunk(quiet, end_ms + offset)

    def close(self) -> None:
        """Close the file."""
        self.source.close()


def _event_printer(mode: str | None) -> Callable[[Event], None] | None:
    if mode is None:
        mode = "text" if sys.stdout.isatty() and "JOURNAL_STREAM" not in os.environ else "none"
    if mode == "json":
        return lambda event: print_json(event.to_dict())
    if mode == "text":
        return lambda event: print(describe(event), flush=True)
    return None
