"""The live view's HTTP and WebSocket server (aiohttp), on a thread and event loop of its own.

The pipeline thread calls ``publish``, which only appends to a bounded deque and wakes the loop: it never
waits for a browser. Each browser has its own bounded queue; a slow or vanished one loses its oldest
messages (counted), never anyone else's and never the pipeline's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge.errors import BackendMissingError, EdgeError
from edge.integrations.web.settings import WebConfig

log = logging.getLogger(__name__)

HANDOFF_MESSAGES = 512  # between the pipeline thread and the loop: about 10 s of meters and events
CLIENT_MESSAGES = 64  # per browser; the oldest go first when it cannot keep up
HISTORY_EVENTS = 120  # replayed to a page opened late, so it shows the last commands at once
MAX_COMMAND_CHARS = 200
MAX_CLIENTS = 16
STATIC_FILES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript")}
STATIC_FILES["/app.css"] = ("app.css", "text/css")
STATIC_FILES["/common.js"] = ("common.js", "text/javascript")
STATIC_FILES["/fleet"] = ("fleet.html", "text/html")
STATIC_FILES["/fleet.js"] = ("fleet.js", "text/javascript")
PAGES = ("live", "fleet")  # a WebSocket's ?page=: what it is sent
SECURITY_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'",
}
# Returns None when the command was queued, else why it was refused.
CommandSink = Callable[[str], str | None]


def static_dir() -> Path:
    """The folder of index.html, app.js and app.css (package data)."""
    return Path(str(resources.files("edge.integrations.web") / "static"))


class WebServer:
    """Serves the page and pushes messages to every connected browser."""

    def __init__(self, web: WebConfig, setup: dict[str, Any], on_command: CommandSink) -> None:
        self.web = web
        self.setup = setup
        self.on_command = on_command
        self.handoff_drops = 0  # pipeline -> loop: only if the loop thread is starved for seconds
        self.client_drops = 0  # loop -> browsers: slow browsers
        self.refused = 0
        self._handoff: deque[dict[str, Any]] = deque(maxlen=HANDOFF_MESSAGES)
        self._history: deque[str] = deque(maxlen=HISTORY_EVENTS)
        self._latest: dict[str, str] = {}  # last meter and status, for a page that connects now
        self._clients: dict[asyncio.Queue[str], str] = {}  # each browser's queue and its page
        self._sockets: set[Any] = set()  # the open WebSockets, closed first when the view stops
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: Any = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None

    # --- pipeline thread ---------------------------------------------------------------------------------

    def publish(self, message: dict[str, Any]) -> None:
        """Hand one message to the browsers (any thread, never blocks)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if len(self._handoff) == HANDOFF_MESSAGES:
            self.handoff_drops += 1  # the deque drops the oldest itself
        self._handoff.append(message)
        # The loop may close between the check and the call while the view stops: nothing to deliver then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._drain)

    # --- lifecycle (main thread) -------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> None:
        """Bind and serve on a background thread; EdgeError if the address cannot be used."""
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            raise BackendMissingError("the web view needs aiohttp: pip install aiohttp") from None
        self._thread = threading.Thread(target=self._serve, name="edge-web", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise EdgeError(f"web: the server did not start within {timeout_s:.0f} s")
        if self._start_error is not None:
            err = self._start_error
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise EdgeError(f"web: cannot listen on {self.web.host}:{self.web.port}: {reason}")
        log.info("web: live view on %s%s", self.web.url, " (token required)" if self.web.token else "")

    def close(self, timeout_s: float = 5.0) -> None:
        """Close every connection and stop the thread."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(timeout_s)
        except Exception as err:
            log.warning("web: shutdown: %s", err)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout_s)
        log.info(
            "web: stopped (%d messages dropped for slow browsers, %d connections refused)",
            self.client_drops + self.handoff_drops,
            self.refused,
        )

    # --- loop thread -------------------------------------------------------------------------------------

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except BaseException as err:
            self._start_error = err
            self._started.set()
            loop.close()
            return
        self._loop = loop
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _bind(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=64 * 1024)
        for path in STATIC_FILES:
            app.router.add_get(path, self._static)
        app.router.add_get("/auth", self._auth)
        app.router.add_get("/ws", self._websocket)
        # Open pages are closed first (see _shutdown); the timeout only bounds a stuck handler.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.web.host, self.web.port).start()

    async def _shutdown(self) -> None:
        for socket in list(self._sockets):
            await socket.close(code=1001, message=b"edge is stopping")
        if self._runner is not None:
            await self._runner.cleanup()

    def _drain(self) -> None:
        while self._handoff:
            message = self._handoff.popleft()
            text = json.dumps(message, separators=(",", ":"))
            kind = message.get("kind")
            if kind == "event":
                self._history.append(text)
            elif isinstance(kind, str):
                self._latest[kind] = text
            for client, page in self._clients.items():
                if _wants(page, kind):
                    self._offer(client, text)

    def _offer(self, client: asyncio.Queue[str], text: str) -> None:
        if client.full():
            client.get_nowait()
            self.client_drops += 1
        client.put_nowait(text)

    async def _static(self, request: Any) -> Any:
        from aiohttp import web

        name, content_type = STATIC_FILES[request.path]
        body = (static_dir() / name).read_bytes()
        return web.Response(body=body, content_type=content_type, headers=SECURITY_HEADERS)

    def _refusal(self, request: Any) -> tuple[int, str] | None:
        origin = request.headers.get("Origin")
        # Browsers let any web page open a WebSocket to 127.0.0.1; only this page's own origin may.
        if origin and urlsplit(origin).netloc != request.host:
            return 403, f"origin {origin} is not this page"
        if len(self._clients) >= MAX_CLIENTS:
            return 503, f"{MAX_CLIENTS} browsers already connected"
        if self.web.token is not None:
            given = request.query.get("token", "")
            if not hmac.compare_digest(given.encode(), self.web.token.encode()):
                return 401, "wrong token" if given else "token required"
        return None

    async def _auth(self, request: Any) -> Any:
        """Lets the page ask for the token before it opens the socket (a refused WebSocket hides why)."""
        from aiohttp import web

        refusal = self._refusal(request)
        if refusal is not None:
            self.refused += 1
            log.warning("web: refused %s: %s", request.remote, refusal[1])
            return web.json_response({"error": refusal[1]}, status=refusal[0], headers=SECURITY_HEADERS)
        return web.json_response({"ok": True}, headers=SECURITY_HEADERS)

    async def _websocket(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        refusal = self._refusal(request)
        if refusal is not None:
            status, reason = refusal
            self.refused += 1
            log.warning("web: refused %s: %s", request.remote, reason)
            return web.json_response({"error": reason}, status=status, headers=SECURITY_HEADERS)
        page = request.query.get("page", "live")
        if page not in PAGES:
            return web.json_response({"error": f"page must be one of {', '.join(PAGES)}"}, status=400)
        socket = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
        await socket.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=CLIENT_MESSAGES)
        hello = {"kind": "hello", "setup": self.setup}
        await socket.send_str(json.dumps(hello, separators=(",", ":")))
        replay = [*(("event", text) for text in self._history), *self._latest.items()]
        for text in [text for kind, text in replay if _wants(page, kind)]:
            await socket.send_str(text[:-1] + ',"replayed":true}' if text.endswith("}") else text)
        self._clients[queue] = page
        self._sockets.add(socket)
        log.info("web: browser connected from %s (%d connected)", request.remote, len(self._clients))
        sender = asyncio.create_task(self._send_loop(socket, queue))
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    await socket.send_str(json.dumps(self._command(message.data)))
        finally:
            self._clients.pop(queue, None)
            self._sockets.discard(socket)
            sender.cancel()
            log.info("web: browser from %s left (%d connected)", request.remote, len(self._clients))
        return socket

    async def _send_loop(self, socket: Any, queue: asyncio.Queue[str]) -> None:
        while not socket.closed:
            text = await queue.get()
            try:
                await socket.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _command(self, data: str) -> dict[str, Any]:
        try:
            message = json.loads(data)
        except ValueError:
            return {"kind": "command-reply", "ok": False, "error": "not JSON"}
        if not isinstance(message, dict) or message.get("kind") != "command":
            return {
                "kind": "command-reply",
                "ok": False,
                "error": 'expected {"kind": "command", "text": ...}',
            }
        text = message.get("text")
        if not isinstance(text, str):
            return {
                "kind": "command-reply",
                "ok": False,
                "error": 'expected {"kind": "command", "text": ...}',
            }
        text = " ".join(text.split()).lower()
        if not text or len(text) > MAX_COMMAND_CHARS:
            return {"kind": "command-reply", "ok": False, "error": f"1 to {MAX_COMMAND_CHARS} characters"}
        refused = self.on_command(text)
        if refused:
            return {"kind": "command-reply", "ok": False, "text": text, "error": refused}
        return {"kind": "command-reply", "ok": True, "text": text}


def _wants(page: str, kind: object) -> bool:
    """The fleet page gets only the fleet; the live page everything else (it has no use for the fleet)."""
    return (kind == "fleet") == (page == "fleet")
