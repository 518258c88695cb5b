"""The spoken-command fixtures and config variants the benchmarks share."""

from __future__ import annotations

import dataclasses
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edge.config import Config, load_config
from edge.events import Event
from edge.runtime.assembly import Runtime
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk, chunk_samples, read_wav

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
SHIPPED_CONFIG = REPO / "edge.yaml"
# make_fixtures.py ends every clip with exactly this much silence after the last spoken word.
TRAILING_SILENCE_MS = 1000


@dataclass(frozen=True)
class Clip:
    """One fixture and what it should do."""

    path: Path
    voice: str | None
    snr_db: float | None
    text: str
    wake: bool
    intent: str | None
    devices: dict[str, Any]
    pause_s: float | None = None  # wake phrase to command; None: one breath, or no command
    one_breath: bool = False
    wake_phrase: str | None = None  # the phrase said ("hey jarvis" or "alexa"); None when there is none

    @property
    def pause(self) -> str:
        """ "one_breath", "no_command" or the pause in seconds, for per-pause tables."""
        if self.one_breath:
            return "one_breath"
        return "no_command" if self.pause_s is None else f"{self.pause_s}s"

    @property
    def condition(self) -> str:
        """ "clean" or "snr20"-style name of the noise condition."""
        return "clean" if self.snr_db is None else f"snr{int(self.snr_db)}"


def load_clips() -> list[Clip]:
    """Every fixture listed in the manifest, each checked to be 16 kHz mono 16-bit PCM before use."""
    manifest = yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))
    clips = []
    for entry in manifest["clips"]:
        path = FIXTURES / entry["file"]
        check_format(path)
        clips.append(
            Clip(
                path,
                entry.get("voice"),
                entry.get("snr_db"),
                entry.get("text", ""),
                bool(entry.get("wake")),
                entry.get("intent"),
                entry["devices"],
                entry.get("pause_s"),
                bool(entry.get("one_breath")),
                entry.get("wake_phrase"),
            )
        )
    return clips


def check_format(path: Path) -> None:
    """Raise ValueError naming the file unless it is a 16 kHz mono 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as wav:
        found = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
    if found != (SAMPLE_RATE_HZ, 1, 2):
        raise ValueError(
            f"{path}: fixture is {found[0]} Hz, {found[1]} channel(s), {8 * found[2]}-bit; want 16 kHz mono 16-bit"
        )


def bench_config(
    wake_engine: str = "micro", asr_engine: str = "pocketsphinx", asr_mode: str = "grammar"
) -> Config:
    """The shipped config on the sim board, with the engines swapped."""
    config = load_config(SHIPPED_CONFIG, board_override="sim")
    # Only micro listens for several phrases; the others take the first (the fixtures' "hey jarvis").
    phrases = config.wake.phrases if wake_engine == "micro" else config.wake.phrases[:1]
    wake = dataclasses.replace(config.wake, engine=wake_engine, phrases=phrases)
    asr = dataclasses.replace(config.asr, engine=asr_engine, mode=asr_mode)
    return dataclasses.replace(config, wake=wake, asr=asr)


class ClipPlayer:
    """Plays clips into one runtime as one continuous stream, as a microphone would hear them.

    Audio time runs on from clip to clip (the pipeline's refractory period is in audio time), and each clip
    is followed by a quiet room long enough for every timeout and the refractory period to pass.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stream_ms = 0

    def chunks(self, samples: np.ndarray) -> Iterator[AudioChunk]:
        """The clip's chunks, then the quiet tail, stamped with stream time."""
        config = self.runtime.config
        tail_ms = max(config.endpoint.no_speech_timeout_ms, config.wake.refractory_ms) + 200
        quiet = np.zeros(SAMPLE_RATE_HZ * tail_ms // 1000, dtype=np.int16)
        for chunk in chunk_samples(np.concatenate([samples, quiet]), config.audio.chunk_ms, self.stream_ms):
            yield chunk
            self.stream_ms = chunk.timestamp_ms + config.audio.chunk_ms

    def play(self, clip: Clip) -> tuple[list[Event], dict[str, Any]]:
        """Replay one clip from a fresh start (listening, devices safe); return events and final states."""
        self.runtime.pipeline.reset()
        self.runtime.bank.to_safe_state()
        samples = read_wav(clip.path)
        events = [event for chunk in self.chunks(samples) for event in self.runtime.pipeline.feed(chunk)]
        return events, self.runtime.bank.states()


def states_match(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    """True if every expected device is on/off and at the level expected."""
    return all(
        actual[name]["on"] == want["on"] and actual[name]["level_percent"] == want["level_percent"]
        for name, want in expected.items()
    )
