"""The classroom live view as a teacher uses it: `edge run --web` in a real process, the page in a real browser.

Debian's chromium drives the page through chromium-driver (selenium); `.ci/run` installs both.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TOKEN = "classroom-7f3a9c"
# Set EDGE_SCREENSHOT_DIR to keep a copy of the page as the test saw it (for a person to look at).
SCREENSHOT_COPY = "web-screenshot.png"
FIXTURES = REPO / "tests" / "fixtures"
CLIPS = yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))["clips"]
QUIET_TAIL_S = 90  # the daemon keeps listening to a quiet room while the browser works

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command_then_quiet_room(path: Path) -> None:
    """ "hey jarvis, turn on the kitchen light", then a long quiet room (low noise, never digital silence)."""
    clip = next(c for c in CLIPS if c["intent"] == "light_on" and c["snr_db"] is None and not c["one_breath"])
    with wave.open(str(FIXTURES / clip["file"]), "rb") as wav:
        speech = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    noise = np.random.default_rng(11).normal(0, 20, 16000 * QUIET_TAIL_S).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(np.concatenate([speech, noise]).tobytes())


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = _free_port()
    config = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    config["web"] = {"listen": f"127.0.0.1:{port}", "token": TOKEN}
    config["voice"] = {
        "replies": True
    }  # spoken with espeak-ng; playback may fail where there is no sound card
    config_path = tmp_path / "edge.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    audio = tmp_path / "command_then_quiet.wav"
    _command_then_quiet_room(audio)
    status_file = tmp_path / "status.json"
    command = edge_command(
        "run", "-c", str(config_path), "--board", "sim", "--input", str(audio), "--mock-gpio",
        "--no-sounds", "--events", "none", "--status-file", str(status_file), "--web", f"127.0.0.1:{port}",
    )  # fmt: skip
    log_path = tmp_path / "edge.log"
    url = f"http://127.0.0.1:{port}/"
    with running_edge(command, log_path, url) as process:
        yield {"url": url, "status_file": status_file, "log": log_path, "process": process}


@contextlib.contextmanager
def running_edge(command: list[str], log_path: Path, url: str) -> Iterator[subprocess.Popen[bytes]]:
    """`edge run --web` in a subprocess, handed over once its page answers at ``url``; stopped after."""
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=subprocess_env())
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(url + "auth")
                break
            except (OSError, ValueError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"edge run --web did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1800"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def _wait(driver: Any, condition: Any, what: str, timeout_s: float = 30) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(condition)
    except TimeoutException:
        pytest.fail(f"the page never showed {what}")


def _device_on(driver: Any, name: str) -> bool:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, f"device-{name}").get_attribute("data-on") == "true"


def _counter(driver: Any, name: str) -> str:
    script = (
        "for (const dt of document.querySelectorAll('#counters dt'))"
        " if (dt.textContent === arguments[0]) return dt.nextElementSibling.textContent; return null;"
    )
    return str(driver.execute_script(script, name))


def _status_devices(path: Path, timeout_s: float = 5) -> dict[str, Any]:
    """The devices in edge's own status file (written at most once a second) once bedroom_light is on."""
    deadline = time.monotonic() + timeout_s
    devices: dict[str, Any] = {}
    while time.monotonic() < deadline:
        # The file is replaced atomically, but it may not exist yet.
        with contextlib.suppress(OSError, ValueError, KeyError):
            devices = json.loads(path.read_text())["devices"]
        if devices.get("bedroom_light", {}).get("on"):
            break
        time.sleep(0.1)
    return devices


def test_the_page_shows_a_spoken_command_and_switches_a_pin_from_the_box(
    daemon: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    url = daemon["url"]
    # A wrong token is refused, by the server and on the page.
    assert _get(f"{url}auth?token=wrong-token")[0] == 401
    assert _get(f"{url}ws?token=wrong-token") == (401, {"error": "wrong token"})
    assert _get(f"{url}ws")[0] == 401
    browser.get(url)
    _wait(
        browser,
        lambda d: d.find_element(By.ID, "token-dialog").get_attribute("open") is not None,
        "the token prompt",
    )
    browser.find_element(By.ID, "token").send_keys("wrong-token\n")
    _wait(browser, lambda d: _text(d, "token-error") == "wrong token", "'wrong token'")
    assert _text(browser, "transcript").startswith("say ")  # nothing from edge reached the page

    # The right token, asked for once, opens the view.
    browser.find_element(By.ID, "token").send_keys(TOKEN + "\n")
    _wait(browser, lambda d: _text(d, "connection") == "connected", "a connection")
    _wait(browser, lambda d: _text(d, "transcript") == "turn on the kitchen light", "the transcript", 60)
    _wait(browser, lambda d: _text(d, "intent").startswith("light_on"), "the intent")
    _wait(browser, lambda d: _device_on(d, "kitchen_light"), "the kitchen light on")
    assert "kitchen_light" in _text(browser, "slots")
    assert not _device_on(browser, "bedroom_light")

    # The typed command goes through intent and action on the (mock) pins, like speech.
    browser.find_element(By.ID, "command-text").send_keys("turn on the bedroom light\n")
    _wait(browser, lambda d: _device_on(d, "bedroom_light"), "the bedroom light on")
    assert _text(browser, "intent").startswith("light_on")
    assert _text(browser, "action") == "bedroom_light on"
    devices = _status_devices(daemon["status_file"])
    assert devices["bedroom_light"] == {"on": True, "level_percent": 100}
    assert devices["kitchen_light"]["on"] is True
    _wait(browser, lambda d: _counter(d, "commands understood") == "2", "the counters")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#history li")) == 2

    # A sentence of two commands: both are done, and each part has its own row.
    browser.find_element(By.ID, "command-text").send_keys("fan on and turn off the bedroom light\n")
    _wait(
        browser, lambda d: _device_on(d, "ceiling_fan") and not _device_on(d, "bedroom_light"), "both parts"
    )
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history li")) == 4, "a row for each part")
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#history li")[:2]]
    assert any("fan on" in row for row in rows) and any("turn off the bedroom light" in row for row in rows)

    screenshot = tmp_path / "web-view.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("EDGE_SCREENSHOT_DIR"):
        shutil.copyfile(screenshot, Path(os.environ["EDGE_SCREENSHOT_DIR"]) / SCREENSHOT_COPY)
    log = daemon["log"].read_text()
    assert "web: refused" in log and "Traceback" not in log
    assert "voice: 'the kitchen light is on'" in log and "voice: 'the bedroom light is on'" in log


def test_a_public_address_without_a_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        edge_command("run", "-c", str(SHIPPED_CONFIG), "--board", "sim", "--mock-gpio", "--web", "0.0.0.0:8080"),
        capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("edge: error: --web 0.0.0.0:8080: ")
    assert "web.token" in result.stderr and "Traceback" not in result.stderr
