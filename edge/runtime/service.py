"""Installing edge as a systemd service: a system user, the hardened unit, the config, enable and start.

``plan_install`` only decides what to do (a list of actions a person can read with ``--dry-run``);
``apply`` does it, with the command runner injected so tests never create users or touch systemd.
"""

from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError, UsageError
from edge.resources import data_dir

SERVICE_USER = "edge"
UNIT_NAME = "edge.service"
MQTT_DROPIN = "edge-mqtt.conf"  # shipped name; installed as edge.service.d/mqtt.conf when MQTT is on
UNIT_DIR = Path("/etc/systemd/system")
CONFIG_PATH = Path("/etc/edge/edge.yaml")
STATE_DIR = Path("/var/lib/edge")
WANTED_GROUPS = ("gpio", "audio")  # GPIO character devices and ALSA, on Raspberry Pi OS
# ProtectHome=yes hides these from the service, so the service cannot run a Python environment inside them.
HIDDEN_FROM_SERVICE = (Path("/home"), Path("/root"), Path("/run/user"))

Runner = Callable[[Sequence[str]], None]
WEB_DROPIN = UNIT_DIR / f"{UNIT_NAME}.d" / "web.conf"
MQTT_DROPIN_PATH = UNIT_DIR / f"{UNIT_NAME}.d" / "mqtt.conf"
WYOMING_DROPIN_PATH = UNIT_DIR / f"{UNIT_NAME}.d" / "wyoming.conf"
MDNS_PORT = 5353
# A view beyond localhost is for the classroom's own network: private and link-local ranges, never the internet.
LOCAL_NETWORKS = "localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"


@dataclass(frozen=True)
class WriteFile:
    """Write ``text`` to ``path`` (under the install root), unless ``keep_existing`` and it exists."""

    path: Path
    text: str
    mode: int = 0o644
    keep_existing: bool = False

    def describe(self, root: Path | None) -> str:
        """One line for ``--dry-run``."""
        target = _under(root, self.path)
        if self.keep_existing and target.exists():
            return f"keep {target} (already there)"
        return f"write {target} (mode {self.mode:o})"


@dataclass(frozen=True)
class RunCommand:
    """Run one command on the live system (skipped when installing into another root)."""

    argv: tuple[str, ...]

    def describe(self, root: Path | None) -> str:
        """One line for ``--dry-run``."""
        prefix = "skip (installing under --root): " if root is not None else "run "
        return prefix + shlex.join(self.argv)


@dataclass(frozen=True)
class RemoveFile:
    """Remove ``path`` (under the install root) if it is there: a drop-in the config no longer asks for."""

    path: Path

    def describe(self, root: Path | None) -> str:
        """One line for ``--dry-run``."""
        target = _under(root, self.path)
        return f"remove {target}" if target.exists() else f"nothing to remove at {target}"


Action = WriteFile | RemoveFile | RunCommand


def unit_template() -> str:
    """Return the shipped unit file's text."""
    return (data_dir("systemd") / UNIT_NAME).read_text(encoding="utf-8")


def render_mqtt_dropin(template: str, broker_host: str) -> str:
    """The MQTT drop-in letting only ``broker_host`` through when it is an address (a name needs DNS)."""
    try:
        allow = f"IPAddressAllow={ipaddress.ip_address(broker_host)}"
    except ValueError:
        if broker_host == "localhost":
            allow = "IPAddressAllow=localhost"
        else:
            allow = f"# {broker_host} is a name: DNS and the broker's addresses are not known here\nIPAddressDeny="
    return (
        "\n".join(allow if line.startswith("IPAddressAllow=") else line for line in template.splitlines())
        + "\n"
    )


def render_unit(template: str, exec_start: str, groups: Sequence[str]) -> str:
    """Return the unit with ``ExecStart=`` and ``SupplementaryGroups=`` set for this machine."""
    lines: list[str] = []
    for line in template.splitlines():
        if line.startswith("ExecStart="):
            line = f"ExecStart={exec_start}"
        elif line.startswith("SupplementaryGroups="):
            if not groups:
                continue  # a group that does not exist would stop the service from starting
            line = "SupplementaryGroups=" + " ".join(groups)
        lines.append(line)
    return "\n".join(lines) + "\n"


def web_dropin(listen_on_loopback: bool) -> str:
    """The drop-in that lets the web view listen: TCP sockets, and peers on localhost (or the local network)."""
    text = (data_dir("systemd") / "edge-web.conf").read_text(encoding="utf-8")
    if listen_on_loopback:
        return text
    return text.replace("IPAddressAllow=localhost", f"IPAddressAllow={LOCAL_NETWORKS}")


@dataclass(frozen=True)
class WyomingListen:
    """Where the Wyoming server listens, as the drop-in needs it; ``web_port`` is the live view's, if on."""

    port: int
    loopback: bool
    zeroconf: bool
    web_port: int | None = None


def wyoming_dropin(listen: WyomingListen) -> str:
    """The drop-in letting the Wyoming server bind its one port, reachable from localhost or the local network.

    ``SocketBindDeny=any`` holds for the whole unit, so the live view's port is allowed too when it is on.
    """
    text = (data_dir("systemd") / "edge-wyoming.conf").read_text(encoding="utf-8")
    binds = [f"SocketBindAllow=tcp:{listen.port}"]
    if listen.web_port is not None and listen.web_port != listen.port:
        binds.append(f"SocketBindAllow=tcp:{listen.web_port}")
    allow = "IPAddressAllow=localhost"
    if not listen.loopback:
        allow = f"IPAddressAllow={LOCAL_NETWORKS}"
        if listen.zeroconf:
            # Announcing _wyoming._tcp: mDNS's multicast group and its port.
            allow += " multicast"
            binds.append(f"SocketBindAllow=udp:{MDNS_PORT}")
    lines = []
    for line in text.splitlines():
        if line.startswith("IPAddressAllow="):
            line = allow
        elif line.startswith("SocketBindAllow="):
            line = "\n".join(binds)
        lines.append(line)
    return "\n".join(lines) + "\n"


def exec_start_command(python: Path | None = None, config: Path = CONFIG_PATH) -> str:
    """The ``ExecStart=`` command: this Python environment's ``edge run`` with the system config."""
    python = Path(python or sys.executable)
    script = python.parent / "edge"
    command = [str(script)] if script.is_file() else [str(python), "-m", "edge"]
    return shlex.join([*command, "run", "--config", str(config)])


def existing_groups(wanted: Sequence[str] = WANTED_GROUPS) -> list[str]:
    """The groups of ``wanted`` that exist on this machine."""
    present: list[str] = []
    for name in wanted:
        try:
            grp.getgrnam(name)
        except KeyError:
            continue
        present.append(name)
    return present


def user_exists(name: str = SERVICE_USER) -> bool:
    """True when the account exists."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def check_reachable(paths: Sequence[Path]) -> None:
    """Refuse code the sandboxed service could not read (a virtual environment in a home directory)."""
    for path in paths:
        resolved = path.resolve()
        for hidden in HIDDEN_FROM_SERVICE:
            if resolved.is_relative_to(hidden):
                raise UsageError(
                    f"{resolved} is under {hidden}, which the service (ProtectHome=yes, user {SERVICE_USER}) "
                    "cannot read; install edge into a system-wide environment first, e.g. "
                    "sudo python3 -m venv /opt/edge/venv && sudo /opt/edge/venv/bin/pip install . && "
                    "sudo /opt/edge/venv/bin/edge service install"
                )


def plan_install(
    *,
    config_source: Path,
    exec_start: str,
    groups: Sequence[str],
    create_user: bool,
    start: bool = True,
    template: str | None = None,
    web_on_loopback: bool | None = None,
    mqtt_host: str | None = None,
    wyoming: WyomingListen | None = None,
) -> list[Action]:
    """Return the actions that install the service, in order."""
    actions: list[Action] = []
    if create_user:
        argv = ["useradd", "--system", "--user-group", "--home-dir", str(STATE_DIR), "--no-create-home"]
        argv += ["--shell", "/usr/sbin/nologin", "--comment", "edge voice control"]
        if groups:
            argv += ["--groups", ",".join(groups)]
        actions.append(RunCommand((*argv, SERVICE_USER)))
    unit = render_unit(template if template is not None else unit_template(), exec_start, groups)
    actions.append(WriteFile(UNIT_DIR / UNIT_NAME, unit))
    # A drop-in opens the sandbox for one integration; one the config no longer asks for must go, or the
    # network would stay open after the user turned the web view or MQTT off.
    if web_on_loopback is not None:
        actions.append(WriteFile(WEB_DROPIN, web_dropin(web_on_loopback)))
    else:
        actions.append(RemoveFile(WEB_DROPIN))
    if mqtt_host is not None:
        dropin = (data_dir("systemd") / MQTT_DROPIN).read_text(encoding="utf-8")
        actions.append(WriteFile(MQTT_DROPIN_PATH, render_mqtt_dropin(dropin, mqtt_host)))
    else:
        actions.append(RemoveFile(MQTT_DROPIN_PATH))
    if wyoming is not None:
        actions.append(WriteFile(WYOMING_DROPIN_PATH, wyoming_dropin(wyoming)))
    else:
        actions.append(RemoveFile(WYOMING_DROPIN_PATH))
    config_text = config_source.read_text(encoding="utf-8")
    actions.append(WriteFile(CONFIG_PATH, config_text, keep_existing=True))
    actions.append(RunCommand(("systemctl", "daemon-reload")))
    enable = ("systemctl", "enable", "--now", UNIT_NAME) if start else ("systemctl", "enable", UNIT_NAME)
    actions.append(RunCommand(enable))
    return actions


def apply(actions: Sequence[Action], *, root: Path | None = None, run: Runner | None = None) -> list[str]:
    """Carry out the actions; under ``root`` only the files are written. Return what was done."""
    if root is None and os.geteuid() != 0:
        raise EdgeError(
            "installing the service needs root: run `sudo edge service install` "
            "(or add --dry-run to see what it would do, or --root DIR to write the files into a directory)"
        )
    runner = run or _run
    done: list[str] = []
    for action in actions:
        done.append(action.describe(root))
        if isinstance(action, WriteFile):
            _write(action, root)
        elif isinstance(action, RemoveFile):
            _under(root, action.path).unlink(missing_ok=True)
        elif root is None:
            runner(action.argv)
    return done


def _write(action: WriteFile, root: Path | None) -> None:
    target = _under(root, action.path)
    if action.keep_existing and target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(action.text, encoding="utf-8")
    os.chmod(tmp, action.mode)
    os.replace(tmp, target)


def _run(argv: Sequence[str]) -> None:
    try:
        subprocess.run(list(argv), check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise EdgeError(f"{argv[0]} not found: is this a systemd machine?") from None
    except subprocess.CalledProcessError as err:
        detail = (err.stderr or err.stdout or "").strip()
        raise EdgeError(f"{shlex.join(argv)} failed with exit code {err.returncode}: {detail}") from None


def _under(root: Path | None, path: Path) -> Path:
    return root / path.relative_to("/") if root is not None else path
