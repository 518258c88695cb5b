"""The wyoming: section: off by default, localhost unless told, one line per mistake; its systemd drop-in."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.config import load_config
from edge.errors import ConfigError
from edge.runtime.service import WriteFile, WyomingListen, plan_install, wyoming_dropin

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env
from .test_mqtt_config import exposure_under_root
from .test_service_unit import MAX_EXPOSURE, parse_unit


def _write(tmp_path: Path, wyoming: Any) -> Path:
    data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["wyoming"] = wyoming
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_off_by_default_and_on_localhost_when_on(tmp_path: Path, shipped_config: Any) -> None:
    assert shipped_config.wyoming is None
    config = load_config(_write(tmp_path, {"satellite": True}), board_override="sim")
    wyoming = config.wyoming
    assert wyoming is not None and (wyoming.host, wyoming.port) == ("127.0.0.1", 10700) and wyoming.loopback
    assert wyoming.satellite and wyoming.wake_service and wyoming.asr_service
    lan = load_config(_write(tmp_path, {"listen": "0.0.0.0:10700"}), board_override="sim").wyoming
    assert lan is not None and not lan.loopback


@pytest.mark.parametrize(
    ("wyoming", "expected"),
    [
        ({"listen": "10700"}, "wyoming.listen: '10700' is not HOST:PORT (e.g. 127.0.0.1:10700)"),
        ({"listen": "pi.lan:10700"}, "wyoming.listen: 'pi.lan' is not an IP address or localhost"),
        ({"listen": "127.0.0.1:99999"}, "wyoming.listen: port '99999' must be a number from 1 to 65535"),
        ({"satelite": True}, "wyoming.satelite: unknown key (allowed here:"),
        ({"satellite": "yes"}, "wyoming.satellite: expected true or false, got a string 'yes'"),
        ({"max_connections": 0}, "wyoming.max_connections: 0 is out of range from 1 to 64"),
        ({"name": "edge/kitchen"}, "wyoming.name: 'edge/kitchen': 1..63 letters"),
        (
            {"satellite": False, "wake_service": False, "asr_service": False},
            "wyoming.satellite: satellite, wake_service and asr_service are all false: nothing to serve",
        ),
    ],
)
def test_every_mistake_is_one_line_naming_file_and_key(tmp_path: Path, wyoming: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, wyoming), board_override="sim")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'edge.yaml'}: "), message
    assert expected in message and "\n" not in message


def test_check_config_names_the_section_and_exits_78(tmp_path: Path) -> None:
    bad = _write(tmp_path, {"listen": "0.0.0.0"})
    result = subprocess.run(edge_command("check-config", "-c", str(bad), "--board", "sim"), capture_output=True,
                            text=True, timeout=60, env=subprocess_env())  # fmt: skip
    assert result.returncode == 78 and len(result.stderr.strip().splitlines()) == 1
    assert "wyoming.listen: '0.0.0.0' is not HOST:PORT" in result.stderr
    good = _write(tmp_path, {"listen": "0.0.0.0:10700", "wake_service": False})
    result = subprocess.run(edge_command("check-config", "-c", str(good), "--board", "sim"), capture_output=True,
                            text=True, timeout=60, env=subprocess_env())  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "wyoming: satellite, speech-to-text on 0.0.0.0:10700 (the local network, announced by zeroconf)"
        in result.stdout
    )


def test_the_install_adds_the_wyoming_dropin_only_when_it_is_on() -> None:
    def files(wyoming: WyomingListen | None) -> dict[str, str]:
        actions = plan_install(config_source=SHIPPED_CONFIG, exec_start="/x/edge run", groups=[],
                               create_user=False, wyoming=wyoming)  # fmt: skip
        return {str(a.path): a.text for a in actions if isinstance(a, WriteFile)}

    path = "/etc/systemd/system/edge.service.d/wyoming.conf"
    assert path not in files(None)
    local = parse_unit(files(WyomingListen(10700, True, True))[path])["Service"]
    assert local["IPAddressAllow"] == ["localhost"]
    assert local["SocketBindAllow"] == ["tcp:10700"] and local["SocketBindDeny"] == ["any"]
    lan = parse_unit(wyoming_dropin(WyomingListen(10800, False, True, web_port=8080)))["Service"]
    assert lan["SocketBindAllow"] == ["tcp:10800", "tcp:8080", "udp:5353"]
    assert lan["IPAddressAllow"][0].startswith("localhost link-local 10.0.0.0/8")
    assert lan["IPAddressAllow"][0].endswith(" multicast") and "any" not in lan["IPAddressAllow"][0]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install systemd)",
)
def test_systemd_analyze_rates_the_unit_with_the_wyoming_dropin(tmp_path: Path) -> None:
    unit_dir = tmp_path / "etc/systemd/system"
    (unit_dir / "edge.service.d").mkdir(parents=True)
    shutil.copy(REPO / "systemd" / "edge.service", unit_dir / "edge.service")
    dropin = wyoming_dropin(WyomingListen(10700, False, True))
    (unit_dir / "edge.service.d" / "wyoming.conf").write_text(dropin, encoding="utf-8")
    assert exposure_under_root(tmp_path) <= MAX_EXPOSURE
