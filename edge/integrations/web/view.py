"""The live view put together: the feed on the pipeline thread, the server on its own, one command path."""

from __future__ import annotations

import logging
from collections.abc import Callable

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
        self.server = WebServer(web, page_setup(config), self._on_command)
        self.feed = LiveFeed(self.server.publish, pipeline, understanding, bank, stats)
        self._submit: Callable[[Request], bool] | None = None

    def connect(self, submit: Callable[[Request], bool]) -> None:
        """Give typed commands a way onto the pipeline thread (``Daemon.submit``)."""
        self._submit = submit

    def start(self) -> None:
        """Start serving."""
        self.server.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.close()

    def _on_command(self, text: str) -> str | None:
        # Loop thread: the typed text only crosses to the pipeline thread inside a request.
        submit = self._submit
        if submit is None:
            return "edge is still starting"
        request: Request = self.feed.command_request(text)
        return None if submit(request) else "edge is busy; try again"
