"""What the daemon has done so far, kept on the pipeline thread and published as a JSON state file.

The pipeline thread owns ``DaemonStats`` and writes the file at most once per second, atomically (a temporary
file renamed over the old one), so readers such as ``edge status`` never see half a file and never touch the
pipeline.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections import Counter, deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edge.events import ActionResult, Detection, Event, Intent, NotUnderstood, StageError, Timeout, Transcript

DEFAULT_STATUS_FILE = Path("/run/edge/status.json")  # RuntimeDirectory=edge in the systemd unit
STATUS_FILE_ENV = "EDGE_STATUS_FILE"
LATENCY_WINDOW = 500  # latencies kept per stage: enough for stable p99, bounded memory on a Pi
FRESH_FOR_S = 10.0  # a snapshot older than this (plus any announced retry delay) means the daemon is gone

_LATENCY_STAGES = {Detection: "wake", Transcript: "asr", Intent: "intent", ActionResult: "action"}


def default_status_path(explicit: Path | str | None = None) -> Path:
    """Return the status file: the argument, ``$EDGE_STATUS_FILE`` or /run/edge/status.json."""
    if explicit:
        return Path(explicit)
    if os.environ.get(STATUS_FILE_ENV):
        return Path(os.environ[STATUS_FILE_ENV])
    return DEFAULT_STATUS_FILE


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (``fraction`` in 0..1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class DaemonStats:
    """Counters, latency windows and device states, owned by the pipeline thread."""

    def __init__(self, clock: Any = time.monotonic, wall_clock: Any = time.time) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self.started_s = clock()
        self.started_unix = wall_clock()
        self.counts: Counter[str] = Counter()
        self.latencies_ms: dict[str, deque[float]] = {}
        self.audio_restarts = 0
        self.audio_drops = 0
        self.audio_overflows = 0
        self.state = "starting"
        self.detail = ""
        self.retry_in_s = 0.0
        self.devices: dict[str, dict[str, Any]] = {}
        self.last_event: dict[str, Any] | None = None

    def record_event(self, event: Event) -> None:
        """Count one pipeline event and keep its latency."""
        if isinstance(event, Detection):
            self.counts["wakes"] += 1
        elif isinstance(event, Intent):
            self.counts["commands_understood"] += 1
        elif isinstance(event, NotUnderstood):
            self.counts["commands_not_understood"] += 1
        elif isinstance(event, Timeout):
            self.counts["timeouts"] += 1
        elif isinstance(event, StageError):
            self.counts["errors"] += 1
        elif isinstance(event, ActionResult):
            self.counts["actions"] += 1
        stage = _LATENCY_STAGES.get(type(event))
        latency = getattr(event, "latency_ms", None)
        if stage and isinstance(latency, int | float):
            window = self.latencies_ms.setdefault(stage, deque(maxlen=LATENCY_WINDOW))
            window.append(float(latency))
        self.last_event = event.to_dict()

    def record_restart(self) -> None:
        """Count one reopening of the audio source."""
        self.audio_restarts += 1

    def set_audio_losses(self, drops: int, overflows: int) -> None:
        """Set the audio chunks dropped by the capture queue and the device overflows, since start."""
        self.audio_drops = drops
        self.audio_overflows = overflows

    def set_state(self, state: str, detail: str = "", retry_in_s: float = 0.0) -> None:
        """Record what the daemon is doing now (listening, waiting for audio, stopped)."""
        self.state = state
        self.detail = detail
        self.retry_in_s = retry_in_s

    def set_devices(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Record every device's current state."""
        self.devices = {name: dict(state) for name, state in states.items()}

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-ready status."""
        counters = {
            key: self.counts[key]
            for key in ("wakes", "commands_understood", "commands_not_understood", "timeouts", "errors")
        }
        counters["actions"] = self.counts["actions"]
        latency = {
            stage: {
                "count": len(window),
                "p50": round(percentile(list(window), 0.50), 1),
                "p90": round(percentile(list(window), 0.90), 1),
                "p99": round(percentile(list(window), 0.99), 1),
            }
            for stage, window in self.latencies_ms.items()
        }
        return {
            "pid": os.getpid(),
            "state": self.state,
            "detail": self.detail,
            "updated_unix": round(self._wall_clock(), 3),
            "fresh_for_s": FRESH_FOR_S + self.retry_in_s,
            "started_unix": round(self.started_unix, 3),
            "uptime_s": round(self._clock() - self.started_s, 1),
            "counters": counters,
            "latency_ms": latency,
            "audio": {
                "drops": self.audio_drops,
                "overflows": self.audio_overflows,
                "restarts": self.audio_restarts,
            },
            "devices": self.devices,
            "last_event": self.last_event,
        }


class StatusWriter:
    """Writes snapshots to one file, atomically and at most once per ``interval_s``."""

    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        self.path = path
        self.interval_s = interval_s
        self._last_write_s: float | None = None

    def maybe_write(self, stats: DaemonStats, now_s: float) -> bool:
        """Write when ``interval_s`` has passed since the last write; return whether it wrote."""
        if self._last_write_s is not None and now_s - self._last_write_s < self.interval_s:
            return False
        self._last_write_s = now_s
        self.write_now(stats)
        return True

    def write_now(self, stats: DaemonStats) -> None:
        """Write a snapshot now (temporary file in the same folder, then rename over the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(stats.snapshot(), indent=1) + "\n"
        fd, tmp_name = tempfile.mkstemp(prefix=".status-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(text)
            os.chmod(tmp_name, 0o644)  # readable by `edge status` run as another user
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


def read_status(path: Path, now_unix: float | None = None) -> tuple[dict[str, Any] | None, str]:
    """Return the running daemon's snapshot, or None and why there is none (missing, stopped, stale)."""
    try:
        snapshot = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"the daemon is not running ({path} does not exist)"
    except (OSError, UnicodeDecodeError) as err:
        return None, f"cannot read {path}: {err}"
    except ValueError as err:
        return None, f"{path} is not a status file: {err}"
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("updated_unix"), int | float):
        return None, f"{path} is not a status file (no updated_unix)"
    if snapshot.get("state") == "stopped":
        return None, f"the daemon is not running (it stopped at {_clock_time(snapshot['updated_unix'])})"
    age_s = (time.time() if now_unix is None else now_unix) - snapshot["updated_unix"]
    fresh_for_s = snapshot.get("fresh_for_s", FRESH_FOR_S)
    if not isinstance(fresh_for_s, int | float) or age_s > fresh_for_s:
        return None, (
            f"the daemon is not running or is hung: {path} was last updated {age_s:.0f} s ago "
            f"at {_clock_time(snapshot['updated_unix'])}"
        )
    if not _process_exists(snapshot.get("pid")):
        return None, f"the daemon is not running (process {snapshot.get('pid')} is gone)"
    return snapshot, ""


def _process_exists(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # cannot tell; the age check has already passed
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by the service user
    return True


def _clock_time(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix))
