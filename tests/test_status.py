"""Daemon statistics, the atomic status file, and `edge status` reading it through the real CLI."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from edge.cli import main
from edge.events import ActionResult, Detection, Intent, NotUnderstood, StageError, Timeout, Transcript
from edge.runtime.status import DaemonStats, StatusWriter, default_status_path, percentile, read_status

from .support import edge_command, subprocess_env


def stats_with_traffic() -> DaemonStats:
    stats = DaemonStats()
    for index in range(100):
        stats.record_event(Detection(index * 1000, "hey_jarvis", 0.9, latency_ms=float(index + 1)))
    stats.record_event(Transcript(1, "turn on the lamp", "vosk", "silence", 600.0, latency_ms=180.0))
    stats.record_event(Intent(2, "light_on", 0.97, {"device": "kitchen_light"}, latency_ms=2.0))
    stats.record_event(ActionResult(3, "light_on", "kitchen_light", "kitchen_light on", latency_ms=0.5))
    stats.record_event(NotUnderstood(4, "make coffee", "low confidence"))
    stats.record_event(Timeout(5, "no speech after the wake word"))
    stats.record_event(StageError(6, "command", "DeviceError: GPIO write failed"))
    stats.set_devices({"kitchen_light": {"on": True, "level_percent": 60}})
    stats.set_audio_losses(drops=7, overflows=2)
    stats.record_restart()
    stats.set_state("listening")
    return stats


def test_counters_latency_percentiles_and_devices() -> None:
    snapshot = stats_with_traffic().snapshot()
    assert snapshot["counters"] == {
        "wakes": 100,
        "commands_understood": 1,
        "commands_not_understood": 1,
        "timeouts": 1,
        "errors": 1,
        "actions": 1,
    }
    assert snapshot["latency_ms"]["wake"] == {"count": 100, "p50": 50.0, "p90": 90.0, "p99": 99.0}
    assert snapshot["latency_ms"]["asr"]["p99"] == 180.0
    assert snapshot["audio"] == {"drops": 7, "overflows": 2, "restarts": 1}
    assert snapshot["devices"]["kitchen_light"] == {"on": True, "level_percent": 60}
    assert snapshot["last_event"]["type"] == "error"
    json.dumps(snapshot)  # JSON-ready as it is


def test_the_latency_window_is_bounded() -> None:
    stats = DaemonStats()
    for index in range(2000):
        stats.record_event(Detection(index, "w", 0.9, latency_ms=1000.0 if index < 1000 else 1.0))
    assert stats.snapshot()["latency_ms"]["wake"] == {"count": 500, "p50": 1.0, "p90": 1.0, "p99": 1.0}


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.99) == 4.0


def test_the_writer_writes_at_most_once_per_interval_and_atomically(tmp_path) -> None:
    path = tmp_path / "run" / "status.json"
    writer = StatusWriter(path, interval_s=1.0)
    stats = stats_with_traffic()
    assert writer.maybe_write(stats, now_s=100.0)
    stats.record_event(Detection(1, "hey_jarvis", 0.9))
    assert not writer.maybe_write(stats, now_s=100.9)
    assert json.loads(path.read_text())["counters"]["wakes"] == 100
    assert writer.maybe_write(stats, now_s=101.0)
    assert json.loads(path.read_text())["counters"]["wakes"] == 101
    assert sorted(p.name for p in path.parent.iterdir()) == ["status.json"]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o644


def write_snapshot(path: Path, **changes: object) -> None:
    snapshot = stats_with_traffic().snapshot()
    snapshot.update(changes)
    path.write_text(json.dumps(snapshot), encoding="utf-8")


def test_read_status_accepts_a_fresh_file_from_a_live_process(tmp_path) -> None:
    write_snapshot(tmp_path / "s.json")
    snapshot, problem = read_status(tmp_path / "s.json")
    assert snapshot is not None and problem == ""


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": "stopped"}, "the daemon is not running (it stopped at "),
        ({"updated_unix": time.time() - 60}, "the daemon is not running or is hung: "),
        ({"pid": 2**22 + 12345}, "the daemon is not running (process 4206649 is gone)"),
    ],
)
def test_read_status_refuses_a_stopped_stale_or_orphaned_file(tmp_path, changes, expected) -> None:
    write_snapshot(tmp_path / "s.json", **changes)
    snapshot, problem = read_status(tmp_path / "s.json")
    assert snapshot is None and problem.startswith(expected)


def test_a_retry_delay_extends_freshness(tmp_path) -> None:
    stats = stats_with_traffic()
    stats.set_state("waiting for audio", "microphone gone", retry_in_s=30.0)
    StatusWriter(tmp_path / "s.json").write_now(stats)
    snapshot, _ = read_status(tmp_path / "s.json", now_unix=time.time() + 35)
    assert snapshot is not None and snapshot["detail"] == "microphone gone"
    assert read_status(tmp_path / "s.json", now_unix=time.time() + 45)[0] is None


def test_status_path_comes_from_the_argument_the_environment_or_run(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("EDGE_STATUS_FILE", raising=False)
    assert default_status_path() == Path("/run/edge/status.json")
    monkeypatch.setenv("EDGE_STATUS_FILE", str(tmp_path / "env.json"))
    assert default_status_path() == tmp_path / "env.json"
    assert default_status_path(tmp_path / "arg.json") == tmp_path / "arg.json"


def test_edge_status_prints_the_daemon_status(tmp_path, capsys) -> None:
    write_snapshot(tmp_path / "s.json")
    assert main(["status", "--file", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("edge: listening (pid ")
    assert "100 wakes, 1 understood, 1 not understood, 1 timeouts, 1 errors" in out
    assert "wake        50.0    90.0    99.0  (100)" in out
    assert "7 chunks dropped, 2 overflows, 1 source restarts" in out
    assert "kitchen_light    on 60 %" in out


def test_edge_status_json_is_the_file(tmp_path, capsys) -> None:
    write_snapshot(tmp_path / "s.json")
    assert main(["status", "--json", "--file", str(tmp_path / "s.json")]) == 0
    assert json.loads(capsys.readouterr().out)["counters"]["wakes"] == 100


def test_edge_status_without_a_daemon_exits_1_with_a_clear_message(tmp_path) -> None:
    missing = tmp_path / "none.json"
    result = subprocess.run(
        edge_command("status"),
        capture_output=True,
        text=True,
        env=subprocess_env(EDGE_STATUS_FILE=str(missing)),
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"edge: the daemon is not running ({missing} does not exist)"
    assert result.stdout == ""


def test_the_process_check_treats_another_users_process_as_alive(tmp_path) -> None:
    write_snapshot(tmp_path / "s.json", pid=1)  # init: alive, and not ours when tests run unprivileged
    assert read_status(tmp_path / "s.json")[0] is not None
