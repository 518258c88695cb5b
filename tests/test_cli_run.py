"""``edge run`` as systemd runs it: a real process, a notify socket, SIGTERM, outputs back to safe."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env

FIXTURES = REPO / "tests" / "fixtures"
CLIPS = yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))["clips"]


def _clip(intent: str) -> Path:
    entry = next(c for c in CLIPS if c["intent"] == intent and c["snr_db"] is None and not c["one_breath"])
    return FIXTURES / entry["file"]


def test_sigterm_after_a_command_leaves_every_output_safe(tmp_path: Path) -> None:
    notify_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(60)
    status_file = tmp_path / "status.json"
    command = edge_command(
        "run", "-c", str(SHIPPED_CONFIG), "--board", "sim", "--input", str(_clip("light_on")),
        "--mock-gpio", "--events", "json", "--no-sounds", "--status-file", str(status_file),
    )  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=subprocess_env(NOTIFY_SOCKET=str(notify_path)),
    )  # fmt: skip
    try:
        assert "READY=1" in listener.recv(4096).decode().split("\n")
        assert process.stdout is not None
        action = None
        for line in process.stdout:
            event = json.loads(line)
            if event["type"] == "action":
                action = event
                break
        assert action is not None and action["device"] == "kitchen_light"
        # The daemon is still listening (the file's quiet tail is playing) with the light on.
        assert _wait_for_status(status_file, lambda s: s["devices"]["kitchen_light"]["on"])
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        messages = []
        listener.settimeout(1)
        while True:
            try:
                messages += listener.recv(4096).decode().split("\n")
            except TimeoutError:
                break
    finally:
        listener.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "STOPPING=1" in messages
    final = json.loads(status_file.read_text())
    assert final["state"] == "stopped"
    assert all(not state["on"] for state in final["devices"].values())
    assert "Traceback" not in stderr


def test_a_missing_input_file_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = subprocess.run(
        edge_command(
            "run", "-c", str(SHIPPED_CONFIG), "--board", "sim", "--input", str(tmp_path / "none.wav")
        ),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("edge: error: ") and "none.wav" in last
    assert "Traceback" not in result.stderr


def _wait_for_status(path: Path, condition: Callable[[dict[str, Any]], bool], timeout_s: float = 5) -> bool:
    """The daemon writes its status at most once a second: poll for the state we expect."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition(json.loads(path.read_text())):
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    return False
