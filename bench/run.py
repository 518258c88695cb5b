"""Run every benchmark and print one JSON document (stdout) and a short table (stderr).

    python -m bench [--quick] [--only SECTION ...] [--out results.json]

``--quick`` shortens each section (5 minutes of negative audio instead of an hour, a third of the
fixtures) so the whole run fits in a few minutes on a 2-core board; the full run is what docs/benchmarks.md quotes.
Every number is measured in this run: nothing is cached or copied in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.speech.asr.settings import DEFAULT_VOSK_MODEL_DIRS

SECTIONS = ("intent", "wake", "accuracy", "latency", "daemon", "real_speech", "memory")


def english_vosk_model() -> Path | None:
    """The English Vosk model `edge models fetch vosk-small-en` installed, if any."""
    env = os.environ.get("EDGE_VOSK_MODEL")
    candidates = [Path(env)] if env else list(DEFAULT_VOSK_MODEL_DIRS)
    return next((path for path in candidates if (path / "am").is_dir() or (path / "conf").is_dir()), None)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = Path("/proc/device-tree/model")
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware")):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "board": model.read_text(errors="replace").strip("\x00\n") if model.is_file() else None,
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def _sections(quick: bool, vosk: Path | None) -> dict[str, Callable[[], dict[str, Any]]]:
    from bench import accuracy, daemon_probe, intent_bench, latency, memory, real_speech, wake_cost, wake_real

    return {
        "intent": lambda: intent_bench.run(quick),
        "wake": lambda: {**wake_cost.run(quick, vosk), "real_people": wake_real.table(quick)},
        "accuracy": lambda: accuracy.run(quick, vosk is not None),
        "latency": lambda: latency.run(quick),
        "daemon": lambda: daemon_probe.run(quick, vosk is not None),
        "real_speech": lambda: real_speech.run(quick),
        "memory": lambda: memory.run(quick),
    }


def run(quick: bool, only: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen sections and return the whole result document."""
    vosk = english_vosk_model()
    results: dict[str, Any] = {
        "command": "python -m bench" + (" --quick" if quick else ""),
        "quick": quick,
        "machine": machine(),
        "english_vosk_model": str(vosk) if vosk else None,
    }
    for name, section in _sections(quick, vosk).items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        results[name] = section()
        results[name]["wall_seconds"] = round(time.perf_counter() - started, 1)
    return results


def table(results: dict[str, Any]) -> str:
    """A few headline numbers for people; the JSON has everything."""
    lines = [f"machine: {results['machine']['cpu']} x{results['machine']['cpus']}"]
    if "intent" in results:
        intent = results["intent"]
        lines.append(
            f"intent: {json.dumps({k: v for k, v in intent.items() if not isinstance(v, dict | list)})}"
        )
        for name, scores in intent.get("dev_sets", {}).items():
            edge = scores.get("edge")
            lines.append(
                f"intent {name}: in scope {edge['in_scope_right']} explicit {edge['explicit_right']} "
                f"out of scope rejected {edge['out_of_scope_rejected']} (hard {edge['hard_rejected']}, "
                f"ood {edge['ood_rejected']})"
                if edge
                else f"intent {name}: {scores.get('skipped')}"
            )
    for engine in results.get("wake", {}).get("engines", []):
        lines.append(
            f"wake {engine['engine']:<13} {engine.get('phrase', ''):<20} cpu/s audio {engine['cpu_seconds_per_audio_second']:.4f}  "
            f"false wakes/h {engine['false_wakes_per_hour']:<6} detection {engine['detection_rate']}"
        )
    for row in results.get("wake", {}).get("real_people", {}).get("models", []):
        low, high = row["miss_rate_95"]
        lines.append(
            f"wake real {row['model']:<34} missed {row['missed']}/{row['real_clips']} (95 % {low:.1%}-{high:.1%})  "
            f"false wakes/h {row['false_wakes_per_hour']} (<= {row['false_wakes_per_hour_upper_95']})"
        )
    for config in results.get("accuracy", {}).get("configurations", []):
        lines.append(
            f"commands wake={config['wake_engine']} asr={config['asr_engine']}/{config['asr_mode']}: "
            f"accuracy {config['command_accuracy']} by snr {config['by_snr']}"
        )
    if "latency" in results:
        latency = results["latency"]
        lines.append(
            f"latency end of speech -> GPIO ms: {latency['end_of_speech_to_gpio_ms']} split {latency['split_ms']}"
        )
        for row in latency.get("simulated_slow_cpu", {}).get("rows", []):
            lines.append(
                f"latency with decodes x{row['decode_cost_x']}: {row['end_of_speech_to_gpio_ms']} ms, "
                f"decode {row['mean_decode_ms']} ms, pipeline behind by up to {row['max_backlog_ms']} ms"
            )
    for config in results.get("daemon", {}).get("configurations", []):
        lines.append(
            f"daemon wake={config['wake_engine']} asr={config['asr_engine']}: cold start "
            f"{config['cold_start_seconds']} s, peak RSS {config['peak_rss_mb']} MB"
        )
    for row in results.get("memory", {}).get("steps", {}).get("rows", []):
        lines.append(f"memory {row['step']:<45} +{row['adds_mb']:>6} MB  rss {row['rss_mb']:>6} MB")
    for row in results.get("memory", {}).get("levers", []):
        lines.append(f"memory edge run peak, {row['setting']:<45} {row['peak_rss_mb']} MB")
    real = results.get("real_speech", {})
    if "skipped" in real:
        lines.append(f"real speech: {real['skipped']}")
    for engine, rows in real.get("protocol_by_wake_engine", {}).items():
        by_pause = {pause: row["right_rate"] for pause, row in rows["protocol_by_pause_s"].items()}
        lines.append(
            f"real speech {engine}: right {rows['protocol']['right_rate']} no action "
            f"{rows['protocol']['no_action_rate']} wrong {rows['protocol']['wrong_rate']} by pause {by_pause}; "
            f"negatives switched {rows['negatives']['switched_something']}/{rows['negatives']['n']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short version for tests and CI (a few minutes)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    results = run(args.quick, args.only)
    document = json.dumps(results, indent=2)
    print(document)
    if args.out:
        args.out.write_text(document + "\n", encoding="utf-8")
    print(table(results), file=sys.stderr)
    return 0
