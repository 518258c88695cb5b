"""Shared fixtures: the repo paths, gpiozero's mock pin factory, the shipped config on the sim board."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge.config import Config, load_config

from .mqtt_support import broker  # noqa: F401 (a fixture: a real Mosquitto for the MQTT tests)
from .support import SHIPPED_CONFIG


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    """Put the root logger back after each test.

    An in-process ``edge.cli.main`` points the root logger at that test's captured stderr; without this, a
    later test's daemon thread logs into the closed stream and pytest prints "--- Logging error ---".
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def pin_factory() -> MockFactory:
    """gpiozero's own mock backend with PWM-capable pins, injected (never the global factory)."""
    factory = MockFactory(revision="c03111", pin_class=MockPWMPin)
    yield factory
    factory.reset()


@pytest.fixture
def shipped_config() -> Config:
    """The example config that ships at the repo root, on the sim board."""
    return load_config(SHIPPED_CONFIG, board_override="sim")
