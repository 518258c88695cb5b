"""The mqtt: section: defaults, strict validation with one line naming file and key, the systemd drop-in."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.config import load_config
from edge.errors import ConfigError
from edge.integrations.mqtt.config import hostname_slug
from edge.runtime.service import WriteFile, plan_install, render_mqtt_dropin

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env
from .test_service_unit import exposure, parse_unit

DROPIN = REPO / "systemd" / "edge-mqtt.conf"


def _write(tmp_path: Path, mqtt: Any) -> Path:
    data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["mqtt"] = mqtt
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _load(tmp_path: Path, mqtt: Any) -> Any:
    return load_config(_write(tmp_path, mqtt), board_override="sim")


def _error(tmp_path: Path, mqtt: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, mqtt)
    return str(caught.value)


def test_no_mqtt_section_means_no_network(shipped_config: Any) -> None:
    assert shipped_config.mqtt is None


def test_defaults_come_from_the_host_name(tmp_path: Path) -> None:
    mqtt = _load(tmp_path, {"host": "broker.lan"}).mqtt
    slug = hostname_slug()
    assert (mqtt.host, mqtt.port, mqtt.tls, mqtt.username) == ("broker.lan", 1883, None, None)
    assert mqtt.base_topic == f"edge/{slug}" and mqtt.client_id == f"edge-{slug}"
    assert mqtt.discovery_prefix == "homeassistant"
    assert hostname_slug("Pi-Kitchen.local") == "pi-kitchen"


def test_a_password_comes_from_its_file_and_tls_moves_the_default_port(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\nignored\n", encoding="utf-8")
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    if not ca.is_file():
        pytest.skip("no system CA bundle to stand in for a broker CA (apt-get install ca-certificates)")
    mqtt = _load(
        tmp_path, {"host": "b", "username": "edge", "password_file": "pw", "tls": {"ca_file": str(ca)}}
    ).mqtt
    assert mqtt.read_password() == "s3cret"
    assert mqtt.port == 8883 and mqtt.tls.ca_file == ca.resolve() and mqtt.tls.cert_file is None


@pytest.mark.parametrize(
    ("mqtt", "expected"),
    [
        ({"port": 1883}, "mqtt.host: required key is missing"),
        ({"host": "b", "password": "x"}, "mqtt.password: unknown key"),
        ({"host": "b", "username": "u", "password_file": "nope"}, "mqtt.password_file: file not found"),
        ({"host": "b", "password_file": "pw"}, "mqtt.password_file: a password needs a username"),
        (
            {"host": "b", "username": "u", "password_file": "empty"},
            "mqtt.password_file: the password file ",
        ),
        ({"host": "b", "base_topic": "edge/#"}, "mqtt.base_topic: 'edge/#': topic levels"),
        ({"host": "b", "base_topic": "/edge"}, "mqtt.base_topic: '/edge': topic levels"),
        (
            {"host": "b", "base_topic": "homeassistant/x"},
            "mqtt.base_topic: 'homeassistant/x' must not be under",
        ),
        ({"host": "b", "port": 70000}, "mqtt.port: 70000 is out of range from 1 to 65535"),
        ({"host": "b", "client_id": "a b"}, "mqtt.client_id: 'a b': use 1..64 letters"),
        ({"host": "b", "tls": {"cert_file": "pw"}}, "mqtt.tls.ca_file: required key is missing"),
        ({"host": "b", "tls": {"ca_file": "pw"}}, "mqtt.tls.(certificates): cannot load"),
        (
            {"host": "b", "tls": {"ca_file": "pw", "cert_file": "pw"}},
            "mqtt.tls.key_file: a client certificate needs",
        ),
    ],
)
def test_every_mistake_is_one_line_naming_file_and_key(tmp_path: Path, mqtt: Any, expected: str) -> None:
    (tmp_path / "pw").write_text("not a certificate\n", encoding="utf-8")
    (tmp_path / "empty").write_text("", encoding="utf-8")
    message = _error(tmp_path, mqtt)
    assert message.startswith(f"{tmp_path / 'edge.yaml'}: "), message
    assert expected in message and "\n" not in message


def test_check_config_rejects_a_bad_mqtt_section_with_exit_78(tmp_path: Path) -> None:
    path = _write(tmp_path, {"host": "b", "username": "u", "password_file": "missing"})
    result = subprocess.run(edge_command("check-config", "-c", str(path), "--board", "sim"), capture_output=True,
                            text=True, timeout=60, env=subprocess_env())  # fmt: skip
    assert result.returncode == 78
    assert len(result.stderr.strip().splitlines()) == 1
    assert "mqtt.password_file: file not found" in result.stderr


def test_the_install_adds_the_mqtt_dropin_only_when_mqtt_is_on(tmp_path: Path) -> None:
    def files(mqtt_host: str | None) -> dict[str, str]:
        actions = plan_install(config_source=SHIPPED_CONFIG, exec_start="/x/edge run", groups=[],
                               create_user=False, mqtt_host=mqtt_host)  # fmt: skip
        return {str(a.path): a.text for a in actions if isinstance(a, WriteFile)}

    dropin_path = "/etc/systemd/system/edge.service.d/mqtt.conf"
    assert dropin_path not in files(None)
    service = parse_unit(files("192.168.1.10")[dropin_path])["Service"]
    assert service["PrivateNetwork"] == ["no"]
    assert service["RestrictAddressFamilies"] == ["", "AF_UNIX AF_INET AF_INET6"]
    assert service["IPAddressAllow"] == ["192.168.1.10"] and "IPAddressDeny" not in service
    named = parse_unit(render_mqtt_dropin(DROPIN.read_text(encoding="utf-8"), "broker.lan"))["Service"]
    assert named["IPAddressDeny"] == [""] and "IPAddressAllow" not in named


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install systemd)",
)
def test_systemd_analyze_rates_the_unit_with_the_mqtt_dropin(tmp_path: Path) -> None:
    unit_dir = tmp_path / "etc/systemd/system"
    (unit_dir / "edge.service.d").mkdir(parents=True)
    shutil.copy(REPO / "systemd" / "edge.service", unit_dir / "edge.service")
    (unit_dir / "edge.service.d" / "mqtt.conf").write_text(
        render_mqtt_dropin(DROPIN.read_text(encoding="utf-8"), "192.168.1.10"), encoding="utf-8"
    )
    with_mqtt = exposure_under_root(tmp_path)
    without = exposure(REPO / "systemd" / "edge.service")
    # docs/benchmarks.md reports 0.6 without, 1.4 with.
    assert without < with_mqtt <= 1.5, (without, with_mqtt)


def exposure_under_root(root: Path) -> float:
    import re

    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", "--no-pager", "edge.service"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    return float(match.group(1))
