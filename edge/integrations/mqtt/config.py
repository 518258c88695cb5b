"""The ``mqtt:`` section of edge.yaml: broker, credentials, TLS and topics, validated before anything starts.

No ``mqtt:`` section means no network at all. The password is never in the YAML: ``password_file`` names a
file whose first line is the password, so edge.yaml can stay world-readable and under version control.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path

from edge.errors import ConfigError
from edge.yamlfields import Section, optional_file

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
_TOPIC_LEVEL = re.compile(r"^[A-Za-z0-9_.-]+$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class TlsConfig:
    """Broker certificate check, and an optional client certificate for brokers that ask for one."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class MqttConfig:
    """How to reach the broker and where to publish."""

    host: str
    port: int
    client_id: str
    base_topic: str  # every topic of this edge lives under it, e.g. "edge/pi-kitchen"
    discovery_prefix: str  # Home Assistant's discovery prefix
    username: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = 30

    @property
    def node_id(self) -> str:
        """This edge's id in Home Assistant topics and unique ids: the base topic with '/' as '_'."""
        return self.base_topic.replace("/", "_").replace(".", "_")

    @property
    def name(self) -> str:
        """A short name for people: the last level of the base topic."""
        return self.base_topic.rsplit("/", 1)[-1]

    def read_password(self) -> str | None:
        """The password file's first line (read at connect time, so a rotated password needs no restart)."""
        if self.password_file is None:
            return None
        return read_password_file(self.password_file, str(self.password_file), "mqtt.password_file")


def hostname_slug(hostname: str | None = None) -> str:
    """The host name as a topic level: lower-case letters, digits, '-' and '_'."""
    name = (hostname or socket.gethostname()).split(".", 1)[0].lower()
    return re.sub(r"[^a-z0-9_-]+", "-", name).strip("-") or "edge"


def read_password_file(path: Path, source: str, key: str) -> str:
    """Return the first line of ``path``; an unreadable or empty file is a ConfigError naming ``key``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(source, key, f"cannot read the password file {path}: {err}") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ConfigError(source, key, f"the password file {path} is empty (its first line is the password)")
    return lines[0]


def read_mqtt(section: Section, base_dir: Path, hostname: str | None = None) -> MqttConfig | None:
    """Validate the ``mqtt:`` section; None when it is absent (no network at all)."""
    if not section.data:
        return None
    slug = hostname_slug(hostname)
    tls = _read_tls(section.section("tls"), base_dir) if section.has("tls") else None
    username = section.string("username", None)
    password_file = optional_file(section, "password_file", base_dir)
    if password_file is not None:
        if username is None:
            section.fail("password_file", "a password needs a username (add mqtt.username)")
        read_password_file(password_file, section.source, section.key("password_file"))
    client_id = section.string("client_id", f"edge-{slug}")
    if not _CLIENT_ID.match(client_id):
        section.fail("client_id", f"{client_id!r}: use 1..64 letters, digits, '_', '.' or '-'")
    config = MqttConfig(
        host=section.string("host"),
        port=section.integer("port", DEFAULT_TLS_PORT if tls else DEFAULT_PORT, low=1, high=65535),
        client_id=client_id,
        base_topic=_topic(section, "base_topic", f"edge/{slug}"),
        discovery_prefix=_topic(section, "discovery_prefix", "homeassistant"),
        username=username,
        password_file=password_file,
        tls=tls,
        keepalive_s=section.integer("keepalive_s", 30, low=5, high=3600),
    )
    if config.base_topic.startswith(config.discovery_prefix + "/"):
        section.fail("base_topic", f"{config.base_topic!r} must not be under the discovery prefix")
    section.finish()
    return config


def _read_tls(section: Section, base_dir: Path) -> TlsConfig:
    ca_file = optional_file(section, "ca_file", base_dir)
    if ca_file is None:
        section.fail("ca_file", "required key is missing (the CA certificate that signed the broker's)")
    cert_file = optional_file(section, "cert_file", base_dir)
    key_file = optional_file(section, "key_file", base_dir)
    if (cert_file is None) != (key_file is None):
        section.fail(
            "cert_file" if cert_file is None else "key_file",
            "a client certificate needs both cert_file and key_file",
        )
    import ssl  # here, not at the top: ~5 MB of OpenSSL that a daemon without MQTT over TLS never needs

    try:
        # Load them now, so `edge check-config` catches a wrong or corrupt PEM file instead of the daemon.
        context = ssl.create_default_context(cafile=str(ca_file))
        if cert_file is not None:
            context.load_cert_chain(str(cert_file), str(key_file))
    except (ssl.SSLError, OSError) as err:
        section.fail("(certificates)", f"cannot load: {err}")
    section.finish()
    return TlsConfig(ca_file, cert_file, key_file)


def _topic(section: Section, key: str, default: str) -> str:
    value: str = section.string(key, default)
    levels = value.split("/")
    if not all(_TOPIC_LEVEL.match(level) for level in levels):
        section.fail(
            key,
            f"{value!r}: topic levels separated by '/', each of letters, digits, '_', '.' or '-' "
            "(no wildcards, no empty level, no leading or trailing '/')",
        )
    return value
