"""Paths and helpers shared by the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = REPO / "edge.yaml"


def edge_command(*args: str) -> list[str]:
    """The argv that runs the real ``edge`` CLI in a subprocess with this interpreter."""
    return [sys.executable, "-m", "edge", *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: no stray EDGE_CONFIG, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k != "EDGE_CONFIG"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
