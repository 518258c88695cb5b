"""The systemd unit: required keys, a hardening score from systemd-analyze, and `edge service install`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.cli import main
from edge.errors import UsageError
from edge.runtime.service import (
    RunCommand,
    WriteFile,
    apply,
    check_reachable,
    exec_start_command,
    plan_install,
    render_unit,
    unit_template,
)

from .support import REPO, SHIPPED_CONFIG

UNIT = REPO / "systemd" / "edge.service"
MAX_EXPOSURE = 2.0
SIM = ["-c", str(SHIPPED_CONFIG), "--board", "sim"]


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value given (systemd allows a key many times)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def exposure(unit: Path) -> float:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def test_the_unit_has_the_required_keys() -> None:
    unit = parse_unit(UNIT.read_text(encoding="utf-8"))
    service = unit["Service"]
    required = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "30",
        "User": "edge",
        "SupplementaryGroups": "gpio audio",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "78",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateNetwork": "yes",
        "DevicePolicy": "closed",
        "RestrictAddressFamilies": "AF_UNIX",
        "CapabilityBoundingSet": "",
        "LockPersonality": "yes",
        "RestrictNamespaces": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "RuntimeDirectory": "edge",
    }
    for key, value in required.items():
        assert service.get(key) == [value], key
    assert "@system-service" in service["SystemCallFilter"]
    assert {"char-gpiochip rw", "/dev/gpiomem rw", "char-alsa rw"} <= set(service["DeviceAllow"])
    # cffi's callback closures (sounddevice's PortAudio callback) need writable executable memory.
    assert "MemoryDenyWriteExecute" not in service
    assert service["ExecStart"][0].split()[1:] == ["run", "--config", "/etc/edge/edge.yaml"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install systemd)",
)
def test_systemd_analyze_rates_the_unit_safe(tmp_path) -> None:
    assert exposure(UNIT) <= MAX_EXPOSURE
    # The unit as installed on a machine without a gpio group rates the same or better.
    installed = tmp_path / "edge.service"
    installed.write_text(render_unit(unit_template(), "/opt/edge/venv/bin/edge run", ["audio"]))
    assert exposure(installed) <= MAX_EXPOSURE


def test_render_sets_exec_start_and_drops_missing_groups() -> None:
    rendered = parse_unit(render_unit(unit_template(), "/opt/edge/venv/bin/edge run", []))["Service"]
    assert rendered["ExecStart"] == ["/opt/edge/venv/bin/edge run"]
    assert "SupplementaryGroups" not in rendered
    assert parse_unit(render_unit(unit_template(), "x", ["audio"]))["Service"]["SupplementaryGroups"] == [
        "audio"
    ]


def test_exec_start_uses_this_interpreters_edge(tmp_path) -> None:
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    assert exec_start_command(python) == f"{python} -m edge run --config /etc/edge/edge.yaml"
    (python.parent / "edge").touch()
    assert exec_start_command(python) == f"{python.parent / 'edge'} run --config /etc/edge/edge.yaml"


def test_the_plan_creates_the_user_writes_files_then_enables() -> None:
    actions = plan_install(
        config_source=SHIPPED_CONFIG,
        exec_start="/opt/edge/venv/bin/edge run",
        groups=["gpio"],
        create_user=True,
    )
    assert actions[0] == RunCommand(
        (
            "useradd",
            "--system",
            "--user-group",
            "--home-dir",
            "/var/lib/edge",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "edge voice control",
            "--groups",
            "gpio",
            "edge",
        )
    )
    assert [a.path for a in actions if isinstance(a, WriteFile)] == [
        Path("/etc/systemd/system/edge.service"),
        Path("/etc/edge/edge.yaml"),
    ]
    assert [a.argv for a in actions if isinstance(a, RunCommand)][1:] == [
        ("systemctl", "daemon-reload"),
        ("systemctl", "enable", "--now", "edge.service"),
    ]


def test_apply_under_a_root_writes_files_keeps_a_config_and_runs_nothing(tmp_path) -> None:
    (tmp_path / "etc/edge").mkdir(parents=True)
    (tmp_path / "etc/edge/edge.yaml").write_text("# the person's own config\n")
    actions = plan_install(
        config_source=SHIPPED_CONFIG, exec_start="/opt/edge/venv/bin/edge run", groups=[], create_user=True
    )
    ran: list[tuple[str, ...]] = []
    done = apply(actions, root=tmp_path, run=lambda argv: ran.append(tuple(argv)))
    assert ran == []
    unit = tmp_path / "etc/systemd/system/edge.service"
    assert parse_unit(unit.read_text())["Service"]["ExecStart"] == ["/opt/edge/venv/bin/edge run"]
    assert unit.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "etc/edge/edge.yaml").read_text() == "# the person's own config\n"
    assert done[0].startswith("skip (installing under --root): useradd --system")
    assert f"keep {tmp_path}/etc/edge/edge.yaml (already there)" in done


def test_a_virtual_environment_in_a_home_directory_is_refused() -> None:
    with pytest.raises(UsageError, match=r"/home/pi/edge/.venv/bin/python is under /home"):
        check_reachable([Path("/opt/edge/venv/lib"), Path("/home/pi/edge/.venv/bin/python")])


def test_cli_dry_run_prints_the_actions_and_changes_nothing(capsys) -> None:
    assert main(["service", "install", "--dry-run", *SIM]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("write /etc/systemd/system/edge.service") for line in out)
    assert out[-2:] == ["run systemctl daemon-reload", "run systemctl enable --now edge.service"]


def test_cli_install_into_a_root_directory(tmp_path, capsys) -> None:
    assert main(["service", "install", "--root", str(tmp_path), "--no-start", *SIM]) == 0
    assert (tmp_path / "etc/edge/edge.yaml").read_text() == SHIPPED_CONFIG.read_text()
    exec_start = parse_unit((tmp_path / "etc/systemd/system/edge.service").read_text())["Service"][
        "ExecStart"
    ]
    assert exec_start[0].endswith(" run --config /etc/edge/edge.yaml")
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == "skip (installing under --root): systemctl enable edge.service"
    )


def test_cli_rejects_a_broken_config_before_installing(tmp_path) -> None:
    broken = tmp_path / "edge.yaml"
    broken.write_text(SHIPPED_CONFIG.read_text().replace("pin: GPIO13", "pin: GPIO99"))
    assert (
        main(["service", "install", "--root", str(tmp_path / "root"), "-c", str(broken), "--board", "sim"])
        == 78
    )
    assert not (tmp_path / "root").exists()


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install systemd)",
)
def test_systemd_knows_every_key_of_the_installed_unit(tmp_path) -> None:
    installed = tmp_path / "edge.service"
    installed.write_text(render_unit(unit_template(), f"{shutil.which('true')} run", ["audio"]))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(installed)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in result.stderr.splitlines() if "edge.service:" in line]
    assert complaints == []
