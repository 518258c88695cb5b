"""The spoken-command fixtures and config variants the benchmarks share."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edge.assembly import Runtime
from edge.audio import SAMPLE_RATE_HZ, AudioChunk, chunk_samples, read_wav
from edge.config import Config, load_config
from edge.events import Event

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

    @property
    def condition(self) -> str:
        """ "clean" or "snr20"-style name of the noise condition."""
        return "clean" if self.snr_db is None else f"snr{int(self.snr_db)}"


def load_clips() -> list[Clip]:
    """Every fixture listed in the manifest."""
    manifest = yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))
    return [
        Clip(
            FIXTURES / entry["file"],
            entry.get("voice"),
            entry.get("snr_db"),
            entry.get("text", ""),
            bool(entry.get("wake")),
            entry.get("intent"),
            entry["devices"],
        )
        for entry in manifest["clips"]
    ]


def bench_config(
    wake_engine: str = "micro", asr_engine: str = "pocketsphinx", asr_mode: str = "grammar"
) -> Config:
    """The shipped config on the sim board, with the engines swapped."""
    config = load_config(SHIPPED_CONFIG, board_override="sim")
    wake = dataclasses.replace(config.wake, engine=wake_engine)
    asr = dataclasses.replace(config.asr, engine=asr_engine, mode=asr_mode)
    return dataclasses.replace(config, wake=wake, asr=asr)


def silence_chunks(config: Config, start_ms: int, duration_ms: int) -> Iterator[AudioChunk]:
    """Quiet room after the speaker stops, so the endpointer can close the command."""
    samples = np.zeros(SAMPLE_RATE_HZ * duration_ms // 1000, dtype=np.int16)
    yield from chunk_samples(samples, config.audio.chunk_ms, start_ms)


def clip_chunks(config: Config, samples: np.ndarray) -> Iterator[AudioChunk]:
    """The clip, then enough silence to reach any timeout."""
    end_ms = 0
    for chunk in chunk_samples(samples, config.audio.chunk_ms):
        end_ms = chunk.timestamp_ms + round(chunk.duration_ms)
        yield chunk
    yield from silence_chunks(config, end_ms, config.endpoint.no_speech_timeout_ms + 200)


def run_clip(runtime: Runtime, clip: Clip) -> tuple[list[Event], dict[str, Any]]:
    """Replay one clip from a fresh start (listening, devices safe); return events and final states."""
    runtime.pipeline.reset()
    runtime.bank.to_safe_state()
    samples = read_wav(clip.path)
    events = [
        event for chunk in clip_chunks(runtime.config, samples) for event in runtime.pipeline.feed(chunk)
    ]
    return events, runtime.bank.states()


def states_match(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    """True if every expected device is on/off and at the level expected."""
    return all(
        actual[name]["on"] == want["on"] and actual[name]["level_percent"] == want["level_percent"]
        for name, want in expected.items()
    )
