"""Board profiles: which GPIO pins a board has, which can do PWM, which are reserved, audio defaults."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edge.errors import ConfigError
from edge.resources import data_dir

log = logging.getLogger(__name__)

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")


@dataclass(frozen=True)
class BoardAudio:
    """Audio defaults of a board; ``None`` means the input device's own default."""

    sample_rate_hz: int | None
    channels: int
    chunk_ms: int
    queue_chunks: int


@dataclass(frozen=True)
class BoardProfile:
    """One board: its usable pins, PWM pins, reserved pins and defaults."""

    name: str
    description: str
    model_match: tuple[str, ...]
    revision: str
    pin_factory: str
    gpio_pins: tuple[str, ...]
    pwm_pins: tuple[str, ...]
    reserved: Mapping[str, str]
    reserve_groups: Mapping[str, tuple[str, ...]]
    audio: BoardAudio
    source: Path
    memory_budget_mb: int | None = None  # peak RSS edge may take here (the OS and the rest need the others)

    def pin_range(self) -> str:
        """Describe the usable pins briefly, e.g. ``GPIO2..GPIO27``."""
        return f"{self.gpio_pins[0]}..{self.gpio_pins[-1]}" if self.gpio_pins else "no pins"

    def with_reserved_groups(self, groups: tuple[str, ...], source: str, key: str) -> BoardProfile:
        """Return a copy that also reserves the named pin groups (e.g. ``i2s`` for a microphone HAT)."""
        reserved = dict(self.reserved)
        for index, group in enumerate(groups):
            if group not in self.reserve_groups:
                allowed = ", ".join(sorted(self.reserve_groups)) or "none"
                raise ConfigError(
                    source, f"{key}[{index}]", f"unknown pin group {group!r} (allowed: {allowed})"
                )
            for pin in self.reserve_groups[group]:
                reserved.setdefault(pin, f"reserved for {group}")
        return BoardProfile(**{**self.__dict__, "reserved": reserved})


def board_names() -> list[str]:
    """Return the names of the shipped board profiles."""
    return sorted(path.stem for path in data_dir("boards").glob("*.yaml"))


def load_board(name: str, *, source: str = "--board", key: str = "board") -> BoardProfile:
    """Load a shipped board profile by name; an unknown name lists the known ones."""
    path = data_dir("boards") / f"{name}.yaml"
    if not name or "/" in name or not path.is_file():
        raise ConfigError(source, key, f"unknown board {name!r} (known: {', '.join(board_names())}, auto)")
    return _parse_board(path)


def detect_board(model_file: Path = DEVICE_TREE_MODEL) -> BoardProfile | None:
    """Pick the profile whose ``model_match`` appears in the device-tree model string, if any."""
    try:
        model = model_file.read_text(encoding="utf-8", errors="replace").rstrip("\x00\n")
    except OSError:
        return None
    for name in board_names():
        profile = load_board(name)
        if any(match in model for match in profile.model_match):
            log.info("board: %s (detected from %r)", profile.name, model)
            return profile
    log.warning("board: no profile matches %r; using sim (set board.name to override)", model)
    return None


def resolve_board(name: str, *, source: str, key: str, model_file: Path = DEVICE_TREE_MODEL) -> BoardProfile:
    """Return the named profile, or for ``auto`` the detected one, falling back to ``sim`` off a Pi."""
    if name != "auto":
        return load_board(name, source=source, key=key)
    return detect_board(model_file) or load_board("sim")


def _budget(memory: dict[str, Any]) -> int | None:
    budget = memory.get("budget_mb")
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise ValueError(f"memory.budget_mb must be a positive whole number of MB, not {budget!r}")
    return int(budget)


def _parse_board(path: Path) -> BoardProfile:
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(source, "", f"invalid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "a board profile must be a mapping")
    try:
        audio: dict[str, Any] = raw.get("audio") or {}
        profile = BoardProfile(
            name=str(raw["name"]),
            description=str(raw["description"]),
            model_match=tuple(str(m) for m in raw.get("model_match") or ()),
            revision=str(raw["revision"]),
            pin_factory=str(raw["pin_factory"]),
            gpio_pins=tuple(raw["gpio_pins"]),
            pwm_pins=tuple(raw.get("pwm_pins") or ()),
            reserved={str(k): str(v) for k, v in (raw.get("reserved") or {}).items()},
            reserve_groups={str(k): tuple(v) for k, v in (raw.get("reserve_groups") or {}).items()},
            audio=BoardAudio(
                sample_rate_hz=audio.get("sample_rate_hz"),
                channels=int(audio.get("channels", 1)),
                chunk_ms=int(audio.get("chunk_ms", 20)),
                queue_chunks=int(audio.get("queue_chunks", 750)),
            ),
            source=path,
            memory_budget_mb=_budget(raw.get("memory") or {}),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(source, "", f"malformed board profile: {err}") from None
    if profile.pin_factory not in PIN_FACTORIES:
        raise ConfigError(
            source, "pin_factory", f"{profile.pin_factory!r} is not one of {', '.join(PIN_FACTORIES)}"
        )
    return profile
