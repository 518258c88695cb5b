"""The live view put together: the feed on the pipeline thread, the server on its own, one command path."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from edge.config import Config
from edge.devices.bank import DeviceBank
from edge.integrations.web.feed import LiveFeed
from edge.integrations.web.layout import page_setup
from edge.integrations.web.server import WebServer
from edge.integrations.web.settings import WebConfig
from edge.runtime.daemon import Request
from edge.runtime.pipeline import Pipeline
from edge.runtime.status import DaemonStats
from edge.understanding.handler import Understanding

log = logging.getLogger(__name__)


class LiveView:
    """``feed.on_event`` is a daemon sink, ``feed.on_chunk`` a daemon tap; ``connect`` gives it the inbox."""

    def __init__(
        self,
        web: WebConfig,
        config: Config,
        pipeline: Pipeline,
        understanding: Understanding,
        bank: DeviceBank,
        stats: DaemonStats,
    ) -> None:
        setup = page_setup(config)
        setup["fleet"] = fleet_setup(config)
        self.server = WebServer(web, setup, self._on_command)
        self.feed = LiveFeed(self.server.publish, pipeline, understanding, bank, stats)
        self.fleet: Any = None
        if config.mqtt is not None:
            # Its own read-only client on paho's thread: the fleet page never costs the pipeline thread.
            from edge.integrations.mqtt.fleetwatch import FleetWatch

            self.fleet = FleetWatch(config.mqtt, self.server.publish)
        self._submit: Callable[[Request], bool] | None = None

    def connect(self, submit: Callable[[Request], bool]) -> None:
        """Give typed commands a way onto the pipeline thread (``Daemon.submit``)."""
        self._submit = submit

    def start(self) -> None:
        """Start serving (and following the fleet, with MQTT on)."""
        self.server.start()
        if self.fleet is not None:
            self.fleet.start()

    def close(self) -> None:
        """Stop following the fleet, then serving."""
        if self.fleet is not None:
            self.fleet.close()
        self.server.close()

    def _on_command(self, text: str) -> str | None:
        # Loop thread: the typed text only crosses to the pipeline thread inside a request.
        submit = self._submit
        if submit is None:
            return "edge is still starting"
        request: Request = self.feed.command_request(text)
        return None if submit(request) else "edge is busy; try again"


def fleet_setup(config: Config) -> dict[str, Any]:
    """What the fleet page shows before the first update: whether MQTT is on, and which broker."""
    mqtt = config.mqtt
    if mqtt is None:
        return {"mqtt": False, "config": str(config.source)}
    return {"mqtt": True, "broker": f"{mqtt.host}:{mqtt.port}", "base_topic": mqtt.base_topic}
