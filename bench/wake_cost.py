"""Always-on cost and false wakes of each wake engine, on the same generated negative stream.

CPU seconds per second of audio are process CPU time spent inside ``WakeDetector.process``; false wakes are
detections on a stream that never contains the wake phrase, counted as the pipeline would (the detector is
reset after a wake and the refractory period skipped). The detection rate comes from the positive fixtures.
Set EDGE_BENCH_CUSTOM_WAKE=FILE to add rows for a head from `edge wake train` (train "hey jarvis" for a
detection rate on the same fixtures), run as the config runs it (Whisper checking each head wake) at the
default wake.step_ms of 640 and the longest, 1280. Every engine also gets the CPU of a quiet room (a minute
of steady hiss at about -60 dBFS), where the custom engine skips its embedding model.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.fixtures import bench_config, load_clips
from bench.negative_stream import negative_stream
from edge.runtime.assembly import one_blas_thread
from edge.speech.audio import chunk_samples, read_wav
from edge.speech.wake.engines import wake_from_config

BLOCK_S = 60
QUIET_S = 60


def _stream_blocks(seconds: float, chunk_ms: int) -> Iterator[list[np.ndarray]]:
    """Yield the negative stream in blocks of about a minute, as lists of int16 chunks."""
    block: list[np.ndarray] = []
    per_block = BLOCK_S * 1000 // chunk_ms
    for chunk in negative_stream(seconds, chunk_ms=chunk_ms):
        block.append(chunk)
        if len(block) == per_block:
            yield block
            block = []
    if block:
        yield block


def measure_engine(
    engine: str,
    seconds: float,
    vosk_model: Any = None,
    phrases: tuple[str, ...] = ("hey jarvis",),
    model: Any = None,
    step_ms: int = 640,
) -> dict[str, Any]:
    """Feed ``seconds`` of negative audio and every positive fixture through one wake engine."""
    one_blas_thread()  # as the daemon runs
    config = bench_config()
    # A custom model runs as the config runs it: with Whisper checking each head wake (wake.verify: true).
    wake_config = dataclasses.replace(
        config.wake,
        engine=engine,
        vosk_model=vosk_model,
        phrases=phrases,
        model=model,
        verify=model is not None,
        step_ms=step_ms,
    )
    chunk_ms = config.audio.chunk_ms
    detector = wake_from_config(wake_config)
    verifier = getattr(detector, "verifier", None)
    if verifier is not None:  # in the daemon it borrows the recognizer's model, loaded at start
        verifier.load()
    cpu_s = 0.0
    false_wakes = 0
    audio_ms = 0
    skip_until_ms = -1
    try:
        for block in _stream_blocks(seconds, chunk_ms):
            chunks = list(chunk_samples(np.concatenate(block), chunk_ms, audio_ms))
            started = time.process_time()
            for chunk in chunks:
                if chunk.timestamp_ms < skip_until_ms:
                    continue
                if detector.process(chunk) is not None:
                    false_wakes += 1
                    detector.reset()
                    skip_until_ms = chunk.timestamp_ms + config.wake.refractory_ms
            cpu_s += time.process_time() - started
            audio_ms += len(chunks) * chunk_ms
        detector.reset()
        hiss = (np.random.default_rng(0).standard_normal(QUIET_S * 16000) * 30).astype(np.int16)
        quiet = list(chunk_samples(hiss, chunk_ms))
        started = time.process_time()
        for chunk in quiet:
            detector.process(chunk)
        quiet_cpu_s = time.process_time() - started
        detected, positives = 0, 0
        for clip in load_clips():
            if not (clip.wake and clip.intent is not None):
                continue
            detector.reset()
            positives += 1
            hits = (detector.process(c) for c in chunk_samples(read_wav(clip.path), chunk_ms))
            detected += any(hit is not None for hit in hits)
    finally:
        detector.close()
    hours = audio_ms / 3_600_000
    return {
        "engine": engine,
        "phrase": " + ".join(wake_config.phrases),
        **({"step_ms": step_ms} if model is not None else {}),
        "audio_seconds": round(audio_ms / 1000, 1),
        "cpu_seconds_per_audio_second": round(cpu_s / (audio_ms / 1000), 5),
        "quiet_room_cpu_seconds_per_audio_second": round(quiet_cpu_s / QUIET_S, 5),
        "false_wakes": false_wakes,
        "false_wakes_per_hour": round(false_wakes / hours, 2),
        "detection_rate": round(detected / positives, 4) if positives else None,
        "positive_clips": positives,
    }


def run(quick: bool, vosk_wake_model: Any = None, custom_wake_model: Any = None) -> dict[str, Any]:
    """Every available wake engine on the same stream: an hour, or five minutes with ``quick``."""
    seconds = 300 if quick else 3600
    engines = [
        measure_engine("micro", seconds),
        # The shipped setting: both phrases over one feature frontend (the detection rate is of hey jarvis clips).
        measure_engine("micro", seconds, phrases=("hey jarvis", "alexa")),
        measure_engine("pocketsphinx", seconds),
    ]
    if vosk_wake_model is not None:
        engines.append(measure_engine("vosk", seconds, vosk_wake_model))
    custom_wake_model = custom_wake_model or os.environ.get("EDGE_BENCH_CUSTOM_WAKE")
    if custom_wake_model:
        # A head from `edge wake train "hey jarvis"`, so its detection rate is on the same fixtures.
        for step_ms in (640, 1280):  # the default step, and the longest (least CPU, most wake delay)
            engines.append(measure_engine("custom", seconds, model=Path(custom_wake_model), step_ms=step_ms))
    return {"negative_stream_seconds": seconds, "engines": engines}


def interleaved_cpu(custom_wake_model: Path, seconds: float = 120, runs: int = 4) -> dict[str, Any]:
    """CPU of micro and the custom engine (both steps), measured in turns on one stream; medians of ``runs``.

    On a shared machine one engine's figure can move by a third between minutes; taking turns over the same
    stretch of audio is the fair comparison.
    """
    one_blas_thread()  # as the daemon runs
    config = bench_config()
    chunk_ms = config.audio.chunk_ms
    chunks = list(chunk_samples(np.concatenate(list(negative_stream(seconds, chunk_ms=chunk_ms))), chunk_ms))
    engines = {
        "micro hey jarvis": dataclasses.replace(config.wake, engine="micro", phrases=("hey jarvis",)),
        **{
            f"custom step_ms {step}": dataclasses.replace(
                config.wake,
                engine="custom",
                phrases=("hey jarvis",),  # the model's own phrase is used; one phrase, as engine custom takes
                model=custom_wake_model,
                verify=True,
                step_ms=step,
            )
            for step in (640, 1280)
        },
    }
    detectors = {name: wake_from_config(wake) for name, wake in engines.items()}
    for detector in detectors.values():
        verifier = getattr(detector, "verifier", None)
        if verifier is not None:
            verifier.load()
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(runs):
        for name, detector in detectors.items():
            detector.reset()
            started = time.process_time()
            for chunk in chunks:
                if detector.process(chunk) is not None:
                    detector.reset()
            times[name].append((time.process_time() - started) * 1000 / seconds)
    for detector in detectors.values():
        detector.close()
    return {
        "stream_seconds": seconds,
        "runs": runs,
        "cpu_ms_per_audio_second": {
            name: {"median": round(float(np.median(v)), 2), "runs": [round(x, 2) for x in v]}
            for name, v in times.items()
        },
    }


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog="python -m bench.wake_cost", description="micro against a custom wake model, CPU in turns"
    )
    parser.add_argument("custom", type=Path, help="a model from `edge wake train`")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(interleaved_cpu(args.custom, args.seconds, args.runs), indent=1))
