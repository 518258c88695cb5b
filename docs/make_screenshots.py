"""Take docs/live-view.png and docs/fleet.png from the real live view, driven by headless chromium.

A Mosquitto broker on a free port, two real `edge run --input FILE --mock-gpio` daemons on it (one with
`--web`), fed spoken-command fixtures in real time; selenium opens the live page once three commands have
been acted on, and the fleet page once both edges are on it. Needs Debian's chromium, chromium-driver and
mosquitto (the README's test command installs them). Run `python docs/make_screenshots.py` (about 1 min).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.mosquitto import Mosquitto, free_port  # noqa: E402

COMMANDS = REPO / "tests" / "fixtures" / "commands"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH_PX = 1280
# What each edge hears: spoken-command fixtures in order, then a quiet room while the browser looks.
CLASSROOM = (
    "turn_on_the_fan__flite_kal16__clean.wav",  # a robotic voice Whisper mishears: the view shows the refusal
    "set_the_fan_to_low__flite_slt__snr20.wav",
    "turn_on_the_kitchen_light__flite_kal16__clean.wav",
)
LAB = ("turn_on_the_bedroom_light__flite_slt__snr20.wav",)
QUIET_S = 120


def _audio(names: tuple[str, ...], path: Path) -> None:
    """The fixtures with 3 s between them, then low noise (a room, never digital silence)."""
    room = np.random.default_rng(3).normal(0, 20, 16000 * QUIET_S).astype("<i2")
    parts = []
    for name in names:
        with wave.open(str(COMMANDS / name), "rb") as wav:
            parts.append(np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"))
        parts.append(room[: 16000 * 3])  # a pause between speakers: past the wake refractory time
    parts.append(room)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(np.concatenate(parts).tobytes())


@contextlib.contextmanager
def _edge(
    workdir: Path, broker: Mosquitto, name: str, clips: tuple[str, ...], web_port: int | None
) -> Iterator[None]:
    """One real daemon on the shipped edge.yaml, publishing as edge/NAME on the broker."""
    config = yaml.safe_load((REPO / "edge.yaml").read_text(encoding="utf-8"))
    config["mqtt"] = broker.config_section(f"edge/{name}", f"edge-{name}")
    config_path = workdir / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    audio = workdir / f"{name}.wav"
    _audio(clips, audio)
    command = [sys.executable, "-m", "edge", "run", "-c", str(config_path), "--board", "sim", "--input",
               str(audio), "--mock-gpio", "--no-sounds", "--events", "none"]  # fmt: skip
    if web_port is not None:
        command += ["--web", f"127.0.0.1:{web_port}"]
    with (workdir / f"{name}.log").open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait(what: str, check: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"make_screenshots: the page never showed {what}")
        time.sleep(0.3)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: chromium refuses to start as root otherwise (CI and containers run as root).
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH_PX},900",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _shoot(driver: Any, path: Path) -> None:
    """The whole page at WIDTH_PX wide."""
    driver.set_window_size(WIDTH_PX, 500)  # short first, so a short page is measured as short
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(WIDTH_PX, height + 140)  # the window's own frame is not page
    time.sleep(0.5)  # one more redraw after the resize
    driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(REPO)}")


def _text(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def main() -> int:
    """Start the broker, the two edges and the browser; write the two screenshots."""
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = Mosquitto(workdir).start()
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        try:
            with (
                _edge(workdir, broker, "classroom-pi", CLASSROOM, port),
                _edge(workdir, broker, "lab-pi", LAB, None),
            ):
                _wait("the live view", lambda: _answers(url + "auth"), 90)
                driver = _browser()
                try:
                    driver.get(url)
                    history = "#history li"
                    try:
                        _wait(
                            "three commands", lambda: len(driver.find_elements(By.CSS_SELECTOR, history)) >= 3
                        )
                    except SystemExit:
                        driver.save_screenshot("/tmp/make_screenshots-failed.png")
                        print((workdir / "classroom-pi.log").read_text()[-3000:], file=sys.stderr)
                        raise
                    _shoot(driver, REPO / "docs" / "live-view.png")
                    driver.get(url + "fleet")
                    cards = "section.edge[data-online='online']"
                    _wait("both edges", lambda: len(driver.find_elements(By.CSS_SELECTOR, cards)) >= 2, 60)
                    _shoot(driver, REPO / "docs" / "fleet.png")
                finally:
                    driver.quit()
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
