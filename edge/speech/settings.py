"""Settings of audio and the endpoint (``audio``, ``endpoint`` sections of edge.yaml) and their readers.

Each reader takes its section, checks every key (one error line naming the file, key and what is allowed)
and returns a frozen dataclass; ``edge.config`` assembles them with the other sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.devices.board import BoardProfile
from edge.yamlfields import Section


@dataclass(frozen=True)
class EndpointConfig:
    """When a spoken command is over."""

    silence_ms: int = 600
    max_command_ms: int = 6000
    no_speech_timeout_ms: int = 4000
    energy_threshold_db: float | None = None  # None: adapt to the noise floor
    vad: Literal["silero", "energy"] = "silero"  # voice activity detector; energy where silero cannot install
    complete_silence_ms: int = 150  # shorter silence that ends a command whose words are already complete


def read_endpoint(section: Section) -> EndpointConfig:
    """The ``endpoint`` section: when a command starts and ends."""
    endpoint = EndpointConfig(
        silence_ms=section.integer("silence_ms", 600, low=100, high=5000),
        max_command_ms=section.integer("max_command_ms", 6000, low=500, high=60_000),
        no_speech_timeout_ms=section.integer("no_speech_timeout_ms", 4000, low=200, high=60_000),
        energy_threshold_db=section.number("energy_threshold_db", None, low=-120.0, high=0.0),
        vad=section.string("vad", "silero", choices=("silero", "energy")),
        complete_silence_ms=section.integer("complete_silence_ms", 150, low=60, high=5000),
    )
    if endpoint.complete_silence_ms > endpoint.silence_ms:
        section.fail(
            "complete_silence_ms",
            f"{endpoint.complete_silence_ms} must not be longer than silence_ms ({endpoint.silence_ms})",
        )
    if endpoint.silence_ms >= endpoint.max_command_ms:
        section.fail(
            "silence_ms",
            f"{endpoint.silence_ms} must be shorter than max_command_ms ({endpoint.max_command_ms})",
        )
    section.finish()
    return endpoint


@dataclass(frozen=True)
class AudioConfig:
    """Microphone settings; ``None`` means the board's or the device's default."""

    device: str | int | None
    sample_rate_hz: int | None
    channels: int
    chunk_ms: int  # audio handed to the pipeline per step
    queue_chunks: int  # capture queue length; the oldest chunk is dropped when full
    noise_suppression: Literal["none", "command", "all"] = "none"  # speex: command window only, or wake too


def read_audio(section: Section, board: BoardProfile) -> AudioConfig:
    """The ``audio`` section: the microphone, with the board's defaults."""
    device = section.raw("device", None)
    if device is not None and (isinstance(device, bool) or not isinstance(device, str | int)):
        section.fail("device", f"expected a device name or index, got {device!r} (see `edge audio-devices`)")
    audio = AudioConfig(
        device=device,
        sample_rate_hz=section.integer("sample_rate_hz", board.audio.sample_rate_hz, low=8000, high=192_000),
        channels=section.integer("channels", board.audio.channels, low=1, high=32),
        chunk_ms=section.integer("chunk_ms", board.audio.chunk_ms, low=10, high=200),
        queue_chunks=section.integer("queue_chunks", board.audio.queue_chunks, low=2, high=10_000),
        noise_suppression=section.string("noise_suppression", "none", choices=("none", "command", "all")),
    )
    if audio.chunk_ms % 10:
        section.fail("chunk_ms", f"{audio.chunk_ms} must be a multiple of 10 ms (the wake word frame)")
    section.finish()
    return audio
