"""End-of-speech to GPIO latency on a simulated slower CPU: a measured model, not prose.

What edge hears and does depends on the audio alone (Whisper's partial decodes are spaced in audio time), so
a slower board runs the very same decodes, only later. This replays the fixtures unpaced, measures what each
chunk cost the pipeline thread here and how much of that was Whisper decoding, then replays the timeline of
a live microphone: chunk ``i`` is available when its audio has been heard, the pipeline thread takes it when
it is free, and it costs the measured time with the decode part multiplied by the slowdown (x5 is roughly a
Pi 5, x15 a Pi 4, on this machine's decode times). Latency is from the end of the spoken command to the end
of the chunk whose processing set the pin. The backlog is how far the pipeline thread fell behind the
microphone: the capture queue must hold it (``audio.queue_chunks``).

The replay runs twice and each chunk keeps the smaller of its two costs: on a shared machine one decode
in a hundred takes several times its usual time, and a x15 model would turn that into ten seconds of a
board's life. The two replays make the same decisions chunk for chunk (audio time alone decides), which
this checks as it goes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.fixtures import TRAILING_SILENCE_MS, ClipPlayer, bench_config, load_clips
from edge.events import ActionResult
from edge.runtime.assembly import build_runtime
from edge.speech.asr.whisper import WhisperRecognizer
from edge.speech.audio import SAMPLE_RATE_HZ, read_wav

SLOWDOWNS = (1, 5, 15)


class DecodeTimer:
    """The recognizer's clock: real time, and the total spent between each pair of calls (one decode)."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self._began: float | None = None

    def __call__(self) -> float:
        now = time.perf_counter()
        if self._began is None:
            self._began = now
        else:
            self.total_s += now - self._began
            self._began = None
        return now


@dataclass
class ChunkCost:
    """One chunk of a clip: when its audio was complete, what it cost here, how much was decoding."""

    available_s: float
    cost_s: float
    decode_s: float
    acted: bool


@dataclass
class ClipTimeline:
    """A clip's chunks and when its command was over (end of speech), in seconds of clip audio."""

    speech_end_s: float
    chunks: list[ChunkCost] = field(default_factory=list)


def measure(quick: bool) -> tuple[list[ClipTimeline], int]:
    """Replay the command fixtures unpaced through the shipped Whisper config; time every chunk."""
    runtime = build_runtime(bench_config(asr_engine="auto"), mock_gpio=True, sounds=False)
    recognizer = runtime.pipeline.recognizer
    if not isinstance(recognizer, WhisperRecognizer):
        runtime.close()
        raise RuntimeError("the slow-CPU model needs Whisper (asr.engine auto resolved to another engine)")
    timer = DecodeTimer()
    recognizer.clock = timer
    clips = [
        c for c in load_clips() if c.wake and c.intent and c.intent not in ("status_query", "stop_cancel")
    ]
    clips = clips[::6] if quick else clips
    timelines = []
    decodes_before = recognizer.decodes
    player = ClipPlayer(runtime)
    try:
        for clip in clips:
            runtime.pipeline.reset()
            runtime.bank.to_safe_state()
            samples = read_wav(clip.path)
            timeline = ClipTimeline(len(samples) / SAMPLE_RATE_HZ - TRAILING_SILENCE_MS / 1000)
            clip_start_ms = player.stream_ms
            for chunk in player.chunks(samples):
                decoded_s, started = timer.total_s, time.perf_counter()
                events = runtime.pipeline.feed(chunk)
                cost_s = time.perf_counter() - started
                acted = any(isinstance(event, ActionResult) for event in events)
                available_s = (chunk.timestamp_ms - clip_start_ms + chunk.duration_ms) / 1000
                timeline.chunks.append(ChunkCost(available_s, cost_s, timer.total_s - decoded_s, acted))
            timelines.append(timeline)
    finally:
        runtime.close()
    return timelines, recognizer.decodes - decodes_before


def simulate(timeline: ClipTimeline, slowdown: float) -> tuple[float | None, float]:
    """(end of speech -> action in ms, or None with no action; the most the thread fell behind, ms)."""
    free_s = 0.0
    backlog_s = 0.0
    for chunk in timeline.chunks:
        start_s = max(chunk.available_s, free_s)
        backlog_s = max(backlog_s, start_s - chunk.available_s)
        free_s = start_s + chunk.cost_s + (slowdown - 1) * chunk.decode_s
        if chunk.acted:
            return (free_s - timeline.speech_end_s) * 1000, backlog_s * 1000
    return None, backlog_s * 1000


def _p(values: list[float], q: int) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def steadier(first: list[ClipTimeline], second: list[ClipTimeline]) -> list[ClipTimeline]:
    """Each chunk at the smaller of its two measured costs; the two replays must have acted alike."""
    combined = []
    for a, b in zip(first, second, strict=True):
        if [c.acted for c in a.chunks] != [c.acted for c in b.chunks]:
            raise RuntimeError(
                "two replays of the same audio acted differently: timing leaked into a decision"
            )
        chunks = [
            ChunkCost(x.available_s, min(x.cost_s, y.cost_s), min(x.decode_s, y.decode_s), x.acted)
            for x, y in zip(a.chunks, b.chunks, strict=True)
        ]
        combined.append(ClipTimeline(a.speech_end_s, chunks))
    return combined


def run(quick: bool) -> dict[str, Any]:
    """Latency and backlog at each simulated slowdown, from two measured unpaced replays."""
    first, decodes = measure(quick)
    second, again = measure(quick)
    if again != decodes:
        raise RuntimeError(f"two replays of the same audio decoded {decodes} and {again} times")
    timelines = steadier(first, second)
    decode_s = sum(chunk.decode_s for t in timelines for chunk in t.chunks)
    rows = []
    for slowdown in SLOWDOWNS:
        results = [simulate(timeline, slowdown) for timeline in timelines]
        latencies = [latency for latency, _ in results if latency is not None]
        backlogs = [backlog for _, backlog in results]
        rows.append(
            {
                "decode_cost_x": slowdown,
                "end_of_speech_to_gpio_ms": {"p50": _p(latencies, 50), "p90": _p(latencies, 90)},
                "max_backlog_ms": round(max(backlogs), 1) if backlogs else None,
                "mean_decode_ms": round(slowdown * 1000 * decode_s / decodes, 1) if decodes else None,
            }
        )
    return {
        "model": "two unpaced replays, per-chunk cost (the smaller) measured here, decode part scaled, "
        "microphone timeline replayed",
        "clips": len(timelines),
        "clips_with_action": sum(any(c.acted for c in t.chunks) for t in timelines),
        "decodes": decodes,
        "decodes_per_clip": round(decodes / len(timelines), 2) if timelines else None,
        "rows": rows,
    }
