"""The live view's server and settings without a browser: safe defaults, tokens, slow browsers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from edge.config import load_config
from edge.errors import ConfigError, EdgeError, UsageError
from edge.integrations.web.server import WebServer
from edge.integrations.web.settings import WebConfig, parse_listen, web_from_flag

from .support import SHIPPED_CONFIG, edge_command, subprocess_env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config_with(tmp_path: Path, web_yaml: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(SHIPPED_CONFIG.read_text(encoding="utf-8") + "\n" + web_yaml, encoding="utf-8")
    return path


def test_the_shipped_config_leaves_the_view_off() -> None:
    assert load_config(SHIPPED_CONFIG, board_override="sim").web is None


def test_a_web_section_turns_it_on_at_localhost(tmp_path: Path) -> None:
    web = load_config(_config_with(tmp_path, "web:\n  listen: 127.0.0.1:9090\n"), board_override="sim").web
    assert web == WebConfig("127.0.0.1", 9090, None) and web.loopback


@pytest.mark.parametrize(
    ("web_yaml", "message"),
    [
        ("web:\n  listen: 0.0.0.0:8080\n", r"web\.listen: 0\.0\.0\.0 is reachable from other machines: set web\.token"),
        ("web:\n  listen: kitchen:8080\n", r"web\.listen: 'kitchen' is not an IP address or localhost"),
        ("web:\n  listen: 127.0.0.1:99999\n", r"web\.listen: port '99999' must be a number from 1 to 65535"),
        ("web:\n  listen: 0.0.0.0:8080\n  token: short\n", r"web\.token: must be at least 8 characters"),
        ("web:\n  token_file: nowhere.txt\n", r"web\.token_file: cannot read .*nowhere\.txt"),
        ("web:\n  listen: 127.0.0.1:8080\n  port: 1\n", r"web\.port: unknown key"),
    ],
)  # fmt: skip
def test_web_config_errors_name_the_key(tmp_path: Path, web_yaml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config_with(tmp_path, web_yaml), board_override="sim")


def test_a_token_file_opens_another_address(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("a-long-classroom-token\n")
    path = _config_with(tmp_path, "web:\n  listen: 0.0.0.0:8080\n  token_file: token.txt\n")
    assert load_config(path, board_override="sim").web == WebConfig("0.0.0.0", 8080, "a-long-classroom-token")


def test_check_config_reports_a_public_view_without_token_with_exit_78(tmp_path: Path) -> None:
    path = _config_with(tmp_path, "web:\n  listen: 0.0.0.0:8080\n")
    result = subprocess.run(
        edge_command("check-config", "-c", str(path), "--board", "sim"),
        capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 78
    assert result.stderr.strip() == (
        f"edge: error: {path}: web.listen: 0.0.0.0 is reachable from other machines: set web.token or "
        "web.token_file (the page asks for it once), or listen on 127.0.0.1"
    )


def test_the_flag_keeps_the_configured_token() -> None:
    configured = WebConfig("127.0.0.1", 8080, "a-long-classroom-token")
    assert web_from_flag("", None, "edge.yaml") == WebConfig("127.0.0.1", 8080, None)
    assert web_from_flag("0.0.0.0:9000", configured, "edge.yaml") == WebConfig(
        "0.0.0.0", 9000, configured.token
    )
    assert parse_listen("[::1]:8080") == ("::1", 8080)
    with pytest.raises(UsageError, match=r"--web 0\.0\.0\.0:9000: .*set web\.token"):
        web_from_flag("0.0.0.0:9000", None, "edge.yaml")
    with pytest.raises(UsageError, match="--web: '8080' is not HOST:PORT"):
        web_from_flag("8080", None, "edge.yaml")


def _server(token: str | None = None, commands: list[str] | None = None) -> WebServer:
    def on_command(text: str) -> str | None:
        if commands is None:
            return "edge is busy; try again"
        commands.append(text)
        return None

    server = WebServer(WebConfig("127.0.0.1", _free_port(), token), {"devices": []}, on_command)
    server.start()
    return server


def test_a_port_in_use_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EdgeError, match=rf"web: cannot listen on 127\.0\.0\.1:{port}: .*in use"):
            WebServer(WebConfig("127.0.0.1", port), {}, lambda text: None).start()


async def _talk(server: WebServer, query: str = "", headers: dict[str, str] | None = None) -> Any:
    url = f"http://127.0.0.1:{server.web.port}/ws{query}"
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers) as ws:
                hello = json.loads((await ws.receive(timeout=5)).data)
                await ws.send_str(json.dumps({"kind": "command", "text": "  Turn ON the   lamp "}))
                await ws.send_str("not json")
                await ws.send_str(json.dumps({"kind": "command", "text": "x" * 500}))
                replies = [json.loads((await ws.receive(timeout=5)).data) for _ in range(3)]
                return hello, replies
        except aiohttp.WSServerHandshakeError as err:
            return err.status


def test_commands_are_checked_before_they_reach_the_pipeline() -> None:
    commands: list[str] = []
    server = _server(commands=commands)
    try:
        hello, replies = asyncio.run(_talk(server))
    finally:
        server.close()
    assert hello == {"kind": "hello", "setup": {"devices": []}}
    assert replies == [
        {"kind": "command-reply", "ok": True, "text": "turn on the lamp"},
        {"kind": "command-reply", "ok": False, "error": "not JSON"},
        {"kind": "command-reply", "ok": False, "error": "1 to 200 characters"},
    ]
    assert commands == ["turn on the lamp"]


def test_tokens_and_foreign_pages_are_refused() -> None:
    server = _server(token="a-long-classroom-token", commands=[])
    try:
        assert asyncio.run(_talk(server)) == 401
        assert asyncio.run(_talk(server, "?token=wrong")) == 401
        # Another web site open in the same browser must not drive the lights through localhost.
        evil = {"Origin": "http://evil.example"}
        assert asyncio.run(_talk(server, "?token=a-long-classroom-token", evil)) == 403
        hello, _ = asyncio.run(_talk(server, "?token=a-long-classroom-token"))
    finally:
        server.close()
    assert hello["kind"] == "hello"
    assert server.refused == 3


async def _stalled_and_live_browsers(server: WebServer, messages: int) -> tuple[int, int]:
    url = f"http://127.0.0.1:{server.web.port}/ws"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url) as stalled,
        session.ws_connect(url) as live,
    ):
        await stalled.receive(timeout=5)  # hello; from now on this browser reads nothing
        await live.receive(timeout=5)
        padding = base64.b64encode(os.urandom(3000)).decode()  # incompressible, so buffers fill
        loop = asyncio.get_running_loop()
        # Published from another thread, as the pipeline thread does.
        publishing = loop.run_in_executor(
            None, lambda: [server.publish({"kind": "event", "n": n, "pad": padding}) for n in range(messages)]
        )
        last = -1
        while last != messages - 1:
            last = json.loads((await live.receive(timeout=10)).data)["n"]
        await publishing
        return last, server.client_drops


def test_a_stalled_browser_loses_messages_and_blocks_nobody() -> None:
    server = _server()
    try:
        last, drops = asyncio.run(asyncio.wait_for(_stalled_and_live_browsers(server, 3000), 60))
    finally:
        server.close()
    assert last == 2999  # the browser that keeps up gets everything up to the newest
    assert drops > 0  # the stalled one lost its oldest messages
