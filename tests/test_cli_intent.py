"""`edge intent` and `edge train` through the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from edge.cli import main
from edge.errors import EXIT_CONFIG

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env

SIM = ["-c", str(SHIPPED_CONFIG), "--board", "sim"]


def config_with_model(tmp_path: Path, model: Path) -> Path:
    data = yaml.safe_load(SHIPPED_CONFIG.read_text())
    data["intent"] = {
        **(data.get("intent") or {}),
        "model": str(model),
        "vocabulary": str(REPO / "models" / "intents.yaml"),
    }
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_intent_json_describes_the_action_without_applying(capsys) -> None:
    assert main(["intent", "set the lamp to seventy five percent", "--json", *SIM]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["intent"] == "light_set_brightness" and result["confidence"] > 0.5
    assert result["slots"] == {"device": "kitchen_light", "percent": 75}
    assert result["action"] == {
        "device": "kitchen_light",
        "description": "kitchen_light 75 %",
        "level_percent": 75,
    }
    assert "states" not in result


def test_intent_apply_changes_mock_pins(capsys) -> None:
    assert main(["intent", "fan on high", "--apply", "--json", *SIM]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["states"]["ceiling_fan"] == {"on": True, "level_percent": 100}


def test_intent_out_of_scope_says_why(capsys) -> None:
    assert main(["intent", "what's the weather tomorrow", *SIM]) == 0
    out = capsys.readouterr().out
    assert out.startswith("intent: none") and "not understood: not a command for the lights or fans" in out


def test_intent_json_for_a_missing_device_keeps_the_intent(capsys) -> None:
    assert main(["intent", "turn on the garage light", "--json", *SIM]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["intent"], result["action"]) == ("light_on", None)
    assert result["reason"].startswith("there is no garage light; I have: kitchen light")


def test_corrupt_model_exits_78_with_one_line(tmp_path: Path) -> None:
    model = tmp_path / "intent.tflite"
    model.write_bytes((REPO / "models" / "intent.tflite").read_bytes()[:3000])
    config = config_with_model(tmp_path, model)
    result = subprocess.run(
        edge_command("intent", "turn on the lamp", "-c", str(config), "--board", "sim"),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert result.returncode == EXIT_CONFIG
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"edge: error: {model}: corrupt model file") and "run `edge train`" in line
    assert "Traceback" not in result.stderr


def test_train_writes_a_model_that_loads(tmp_path: Path, capsys) -> None:
    out = tmp_path / "fresh.tflite"
    assert main(["train", "--seed", "1", "--out", str(out), "--json", *SIM]) == 0
    summary = json.loads(capsys.readouterr().out)
    # Held-out template sentences include close negatives (a colour vs. no command), so not ~100 %.
    assert summary["model"] == str(out) and summary["heldout_accuracy"] > 0.9
    # Issue 18: everything in models/ within 30 MB; the n-gram MLP is about 2 MB of it.
    assert out.stat().st_size == summary["size_bytes"] < 4 * 1024 * 1024
    config = config_with_model(tmp_path, out)
    assert main(["intent", "turn the fan off", "--json", "-c", str(config), "--board", "sim"]) == 0
    assert json.loads(capsys.readouterr().out)["intent"] == "fan_off"
