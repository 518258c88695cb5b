"""sd_notify over a real AF_UNIX datagram socket, the watchdog interval, and journald-friendly logging."""

from __future__ import annotations

import io
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.logs import configure as configure_logging
from edge.runtime import notify


@pytest.fixture
def notify_socket(tmp_path, monkeypatch) -> Iterator[socket.socket]:
    """A datagram socket standing where systemd's /run/systemd/notify would be."""
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        yield server


def test_ready_watchdog_stopping_and_status_arrive_as_datagrams(notify_socket) -> None:
    assert notify.ready("listening")
    assert notify.watchdog()
    assert notify.status("waiting for audio:\nmicrophone gone")
    assert notify.stopping()
    received = [notify_socket.recv(4096).decode() for _ in range(4)]
    assert received == [
        "READY=1\nSTATUS=listening",
        "WATCHDOG=1",
        "STATUS=waiting for audio: microphone gone",  # a newline would have started a new field
        "STOPPING=1",
    ]


def test_abstract_socket_names_start_with_at(monkeypatch) -> None:
    name = f"edge-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify.ready()
        assert server.recv(4096) == b"READY=1"


def test_without_systemd_nothing_is_sent(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.ready() is False


def test_a_vanished_socket_is_reported_not_raised(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert notify.watchdog() is False
    assert "cannot reach the service manager" in caplog.text


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [("30000000", None, 15.0), ("30000000", "self", 15.0), ("30000000", "other", None), ("0", None, None)],
)
def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch, usec, pid, expected) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is None:
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
    else:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() if pid == "self" else os.getpid() + 1))
    assert notify.watchdog_interval_s() == expected


def test_watchdog_is_off_outside_systemd(monkeypatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert notify.watchdog_interval_s() is None


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with pytest's own handlers and level put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_journal_logging_has_priorities_and_no_timestamps(tmp_path, monkeypatch, root_logger) -> None:
    with open(tmp_path / "journal", "w+", encoding="utf-8") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        configure_logging(logging.INFO, stream)
        logging.getLogger("edge.speech.wake.engines").info("wake: %s score=%.2f", "hey_jarvis", 0.91)
        logging.getLogger("edge.speech.audio").warning("audio: 3 chunks dropped")
        stream.seek(0)
        assert stream.read().splitlines() == [
            "<6>edge.speech.wake.engines: wake: hey_jarvis score=0.91",
            "<4>edge.speech.audio: audio: 3 chunks dropped",
        ]


def test_a_terminal_gets_timestamps_even_with_an_inherited_journal_stream(monkeypatch, root_logger) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")  # inherited from a parent: not this stream
    stream = io.StringIO()
    configure_logging(logging.INFO, stream)
    logging.getLogger("edge.runtime.daemon").info("daemon: ready")
    line = stream.getvalue().strip()
    assert line.endswith("INFO edge.runtime.daemon: daemon: ready") and line[:4].isdigit()


def test_a_manager_that_stops_reading_never_blocks_the_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        started = time.monotonic()
        results = [notify.watchdog() for _ in range(500)]  # far more than a datagram queue holds
        assert time.monotonic() - started < 5
        assert results[0] is True and results[-1] is False
    finally:
        receiver.close()
