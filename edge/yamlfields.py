"""Strict reading of YAML mappings: every error names the file, the key path, the value and what is allowed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from edge.errors import ConfigError

_MISSING: Any = object()


@dataclass
class KeyRead:
    """What a reader asked of one key: the value kind, its default and what it allows (for the docs)."""

    path: str  # dotted key path, e.g. "endpoint.silence_ms"
    kind: str  # string, boolean, integer, number, list of strings, section, file, directory, value
    required: bool
    default: Any = None
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None


# Set only while docs/make_configuration.py records which keys the readers ask for; None otherwise.
_recorded: ContextVar[dict[str, KeyRead] | None] = ContextVar("edge_recorded_reads", default=None)


@contextlib.contextmanager
def recording_reads() -> Iterator[dict[str, KeyRead]]:
    """Collect every key the config readers ask for while the block runs (the configuration reference)."""
    reads: dict[str, KeyRead] = {}
    token = _recorded.set(reads)
    try:
        yield reads
    finally:
        _recorded.reset(token)


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; syntax errors give file, line and column."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(source, "", f"cannot read file: {err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(source, "", f"invalid YAML: {where}{err.problem}") from None
    except yaml.YAMLError as err:
        # ReaderError and friends format over several lines; the message must stay one line.
        raise ConfigError(source, "", f"invalid YAML: {' '.join(str(err).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(source, "", f"the top level must be a mapping of keys, not {_kind(data)}")
    return data


class Section:
    """A mapping read key by key; ``finish()`` rejects the keys nobody asked for."""

    def __init__(self, source: str, path: str, data: Any) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(
                source, path or "(top level)", f"expected a mapping, got {_kind(data)} {data!r}"
            )
        self.source = source
        self.path = path
        self.data = data
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        """Return the dotted key path of ``name`` inside this section."""
        return f"{self.path}.{name}" if self.path else name

    def note(self, name: str, kind: str, default: Any = _MISSING, **allowed: Any) -> None:
        """Record the read of ``name`` while ``recording_reads`` runs; a later, more specific read wins."""
        reads = _recorded.get()
        if reads is None:
            return
        path = self.key(name)
        if kind == "value" and path in reads:
            return
        required = default is _MISSING
        reads[path] = KeyRead(path, kind, required, None if required else default, **allowed)

    def fail(self, name: str, message: str) -> NoReturn:
        """Raise a ConfigError for key ``name`` of this section."""
        raise ConfigError(self.source, self.key(name), message)

    def has(self, name: str) -> bool:
        """Tell whether the key is present (and mark it as known)."""
        self.note(name, "value", None)
        self._seen.add(name)
        return name in self.data

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        """Return the raw value, or the default; a missing key with no default is an error."""
        self.note(name, "value", default)
        self._seen.add(name)
        if name not in self.data:
            if default is _MISSING:
                self.fail(name, "required key is missing")
            return default
        return self.data[name]

    def section(self, name: str) -> Section:
        """Return the nested mapping ``name`` (empty when absent)."""
        self.note(name, "section", None)
        return Section(self.source, self.key(name), self.raw(name, None))

    def string(self, name: str, default: Any = _MISSING, *, choices: Sequence[str] | None = None) -> Any:
        """Return a string value, optionally one of ``choices``."""
        self.note(name, "string", default, choices=tuple(choices) if choices is not None else None)
        value = self.raw(name, default)
        if value is None and default is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"expected a non-empty string, got {_kind(value)} {value!r}")
        if choices is not None and value not in choices:
            self.fail(name, f"{value!r} is not allowed (allowed: {', '.join(choices)})")
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        """Return a true/false value (YAML booleans only, not strings)."""
        self.note(name, "boolean", default)
        value = self.raw(name, default)
        if not isinstance(value, bool):
            self.fail(name, f"expected true or false, got {_kind(value)} {value!r}")
        return value

    def integer(
        self, name: str, default: Any = _MISSING, *, low: int | None = None, high: int | None = None
    ) -> Any:
        """Return an integer within ``[low, high]``."""
        self.note(name, "integer", default, low=low, high=high)
        value = self.raw(name, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"expected a whole number{_range(low, high)}, got {_kind(value)} {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(name, f"{value} is out of range{_range(low, high)}")
        return value

    def number(
        self, name: str, default: Any = _MISSING, *, low: float | None = None, high: float | None = None
    ) -> Any:
        """Return a float within ``[low, high]``."""
        self.note(name, "number", default, low=low, high=high)
        value = self.raw(name, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(name, f"expected a number{_range(low, high)}, got {_kind(value)} {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(name, f"{value} is out of range{_range(low, high)}")
        return float(value)

    def string_list(self, name: str) -> tuple[str, ...]:
        """Return a list of non-empty strings (a single string is not accepted)."""
        self.note(name, "list of strings", [])
        value = self.raw(name, [])
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(name, f"expected a list of strings, got {_kind(value)} {value!r}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(
                    self.source, f"{self.key(name)}[{index}]", f"expected a non-empty string, got {item!r}"
                )
        return tuple(value)

    def expect_keys(self, names: Sequence[str]) -> None:
        """Reject unknown keys up front, so a misspelt section is named before its absence is."""
        for key in self.data:
            if key not in names:
                self.fail(str(key), f"unknown key (allowed here: {', '.join(sorted(names))})")

    def finish(self) -> None:
        """Reject keys that were never read: they are typos or options this version lacks."""
        unknown = [key for key in self.data if key not in self._seen]
        if unknown:
            allowed = ", ".join(sorted(self._seen)) or "no keys"
            self.fail(str(unknown[0]), f"unknown key (allowed here: {allowed})")


def _kind(value: Any) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }
    return "nothing" if value is None else names.get(type(value), type(value).__name__)


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    return ""


def _optional_path(
    section: Section, key: str, base_dir: Path, *, directory: bool, hint: str = ""
) -> Path | None:
    value = section.string(key, None)
    section.note(key, "directory" if directory else "file", None)
    if value is None:
        return None
    path = base_dir / Path(value).expanduser()
    if not (path.is_dir() if directory else path.is_file()):
        section.fail(key, f"{'directory' if directory else 'file'} not found: {path}{hint}")
    return path.resolve()


def optional_file(section: Section, key: str, base_dir: Path) -> Path | None:
    """The file ``key`` names (relative to ``base_dir``), None when unset; refused when it does not exist."""
    return _optional_path(section, key, base_dir, directory=False)


def existing_file(section: Section, key: str, base_dir: Path, default: Path) -> Path:
    """The file ``key`` names, or ``default`` when unset; refused when it does not exist."""
    path = optional_file(section, key, base_dir)
    section.note(key, "file", default)
    if path is not None:
        return path
    if not default.is_file():
        section.fail(key, f"file not found: {default}")
    return default.resolve()


def optional_dir(section: Section, key: str, base_dir: Path, model: str = "vosk-small-en") -> Path | None:
    """The model directory ``key`` names, None when unset; refused, naming the fetch command, when absent."""
    return _optional_path(
        section, key, base_dir, directory=True, hint=f" (get a model with `edge models fetch {model}`)"
    )
