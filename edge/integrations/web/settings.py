"""The ``web:`` config section and the ``--web HOST:PORT`` flag: where the live view listens, and its token."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from edge.errors import UsageError
from edge.yamlfields import Section

DEFAULT_LISTEN = "127.0.0.1:8080"
MIN_TOKEN_CHARS = 8


@dataclass(frozen=True)
class WebConfig:
    """Where the live view listens; ``token`` is required on any address but loopback."""

    host: str
    port: int
    token: str | None = None

    @property
    def loopback(self) -> bool:
        """True when only this machine can reach the view."""
        return is_loopback(self.host)

    @property
    def url(self) -> str:
        """The page's address, for the log and the README."""
        return f"http://{uri_host(self.host)}:{self.port}/"


def uri_host(host: str) -> str:
    """``host`` as it stands in a URI: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:8080`` for IPv6); ValueError says what is wrong."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. {DEFAULT_LISTEN})")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IP address or localhost (e.g. {DEFAULT_LISTEN})") from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} must be a number from 1 to 65535")
    return host, int(port_text)


def read_web(section: Section, base_dir: Path) -> WebConfig | None:
    """Read ``web:``; an absent or empty section leaves the view off."""
    if not section.data:
        section.finish()
        return None
    try:
        host, port = parse_listen(section.string("listen", DEFAULT_LISTEN))
    except ValueError as err:
        section.fail("listen", str(err))
    token = section.string("token", None)
    token_file = section.string("token_file", None)
    if token is not None and token_file is not None:
        section.fail("token_file", "give token or token_file, not both")
    if token_file is not None:
        path = base_dir / Path(token_file).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as err:
            section.fail("token_file", f"cannot read {path}: {err.strerror or err}")
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        section.fail(
            "token_file" if token_file else "token", f"must be at least {MIN_TOKEN_CHARS} characters"
        )
    web = WebConfig(host, port, token)
    if not web.loopback and web.token is None:
        section.fail(
            "listen",
            f"{host} is reachable from other machines: set web.token or web.token_file "
            "(the page asks for it once), or listen on 127.0.0.1",
        )
    section.finish()
    return web


def web_from_flag(flag: str, configured: WebConfig | None, source: str) -> WebConfig:
    """The view ``--web [HOST:PORT]`` asks for, keeping the config's token; UsageError when unsafe."""
    token = configured.token if configured else None
    if not flag:
        return configured or WebConfig(*parse_listen(DEFAULT_LISTEN), token)
    try:
        host, port = parse_listen(flag)
    except ValueError as err:
        raise UsageError(f"--web: {err}") from None
    web = WebConfig(host, port, token)
    if not web.loopback and web.token is None:
        raise UsageError(
            f"--web {flag}: {host} is reachable from other machines; set web.token or web.token_file in "
            f"{source} first, or listen on 127.0.0.1"
        )
    return web
