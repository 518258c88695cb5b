"""Command accuracy on the fixtures: right final GPIO state, per voice and SNR, per engine configuration."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from bench.fixtures import Clip, ClipPlayer, bench_config, load_clips, states_match
from edge.events import Detection, Transcript
from edge.runtime.assembly import build_runtime


def _rate(right: int, total: int) -> float | None:
    return round(right / total, 4) if total else None


def evaluate(wake_engine: str, asr_engine: str, asr_mode: str, clips: list[Clip]) -> dict[str, Any]:
    """Replay every clip through one configuration of the full pipeline."""
    config = bench_config(wake_engine, asr_engine, asr_mode)
    runtime = build_runtime(config, mock_gpio=True, sounds=False)
    by_voice: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_snr: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_pause: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wakes = [0, 0]
    false_wakes = [0, 0]
    right_total = [0, 0]
    failures: list[dict[str, Any]] = []
    player = ClipPlayer(runtime)
    started = time.process_time()
    try:
        for clip in clips:
            events, states = player.play(clip)
            woke = any(isinstance(event, Detection) for event in events)
            right = states_match(clip.devices, states)
            if clip.wake and clip.intent is not None:
                wakes[0] += woke
                wakes[1] += 1
            if not clip.wake:
                false_wakes[0] += woke
                false_wakes[1] += 1
            right_total[0] += right
            right_total[1] += 1
            tables = ((by_voice, clip.voice or "noise"), (by_snr, clip.condition), (by_pause, clip.pause))
            for table, key in tables:
                table[key][0] += right
                table[key][1] += 1
            if not right:
                heard = [event.text for event in events if isinstance(event, Transcript)]
                failures.append({"file": clip.path.name, "expected": clip.text, "heard": heard})
    finally:
        runtime.close()
    return {
        "wake_engine": wake_engine,
        "asr_engine": runtime.pipeline.recognizer.engine,
        "asr_mode": asr_mode,
        "clips": len(clips),
        "command_accuracy": _rate(*right_total),
        "wake_detection_rate": _rate(*wakes),
        "false_wake_rate_on_negative_clips": _rate(*false_wakes),
        "by_voice": {key: _rate(*value) for key, value in sorted(by_voice.items())},
        "by_snr": {key: _rate(*value) for key, value in sorted(by_snr.items())},
        "by_pause": {key: _rate(*value) for key, value in sorted(by_pause.items())},
        "cpu_seconds": round(time.process_time() - started, 2),
        "failures": failures,
    }


def run(quick: bool, vosk_model_present: bool) -> dict[str, Any]:
    """Side by side: Whisper, PocketSphinx grammar vs free-form, micro vs pocketsphinx wake, Vosk where present."""
    clips = load_clips()
    if quick:
        clips = clips[::3]
    # The shipped recognizer (Whisper, free-form by nature) first, then PocketSphinx's grammar and free modes.
    setups = [
        ("micro", "whisper", "free"),
        ("micro", "pocketsphinx", "grammar"),
        ("micro", "pocketsphinx", "free"),
    ]
    if not quick:
        setups.append(("pocketsphinx", "pocketsphinx", "grammar"))
    if vosk_model_present:
        setups += [("micro", "vosk", "grammar"), ("micro", "vosk", "free")]
    return {"configurations": [evaluate(*setup, clips) for setup in setups]}
