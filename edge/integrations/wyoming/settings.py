"""The ``wyoming:`` section of edge.yaml: where the Wyoming server listens and what it offers Home Assistant.

Off unless the section is there. It listens on 127.0.0.1 unless ``listen`` names another address: reaching
edge from Home Assistant on another machine is a choice written in the config, never a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.integrations.web.settings import is_loopback, parse_listen, uri_host
from edge.yamlfields import Section

DEFAULT_LISTEN = "127.0.0.1:10700"
MAX_CONNECTIONS = 8  # Home Assistant opens one per service plus the satellite's; a flood beyond is refused
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$")


@dataclass(frozen=True)
class WyomingConfig:
    """The Wyoming server: the satellite and which of edge's engines it offers as services."""

    host: str = "127.0.0.1"
    port: int = 10700
    satellite: bool = True  # hand what edge cannot do to Home Assistant's pipeline, speak its answers
    wake_service: bool = True  # edge's wake words for Home Assistant's own pipelines
    asr_service: bool = True  # edge's Whisper speech-to-text for them
    zeroconf: bool = True  # announce _wyoming._tcp on the local network (only when not on loopback)
    name: str = "edge"  # how the device is called in Home Assistant
    area: str | None = None  # the area Home Assistant suggests for the satellite
    max_connections: int = MAX_CONNECTIONS
    handover_timeout_s: float = 15.0  # Home Assistant must answer a handed-over request within this

    @property
    def loopback(self) -> bool:
        """True when only this machine can reach the server."""
        return is_loopback(self.host)

    @property
    def uri(self) -> str:
        """``tcp://HOST:PORT`` for the log."""
        return f"tcp://{uri_host(self.host)}:{self.port}"


def read_wyoming(section: Section) -> WyomingConfig | None:
    """Validate ``wyoming:``; None when it is absent (no server at all)."""
    if not section.data:
        section.finish()
        return None
    try:
        host, port = parse_listen(section.string("listen", DEFAULT_LISTEN))
    except ValueError as err:
        section.fail("listen", str(err).replace("127.0.0.1:8080", DEFAULT_LISTEN))
    name = section.string("name", "edge")
    if not _NAME.match(name):
        section.fail("name", f"{name!r}: 1..63 letters, digits, spaces, '_', '.' or '-'")
    config = WyomingConfig(
        host=host,
        port=port,
        satellite=section.boolean("satellite", True),
        wake_service=section.boolean("wake_service", True),
        asr_service=section.boolean("asr_service", True),
        zeroconf=section.boolean("zeroconf", True),
        name=name,
        area=section.string("area", None),
        max_connections=section.integer("max_connections", MAX_CONNECTIONS, low=1, high=64),
        handover_timeout_s=section.number("handover_timeout_s", 15.0, low=1.0, high=120.0),
    )
    if not (config.satellite or config.wake_service or config.asr_service):
        section.fail("satellite", "satellite, wake_service and asr_service are all false: nothing to serve")
    section.finish()
    return config
