"""End-of-speech to GPIO latency, with the fixtures paced in real time as a microphone would deliver them.

Each clip's audio up to sample ``n`` is handed over only once ``n`` samples' worth of wall time has passed.
The spoken command ends ``TRAILING_SILENCE_MS`` before the end of each clip (that is how the fixtures are
made), so latency is wall time from that moment to the action event that changed the pin. The split comes
from the pipeline's own events: endpointing is the trailing silence the endpointer waited for (a short one when
the words were already a whole command: reason "complete"), recognition the recognizer's final decode, then
intent and action. A recognizer that decodes on demand (Whisper) spends its decode inside the pause, so it
shows in the total, not in "recognition".

``simulated_slow_cpu`` adds the same latency on a CPU whose decodes cost x5 and x15 (bench.slow_cpu): a model
built from a measured unpaced replay, since a slower board makes the same decisions, only later.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench import slow_cpu
from bench.fixtures import TRAILING_SILENCE_MS, ClipPlayer, bench_config, load_clips
from edge.events import ActionResult, Intent, Transcript
from edge.runtime.assembly import build_runtime
from edge.speech.audio import SAMPLE_RATE_HZ, read_wav


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None}
    return {
        "p50": round(float(np.percentile(values, 50)), 1),
        "p90": round(float(np.percentile(values, 90)), 1),
    }


def run(quick: bool) -> dict[str, Any]:
    """Paced replay of the positive fixtures (a third of them with ``quick``)."""
    config = bench_config(asr_engine="auto")
    runtime = build_runtime(config, mock_gpio=True, sounds=False)
    clips = [clip for clip in load_clips() if clip.wake and clip.intent and clip.intent != "status_query"]
    clips = [clip for clip in clips if clip.intent != "stop_cancel"]
    if quick:
        clips = clips[::6]
    split: dict[str, list[float]] = {
        "total": [],
        "endpointing": [],
        "recognition": [],
        "intent": [],
        "action": [],
    }
    missed = 0
    reasons: dict[str, int] = {}  # why each command ended: "complete" (short silence) or "silence" (full)
    player = ClipPlayer(runtime)
    try:
        for clip in clips:
            runtime.pipeline.reset()
            runtime.bank.to_safe_state()
            samples = read_wav(clip.path)
            speech_end_s = len(samples) / SAMPLE_RATE_HZ - TRAILING_SILENCE_MS / 1000
            transcript = intent = action = None
            action_wall = 0.0
            clip_start_ms = player.stream_ms
            started = time.perf_counter()
            for chunk in player.chunks(samples):
                if action is None:  # once the pin has changed, the rest of the quiet tail need not be paced
                    available_at = started + (chunk.timestamp_ms - clip_start_ms + chunk.duration_ms) / 1000
                    time.sleep(max(0.0, available_at - time.perf_counter()))
                for event in runtime.pipeline.feed(chunk):
                    if isinstance(event, Transcript):
                        transcript = event
                    elif isinstance(event, Intent):
                        intent = event
                    elif isinstance(event, ActionResult) and action is None:
                        action, action_wall = event, time.perf_counter()
            if transcript is not None:
                reasons[transcript.endpoint] = reasons.get(transcript.endpoint, 0) + 1
            if action is None or transcript is None:
                missed += 1
                continue
            split["total"].append((action_wall - started - speech_end_s) * 1000)
            split["endpointing"].append(transcript.endpoint_ms)
            split["recognition"].append(transcript.latency_ms)
            split["intent"].append(intent.latency_ms if intent else 0.0)
            split["action"].append(action.latency_ms)
    finally:
        runtime.close()
    return {
        "asr_engine": runtime.pipeline.recognizer.engine,
        "endpoint_silence_ms": config.endpoint.silence_ms,
        "endpoint_complete_silence_ms": config.endpoint.complete_silence_ms,
        "vad": config.endpoint.vad,
        "endpoint_reasons": reasons,
        "clips": len(clips),
        "clips_without_action": missed,
        "end_of_speech_to_gpio_ms": _percentiles(split["total"]),
        "split_ms": {stage: _percentiles(values) for stage, values in split.items() if stage != "total"},
        "simulated_slow_cpu": slow_cpu.run(quick),
    }
