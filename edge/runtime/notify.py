"""systemd's notify protocol (sd_notify) in a few lines: datagrams to ``$NOTIFY_SOCKET``, no dependency.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op, so the daemon runs the same in a terminal.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import TextIO

log = logging.getLogger(__name__)


def notify(*fields: str) -> bool:
    """Send ``KEY=value`` lines to the service manager; return False when there is none or it failed."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        # An abstract socket: the name starts with a NUL byte instead of the '@' systemd prints.
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        log.warning("notify: ignoring NOTIFY_SOCKET=%r (neither a path nor an abstract '@' name)", address)
        return False
    message = "\n".join(fields).encode("utf-8")
    try:
        # Non-blocking: a service manager that stops reading must never stall the pipeline thread.
        with socket.socket(
            socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        ) as sock:
            sock.sendto(message, address)
    except OSError as err:
        log.warning("notify: cannot reach the service manager at %s: %s", address.lstrip("\0"), err)
        return False
    return True


def ready(status: str | None = None) -> bool:
    """Tell systemd start-up is complete (models loaded, devices built): ``Type=notify`` units start now."""
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def watchdog() -> bool:
    """Tell systemd the main loop is alive; without it for ``WatchdogSec=`` the service is restarted."""
    return notify("WATCHDOG=1")


def stopping(status: str | None = None) -> bool:
    """Tell systemd the service is shutting down on purpose."""
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []))


def status(text: str) -> bool:
    """Set the one-line status ``systemctl status`` shows."""
    # A newline would start a new field of the protocol.
    return notify("STATUS=" + " ".join(text.split()))


def watchdog_interval_s() -> float | None:
    """Return how often to ping the watchdog (half of ``WATCHDOG_USEC``), or None when it is off."""
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None  # the watchdog belongs to another process (e.g. our parent)
    return usec / 2 / 1_000_000


def stream_is_journal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stderr) is connected to journald, per ``$JOURNAL_STREAM``.

    The variable is inherited by child processes, so it only counts when its device and inode match the
    stream's own file, as systemd documents.
    """
    value = os.environ.get("JOURNAL_STREAM", "")
    if not value:
        return False
    stream = stream if stream is not None else sys.stderr
    try:
        device, inode = (int(part) for part in value.split(":"))
        info = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)
