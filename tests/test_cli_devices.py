"""The device commands through the real CLI: set, devices, pins, and safe state on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess

from edge.cli import main
from edge.errors import EXIT_USAGE

from .support import SHIPPED_CONFIG, edge_command, subprocess_env

SIM = ["-c", str(SHIPPED_CONFIG), "--board", "sim"]


def test_set_applies_then_returns_to_safe_state(capsys) -> None:
    assert main(["set", "ceiling_fan", "high", "--hold", "0", "--json", *SIM]) == 0
    set_line, safe_line = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert set_line["phase"] == "set"
    assert set_line["devices"]["ceiling_fan"] == {"on": True, "level_percent": 100}
    assert safe_line["devices"]["ceiling_fan"] == {"on": False, "level_percent": 0}


def test_set_accepts_an_alias_and_a_percent(capsys) -> None:
    assert main(["set", "lamp", "35%", "--hold", "0", "--json", *SIM]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["devices"]["kitchen_light"] == {"on": True, "level_percent": 35}


def test_set_rejects_a_dim_level_on_a_relay(capsys) -> None:
    assert main(["set", "bedroom_light", "50%", "--hold", "0", *SIM]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == "edge: error: state '50%': bedroom_light is on/off only (allowed: on, off, 0%, 100%)"


def test_set_rejects_an_unknown_device(capsys) -> None:
    assert main(["set", "garage_door", "on", "--hold", "0", *SIM]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "edge: error: unknown device 'garage_door' (devices: kitchen_light, bedroom_light, living_room_light, ceiling_fan)"
    )


def test_sigterm_during_hold_drives_every_output_safe() -> None:
    process = subprocess.Popen(
        edge_command("set", "kitchen_light", "80%", "--json", *SIM),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        first = json.loads(process.stdout.readline())
        assert first["devices"]["kitchen_light"] == {"on": True, "level_percent": 80}
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    last = json.loads(out.splitlines()[-1])
    assert last["phase"] == "safe"
    assert all(state == {"on": False, "level_percent": 0} for state in last["devices"].values())
    assert process.returncode == 0, err
    assert "SIGTERM" in err and "Traceback" not in err


def test_devices_json_lists_pins_and_states(capsys) -> None:
    assert main(["devices", "--json", *SIM]) == 0
    listing = json.loads(capsys.readouterr().out)
    fan = next(row for row in listing["devices"] if row["name"] == "ceiling_fan")
    assert (
        fan["pin"] == "GPIO13"
        and fan["control"] == "pwm"
        and fan["state"] == {"on": False, "level_percent": 0}
    )
    assert fan["levels"] == {"low": 30, "medium": 60, "high": 100}


def test_devices_reads_the_daemon_status_file(tmp_path, capsys) -> None:
    status = tmp_path / "status.json"
    status.write_text(
        json.dumps({"devices": {"ceiling_fan": {"on": True, "level_percent": 60}}}), encoding="utf-8"
    )
    assert main(["devices", "--status-file", str(status), *SIM]) == 0
    out = capsys.readouterr().out
    assert "ceiling_fan      fan    pwm     GPIO13  living room  on 60 %" in out
    assert f"daemon status file {status}" in out


def test_pins_draws_the_wiring(capsys) -> None:
    assert main(["pins", *SIM]) == 0
    out = capsys.readouterr().out
    assert "kitchen_light (pwm light) -> GPIO12 (32)" not in out  # pin 32 is on the right-hand column
    assert "(32) GPIO12 <- kitchen_light (pwm light)" in out
    assert "ceiling_fan (pwm fan) -> GPIO13 (33)" in out
    assert "(16) GPIO23 <- bedroom_light (on/off light)" in out


def test_pins_of_a_bare_board_shows_reserved_pins(capsys) -> None:
    assert main(["pins", "rpizero2w"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Raspberry Pi Zero 2 W (rpizero2w)")
    assert "[HAT ID EEPROM (ID_SD)]  GPIO0 (27)" in out


def test_help_lists_every_foundation_command() -> None:
    result = subprocess.run(
        edge_command("--help"), capture_output=True, text=True, env=subprocess_env(), timeout=60
    )
    for command in ("check-config", "devices", "set", "pins"):
        assert command in result.stdout
