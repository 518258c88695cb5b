"""One error hierarchy for edge; each error maps to a process exit code.

Errors mix in the built-in they specialise (as gpiozero does), so callers that
only know ``ValueError`` or ``OSError`` still catch them.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus=78 stops a restart loop


class EdgeError(Exception):
    """Base of every error edge raises on purpose."""

    exit_code = EXIT_FAILURE


class ConfigError(EdgeError, ValueError):
    """A configuration file or value is invalid."""

    exit_code = EXIT_CONFIG

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + message)


class ModelError(EdgeError, ValueError):
    """A model file is missing, corrupt or does not match its manifest."""

    exit_code = EXIT_CONFIG


class BackendMissingError(EdgeError, ImportError):
    """An optional backend library is not installed; the message says what to install."""

    exit_code = EXIT_CONFIG


class AudioError(EdgeError, OSError):
    """An audio source or device cannot be opened or read."""


class AudioFormatError(AudioError, ValueError):
    """An audio file or stream is malformed or in a format edge cannot convert."""

    exit_code = EXIT_USAGE


class DeviceError(EdgeError, RuntimeError):
    """A GPIO device could not be built or driven."""


class UsageError(EdgeError, ValueError):
    """A command-line argument is invalid."""

    exit_code = EXIT_USAGE
