"""Shared fixtures: the repo paths, gpiozero's mock pin factory, the shipped config on the sim board."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge.config import Config, load_config

from .mqtt_support import broker  # noqa: F401 (a fixture: a real Mosquitto for the MQTT tests)
from .support import SHIPPED_CONFIG


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
