"""Configuration loading: the shipped config is valid; each kept bad config fails with one precise line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge.cli import main
from edge.config import load_config
from edge.errors import EXIT_CONFIG, ConfigError

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env

BAD_CONFIGS = sorted((REPO / "tests/configs/bad").glob("*.yaml"))


def expected_message(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <error text>'"
    return first.removeprefix("# expect: ")


def test_shipped_config_is_valid(shipped_config) -> None:
    assert [d.name for d in shipped_config.devices] == [
        "kitchen_light",
        "bedroom_light",
        "living_room_light",
        "ceiling_fan",
    ]
    fan = shipped_config.device("ceiling_fan")
    assert fan.pwm and dict(fan.levels) == {"low": 30, "medium": 60, "high": 100}
    assert fan.spoken_names == ("ceiling fan", "fan")
    assert shipped_config.board.name == "sim"
    assert shipped_config.intent.default_devices["light"] == "kitchen_light"


def test_at_least_fifteen_distinct_bad_configs_are_kept() -> None:
    assert len({expected_message(p) for p in BAD_CONFIGS}) >= 15


@pytest.mark.parametrize("path", BAD_CONFIGS, ids=lambda p: p.stem)
def test_bad_config_is_one_line_naming_file_and_key(path: Path, capsys) -> None:
    code = main(["check-config", "-c", str(path), "--board", "sim"])
    captured = capsys.readouterr()
    assert code == EXIT_CONFIG
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"edge: error: {path}: ")
    assert expected_message(path) in lines[0]
    assert captured.out == ""


def test_bad_config_through_the_real_cli_has_no_traceback() -> None:
    path = REPO / "tests/configs/bad/two_devices_on_one_pin.yaml"
    result = subprocess.run(
        edge_command("check-config", "-c", str(path), "--board", "sim"),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert result.returncode == EXIT_CONFIG
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().endswith("devices.fan.pin: GPIO17 is already used by device 'lamp'")


def test_debug_shows_the_traceback(capsys) -> None:
    path = REPO / "tests/configs/bad/unknown_pin.yaml"
    assert main(["--debug", "check-config", "-c", str(path), "--board", "sim"]) == EXIT_CONFIG
    assert "Traceback" in capsys.readouterr().err


def test_missing_config_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_config(tmp_path / "nope.yaml")


def test_board_is_detected_from_the_device_tree_model(tmp_path: Path) -> None:
    from edge.devices.board import resolve_board

    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\x00")
    assert resolve_board("auto", source="x", key="board.name", model_file=model).name == "rpi4b"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert resolve_board("auto", source="x", key="board.name", model_file=model).name == "rpi5"
    model.write_bytes(b"Raspberry Pi Zero 2 W Rev 1.0\x00")
    assert resolve_board("auto", source="x", key="board.name", model_file=model).name == "rpizero2w"
    assert resolve_board("auto", source="x", key="board.name", model_file=tmp_path / "absent").name == "sim"


def test_board_override_beats_the_config(tmp_path: Path) -> None:
    text = SHIPPED_CONFIG.read_text(encoding="utf-8").replace("name: auto", "name: rpi5")
    path = tmp_path / "edge.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "models").mkdir()
    assert load_config(path).board.name == "rpi5"
    assert load_config(path, board_override="sim").board.name == "sim"


def test_check_config_prints_a_summary_of_the_shipped_config(capsys) -> None:
    assert main(["check-config", "-c", str(SHIPPED_CONFIG), "--board", "sim"]) == 0
    out = capsys.readouterr().out
    assert f"{SHIPPED_CONFIG}: ok" in out
    assert "kitchen_light" in out and "GPIO12" in out and "dimmable light" in out
    assert "variable-speed fan" in out
