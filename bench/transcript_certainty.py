"""How sure must Whisper be before edge acts? Wrong actions against refused commands, on real speech.

    python -m bench.transcript_certainty [--config FILE]

Every real clip of ../shared/eval/audio is decoded by Whisper as a command and interpreted by edge's
Understanding (no devices are switched): the command part of each wake+command clip (over a quiet and a noisy
bed, four seeds each) must do its command; every other piece of speech (coffee orders, "alexa", "snowboy",
"smart mirror" said alone, "hey mycroft" inside other speech) must do nothing. For each candidate value of
``asr.min_word_probability`` (and, for comparison, of the mean token log-probability and of the word
probability times the classifier's confidence) it prints how many negatives would act and how many commands
would be refused. Intents that switch nothing (stop, status) are never refused and are left out. Prints
JSON; skips where ../shared/eval is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import real_trials
from edge.config import load_config
from edge.devices.bank import DeviceBank, make_pin_factory
from edge.speech.asr.whisper import WhisperRecognizer, whisper_recognizer
from edge.speech.audio import read_wav
from edge.understanding.handler import HARMLESS_INTENTS, Understanding

REPO = Path(__file__).resolve().parent.parent
WORD_PROBABILITIES = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
AVG_LOGPROBS = (-9.0, -1.5, -1.2, -1.0, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3)
COMBINED = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
SEEDS = 4


def pieces(rows: list[dict[str, Any]]) -> list[tuple[str, str | None, np.ndarray]]:
    """(name, expected intent or None for a negative, int16 samples) for every real piece of speech."""
    found: list[tuple[str, str | None, np.ndarray]] = []
    for row, piece in real_trials._command_pieces(rows):
        if row["label"] in HARMLESS_INTENTS:
            continue
        for seed in range(SEEDS):
            for bed in ("room", "noisy"):
                samples, _end, bed_name = real_trials.compose(None, 0.0, piece, bed, seed)
                found.append((f"{Path(row['file']).stem}__{bed_name}__{seed}", str(row["label"]), samples))
    for row in rows:
        if row["category"] in ("ood_command", "wake_word", "wake_word_in_utterance"):
            samples = read_wav(real_trials.AUDIO_DIR / row["file"])
            found.append((Path(row["file"]).stem, None, samples))
    return found


def decode(
    recognizer: WhisperRecognizer, understanding: Understanding, name: str, expect: str | None, pcm: bytes
) -> dict[str, Any]:
    """One piece: Whisper's text and certainty, what edge would do, and whether that is right."""
    text = recognizer.transcribe(pcm)
    sure = recognizer.last_certainty
    found = understanding.interpret(text)
    acts = bool(found.plan and not found.reason and found.intent not in HARMLESS_INTENTS)
    right = acts and found.intent == expect
    if right and expect == "light_on" and found.plan is not None:
        right = "living_room_light" in found.plan.devices  # every real light_on command names that lamp
    return {
        "piece": name,
        "expect": expect,
        "text": text,
        "intent": found.intent,
        "confidence": round(found.confidence, 4),
        "acts": acts,
        "right": right,
        "word_probability": round(sure.word_probability, 4) if sure else None,
        "avg_logprob": round(sure.avg_logprob, 4) if sure else None,
        "no_speech_prob": round(sure.no_speech_prob, 4) if sure else None,
    }


def table(
    rows: list[dict[str, Any]], values: tuple[float, ...], stat: Callable[[dict[str, Any]], float]
) -> list:
    """Per threshold: negatives that act, commands right, commands refused that would have been right."""
    negatives = [r for r in rows if r["expect"] is None]
    commands = [r for r in rows if r["expect"] is not None]
    result = []
    for value in values:
        kept = [r for r in rows if r["acts"] and stat(r) >= value]
        result.append(
            {
                "threshold": value,
                "negatives_acting": sum(r["expect"] is None for r in kept),
                "negatives": len(negatives),
                "commands_right": sum(r["right"] for r in kept),
                "commands_wrong": sum(r["expect"] is not None and not r["right"] for r in kept),
                "commands_refused_were_right": sum(r["right"] and stat(r) < value for r in commands),
                "commands": len(commands),
            }
        )
    return result


def main(argv: list[str] | None = None) -> int:
    """Decode every piece and print the trade-off tables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.transcript_certainty", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, default=REPO / "edge.yaml")
    parser.add_argument("--rows", action="store_true", help="include every piece's row")
    args = parser.parse_args(argv)
    if not real_trials.available():
        print(json.dumps({"skipped": real_trials.SKIP_REASON}))
        return 0
    started = time.process_time()
    config = load_config(args.config, board_override="sim")
    bank = DeviceBank.from_config(config, make_pin_factory(config.board, mock=True))
    understanding = Understanding.from_config(config, bank)
    recognizer, _model = whisper_recognizer(config.asr.whisper_model)
    rows = [
        decode(recognizer, understanding, name, expect, samples.astype("<i2").tobytes())
        for name, expect, samples in pieces(real_trials.manifest())
    ]
    report: dict[str, Any] = {
        "dev_set": str(real_trials.AUDIO_DIR),
        "by_word_probability": table(rows, WORD_PROBABILITIES, lambda r: r["word_probability"]),
        "by_avg_logprob": table(rows, AVG_LOGPROBS, lambda r: r["avg_logprob"]),
        "by_word_probability_with_avg_logprob_at_least_-1": table(
            rows, WORD_PROBABILITIES, lambda r: r["word_probability"] if r["avg_logprob"] >= -1.0 else -1.0
        ),
        # The shipped rule: asr.min_certainty on word probability x intent confidence, asr.min_avg_logprob -1.
        "by_certainty_with_avg_logprob_at_least_-1": table(
            rows,
            COMBINED,
            lambda r: r["word_probability"] * r["confidence"] if r["avg_logprob"] >= -1.0 else -1.0,
        ),
        "by_word_probability_x_intent_confidence": table(
            rows, COMBINED, lambda r: r["word_probability"] * r["confidence"]
        ),
        "acting_negatives": [r for r in rows if r["expect"] is None and r["acts"]],
        "cpu_seconds": round(time.process_time() - started, 1),
    }
    if args.rows:
        report["rows"] = rows
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
