"""The live view's cost: event-to-page delay and the daemon's CPU with one browser attached, as JSON.

Plays the same recording (the command fixtures, each followed by a quiet room) through ``edge run --input``
twice: once without the view and once with ``--web`` and Debian's headless chromium showing the page.
The page records, for every live message, the wall time from the daemon's pipeline thread to its own DOM
update (``window.edgeDelays`` for events, ``window.edgeMeterDelays`` for the 10 Hz meter). CPU is the daemon
process's user + system time from READY=1 to its exit at the end of the file (start-up excluded).

    python -m bench.web_view [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from bench.fixtures import SHIPPED_CONFIG, load_clips
from edge.runtime.status import percentile
from edge.speech.audio import read_wav

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
GAP_S = 2.5
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _recording(path: Path, clip_count: int) -> float:
    clips = [clip for clip in load_clips() if clip.intent][:clip_count]
    noise = np.random.default_rng(5)
    pieces: list[np.ndarray] = []
    for clip in clips:
        pieces.append(read_wav(clip.path))
        pieces.append(noise.normal(0, 20, int(16000 * GAP_S)).astype("<i2"))
    audio = np.concatenate(pieces).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(audio.tobytes())
    return len(audio) / 16000


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime, stime


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class _SocketClient(threading.Thread):
    """A second, non-browser client: separates the server's delivery from the browser's own delay."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.event_delays_ms: list[float] = []

    def run(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.ws_connect(self.url) as ws:
            async for message in ws:
                received_ms = time.time() * 1000
                data = json.loads(message.data)
                if data.get("kind") == "event" and not data.get("replayed"):
                    self.event_delays_ms.append(received_ms - data["sent_unix_ms"])


def _run(audio: Path, directory: Path, web: bool) -> dict[str, Any]:
    notify_path = directory / f"notify-{web}.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(120)
    port = _free_port()
    command = [sys.executable, "-m", "edge", "run", "-c", str(SHIPPED_CONFIG), "--board", "sim"]
    command += ["--input", str(audio), "--mock-gpio", "--events", "none", "--no-sounds"]
    command += ["--status-file", str(directory / "status.json")]
    if web:
        command += ["--web", f"127.0.0.1:{port}"]
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path)}
    log_path = directory / f"edge-{web}.log"
    driver = _browser() if web else None  # started first: its own start-up is not the daemon's cost
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        while "READY=1" not in listener.recv(4096).decode().split("\n"):
            pass
        ready_cpu_s = _cpu_s(process.pid)
        ready_s = time.monotonic()
        client = None
        if driver is not None:
            driver.get(f"http://127.0.0.1:{port}/")
            client = _SocketClient(f"http://127.0.0.1:{port}/ws")
            client.start()
        while process.poll() is None:
            last_cpu_s = _cpu_s(process.pid)
            time.sleep(0.05)
        wall_s = time.monotonic() - ready_s
        result: dict[str, Any] = {"web": web, "exit_code": process.returncode}
        # The last sample is at most 50 ms before the exit: the shutdown itself is left out.
        result["cpu_seconds"] = round(last_cpu_s - ready_cpu_s, 2)
        result["cpu_percent_of_one_core"] = round(100 * (last_cpu_s - ready_cpu_s) / wall_s, 1)
        if driver is not None:
            result["event_delay_ms"] = _summary(driver.execute_script("return window.edgeDelays"))
            result["meter_delay_ms"] = _summary(driver.execute_script("return window.edgeMeterDelays"))
        if client is not None:
            client.join(10)
            result["event_delay_to_a_python_client_ms"] = _summary(client.event_delays_ms)
        return result
    finally:
        listener.close()
        if process.poll() is None:
            process.kill()
            process.wait()
        if driver is not None:
            driver.quit()


def _summary(delays: list[float]) -> dict[str, Any]:
    values = [float(v) for v in delays]
    return {
        "count": len(values),
        "p50": round(percentile(values, 0.50), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(max(values), 1) if values else 0.0,
    }


def run(quick: bool) -> dict[str, Any]:
    """Both runs on one recording; the view's cost is the difference."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        audio = directory / "commands.wav"
        seconds = _recording(audio, 6 if quick else 24)
        without = _run(audio, directory, web=False)
        with_view = _run(audio, directory, web=True)
    return {
        "audio_seconds": round(seconds, 1),
        "cores": os.cpu_count(),
        "load_average_1min_after": round(
            os.getloadavg()[0], 1
        ),  # the machine is shared: read numbers with it
        "without_view": without,
        "with_view_and_one_browser": with_view,
        "view_cpu_percent_of_one_core": round(
            with_view["cpu_percent_of_one_core"] - without["cpu_percent_of_one_core"], 1
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the JSON document."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="6 commands (about 40 s) instead of 24")
    args = parser.parse_args(argv)
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        print("bench.web_view: needs chromium and chromium-driver (apt-get install ...)", file=sys.stderr)
        return 1
    print(json.dumps(run(args.quick), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
