"""``edge record FILE.wav``: capture from the microphone as the pipeline hears it (16 kHz mono 16-bit)."""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

from edge.commands.common import load, stderr
from edge.config import find_config_path
from edge.errors import UsageError
from edge.speech.audio import SAMPLE_RATE_HZ, MicrophoneSource


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``record`` command."""
    parser = subparsers.add_parser(
        "record",
        parents=[common],
        help="record the microphone to a WAV file",
        description="Record from the microphone (audio.device in the config, or --device) to a 16 kHz mono "
        "16-bit WAV: exactly what the pipeline hears, ready for `edge replay` or a new test fixture.",
    )
    parser.add_argument("file", type=Path, metavar="FILE.wav")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to record (default 5)")
    parser.add_argument(
        "--device", default=None, help="input device index or name (see `edge audio-devices`)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Record and write the file."""
    if not 0 < args.seconds <= 3600:
        raise UsageError(f"--seconds {args.seconds} must be between 0 and 3600")
    device: str | int | None = args.device
    if device is not None and str(device).isdigit():
        device = int(device)
    rate, channels, chunk_ms = None, 1, 30
    if args.config or find_config_path(None).is_file():
        audio = load(args).audio
        device = audio.device if device is None else device
        rate, channels, chunk_ms = audio.sample_rate_hz, audio.channels, audio.chunk_ms
    # A recording is not latency-bound: it keeps the oldest audio, so a slow reader never loses the first
    # words (a live pipeline does the opposite, to hear the present).
    queue_chunks = min(max(200, round(args.seconds * 1000 / chunk_ms) + 50), 20_000)
    source = MicrophoneSource(
        device,
        sample_rate_hz=rate,
        channels=channels,
        chunk_ms=chunk_ms,
        queue_chunks=queue_chunks,
        keep_oldest=True,
    )
    wanted = round(args.seconds * SAMPLE_RATE_HZ) * 2
    pcm = bytearray()
    stderr(f"recording {args.seconds:g} s from {source.device!r} ...")
    try:
        for chunk in source.chunks():
            pcm += chunk.pcm
            if len(pcm) >= wanted:
                break
    finally:
        source.close()
    with wave.open(str(args.file), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE_HZ)
        out.writeframes(bytes(pcm[:wanted]))
    if source.drops or source.overflows:
        stderr(f"warning: {source.drops} chunks dropped, {source.overflows} input overflows")
    stderr(f"wrote {args.file}")
    return 0
