"""``edge wake train|test``: make a custom wake word on the device and see how good it is before using it."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edge.commands.common import print_json
from edge.errors import ModelError, UsageError

log = logging.getLogger(__name__)

_PHRASE = re.compile(r"^[a-z][a-z' -]{0,38}[a-z]$")
MIN_RECORDINGS, MAX_RECORDINGS = 3, 10


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``wake`` command with its ``train`` and ``test`` subcommands."""
    parser = subparsers.add_parser(
        "wake",
        parents=[common],
        help="train and test your own wake word on the device",
        description="Train a wake word for any phrase from synthesized voices (flite, espeak-ng) and your "
        "own recordings, with no GPU, cloud or download; then measure it.",
    )
    commands = parser.add_subparsers(title="wake commands", metavar="WAKE_COMMAND", required=True)
    train = commands.add_parser(
        "train",
        parents=[common],
        help="train a detector for a phrase",
        description="Synthesize the phrase with every installed flite and espeak-ng voice (held-back voices "
        "excepted), add household noise (other talkers, hum, a fan, music), reverberation and near-miss "
        "phrases, and fit three small heads on openWakeWord's speech embeddings, averaged as one. The same "
        "seed gives the same file.",
    )
    train.add_argument("phrase", help='the wake phrase, e.g. "hey edge" (letters, spaces, apostrophes)')
    train.add_argument("--recordings", type=Path, metavar="DIR", help="3-10 WAV files of you saying it")
    train.add_argument("--out", type=Path, metavar="FILE", help="model file (default: ./PHRASE.tflite)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--quick", action="store_true", help="tiny settings for a smoke test: a weak detector")
    train.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    train.set_defaults(handler=run_train)
    test = commands.add_parser(
        "test",
        parents=[common],
        help="miss rate on held-back voices and false wakes per hour",
        description="Measure a custom wake model: the share of held-back synthetic voices it misses and the "
        "false wakes per hour on the benchmark's negative stream (speech and noise, no wake phrase).",
    )
    test.add_argument("model", nargs="?", type=Path, metavar="FILE", help="default: the config's wake.model")
    test.add_argument("--clips", type=int, default=60, help="held-back positive clips (default: 60)")
    test.add_argument("--hours", type=float, default=0.25, help="negative stream length (default: 0.25)")
    test.add_argument("--seed", type=int, default=1, help="seed of the held-back clips (default: 1)")
    test.add_argument(
        "--no-verify",
        action="store_true",
        help="the head alone, without Whisper's check (wake.verify: false)",
    )
    test.add_argument("--json", action="store_true", help="print the result as one JSON object")
    test.set_defaults(handler=run_test)


def check_phrase(phrase: str) -> str:
    """The phrase normalised, or a UsageError saying what a phrase may hold."""
    normal = " ".join(phrase.lower().split())
    if not _PHRASE.match(normal) or len(normal.split()) > 4:
        raise UsageError(
            f"wake phrase {phrase!r}: use 2-40 letters in at most 4 words (spaces, apostrophes, hyphens allowed)"
        )
    return normal


def _recordings(directory: Path | None) -> list[np.ndarray]:
    from edge.speech.wake.training import load_recordings

    if directory is None:
        return []
    clips = load_recordings(directory)
    if not MIN_RECORDINGS <= len(clips) <= MAX_RECORDINGS:
        raise UsageError(
            f"--recordings {directory}: {len(clips)} WAV files; give {MIN_RECORDINGS}-{MAX_RECORDINGS}"
        )
    return clips


def run_train(args: argparse.Namespace) -> int:
    """Train, write the model atomically, print what was made and how to use it."""
    from edge.speech.wake.training import TINY_SETTINGS, TrainSettings, train_wake_word, with_seed

    phrase = check_phrase(args.phrase)
    recordings = _recordings(args.recordings)
    out: Path = args.out or Path(phrase.replace(" ", "_").replace("'", "") + ".tflite")
    settings = with_seed(TINY_SETTINGS if args.quick else TrainSettings(), args.seed)
    started, cpu = time.monotonic(), time.process_time()
    trained = train_wake_word(phrase, settings, recordings)
    temporary = out.with_name(out.name + ".tmp")
    try:
        temporary.write_bytes(trained.model)
        os.replace(temporary, out)
    except OSError as err:
        raise ModelError(f"{out}: cannot write model: {err.strerror or err}") from None
    manifest = trained.manifest
    summary = {
        "model": str(out),
        "phrase": phrase,
        "size_bytes": len(trained.model),
        "examples": manifest["examples"],
        "user_recordings": len(recordings),
        "seed": args.seed,
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"trained {out} for {phrase!r} ({len(trained.model) / 1024:.0f} KB) on "
            f"{manifest['examples']['positive']} positive and {manifest['examples']['negative']} negative "
            f"windows, {len(recordings)} of your recordings, in {summary['seconds']} s"
        )
        print(f"measure it:  edge wake test {out}")
        print(f"use it:      wake: {{engine: custom, model: {out}}}")
    return 0


def _model_path(args: argparse.Namespace) -> Path:
    if args.model is not None:
        return Path(args.model)
    from edge.commands.common import load

    config = load(args)
    if config.wake.model is None:
        raise UsageError("edge wake test: give a model FILE (the config's wake engine is not custom)")
    return config.wake.model


def negative_stream_source() -> Callable[..., Iterator[np.ndarray]]:
    """The benchmark's deterministic negative stream, from the checkout that holds this package."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "negative_stream.py").is_file():
        raise UsageError(f"edge wake test needs the repository's bench/ folder next to {root / 'edge'}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = importlib.import_module("bench.negative_stream")
    return module.negative_stream  # type: ignore[no-any-return]


def run_test(args: argparse.Namespace) -> int:
    """Print the miss rate on held-back voices and false wakes per hour, with and without Whisper's check."""
    from edge.speech.wake.custom import CustomWakeDetector
    from edge.speech.wake.evaluation import detects, false_wakes, held_back_positives, pad

    if args.clips < 1 or args.hours <= 0:
        raise UsageError("edge wake test: --clips must be >= 1 and --hours > 0")
    model = _model_path(args)
    stream = negative_stream_source()
    detector = CustomWakeDetector(model, verify=not args.no_verify)
    rng = np.random.default_rng(args.seed)
    try:
        clips = held_back_positives(detector.phrase, args.clips, seed=args.seed)
        head_hits = hits = 0
        for clip in clips:
            before = detector.candidates
            hits += detects(detector, pad(clip, rng))
            head_hits += detector.candidates > before
        before = detector.candidates
        result = false_wakes(detector, stream(args.hours * 3600, chunk_ms=30))
        head_wakes = detector.candidates - before
    finally:
        detector.close()
    verified = detector.verifier is not None
    real = _real_dev_clips(detector, rng)
    summary = {
        "model": str(model),
        "phrase": detector.phrase,
        "verify": verified,
        "held_back_clips": len(clips),
        "miss_rate": round(1 - hits / len(clips), 4),
        "head_miss_rate": round(1 - head_hits / len(clips), 4),
        "negative_hours": round(result.seconds / 3600, 3),
        "false_wakes": result.false_wakes,
        "false_wakes_per_hour": round(result.per_hour, 2),
        "head_false_wakes_per_hour": round(head_wakes / (result.seconds / 3600), 2),
        "real_dev_clips": real,
    }
    log.info("wake test: %s %s", model, summary)
    if args.json:
        print_json(summary)
        return 0
    minutes = result.seconds / 60
    print(f"{model} ({detector.phrase!r}), {len(clips)} clips by synthetic voices it was not trained on:")
    print(
        f"  head alone:  missed {summary['head_miss_rate']:.1%}, {head_wakes} wakes in {minutes:.0f} min of speech"
    )
    if verified:
        print(
            f"  + Whisper:   missed {summary['miss_rate']:.1%}, {result.false_wakes} wakes "
            f"({result.per_hour:.2f} per hour)"
        )
        print(
            "  (Whisper hears real people better than these synthetic voices: the miss rate is pessimistic)"
        )
    _print_real(real, verified)
    return 0


def eval_audio_dir() -> Path:
    """Where the real dev clips are: $EDGE_EVAL_DIR/audio, else ../shared/eval/audio beside the checkout."""
    root = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("EDGE_EVAL_DIR", root.parent / "shared" / "eval")) / "audio"


def _real_dev_clips(detector: Any, rng: np.random.Generator) -> dict[str, Any] | None:
    """Misses on real people's clips of the phrase (head alone and as configured), where the dev set is."""
    from edge.speech.wake.evaluation import detects, pad, real_clips, wilson

    folder = eval_audio_dir()
    clips = real_clips(folder, detector.phrase)
    if not clips:
        return {"folder": str(folder), "clips": 0} if folder.is_dir() else None
    head_missed = missed = 0
    for clip in clips:
        before = detector.candidates
        missed += not detects(detector, pad(clip, rng))
        head_missed += detector.candidates == before
    low, high = wilson(missed, len(clips))
    return {
        "folder": str(folder),
        "clips": len(clips),
        "missed": missed,
        "miss_rate": round(missed / len(clips), 4),
        "miss_rate_95": [round(low, 4), round(high, 4)],
        "head_missed": head_missed,
    }


def _print_real(real: dict[str, Any] | None, verified: bool) -> None:
    if real is None:
        print("  real people: no dev set here (../shared/eval/audio or $EDGE_EVAL_DIR)")
    elif not real["clips"]:
        print(f"  real people: {real['folder']} has no clips of this phrase")
    else:
        low, high = real["miss_rate_95"]
        print(f"  real people ({real['clips']} dev clips in {real['folder']}):")
        print(f"    head alone:  missed {real['head_missed']}")
        if verified:
            print(
                f"    + Whisper:   missed {real['missed']} ({real['miss_rate']:.1%}, 95 % {low:.1%}-{high:.1%})"
            )
        else:
            print(f"    missed {real['missed']} ({real['miss_rate']:.1%}, 95 % {low:.1%}-{high:.1%})")
