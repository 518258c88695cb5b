"""Settings of understanding (the ``intent`` section of edge.yaml): the intent model, vocabulary and defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from edge.devices.settings import DEVICE_KINDS, DeviceConfig
from edge.resources import data_dir
from edge.yamlfields import Section, existing_file


@dataclass(frozen=True)
class IntentConfig:
    """Intent model, vocabulary and defaults."""

    model: Path
    vocabulary: Path
    threshold: float | None  # None: the calibrated threshold stored in the model
    default_devices: Mapping[str, str]  # kind -> device name


class TranscriptTrust(Protocol):
    """How sure the recognizer must be before a command is acted on (the ``asr`` section has it)."""

    @property
    def min_certainty(self) -> float: ...

    @property
    def min_avg_logprob(self) -> float: ...


class UnderstandingSettings(Protocol):
    """What understanding needs of the whole config (``edge.config.Config`` has it)."""

    @property
    def devices(self) -> tuple[DeviceConfig, ...]: ...

    @property
    def intent(self) -> IntentConfig: ...

    @property
    def asr(self) -> TranscriptTrust: ...


def read_intent(section: Section, base_dir: Path, devices: tuple[DeviceConfig, ...]) -> IntentConfig:
    """The ``intent`` section: model and vocabulary files, threshold, a default device per kind."""
    models = data_dir("models")
    defaults_section = section.section("default_devices")
    defaults: dict[str, str] = {}
    names = {device.name: device for device in devices}
    for kind in defaults_section.data:
        if kind not in DEVICE_KINDS:
            defaults_section.fail(str(kind), f"unknown device kind (allowed: {', '.join(DEVICE_KINDS)})")
        target = defaults_section.string(str(kind))
        if target not in names:
            defaults_section.fail(str(kind), f"no device named {target!r} (devices: {', '.join(names)})")
        if names[target].kind != kind:
            defaults_section.fail(str(kind), f"device {target!r} is a {names[target].kind}, not a {kind}")
        defaults[str(kind)] = target
    defaults_section.finish()
    intent = IntentConfig(
        model=existing_file(section, "model", base_dir, models / "intent.tflite"),
        vocabulary=existing_file(section, "vocabulary", base_dir, models / "intents.yaml"),
        threshold=section.number("threshold", None, low=0.0, high=1.0),
        default_devices=MappingProxyType(defaults),
    )
    section.finish()
    return intent
