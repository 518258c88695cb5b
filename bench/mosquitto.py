"""A real Mosquitto on a random localhost port, with a password file and anonymous access off.

Used by the MQTT tests and ``bench.mqtt_fleet``; it needs Debian's ``mosquitto`` and ``mosquitto-clients``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

USERNAME = "edge"
PASSWORD = "classroom-secret"
MOSQUITTO_PATHS = ("mosquitto", "/usr/sbin/mosquitto")


def find_mosquitto() -> str | None:
    """The mosquitto binary, or None when it is not installed."""
    for candidate in MOSQUITTO_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """One broker process; ``start``/``stop`` can be repeated on the same port (a broker restart)."""

    def __init__(self, directory: Path, port: int | None = None, *, log_publishes: bool = False) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)")
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.password_file = directory / "edge-password"  # what edge.yaml's password_file names
        self.password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        passwd = directory / "mosquitto.passwd"
        passwd.touch(mode=0o600)
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwd), USERNAME, PASSWORD], check=True, capture_output=True
        )
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            "persistence false",
            "max_queued_messages 10000",
            "log_dest stderr",
            # Started as root, mosquitto would switch to user 'mosquitto', who cannot read this directory.
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
        ]
        if log_publishes:
            # Every PUBLISH the broker receives, for tests that must show a message reached the broker whether
            # or not a subscriber happened to be connected at that moment.
            lines.append("log_type all")
        self.config_file = directory / "mosquitto.conf"
        self.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.log_path = directory / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        """Start the broker and wait until it accepts connections."""
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_file)], stdout=log_file, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_path.read_text(errors='replace')[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout_s} s")

    def publishes(self, client_id: str, topic: str) -> int:
        """How many PUBLISHes on ``topic`` the broker's log shows from ``client_id`` (needs log_publishes)."""
        sender = f"Received PUBLISH from {client_id} "
        log_text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return sum(sender in line and f"'{topic}'" in line for line in log_text.splitlines())

    def stop(self) -> None:
        """Stop the broker (its retained messages go with it: persistence is off)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def config_section(self, base_topic: str, client_id: str) -> dict[str, object]:
        """The ``mqtt:`` section an edge.yaml needs to reach this broker."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "username": USERNAME,
            "password_file": str(self.password_file),
            "client_id": client_id,
            "base_topic": base_topic,
        }
