"""The edge configuration: one YAML file read into frozen, validated dataclasses.

Each stage owns its section's dataclass and reader (``edge.devices.settings``, ``edge.speech.settings``,
``edge.speech.wake.settings``, ``edge.speech.asr.settings``, ``edge.understanding.settings``,
``edge.runtime.settings``, the integrations' settings); this module only composes them, and imports no
stage's runtime code.

Validation is strict and happens before anything starts: unknown keys, wrong types, missing files, pins the
board lacks or reserves, two devices on one pin, PWM on a pin without it. Each error is one line naming the
file, the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from edge.devices.board import BoardProfile, load_board, resolve_board
from edge.devices.settings import DeviceConfig, read_devices
from edge.integrations.mqtt.config import MqttConfig, read_mqtt
from edge.integrations.web.settings import WebConfig, read_web
from edge.integrations.wyoming.settings import WyomingConfig, read_wyoming
from edge.runtime.settings import FeedbackConfig, VoiceConfig, read_feedback, read_voice
from edge.speech.asr.settings import AsrConfig, read_asr
from edge.speech.settings import AudioConfig, EndpointConfig, read_audio, read_endpoint
from edge.speech.wake.settings import WakeConfig, read_wake
from edge.understanding.settings import IntentConfig, read_intent
from edge.yamlfields import Section, load_yaml_mapping

DEFAULT_CONFIG_PATHS = (Path("edge.yaml"), Path("/etc/edge/edge.yaml"))


@dataclass(frozen=True)
class Config:
    """The whole, validated configuration."""

    source: Path
    board: BoardProfile
    devices: tuple[DeviceConfig, ...]
    audio: AudioConfig
    wake: WakeConfig
    asr: AsrConfig
    endpoint: EndpointConfig
    intent: IntentConfig
    feedback: FeedbackConfig
    web: WebConfig | None = None  # the classroom live view; None: off
    voice: VoiceConfig = field(default_factory=VoiceConfig)  # spoken replies
    mqtt: MqttConfig | None = None  # None: no network at all
    wyoming: WyomingConfig | None = None  # Home Assistant's voice protocol; None: off

    def device(self, name: str) -> DeviceConfig:
        """Return the device called ``name`` (KeyError if none)."""
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(name)


def find_config_path(explicit: str | None) -> Path:
    """Return the config file to use: the argument, ``$EDGE_CONFIG``, ./edge.yaml or /etc/edge/edge.yaml."""
    if explicit:
        return Path(explicit)
    if os.environ.get("EDGE_CONFIG"):
        return Path(os.environ["EDGE_CONFIG"])
    for candidate in DEFAULT_CONFIG_PATHS:
        if candidate.is_file():
            return candidate
    return DEFAULT_CONFIG_PATHS[0]


def load_config(path: Path, board_override: str | None = None) -> Config:
    """Read and validate the configuration file at ``path``."""
    source = str(path)
    top = Section(source, "", load_yaml_mapping(path))
    top.expect_keys(
        (
            "board",
            "devices",
            "audio",
            "wake",
            "asr",
            "endpoint",
            "intent",
            "feedback",
            "web",
            "voice",
            "mqtt",
            "wyoming",
        )
    )
    base_dir = path.resolve().parent

    board_section = top.section("board")
    configured = board_section.string("name", "auto")
    if configured != "auto":
        load_board(configured, source=source, key="board.name")  # a bad name is an error even when overridden
    if board_override:
        board = resolve_board(board_override, source="command line", key="--board")
    else:
        board = resolve_board(configured, source=source, key="board.name")
    board = board.with_reserved_groups(board_section.string_list("reserve"), source, "board.reserve")
    board_section.finish()

    devices = read_devices(top.section("devices"), board)
    feedback = read_feedback(top.section("feedback"), board, devices)
    config = Config(
        source=path,
        board=board,
        devices=devices,
        audio=read_audio(top.section("audio"), board),
        wake=read_wake(top.section("wake"), base_dir),
        asr=read_asr(top.section("asr"), base_dir),
        endpoint=read_endpoint(top.section("endpoint")),
        intent=read_intent(top.section("intent"), base_dir, devices),
        feedback=feedback,
        web=read_web(top.section("web"), base_dir),
        voice=read_voice(top.section("voice"), base_dir),
        mqtt=read_mqtt(top.section("mqtt"), base_dir),
        wyoming=read_wyoming(top.section("wyoming")),
    )
    top.finish()
    return config
