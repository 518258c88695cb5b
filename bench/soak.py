"""Soak test: hours of mixed audio through the real daemon and pipeline, as fast as the machine allows.

    python -m bench.soak --hours 8          # prints one JSON object
    python -m bench.soak --quick            # three minutes of audio, for a smoke run

The audio is every spoken fixture in a seeded random order, separated by stretches of silence and room
noise, generated chunk by chunk so memory stays flat however long the run. It goes through ``Daemon`` (with
its status file and statistics) on the pipeline ``build_runtime`` builds for ``edge run``, with gpiozero's
mock pins. RSS at start and end (and along the way) shows whether anything grows with time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import load_config
from edge.events import Event, StageError
from edge.runtime.assembly import build_runtime
from edge.runtime.daemon import Daemon
from edge.runtime.status import DaemonStats, StatusWriter
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk, read_wav

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = REPO / "edge.yaml"
FIXTURES = REPO / "tests" / "fixtures"
QUICK_HOURS = 0.05  # three minutes of audio
RSS_SAMPLE_EVERY_S = 600.0  # of audio time


def rss_mb() -> float:
    """This process's resident memory in MB (VmRSS from /proc/self/status)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fixture_clips() -> list[np.ndarray]:
    """Every WAV under tests/fixtures as 16 kHz int16 (spoken commands, negatives, noise)."""
    paths = sorted(FIXTURES.glob("commands/*.wav")) or sorted(FIXTURES.glob("**/*.wav"))
    return [read_wav(path) for path in paths]


class SoakSource:
    """An endless tape: a clip, then 0.5-4 s of silence or room noise, then another clip, up to ``seconds``."""

    def __init__(self, clips: list[np.ndarray], seconds: float, chunk_ms: int, seed: int = 7) -> None:
        self.clips = clips
        self.total_samples = int(seconds * SAMPLE_RATE_HZ)
        self.chunk_samples = SAMPLE_RATE_HZ * chunk_ms // 1000
        self.rng = np.random.default_rng(seed)
        self.samples_sent = 0

    def _pieces(self) -> Iterator[np.ndarray]:
        while True:
            for index in self.rng.permutation(len(self.clips)):
                yield self.clips[index]
                gap = int(self.rng.uniform(0.5, 4.0) * SAMPLE_RATE_HZ)
                if self.rng.random() < 0.5 or not len(self.clips):
                    yield np.zeros(gap, dtype=np.int16)
                else:
                    level = 10 ** (self.rng.uniform(-55, -30) / 20) * 32767  # quiet room to busy room
                    yield np.clip(self.rng.normal(0, level, gap), -32768, 32767).astype(np.int16)

    def chunks(self) -> Iterator[AudioChunk]:
        """Yield chunks until the requested audio time has been produced."""
        pending = np.zeros(0, dtype=np.int16)
        pieces = self._pieces()
        while self.samples_sent < self.total_samples:
            while len(pending) < self.chunk_samples:
                pending = np.concatenate([pending, next(pieces)])
            piece, pending = pending[: self.chunk_samples], pending[self.chunk_samples :]
            timestamp_ms = self.samples_sent * 1000 // SAMPLE_RATE_HZ
            self.samples_sent += self.chunk_samples
            yield AudioChunk(piece.astype("<i2").tobytes(), timestamp_ms)

    def close(self) -> None:
        """Nothing to release."""


WARMUP_S = 600


def _growth_after(rss_along: list[dict[str, float]], rss_end: float, warmup_s: float) -> float | None:
    """RSS growth from the first sample at or after ``warmup_s`` of audio to the end."""
    after = [sample for sample in rss_along if sample["audio_s"] >= warmup_s]
    return round(rss_end - after[0]["rss_mb"], 1) if after else None


def run(hours: float, quick: bool) -> dict[str, Any]:
    """Feed ``hours`` of audio (``QUICK_HOURS`` when quick) through the daemon; return the measurements."""
    seconds = (min(hours, QUICK_HOURS) if quick else hours) * 3600
    config = load_config(SHIPPED_CONFIG, board_override="sim")
    clips = fixture_clips()
    rss_start = rss_mb()
    runtime = build_runtime(config, mock_gpio=True, sounds=False)
    rss_built = rss_mb()
    source = SoakSource(clips, seconds, config.audio.chunk_ms)
    counts: Counter[str] = Counter()
    errors: list[str] = []
    rss_along: list[dict[str, float]] = []

    def record(event: Event) -> None:
        counts[event.type] += 1
        if isinstance(event, StageError) and len(errors) < 10:
            errors.append(f"{event.stage}: {event.message}")
        audio_s = source.samples_sent / SAMPLE_RATE_HZ
        if not rss_along or audio_s - rss_along[-1]["audio_s"] >= RSS_SAMPLE_EVERY_S:
            rss_along.append({"audio_s": round(audio_s), "rss_mb": round(rss_mb(), 1)})

    with tempfile.TemporaryDirectory(prefix="edge-soak-") as tmp:
        stats = DaemonStats()
        daemon = Daemon(
            lambda: source,
            runtime.pipeline,
            runtime.bank,
            stats=stats,
            status_writer=StatusWriter(Path(tmp) / "status.json"),
            sinks=(record,),
            stop_when_source_ends=True,
        )
        started = time.perf_counter()
        try:
            daemon.run()
        finally:
            runtime.close()
        wall_s = time.perf_counter() - started
        status = json.loads((Path(tmp) / "status.json").read_text(encoding="utf-8"))
    audio_s = source.samples_sent / SAMPLE_RATE_HZ
    rss_end = rss_mb()
    return {
        "audio_s": round(audio_s, 1),
        "wall_s": round(wall_s, 2),
        "realtime_factor": round(audio_s / wall_s, 1) if wall_s else None,
        "clips": len(clips),
        "events": dict(sorted(counts.items())),
        "errors": counts["error"],
        "error_samples": errors,
        "latency_ms": status["latency_ms"],
        "rss_mb": {
            "start": round(rss_start, 1),
            "after_build": round(rss_built, 1),
            "end": round(rss_end, 1),
            "growth_after_build": round(rss_end - rss_built, 1),
            # The first minutes allocate for good (interpreter arenas, decoder buffers, malloc pools); a
            # leak shows as growth after that, which is what this number isolates.
            "growth_after_first_10_min": _growth_after(rss_along, rss_end, WARMUP_S),
        },
        "rss_along": rss_along,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="hours of audio to feed (default 1)")
    parser.add_argument(
        "--quick", action="store_true", help=f"at most {QUICK_HOURS * 60:.0f} minutes of audio"
    )
    args = parser.parse_args(argv)
    result = {"hours": args.hours, "quick": args.quick, **run(args.hours, args.quick)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
