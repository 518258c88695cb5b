"""Cold start and peak memory of the real ``edge run`` process, per engine configuration.

Starts ``edge run --input -`` exactly as systemd would (with a ``NOTIFY_SOCKET``), times the ``READY=1``
notification, streams the command fixtures into its stdin as raw audio, and reads the child's peak RSS from
``/proc/PID/status`` (``VmHWM``, the high-water mark of the process after ``exec``) until it exits at the end
of the input. ``wait4``'s ``ru_maxrss`` would not do: Linux carries the forking parent's peak into it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.fixtures import SHIPPED_CONFIG, load_clips
from edge.speech.audio import read_wav

READY_TIMEOUT_S = 120


def _config_file(directory: Path, wake_engine: str, asr_engine: str) -> Path:
    data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["wake"]["engine"] = wake_engine
    phrase = data["wake"]["phrase"]
    if wake_engine != "micro" and isinstance(phrase, list):
        data["wake"]["phrase"] = phrase[0]  # only micro listens for several phrases at once
    if wake_engine not in ("micro", "custom"):
        data["wake"].pop("verify", None)  # Whisper's wake check belongs to micro and custom heads
    data["asr"]["engine"] = asr_engine
    data["feedback"]["sounds"] = False
    path = directory / f"{wake_engine}-{asr_engine}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _audio(seconds_cap: float) -> bytes:
    pieces = [read_wav(clip.path) for clip in load_clips()]
    audio = np.concatenate(pieces)[: int(seconds_cap * 16000)]
    return audio.astype("<i2").tobytes()


class _PeakWatcher(threading.Thread):
    """Reads a process's VmHWM every 20 ms until it is gone; the last value read is its peak RSS."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.path = Path(f"/proc/{pid}/status")
        self.peak_kb = 0

    def run(self) -> None:
        while True:
            try:
                text = self.path.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            if "State:\tZ" in text:
                return
            time.sleep(0.02)


def _drain(listener: socket.socket) -> None:
    try:
        while listener.recv(4096):
            pass
    except OSError:
        pass  # closed or timed out: the probe is over


def probe(wake_engine: str, asr_engine: str, audio: bytes) -> dict[str, Any]:
    """Run one daemon to the end of ``audio``; return cold start and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config = _config_file(directory, wake_engine, asr_engine)
        notify_path = directory / "notify.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(str(notify_path))
        listener.settimeout(READY_TIMEOUT_S)
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(notify_path),
            "EDGE_STATUS_FILE": str(directory / "status.json"),
        }
        command = [sys.executable, "-m", "edge", "run", "-c", str(config), "--board", "sim", "--input", "-"]
        command += ["--mock-gpio", "--events", "none", "--no-sounds"]
        log_path = directory / "stderr.log"
        started = time.perf_counter()
        # Logs go to a file: a pipe nobody reads fills up and blocks the daemon.
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log_file, env=env
            )
        reaped = False
        try:
            ready_s = None
            while ready_s is None:
                message = listener.recv(4096).decode()
                if "READY=1" in message.split("\n"):
                    ready_s = time.perf_counter() - started
            # Keep reading, as systemd does: STATUS and WATCHDOG messages keep coming.
            threading.Thread(target=_drain, args=(listener,), daemon=True).start()
            assert process.stdin is not None
            try:
                process.stdin.write(audio)
                process.stdin.close()
            except BrokenPipeError:
                pass  # the daemon died early; its exit code and stderr say why
            watcher = _PeakWatcher(process.pid)
            watcher.start()
            _, status, _usage = os.wait4(process.pid, 0)
            watcher.join()
            reaped = True
        finally:
            listener.close()
            if not reaped:
                process.kill()
                process.wait()
        stderr = log_path.read_text(errors="replace")
    exit_code = os.waitstatus_to_exitcode(status)
    return {
        "wake_engine": wake_engine,
        "asr_engine": asr_engine,
        "cold_start_seconds": round(ready_s, 2),
        "peak_rss_mb": round(watcher.peak_kb / 1024, 1),
        "audio_seconds": round(len(audio) / 32000, 1),
        "exit_code": exit_code,
        "stderr_tail": stderr.strip().splitlines()[-3:] if exit_code else [],
    }


def run(quick: bool, vosk_model_present: bool) -> dict[str, Any]:
    """Cold start and peak RSS for each configuration."""
    audio = _audio(60 if quick else 600)
    setups = [("micro", "pocketsphinx"), ("pocketsphinx", "pocketsphinx")]
    if vosk_model_present:
        setups.append(("micro", "vosk"))
    return {"configurations": [probe(wake, asr, audio) for wake, asr in setups]}
