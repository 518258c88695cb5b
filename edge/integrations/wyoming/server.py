"""The Wyoming server: its own thread and asyncio loop, a cap on connections, and zeroconf discovery.

Nothing here runs on the pipeline thread. The pipeline reaches the loop only through the Satellite's
bounded queue, and the loop reaches the pipeline only through ``Daemon.submit``; so a slow, silent or
vanished Home Assistant, a malformed event or a flood of connections can cost the loop, never listening.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wyoming.info import Info

from edge.errors import EdgeError
from edge.integrations.wyoming.connection import Connection
from edge.integrations.wyoming.satellite import Satellite
from edge.integrations.wyoming.services import Engines
from edge.integrations.wyoming.settings import WyomingConfig

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
SERVICE_TYPE = "_wyoming._tcp.local."


class WyomingServer:
    """Serves Home Assistant on ``config.host:config.port`` from a thread of its own."""

    def __init__(
        self,
        config: WyomingConfig,
        info: Info,
        *,
        satellite: Satellite | None = None,
        engines: Engines | None = None,
    ) -> None:
        self.config = config
        self.info = info
        self.satellite = satellite
        self.engines = engines or Engines(ThreadPoolExecutor(1, thread_name_prefix="edge-wyoming-engine"))
        self.port = config.port  # the bound port, once started
        self.refused = 0
        self._connections: set[Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="edge-wyoming", daemon=True)

    @property
    def connections(self) -> int:
        """Open connections now (the size of a set the loop owns: a snapshot, for logs and tests)."""
        return len(self._connections)

    def start(self) -> None:
        """Bind and serve; an address that cannot be bound is an EdgeError naming it."""
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise EdgeError(f"wyoming: the server did not start within {START_TIMEOUT_S:.0f} s")
        if self._error is not None:
            raise EdgeError(f"wyoming: cannot listen on {self.config.uri}: {self._error}") from None
        log.info("wyoming: serving Home Assistant on %s:%d", self.config.host, self.port)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop serving, close every connection, stop the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout_s)
        self.engines.executor.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # reported to start(); after start, logged
            if not self._ready.is_set():
                self._error = err
                self._ready.set()
            else:
                log.exception("wyoming: the server stopped")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._accept, self.config.host, self.config.port)
        self.port = server.sockets[0].getsockname()[1]
        tasks = [asyncio.create_task(self.satellite.run())] if self.satellite is not None else []
        announcer = await _announce(self.config, self.port)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for connection in list(self._connections):
                connection.writer.close()
            for task in tasks:
                task.cancel()
            if announcer is not None:
                await announcer.async_close()
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self.config.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning(
                    "wyoming: %d connections open, refusing more (%d refused so far)",
                    len(self._connections),
                    self.refused,
                )
            writer.close()
            return
        connection = Connection(reader, writer, self.info, self.satellite, self.engines)
        self._connections.add(connection)
        log.info("wyoming: %s connected", connection.peer)
        try:
            await connection.run()
        except Exception:
            log.exception("wyoming: connection from %s failed", connection.peer)
        finally:
            self._connections.discard(connection)
            log.info("wyoming: %s disconnected", connection.peer)


def announce_address(host: str) -> str:
    """The address to announce: the configured one, or (for 0.0.0.0) the one that reaches mDNS's group."""
    if host not in ("0.0.0.0", "::"):
        return host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("224.0.0.251", 5353))  # no packet is sent: this only picks the outgoing interface
        return str(probe.getsockname()[0])


async def _announce(config: WyomingConfig, port: int) -> Any:
    """Register ``_wyoming._tcp`` so Home Assistant discovers edge; never on loopback, never fatal."""
    if config.loopback or not config.zeroconf:
        return None
    try:
        from zeroconf import IPVersion
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        address = announce_address(config.host)
        # Only this interface: zeroconf then needs no netlink socket to list them (the unit forbids one).
        zc = AsyncZeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
        service = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{config.name}-{socket.gethostname().split('.')[0]}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(address)],
            port=port,
            properties={"edge": "satellite" if config.satellite else "services"},
        )
        await zc.async_register_service(service)
    except Exception as err:  # discovery is a convenience: adding edge by host and port still works
        log.warning(
            "wyoming: zeroconf announcement failed (%s: %s); add edge by host and port",
            type(err).__name__,
            err,
        )
        return None
    log.info("wyoming: announced %s on %s:%d", service.name, address, port)
    return zc
