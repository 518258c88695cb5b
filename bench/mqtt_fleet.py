"""A classroom on one broker: N real ``edge run`` daemons publishing to one Mosquitto, for minutes.

    python -m bench.mqtt_fleet --minutes 10          # 30 daemons, prints one JSON object
    python -m bench.mqtt_fleet --quick               # 5 daemons for one minute, a smoke run

Each daemon is the real CLI (``edge run --input - --mock-gpio --events json``) on the sim board, with its own
base topic on one real Mosquitto (password file, anonymous access off). The bench plays the spoken-command
fixtures into every daemon's stdin as raw audio paced in real time, each daemon starting at a different
clip, and subscribes to ``edge/+/events`` like a teacher's dashboard. It reports:

- messages lost: events a daemon printed on stdout that never reached the subscriber (goal 0);
- delay from the event (the daemon's wall clock when the sink ran, sent as an MQTT 5 user property) to the
  subscriber, p50/p99/max;
- CPU (whole run and steady state after the first minute) and peak RSS of the broker and of each daemon.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as paho
import yaml

from bench.fixtures import SHIPPED_CONFIG, load_clips
from bench.mosquitto import PASSWORD, USERNAME, Mosquitto
from edge.speech.audio import SAMPLE_RATE_HZ, read_wav

CHUNK_S = 0.1
GAP_S = 1.5  # quiet between clips, so every command ends and the next wake is a fresh one
WARMUP_S = 60.0  # models load and the first wakes happen; steady-state CPU is measured after it
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _audio_loop(offset: int) -> list[bytes]:
    """Every fixture, starting at clip ``offset``, with quiet between, as raw s16le."""
    clips = load_clips()
    order = clips[offset % len(clips) :] + clips[: offset % len(clips)]
    gap = np.zeros(int(GAP_S * SAMPLE_RATE_HZ), dtype=np.int16)
    return [np.concatenate([read_wav(clip.path), gap]).astype("<i2").tobytes() for clip in order]


def _config(directory: Path, broker: Mosquitto, index: int) -> Path:
    data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["board"]["name"] = "sim"
    data["feedback"]["sounds"] = False
    data["mqtt"] = broker.config_section(f"edge/bench-{index:02d}", f"edge-bench-{index:02d}")
    path = directory / f"edge-{index:02d}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class Feeder(threading.Thread):
    """Writes one daemon's audio into its stdin in real time, then closes it (the daemon then stops)."""

    def __init__(self, process: subprocess.Popen[bytes], pieces: list[bytes], seconds: float) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.pieces = pieces
        self.seconds = seconds
        self.late_s = 0.0  # after the warm-up: how far behind real time the daemon fell (a full pipe blocks)

    def run(self) -> None:
        stream = self.process.stdin
        assert stream is not None
        chunk_bytes = int(CHUNK_S * SAMPLE_RATE_HZ) * 2
        audio = b"".join(self.pieces)
        started = time.monotonic()
        sent_s = 0.0
        position = 0
        try:
            while sent_s < self.seconds:
                if position >= len(audio):
                    position = 0
                stream.write(audio[position : position + chunk_bytes])
                stream.flush()
                position += chunk_bytes
                sent_s += CHUNK_S
                ahead = started + sent_s - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                elif sent_s > WARMUP_S:  # while the models load nobody reads the pipe; it catches up after
                    self.late_s = max(self.late_s, -ahead)
            stream.close()
        except (BrokenPipeError, ValueError):
            pass  # the daemon died; its exit code says so


class Dashboard:
    """The subscriber: every event from every daemon, with its delay."""

    def __init__(self, broker: Mosquitto) -> None:
        self.received: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.delays_ms: list[float] = []
        self.seqs: dict[str, set[int]] = defaultdict(set)
        self.duplicates = 0
        self.lock = threading.Lock()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id="bench-dashboard", protocol=paho.MQTTv5
        )
        self.client.username_pw_set(USERNAME, PASSWORD)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.on_connect = lambda client, *_args: client.subscribe("edge/+/events", qos=1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the dashboard could not subscribe")

    def _on_message(self, _client: Any, _userdata: object, message: Any) -> None:
        now_ms = time.time() * 1000
        properties = dict(getattr(message.properties, "UserProperty", []) or [])
        base = message.topic.rsplit("/", 1)[0]
        with self.lock:
            seq = int(properties.get("seq", 0))
            if seq in self.seqs[base]:
                self.duplicates += 1
                return
            self.seqs[base].add(seq)
            self.received[base].append(json.loads(message.payload))
            if "sent_ms" in properties:
                self.delays_ms.append(now_ms - float(properties["sent_ms"]))

    def count(self, base: str) -> int:
        """Events received from one daemon."""
        with self.lock:
            return len(self.received[base])

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def _cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Probe(threading.Thread):
    """Samples CPU time and peak RSS of every watched process once a second until told to stop."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.first: dict[str, tuple[float, float]] = {}  # first sample after the warm-up: (wall, cpu)
        self.last: dict[str, tuple[float, float]] = {}
        self.peak_mb: dict[str, float] = {}
        self.started = time.monotonic()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            now = time.monotonic()
            for name, pid in self.pids.items():
                cpu, peak = _cpu_s(pid), _peak_rss_mb(pid)
                if cpu is None or peak is None:
                    continue
                self.peak_mb[name] = peak
                self.last[name] = (now, cpu)
                if now - self.started >= WARMUP_S and name not in self.first:
                    self.first[name] = (now, cpu)

    def steady_percent(self, name: str) -> float | None:
        """CPU in percent of one core between the end of the warm-up and the last sample."""
        if name not in self.first or name not in self.last:
            return None
        (t0, c0), (t1, c1) = self.first[name], self.last[name]
        return round(100 * (c1 - c0) / (t1 - t0), 1) if t1 > t0 else None


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    array = np.array(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 1),
        "p99": round(float(np.percentile(array, 99)), 1),
        "max": round(float(array.max()), 1),
    }


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "max": None}
    return {"mean": round(float(np.mean(values)), 1), "max": round(float(np.max(values)), 1)}


def run(daemons: int, minutes: float) -> dict[str, Any]:
    """Run the fleet and return the report."""
    seconds = minutes * 60
    with tempfile.TemporaryDirectory(prefix="edge-mqtt-fleet-") as tmp:
        directory = Path(tmp)
        broker = Mosquitto(directory).start()
        dashboard = Dashboard(broker)
        processes: dict[str, subprocess.Popen[bytes]] = {}
        feeders: dict[str, Feeder] = {}
        outputs: dict[str, Path] = {}
        started = time.monotonic()
        try:
            for index in range(daemons):
                base = f"edge/bench-{index:02d}"
                outputs[base] = directory / f"events-{index:02d}.jsonl"
                with outputs[base].open("wb") as out, (directory / f"log-{index:02d}.txt").open("wb") as err:
                    processes[base] = subprocess.Popen(
                        [sys.executable, "-m", "edge", "run", "-c", str(_config(directory, broker, index)),
                         "--input", "-", "--mock-gpio", "--events", "json", "--no-sounds",
                         "--status-file", str(directory / f"status-{index:02d}.json")],
                        stdin=subprocess.PIPE, stdout=out, stderr=err,
                    )  # fmt: skip
                feeders[base] = Feeder(processes[base], _audio_loop(index * 7), seconds)
                feeders[base].start()
            assert broker.process is not None
            probe = Probe({"broker": broker.process.pid, **{b: p.pid for b, p in processes.items()}})
            probe.start()
            exit_codes = {}
            for base, process in processes.items():
                exit_codes[base] = process.wait(timeout=seconds * 3 + 300)
            wall_s = time.monotonic() - started
            printed = {
                b: [json.loads(line) for line in path.read_text().splitlines() if line]
                for b, path in outputs.items()
            }
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(
                dashboard.count(b) < len(e) for b, e in printed.items()
            ):
                time.sleep(0.2)
            probe.stop.set()
            broker_cpu_s = _cpu_s(broker.process.pid) or 0.0
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
            dashboard.close()
            broker.stop()
        logs = [(directory / f"log-{i:02d}.txt").read_text(errors="replace") for i in range(daemons)]
    events_printed = sum(len(e) for e in printed.values())
    events_received = sum(dashboard.count(b) for b in printed)
    names = list(processes)
    return {
        "daemons": daemons,
        "minutes": minutes,
        "wall_s": round(wall_s, 1),
        "exit_codes_nonzero": sum(1 for code in exit_codes.values() if code != 0),
        "events_printed": events_printed,
        "events_received": events_received,
        "messages_lost": events_printed - events_received,
        "duplicates": dashboard.duplicates,
        "actions": sum(1 for e in printed.values() for event in e if event["type"] == "action"),
        "delay_ms": _percentiles(dashboard.delays_ms),
        "max_lag_behind_realtime_s": round(max(f.late_s for f in feeders.values()), 2),
        "published_by_edges": sum(_closing_counts(log)[0] for log in logs),
        "dropped_by_edges": sum(_closing_counts(log)[1] for log in logs),
        "broker": {"cpu_s": round(broker_cpu_s, 1), "cpu_percent_steady": probe.steady_percent("broker"),
                   "peak_rss_mb": round(probe.peak_mb.get("broker", 0.0), 1)},
        "daemon": {
            "cpu_percent_steady": _summary([p for n in names if (p := probe.steady_percent(n)) is not None]),
            "peak_rss_mb": _summary([probe.peak_mb[n] for n in names if n in probe.peak_mb]),
        },
        "machine": {"cpus": os.cpu_count(), "note": "shared machine: timings are noisy"},
    }  # fmt: skip


def _closing_counts(log: str) -> tuple[int, int]:
    """(published, dropped) from the daemon's "mqtt: closed; N messages published, M dropped" line."""
    for line in log.splitlines():
        if "mqtt: closed;" in line:
            published, dropped = line.split("closed;", 1)[1].split(",")
            return int(published.split()[0]), int(dropped.split()[0])
    return 0, 0


def main() -> int:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="how long every daemon listens (default 10)"
    )
    parser.add_argument("--daemons", type=int, default=30, help="how many edges on the broker (default 30)")
    parser.add_argument("--quick", action="store_true", help="5 daemons for one minute")
    args = parser.parse_args()
    if args.quick:
        args.daemons, args.minutes = 5, 1.0
    print(json.dumps(run(args.daemons, args.minutes), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
