"""The edge configuration: one YAML file read into frozen, validated dataclasses.

Validation is strict and happens before anything starts: unknown keys, wrong types, missing files, pins the
board lacks or reserves, two devices on one pin, PWM on a pin without it. Each error is one line naming the
file, the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from edge.devices.board import BoardProfile, load_board, resolve_board
from edge.errors import ConfigError
from edge.integrations.mqtt.config import MqttConfig, read_mqtt
from edge.integrations.web.settings import WebConfig, read_web
from edge.integrations.wyoming.settings import WyomingConfig, read_wyoming
from edge.resources import data_dir
from edge.runtime.speaker import VoiceConfig, read_voice
from edge.speech.settings import AsrConfig, EndpointConfig, WakeConfig, read_asr, read_endpoint, read_wake
from edge.yamlfields import Section, existing_file, load_yaml_mapping

DeviceKind = Literal["light", "fan"]
DEVICE_KINDS: tuple[str, ...] = ("light", "fan")
DEFAULT_CONFIG_PATHS = (Path("edge.yaml"), Path("/etc/edge/edge.yaml"))
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SPOKEN = re.compile(r"^[a-z][a-z ']*[a-z]$")


@dataclass(frozen=True)
class DeviceConfig:
    """One light or fan wired to a GPIO pin."""

    name: str  # identifier, e.g. "kitchen_light"
    kind: DeviceKind
    pwm: bool  # True: dimmable light / variable-speed fan on a PWM pin; False: on/off (relay)
    pin: str  # gpiozero pin name, e.g. "GPIO18"
    active_high: bool = True
    safe_state: Literal["off", "on"] = "off"  # where the output goes at start and on every exit
    aliases: tuple[str, ...] = ()  # other spoken names, lower-case
    room: str | None = None
    levels: Mapping[str, int] = field(default_factory=dict)  # fans: named speed -> percent
    step_percent: int = 25  # brighter/dimmer and faster/slower step
    pwm_frequency_hz: int = 100

    @property
    def spoken_names(self) -> tuple[str, ...]:
        """Names people say for this device: the identifier with spaces, then the aliases."""
        return (self.name.replace("_", " "), *self.aliases)


@dataclass(frozen=True)
class AudioConfig:
    """Microphone settings; ``None`` means the board's or the device's default."""

    device: str | int | None
    sample_rate_hz: int | None
    channels: int
    chunk_ms: int  # audio handed to the pipeline per step
    queue_chunks: int  # capture queue length; the oldest chunk is dropped when full
    noise_suppression: Literal["none", "command", "all"] = "none"  # speex: command window only, or wake too


@dataclass(frozen=True)
class IntentConfig:
    """Intent model, vocabulary and defaults."""

    model: Path
    vocabulary: Path
    threshold: float | None  # None: the calibrated threshold stored in the model
    default_devices: Mapping[str, str]  # kind -> device name


@dataclass(frozen=True)
class FeedbackConfig:
    """Sounds and status LED that tell a person they were heard."""

    sounds: bool
    status_led: str | None
    status_led_pwm: bool = False


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

    devices = _read_devices(top.section("devices"), board)
    feedback = _read_feedback(top.section("feedback"), board, devices)
    config = Config(
        source=path,
        board=board,
        devices=devices,
        audio=_read_audio(top.section("audio"), board),
        wake=read_wake(top.section("wake"), base_dir),
        asr=read_asr(top.section("asr"), base_dir),
        endpoint=read_endpoint(top.section("endpoint")),
        intent=_read_intent(top.section("intent"), base_dir, devices),
        feedback=feedback,
        web=read_web(top.section("web"), base_dir),
        voice=read_voice(top.section("voice"), base_dir),
        mqtt=read_mqtt(top.section("mqtt"), base_dir),
        wyoming=read_wyoming(top.section("wyoming")),
    )
    top.finish()
    return config


def _read_devices(section: Section, board: BoardProfile) -> tuple[DeviceConfig, ...]:
    if not section.data:
        raise ConfigError(section.source, "devices", "at least one device is required (a light or a fan)")
    devices: list[DeviceConfig] = []
    pins: dict[str, str] = {}
    spoken: dict[str, str] = {}
    for name in section.data:
        if not isinstance(name, str) or not _NAME.match(name):
            section.fail(
                str(name), "device names are lower-case letters, digits and '_', starting with a letter"
            )
        device = _read_device(section.section(name), name, board)
        if device.pin in pins:
            section.fail(f"{name}.pin", f"{device.pin} is already used by device {pins[device.pin]!r}")
        pins[device.pin] = name
        for spoken_name in device.spoken_names:
            if spoken_name in spoken:
                section.fail(
                    f"{name}.aliases", f"{spoken_name!r} already names device {spoken[spoken_name]!r}"
                )
            spoken[spoken_name] = name
        devices.append(device)
    section.finish()
    return tuple(devices)


def _read_device(section: Section, name: str, board: BoardProfile) -> DeviceConfig:
    kind = section.string("kind", choices=DEVICE_KINDS)
    pwm = section.boolean("pwm", False)
    pin = check_output_pin(section, "pin", board, pwm=pwm)
    aliases = tuple(
        _spoken(section, "aliases", alias, index)
        for index, alias in enumerate(section.string_list("aliases"))
    )
    room = section.string("room", None)
    if room is not None:
        room = _spoken(section, "room", room, None)
    levels: dict[str, int] = {}
    levels_section = section.section("levels")
    if levels_section.data and kind != "fan":
        section.fail("levels", "only fans have named speed levels")
    for level_name in levels_section.data:
        levels[str(level_name)] = levels_section.integer(str(level_name), low=1, high=100)
    levels_section.finish()
    if levels and not pwm:
        section.fail("levels", "named speed levels need a variable-speed fan (pwm: true)")
    device = DeviceConfig(
        name=name,
        kind=kind,
        pwm=pwm,
        pin=pin,
        active_high=section.boolean("active_high", True),
        safe_state=section.string("safe_state", "off", choices=("off", "on")),
        aliases=aliases,
        room=room,
        levels=MappingProxyType(levels),
        step_percent=section.integer("step_percent", 25, low=1, high=100),
        pwm_frequency_hz=section.integer("pwm_frequency_hz", 100, low=1, high=50_000),
    )
    section.finish()
    return device


def check_output_pin(section: Section, key: str, board: BoardProfile, *, pwm: bool) -> str:
    """Read a pin name and check the board has it, does not reserve it, and can do PWM if asked."""
    raw = section.raw(key)
    if isinstance(raw, int) and not isinstance(raw, bool):
        section.fail(key, f"write pins as gpiozero names, e.g. 'GPIO{raw}', not the number {raw}")
    pin = section.string(key)
    if pin in board.reserved:
        section.fail(key, f"pin {pin!r} is reserved on {board.name}: {board.reserved[pin]}")
    if pin not in board.gpio_pins:
        section.fail(key, f"unknown pin {pin!r} ({board.name} has {board.pin_range()})")
    if pwm and pin not in board.pwm_pins:
        section.fail(
            key, f"pin {pin!r} has no hardware PWM on {board.name} (PWM pins: {', '.join(board.pwm_pins)})"
        )
    return pin


def _spoken(section: Section, key: str, value: str, index: int | None) -> str:
    text = value.strip().lower()
    if not _SPOKEN.match(text):
        where = f"{key}[{index}]" if index is not None else key
        section.fail(
            where, f"{value!r} must be words as spoken: letters and spaces, no digits or punctuation"
        )
    return text


def _read_feedback(
    section: Section, board: BoardProfile, devices: tuple[DeviceConfig, ...]
) -> FeedbackConfig:
    led: str | None = None
    led_pwm = section.boolean("status_led_pwm", False)
    if section.raw("status_led", None) is not None:
        led = check_output_pin(section, "status_led", board, pwm=led_pwm)
        for device in devices:
            if device.pin == led:
                section.fail("status_led", f"{led} is already used by device {device.name!r}")
    feedback = FeedbackConfig(sounds=section.boolean("sounds", True), status_led=led, status_led_pwm=led_pwm)
    section.finish()
    return feedback


def _read_audio(section: Section, board: BoardProfile) -> AudioConfig:
    device = section.raw("device", None)
    if device is not None and (isinstance(device, bool) or not isinstance(device, str | int)):
        section.fail("device", f"expected a device name or index, got {device!r} (see `edge audio-devices`)")
    audio = AudioConfig(
        device=device,
        sample_rate_hz=section.integer("sample_rate_hz", board.audio.sample_rate_hz, low=8000, high=192_000),
        channels=section.integer("channels", board.audio.channels, low=1, high=32),
        chunk_ms=section.integer("chunk_ms", board.audio.chunk_ms, low=10, high=200),
        queue_chunks=section.integer("queue_chunks", board.audio.queue_chunks, low=2, high=10_000),
        noise_suppression=section.string("noise_suppression", "none", choices=("none", "command", "all")),
    )
    if audio.chunk_ms % 10:
        section.fail("chunk_ms", f"{audio.chunk_ms} must be a multiple of 10 ms (the wake word frame)")
    section.finish()
    return audio


def _read_intent(section: Section, base_dir: Path, devices: tuple[DeviceConfig, ...]) -> IntentConfig:
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
