"""``python -m bench --quick`` runs end to end and reports every metric, each in a sane range.

This checks that the benchmarks measure something, not what they measure: the values depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from .support import REPO, subprocess_env


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    document: dict[str, Any] = json.loads(completed.stdout)
    return document


def _fraction(value: object) -> bool:
    return isinstance(value, float | int) and 0 <= value <= 1


def test_every_section_ran(results: dict[str, Any]) -> None:
    assert results["quick"] is True
    for section in ("machine", "intent", "wake", "accuracy", "latency", "daemon"):
        assert section in results, section
    assert results["machine"]["cpus"] >= 1


def test_always_on_cost_and_false_wakes_per_engine(results: dict[str, Any]) -> None:
    engines = {engine["engine"]: engine for engine in results["wake"]["engines"]}
    assert {"micro", "pocketsphinx"} <= set(engines)
    for engine in engines.values():
        assert engine["audio_seconds"] >= 290
        assert 0 < engine["cpu_seconds_per_audio_second"] < 1  # faster than real time, and not free
        assert 0 < engine["quiet_room_cpu_seconds_per_audio_second"] < 1
        assert engine["false_wakes_per_hour"] >= 0
        assert _fraction(engine["detection_rate"]) and engine["positive_clips"] > 0


def test_wake_table_on_real_people_gives_intervals(results: dict[str, Any]) -> None:
    real = results["wake"]["real_people"]
    if "skipped" in real:
        pytest.skip(real["skipped"])
    rows = {row["model"]: row for row in real["models"]}
    assert {"micro:alexa alone", "micro:alexa +whisper (shipped)"} <= set(rows)
    for row in rows.values():
        low, high = row["miss_rate_95"]
        assert row["real_clips"] > 0 and low <= row["miss_rate"] <= high
        assert 0 <= row["false_wakes_per_hour"] <= row["false_wakes_per_hour_upper_95"]
        assert row["other_real_clips_hours"] > 0 and row["stream_hours"] > 0


def test_command_accuracy_side_by_side(results: dict[str, Any]) -> None:
    configurations = results["accuracy"]["configurations"]
    modes = {(c["asr_engine"], c["asr_mode"]) for c in configurations}
    assert {("whisper", "free"), ("pocketsphinx", "grammar"), ("pocketsphinx", "free")} <= modes
    for configuration in configurations:
        assert _fraction(configuration["command_accuracy"])
        assert _fraction(configuration["wake_detection_rate"])
        assert configuration["by_voice"] and configuration["by_snr"]
        assert all(_fraction(value) for value in configuration["by_snr"].values())


def test_latency_is_split_by_stage(results: dict[str, Any]) -> None:
    latency = results["latency"]
    assert latency["clips"] > 0
    total = latency["end_of_speech_to_gpio_ms"]
    assert 0 < total["p50"] <= total["p90"] < 10_000
    assert set(latency["split_ms"]) == {"endpointing", "recognition", "intent", "action"}
    for stage in latency["split_ms"].values():
        assert 0 <= stage["p50"] <= stage["p90"]
    # The slow-CPU model: the same decodes, each costlier, so each slowdown is later than the one before.
    rows = latency["simulated_slow_cpu"]["rows"]
    assert [row["decode_cost_x"] for row in rows] == [1, 5, 15]
    p50s = [row["end_of_speech_to_gpio_ms"]["p50"] for row in rows]
    assert 0 < p50s[0] < p50s[1] < p50s[2]
    assert latency["simulated_slow_cpu"]["decodes"] > 0


def test_intent_accuracy_and_speed(results: dict[str, Any]) -> None:
    intent = results["intent"]
    flat = json.dumps(intent)
    assert (
        "paraphrases_classifier" in flat
        and "heldout_templates" in flat
        and "paraphrases_exact_templates" in flat
    )
    assert 0 < intent["model_bytes"] < 1_000_000
    assert 0 < intent["median_classify_ms"] < 100


def test_cold_start_and_memory_per_configuration(results: dict[str, Any]) -> None:
    configurations = results["daemon"]["configurations"]
    assert len(configurations) >= 2
    for configuration in configurations:
        assert configuration["exit_code"] == 0, configuration["stderr_tail"]
        assert 0 < configuration["cold_start_seconds"] < 120
        assert 20 < configuration["peak_rss_mb"] < 4000


def test_real_speech_rows_or_a_clear_skip(results: dict[str, Any]) -> None:
    real = results["real_speech"]
    if "skipped" in real:
        assert "../shared/eval" in real["skipped"] or "eval" in real["skipped"]
        return
    for engine in real["protocol_by_wake_engine"].values():
        protocol = engine["protocol"]
        assert (
            protocol["n"] > 0
            and protocol["right"] + protocol["no_action"] + protocol["wrong"] == protocol["n"]
        )
        assert all(_fraction(protocol[f"{key}_rate"]) for key in ("right", "no_action", "wrong"))
        assert engine["protocol_by_pause_s"] and engine["negatives"]["n"] > 0


def test_memory_table_and_levers(results: dict[str, Any]) -> None:
    memory = results["memory"]
    steps = [row["step"] for row in memory["steps"]["rows"]]
    assert steps[0] == "interpreter" and any(step.startswith("whisper tiny.en") for step in steps)
    assert all(row["rss_mb"] > 0 for row in memory["steps"]["rows"])
    assert memory["steps"]["malloc"]["arenas"] >= 1
    peaks = {row["setting"]: row["peak_rss_mb"] for row in memory["levers"]}
    # The int8 copy is the largest lever: quantizing the float16 file while loading peaks far higher.
    assert peaks["all levers (shipped)"] + 30 < peaks["no int8 copy of Whisper (cache not writable)"]
