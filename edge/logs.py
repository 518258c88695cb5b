"""Logging for people and for journald: one line per transition, priorities journald understands."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from edge.runtime import notify


class JournalFormatter(logging.Formatter):
    """``<priority>name: message`` lines: journald reads the priority and adds its own timestamp."""

    _PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))

    def format(self, record: logging.LogRecord) -> str:
        """Prefix every line of the record with its syslog priority."""
        priority = next((p for level, p in self._PRIORITIES if record.levelno >= level), 7)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def configure(level: int, stream: TextIO | None = None) -> None:
    """Log to stderr: under journald, priority prefixes and no timestamps; otherwise timestamped lines."""
    stream = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    formatter: logging.Formatter
    if notify.stream_is_journal(stream):
        formatter = JournalFormatter("%(name)s: %(message)s")
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
