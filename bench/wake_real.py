"""The wake table on real people: miss rates with 95 % intervals, false wakes per hour, listening CPU.

Run from the repository root:

    python -m bench.wake_real [--hours 1] [--custom HEAD.tflite ...] [--out FILE]

Every clip of ``../shared/eval/audio`` gets a second of quiet room noise before and after, as a microphone
stream has. A model's misses are counted on the clips of its phrase (Wilson 95 % interval); its false wakes
on every other real clip (other wake phrases, real commands, coffee orders) plus ``bench/negative_stream.py``'s
speech stream, per hour of that audio (with a one-sided 95 % upper bound). Engines run as the daemon runs
them: 30 ms chunks, a reset and 2 s skipped after a wake. Micro "alexa" is measured at its author's cutoff
alone and as shipped (a lower cutoff behind Whisper's check); custom heads from `edge wake train` alone and
with the check. Listening CPU is process CPU per second of audio on the speech stream and on quiet room
noise, Whisper's checks included. Prints one JSON document; the clips are third-party (see their README).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.negative_stream import negative_stream
from bench.wake_compare import CustomHead
from edge.runtime.assembly import one_blas_thread
from edge.speech.audio import SAMPLE_RATE_HZ, chunk_samples, read_wav
from edge.speech.wake.engines import MicroWakeDetector
from edge.speech.wake.evaluation import pad, wilson
from edge.speech.wake.features import EmbeddingStream

REPO = Path(__file__).resolve().parents[1]
EVAL = Path(os.environ.get("EDGE_EVAL_DIR", REPO.parent / "shared" / "eval")) / "audio"
REFRACTORY_MS = 2000
QUIET_SECONDS = 120.0


@dataclass(frozen=True)
class Clip:
    """One real dev clip, padded with a second of quiet room noise on each side."""

    file: str
    phrase: str  # the wake phrase said in it, '' for none
    category: str
    audio: np.ndarray  # int16


def dev_clips(seed: int = 0, every: int = 1) -> list[Clip]:
    """Every (``every``-th) clip of ``../shared/eval/audio``, padded the same way for every engine (seeded)."""
    lines = (EVAL / "manifest.jsonl").read_text().splitlines()[::every]
    rows = [json.loads(line) for line in lines if line.strip()]
    rng = np.random.default_rng(seed)
    return [
        Clip(
            row["file"],
            row.get("wake_word") or "",
            row.get("category", ""),
            pad(read_wav(EVAL / row["file"]), rng),
        )
        for row in rows
    ]


def poisson_upper(count: int, hours: float) -> float:
    """One-sided 95 % upper bound of a rate per hour from ``count`` events (exact for 0-4, approximate beyond)."""
    table = {0: 3.0, 1: 4.74, 2: 6.3, 3: 7.75, 4: 9.15}
    bound = table.get(count, count + 1.645 * math.sqrt(count) + 1.5)
    return bound / hours if hours else float("inf")


def count_wakes(detector: Any, audio: np.ndarray, chunk_ms: int = 30) -> int:
    """Wakes of a streaming detector over int16 ``audio`` from a fresh state, as the pipeline counts them."""
    detector.reset()
    count, skip_until = 0, -1
    for chunk in chunk_samples(audio, chunk_ms):
        if chunk.timestamp_ms >= skip_until and detector.process(chunk) is not None:
            count += 1
            detector.reset()
            skip_until = chunk.timestamp_ms + REFRACTORY_MS
    return count


def table_row(
    name: str, phrase: str, clips: list[Clip], clip_wakes: list[int], stream_wakes: int, stream_seconds: float
) -> dict[str, Any]:
    """Misses on the phrase's clips and false wakes on the other clips plus the stream."""
    own = [w for w, clip in zip(clip_wakes, clips, strict=True) if clip.phrase == phrase]
    other = [(w, clip) for w, clip in zip(clip_wakes, clips, strict=True) if clip.phrase != phrase]
    missed = sum(1 for w in own if w == 0)
    low, high = wilson(missed, len(own))
    other_seconds = sum(len(clip.audio) for _, clip in other) / SAMPLE_RATE_HZ
    false_wakes = sum(w for w, _ in other) + stream_wakes
    hours = (other_seconds + stream_seconds) / 3600
    return {
        "model": name,
        "phrase": phrase,
        "real_clips": len(own),
        "missed": missed,
        "miss_rate": round(missed / len(own), 4) if own else None,
        "miss_rate_95": [round(low, 4), round(high, 4)],
        "false_wakes_other_real_clips": sum(w for w, _ in other),
        "other_real_clips_hours": round(other_seconds / 3600, 3),
        "false_wakes_stream": stream_wakes,
        "stream_hours": round(stream_seconds / 3600, 3),
        "false_wakes_per_hour": round(false_wakes / hours, 3),
        "false_wakes_per_hour_upper_95": round(poisson_upper(false_wakes, hours), 3),
    }


def cpu_ms_per_second(detector: Any, audio: np.ndarray) -> float:
    """Process CPU per second of audio of one streaming pass (Whisper's checks included)."""
    started = time.process_time()
    count_wakes(detector, audio)
    return round((time.process_time() - started) * 1000 / (len(audio) / SAMPLE_RATE_HZ), 3)


def micro_rows(clips: list[Clip], stream: np.ndarray, quiet: np.ndarray) -> list[dict[str, Any]]:
    """Micro "alexa" at the author's cutoff alone, and with the lower cutoff behind Whisper's check."""
    rows = []
    for verify in (False, True):
        detector = MicroWakeDetector("alexa", verify=verify)
        if detector.verifier is not None:
            detector.verifier.load()
        started = time.process_time()
        stream_wakes = count_wakes(detector, stream)
        speech_cpu = (time.process_time() - started) * 1000 / (len(stream) / SAMPLE_RATE_HZ)
        detector.candidates = detector.refused = 0
        clip_wakes = [count_wakes(detector, clip.audio) for clip in clips]
        name = "micro:alexa +whisper (shipped)" if verify else "micro:alexa alone"
        row = table_row(name, "alexa", clips, clip_wakes, stream_wakes, len(stream) / SAMPLE_RATE_HZ)
        row["cutoff"] = round(detector.cutoff, 4)
        row["whisper_checks_on_clips"] = detector.candidates
        row["cpu_ms_per_audio_second"] = {
            "speech": round(speech_cpu, 3),
            "quiet": cpu_ms_per_second(detector, quiet),
        }
        rows.append(row)
    return rows


def custom_rows(
    heads: Iterable[Path], clips: list[Clip], stream: np.ndarray, quiet: np.ndarray
) -> list[dict[str, Any]]:
    """Each trained head alone and with Whisper's check, on embeddings computed once per precision.

    Misses and false wakes come from embeddings computed once; the listening CPU from the streaming
    detector as the daemon runs it (30 ms chunks, the embedding network batched, Whisper's checks included).
    """
    rows: list[dict[str, Any]] = []
    embedded: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
    for path in heads:
        for verify in (False, True):
            head = CustomHead(path, verify)
            if head.precision not in embedded:
                extractor = EmbeddingStream(precision=head.precision)
                embedded[head.precision] = extractor.embed(stream), [extractor.embed(c.audio) for c in clips]
            stream_embeddings, clip_embeddings = embedded[head.precision]
            clip_wakes = [len(head.fires(e, c.audio)) for e, c in zip(clip_embeddings, clips, strict=True)]
            head.detector.candidates = head.detector.refused = 0
            stream_wakes = len(head.fires(stream_embeddings, stream))
            row = table_row(
                head.name, head.phrase, clips, clip_wakes, stream_wakes, len(stream) / SAMPLE_RATE_HZ
            )
            row["stream_head_wakes"] = head.detector.candidates
            if head.detector.verifier is not None:
                head.detector.verifier.load()
            row["cpu_ms_per_audio_second"] = {
                "speech": cpu_ms_per_second(head.detector, stream),
                "quiet": cpu_ms_per_second(head.detector, quiet),
            }
            rows.append(row)
    return rows


def quiet_room(seconds: float, seed: int = 3) -> np.ndarray:
    """Quiet room noise as the clips are padded with (about -60 dBFS)."""
    return pad(np.zeros(0, dtype=np.int16), np.random.default_rng(seed), seconds / 2)


def run(
    hours: float, heads: list[Path], progress: Callable[[str], None] = lambda _: None, every: int = 1
) -> dict[str, Any]:
    """The whole table (on every ``every``-th clip)."""
    one_blas_thread()  # as the daemon runs, so Whisper's checks cost what they cost there
    clips = dev_clips(every=every)
    stream = np.concatenate(list(negative_stream(hours * 3600, chunk_ms=30)))
    progress(f"{len(clips)} clips, {hours} h stream")
    quiet = quiet_room(QUIET_SECONDS)
    rows = micro_rows(clips, stream, quiet)
    progress("micro done")
    rows += custom_rows(heads, clips, stream, quiet)
    return {
        "eval_clips": len(clips),
        "clips_used": "all" if every == 1 else f"every {every}th",
        "padding": "1 s of quiet room noise (about -60 dBFS) before and after each clip",
        "attribution": "../shared/eval/audio (Picovoice wake-word-benchmark, rhasspy-test, mycroft-core, "
        "openWakeWord, speech-to-intent-benchmark; see its README)",
        "models": rows,
    }


def table(quick: bool) -> dict[str, Any]:
    """The table for ``python -m bench --only wake``: an hour of stream, or with ``quick`` every 3rd clip and 0.1 h.

    Heads named in $EDGE_BENCH_REAL_WAKE_HEADS (separated by ':') are added; skipped without the dev set.
    """
    if not EVAL.is_dir():
        return {"skipped": f"{EVAL} is absent (the real eval clips live outside the repository)"}
    heads = [Path(p) for p in os.environ.get("EDGE_BENCH_REAL_WAKE_HEADS", "").split(":") if p]
    return run(0.1, heads, every=3) if quick else run(1.0, heads)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.wake_real", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="negative speech stream length (default: 1)")
    parser.add_argument("--custom", type=Path, nargs="*", default=[], help="heads from `edge wake train`")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    if not EVAL.is_dir():
        print(f"skipped: {EVAL} is absent (the real eval clips live outside the repository)", file=sys.stderr)
        return 0
    result = run(args.hours, args.custom, lambda text: print(text, file=sys.stderr, flush=True))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
