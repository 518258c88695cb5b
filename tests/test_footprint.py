"""Memory budgets of small boards: the estimate, the check-config warning, and rpizero2w's own choice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.config import load_config
from edge.devices.board import _parse_board, load_board
from edge.errors import ConfigError
from edge.runtime.footprint import SHIPPED_PEAK_MB, estimate, expected, fit_warning, whisper_over_budget

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env

CLIP = REPO / "tests/fixtures/commands/turn_on_the_fan__flite_kal16__clean.wav"


def _config(tmp_path: Path, **changes: Any) -> Path:
    """The shipped config with some sections' keys changed, written next to the test."""
    data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    for section, values in changes.items():
        data.setdefault(section, {}).update(values)
    data["intent"] = {
        **(data.get("intent") or {}),
        "model": str(REPO / "models/intent.tflite"),
        "vocabulary": str(REPO / "models/intents.yaml"),
    }
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _check(config: Path, board: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        edge_command("check-config", "-c", str(config), "--board", board),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
    )


def test_the_shipped_config_fits_the_zero_2_w() -> None:
    config = load_config(SHIPPED_CONFIG, board_override="rpizero2w")
    assert config.board.memory_budget_mb == 180
    footprint = expected(config)
    assert footprint.peak_mb == SHIPPED_PEAK_MB <= 180
    assert fit_warning(config, footprint) is None and whisper_over_budget(config) == ""


def test_each_setting_moves_the_estimate_by_its_measured_share(tmp_path: Path) -> None:
    lighter = load_config(_config(tmp_path, endpoint={"vad": "energy"}), board_override="rpizero2w")
    assert estimate(lighter).peak_mb < SHIPPED_PEAK_MB
    heavier = load_config(_config(tmp_path, web={"listen": "127.0.0.1:8080"}), board_override="rpizero2w")
    assert estimate(heavier).peak_mb > SHIPPED_PEAK_MB
    assert [name for name, _ in estimate(heavier).parts] == ["live view"]


def test_check_config_warns_in_one_line_naming_board_estimate_and_budget(tmp_path: Path) -> None:
    path = _config(
        tmp_path, wake={"engine": "pocketsphinx", "phrase": "hey jarvis"}, asr={"engine": "whisper"}
    )
    result = _check(path, "rpizero2w")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("edge: warning:")]
    assert len(warnings) == 1, result.stderr
    assert "rpizero2w" in warnings[0] and "~199 MB" in warnings[0] and "180 MB" in warnings[0]
    # The same config on a board without a budget: the estimate is printed, nothing is warned.
    quiet = _check(path, "rpi4b")
    assert "warning" not in quiet.stderr and "~199 MB" in quiet.stdout


def test_check_config_on_the_shipped_config_prints_the_estimate_and_no_warning(tmp_path: Path) -> None:
    result = _check(_config(tmp_path), "rpizero2w")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    assert "memory:  ~167 MB peak for edge run (rpizero2w budget 180 MB)" in result.stdout


def _engines(config: Path, board: str) -> set[str]:
    result = subprocess.run(
        edge_command("replay", "-c", str(config), "--board", board, "--json", str(CLIP)),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {event["engine"] for event in events if event.get("type") == "transcript"}


def test_zero_2_w_auto_asr_takes_the_lighter_recognizer_where_whisper_would_not_fit(tmp_path: Path) -> None:
    path = _config(tmp_path, wake={"engine": "pocketsphinx", "phrase": "hey jarvis"})
    check = _check(path, "rpizero2w")
    assert "asr auto: not Whisper on this board: Whisper would peak ~199 MB" in check.stdout
    assert "warning" not in check.stderr  # with PocketSphinx the config fits
    assert _engines(path, "rpizero2w") == {"pocketsphinx"}
    assert _engines(path, "rpi4b") == {"whisper"}  # no budget there: auto keeps Whisper


def test_a_bad_memory_budget_in_a_board_profile_is_refused(tmp_path: Path) -> None:
    profile = yaml.safe_load(load_board("rpizero2w").source.read_text(encoding="utf-8"))
    profile["memory"] = {"budget_mb": "lots"}
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"memory\.budget_mb must be a positive whole number of MB, not 'lots'"
    ):
        _parse_board(path)


_ARENAS = """
import os, sys
from edge.runtime.memory import limit_malloc_arenas
print(limit_malloc_arenas())
"""


@pytest.mark.parametrize(("env", "applied"), [({}, "True"), ({"MALLOC_ARENA_MAX": "2"}, "False")])
def test_edge_run_limits_malloc_arenas_unless_the_environment_already_does(
    env: dict[str, str], applied: str
) -> None:
    base = {key: value for key, value in subprocess_env().items() if key != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", _ARENAS],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**base, **env},
        check=True,
    )
    assert out.stdout.strip() == applied


def test_the_service_unit_gives_the_int8_copy_a_cache_and_one_arena() -> None:
    unit = (REPO / "systemd/edge.service").read_text(encoding="utf-8")
    assert "CacheDirectory=edge" in unit and "Environment=MALLOC_ARENA_MAX=1" in unit
