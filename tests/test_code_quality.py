"""The linter and the type checker run as part of the suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys

from .support import REPO


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_ruff_finds_nothing() -> None:
    result = run_tool("ruff", "check", "edge", "tests", "bench", "docs")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = run_tool("ruff", "format", "--check", "edge", "tests", "bench", "docs")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    result = run_tool("mypy", "edge", "docs")
    assert result.returncode == 0, result.stdout + result.stderr
