"""`edge service install` with the web view on: the drop-in opens TCP for it, and nothing more."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.cli import main

from .support import SHIPPED_CONFIG

DROPIN = Path("etc/systemd/system/edge.service.d/web.conf")
has_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (apt-get install systemd)"
)


def _install(tmp_path: Path, web_yaml: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "edge.yaml"
    config.write_text(SHIPPED_CONFIG.read_text(encoding="utf-8") + "\n" + web_yaml, encoding="utf-8")
    root = tmp_path / "root"
    assert (
        main(["service", "install", "--root", str(root), "--no-start", "-c", str(config), "--board", "sim"])
        == 0
    )
    return root


def _exposure(root: Path) -> float:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", f"--root={root}", "edge.service"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for edge\.service: (\d+\.\d+)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def test_without_the_view_there_is_no_drop_in(tmp_path: Path) -> None:
    root = _install(tmp_path, "")
    assert not (root / DROPIN).exists()


def test_a_localhost_view_only_lets_localhost_in(tmp_path: Path) -> None:
    text = (_install(tmp_path, "web:\n  listen: 127.0.0.1:8080\n") / DROPIN).read_text()
    assert "PrivateNetwork=no" in text
    assert "\nIPAddressAllow=localhost\n" in text


def test_a_classroom_view_lets_in_the_local_network_only(tmp_path: Path) -> None:
    text = (
        _install(tmp_path, "web:\n  listen: 0.0.0.0:8080\n  token: a-long-classroom-token\n") / DROPIN
    ).read_text()
    allowed = re.search(r"^IPAddressAllow=(.*)$", text, re.MULTILINE)
    assert allowed and allowed.group(1).split() == [
        "localhost", "link-local", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
    ]  # fmt: skip


@has_analyze
def test_systemd_analyze_rates_the_unit_with_and_without_the_view(tmp_path: Path) -> None:
    assert _exposure(_install(tmp_path / "off", "")) == 0.6
    assert _exposure(_install(tmp_path / "on", "web:\n  listen: 127.0.0.1:8080\n")) <= 1.3


def test_turning_the_view_off_removes_the_drop_in_on_the_next_install(tmp_path: Path) -> None:
    """An old web.conf would keep the network open after the user turned the view off."""
    root = _install(tmp_path, "web:\n  listen: 127.0.0.1:8080\n")
    assert (root / DROPIN).exists()
    assert not (_install(tmp_path, "") / DROPIN).exists()
