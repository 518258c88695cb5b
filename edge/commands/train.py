"""``edge train``: rebuild the intent model from intents.yaml and the configured devices, in seconds."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from edge.commands.common import load, print_json
from edge.errors import ModelError
from edge.understanding.features import Lexicon
from edge.understanding.training import train
from edge.understanding.vocabulary import load_vocabulary

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``train`` command."""
    parser = subparsers.add_parser(
        "train",
        parents=[common],
        help="rebuild the intent model from the intent vocabulary",
        description="Expand the intent vocabulary (intent.vocabulary, with the configured device names), "
        "train the intent classifier with numpy and write it as a .tflite model (default: intent.model). "
        "The same seed gives the same file, byte for byte.",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="where to write the model (default: intent.model)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train, write the model atomically, print what was trained."""
    config = load(args)
    vocabulary = load_vocabulary(config.intent.vocabulary, config.devices)
    result = train(vocabulary, Lexicon.from_devices(config.devices), seed=args.seed)
    out: Path = args.out or config.intent.model
    temporary = out.with_name(out.name + ".tmp")
    try:
        temporary.write_bytes(result.model_bytes)
        os.replace(temporary, out)
    except OSError as err:
        raise ModelError(f"{out}: cannot write model: {err.strerror or err}") from None
    summary = {
        "model": str(out),
        "size_bytes": len(result.model_bytes),
        "vocabulary": str(config.intent.vocabulary),
        "train_sentences": result.train_size,
        "heldout_sentences": result.heldout_size,
        "heldout_accuracy": round(result.heldout_accuracy, 4),
        "threshold": result.manifest["threshold"],
        "seconds": round(result.seconds, 2),
    }
    log.info("train: %s %.1f%% held-out %.1f s", out, result.heldout_accuracy * 100, result.seconds)
    if args.json:
        print_json(summary)
    else:
        hidden, features = result.weights.w1.shape
        print(
            f"trained {out} ({len(result.model_bytes) / 1024:.0f} KB: {features} features -> {hidden} -> "
            f"{len(vocabulary.intents)} intents) on {result.train_size} sentences from {config.intent.vocabulary}"
        )
        print(
            f"held-out accuracy {result.heldout_accuracy:.1%} on {result.heldout_size} unseen template sentences, "
            f"threshold {summary['threshold']}, {result.seconds:.1f} s"
        )
    return 0
