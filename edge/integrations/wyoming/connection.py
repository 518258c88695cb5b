"""One TCP connection from Home Assistant: reads Wyoming events and routes them, never blocking the loop.

``describe`` and ``ping`` are answered here; satellite events go to the Satellite; ``detect`` and
``transcribe`` open a service session. Every write has a deadline, so a peer that stops reading is dropped
instead of holding the loop; a malformed event is refused with an ``error`` event and the connection goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wyoming.error import Error
from wyoming.event import Event as WyEvent
from wyoming.event import async_read_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler

from edge.integrations.wyoming.satellite import Satellite
from edge.integrations.wyoming.services import Engines, TranscribeSession, WakeSession, start_session

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 5.0  # a peer that does not take an event within this is gone
IDLE_TIMEOUT_S = 60.0  # Home Assistant pings its satellite every few seconds; a silent peer is dropped


class Connection(AsyncEventHandler):
    """Routes one peer's events; ``running`` is set while it runs the satellite."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        info: Info,
        satellite: Satellite | None,
        engines: Engines,
    ) -> None:
        super().__init__(reader, writer)
        self.info = info
        self.satellite = satellite
        self.engines = engines
        peer: Any = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.running = False
        self._session: WakeSession | TranscribeSession | None = None
        self._malformed = 0

    async def send(self, event: WyEvent) -> bool:
        """Write one event within the deadline; False (and the connection closed) when the peer is gone."""
        try:
            await asyncio.wait_for(self.write_event(event), WRITE_TIMEOUT_S)
        except (TimeoutError, ConnectionError, OSError, RuntimeError) as err:
            log.warning("wyoming: cannot write to %s (%s); closing", self.peer, type(err).__name__)
            self.writer.close()
            return False
        return True

    async def run(self) -> None:
        """Serve until the peer leaves, goes quiet for IDLE_TIMEOUT_S, or a write fails."""
        try:
            await self._read_loop()
        finally:
            await self.disconnect()
            self.writer.close()

    async def _read_loop(self) -> None:
        while not self.writer.is_closing():
            try:
                event = await asyncio.wait_for(async_read_event(self.reader), IDLE_TIMEOUT_S)
            except TimeoutError:
                log.info("wyoming: %s silent for %.0f s; closing", self.peer, IDLE_TIMEOUT_S)
                return
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                return
            if event is None:  # the peer closed, or sent a line that is not a Wyoming event
                return
            if not await self.handle_event(event):
                return

    async def handle_event(self, event: WyEvent) -> bool:
        """Route one event; a malformed one is answered with an error event, never a dropped loop."""
        try:
            await self._route(event)
        except Exception as err:  # from the network: a missing field, a wrong type, audio that cannot convert
            if isinstance(err, ConnectionError | OSError):
                return False
            self._malformed += 1
            name = type(err).__name__
            log.warning(
                "wyoming: malformed %r event from %s refused: %s: %s", event.type, self.peer, name, err
            )
            return await self.send(
                Error(text=f"malformed {event.type} event: {err}", code="malformed").event()
            )
        return not self.writer.is_closing()

    async def _route(self, event: WyEvent) -> None:
        if Describe.is_type(event.type):
            await self.send(self.info.event())
        elif Ping.is_type(event.type):
            await self.send(Pong(text=Ping.from_event(event).text).event())
        elif self.satellite is not None and await self.satellite.on_event(self, event):
            return
        elif (session := start_session(self.engines, event)) is not None:
            self._close_session()
            self._session = session
        elif self._session is not None:
            await self._session.on_event(event, self.send)
        else:
            log.debug("wyoming: %s event from %s ignored", event.type, self.peer)

    def _close_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    async def disconnect(self) -> None:
        """The peer left: the satellite stops handing over to it, the service session ends."""
        if self.satellite is not None:
            self.satellite.detach(self)
        self._close_session()
