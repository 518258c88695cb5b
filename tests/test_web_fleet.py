"""The fleet page of the web view, as a teacher uses it: a real `edge run --web` with an mqtt: section, a real
Mosquitto, a second edge's bridge on the same broker, and the page in Debian's chromium (selenium)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.mosquitto import Mosquitto
from edge.config import load_config
from edge.integrations.web.layout import page_setup
from edge.integrations.web.server import WebServer
from edge.integrations.web.settings import WebConfig
from edge.integrations.web.view import fleet_setup

from .mqtt_support import BridgedEdge, write_config
from .support import SHIPPED_CONFIG, edge_command
from .test_web_view import (
    CHROMEDRIVER,
    CHROMIUM,
    _command_then_quiet_room,
    _free_port,
    _get,
    _wait,
    browser,  # noqa: F401 (a fixture: headless chromium)
    running_edge,
)

TOKEN = "classroom-7f3a9c"
# Set EDGE_SCREENSHOT_DIR to keep a copy of the page as the test saw it (for a person to look at).
SCREENSHOT_COPY = "fleet-screenshot.png"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def daemon(broker: Mosquitto, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`edge run --web` on a command then a quiet room, publishing as edge/pi01 on ``broker``."""
    port = _free_port()
    config_path = write_config(tmp_path, broker, base_topic="edge/pi01")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["web"] = {"listen": f"127.0.0.1:{port}", "token": TOKEN}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    audio = tmp_path / "command_then_quiet.wav"
    _command_then_quiet_room(audio)
    command = edge_command(
        "run", "-c", str(config_path), "--input", str(audio), "--mock-gpio", "--no-sounds", "--events", "none",
        "--status-file", str(tmp_path / "status.json"), "--web", f"127.0.0.1:{port}",
    )  # fmt: skip
    log_path = tmp_path / "edge.log"
    url = f"http://127.0.0.1:{port}/"
    with running_edge(command, log_path, url):
        yield {"url": url, "log": log_path}


def _card(driver: Any, base_topic: str) -> Any:
    from selenium.webdriver.common.by import By

    cards = driver.find_elements(By.CSS_SELECTOR, f'section.edge[id="edge-{base_topic}"]')
    return cards[0] if cards else None


def _card_says(driver: Any, base_topic: str, online: str, device: str, state_text: str) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    card = _card(driver, base_topic)
    if card is None:
        return False
    try:
        if card.get_attribute("data-online") != online:
            return False
        devices = card.find_elements(By.CSS_SELECTOR, f'li[data-device="{device}"] .state-text')
        return bool(devices) and devices[0].text == state_text
    except StaleElementReferenceException:  # redrawn between the two reads: look again
        return False


def _last_command(driver: Any, base_topic: str) -> str:
    from selenium.webdriver.common.by import By

    return str(_card(driver, base_topic).find_element(By.CSS_SELECTOR, ".last-command .what").text)


def test_the_fleet_page_lists_this_edge_and_another_one_live(
    daemon: dict[str, Any],
    broker: Mosquitto,
    browser: Any,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    url = daemon["url"]
    # The same token rule as the live page.
    assert _get(f"{url}ws?page=fleet&token=wrong-token") == (401, {"error": "wrong token"})
    assert _get(f"{url}ws?page=nope&token={TOKEN}")[0] == 400

    # The token is asked once, on the live page; its header links to the fleet page.
    browser.get(url)
    _wait(
        browser,
        lambda d: d.find_element(By.ID, "token-dialog").get_attribute("open") is not None,
        "the prompt",
    )
    browser.find_element(By.ID, "token").send_keys(TOKEN + "\n")
    _wait(browser, lambda d: d.find_element(By.ID, "connection").text == "connected", "a connection")
    browser.find_element(By.ID, "fleet-link").click()
    _wait(browser, lambda d: d.current_url == f"{url}fleet", "the fleet page")
    _wait(browser, lambda d: d.find_element(By.ID, "connection").text == "connected", "a connection")
    assert browser.find_element(By.ID, "mqtt-off").is_displayed() is False

    # This edge, online, with the spoken "turn on the kitchen light" applied.
    _wait(
        browser,
        lambda d: _card_says(d, "edge/pi01", "online", "kitchen_light", "on"),
        "pi01's kitchen light",
        60,
    )
    assert _last_command(browser, "edge/pi01") == "kitchen_light on"
    assert "this edge" in _card(browser, "edge/pi01").text

    # A second edge joins the broker and Home Assistant sets its fan: the page follows without a reload.
    other = BridgedEdge(broker, tmp_path, "edge/pi02")
    try:
        _wait(browser, lambda d: _card_says(d, "edge/pi02", "online", "ceiling_fan", "off"), "pi02 online")
        other.command("edge/pi02/ceiling_fan/preset/set", "low")
        _wait(
            browser,
            lambda d: _card_says(d, "edge/pi02", "online", "ceiling_fan", "on 30 %"),
            "pi02's fan at 30 %",
        )
        assert _last_command(browser, "edge/pi02") == "ceiling_fan 30 %"
        assert browser.find_element(By.ID, "fleet-count").text == "2 OF 2 ONLINE"
    finally:
        other.close()
    # It stops: its outputs go safe and the broker says offline; this edge stays online.
    _wait(browser, lambda d: _card_says(d, "edge/pi02", "offline", "ceiling_fan", "off"), "pi02 offline")
    assert _card_says(browser, "edge/pi01", "online", "kitchen_light", "on")
    assert browser.find_element(By.ID, "fleet-count").text == "1 OF 2 ONLINE"

    screenshot = tmp_path / "fleet.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("EDGE_SCREENSHOT_DIR"):
        shutil.copyfile(screenshot, Path(os.environ["EDGE_SCREENSHOT_DIR"]) / SCREENSHOT_COPY)
    log = daemon["log"].read_text()
    assert "mqtt: fleet view follows edge/+" in log and "Traceback" not in log


def test_without_mqtt_the_fleet_page_says_how_to_turn_it_on(browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    config = load_config(SHIPPED_CONFIG)
    assert config.mqtt is None
    setup = {**page_setup(config), "fleet": fleet_setup(config)}
    server = WebServer(WebConfig("127.0.0.1", _free_port()), setup, lambda _text: None)
    server.start()
    try:
        browser.get(f"{server.web.url}fleet")
        _wait(browser, lambda d: d.find_element(By.ID, "mqtt-off").is_displayed(), "'MQTT is off'")
        off = browser.find_element(By.ID, "mqtt-off").text
        assert "MQTT IS OFF" in off and "mqtt:" in off and str(SHIPPED_CONFIG) in off
        assert browser.find_element(By.ID, "fleet-count").text == "MQTT OFF"
        assert browser.find_elements(By.CSS_SELECTOR, "section.edge") == []
    finally:
        server.close()
