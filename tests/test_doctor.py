"""``edge doctor`` through the real CLI: a WAV or a (fake ALSA) sound card in, a report to act on out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.speech.audio import read_wav

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env
from .test_microphone import fake_sound_card

FIXTURE = REPO / "tests/fixtures/commands/turn_on_the_kitchen_light__flite_kal16__clean.wav"


def doctor(
    tmp_path: Path, *args: str, home: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``edge doctor`` in an empty folder (no edge.yaml there), edge importable from this checkout."""
    env = home or subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("EDGE_CONFIG", None)
    return subprocess.run(
        edge_command("doctor", *args),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


def test_json_report_from_a_recording(tmp_path: Path) -> None:
    result = doctor(tmp_path, "--json", "--board", "sim", "--input", str(FIXTURE))
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["config"]["path"] is None  # no edge.yaml: the shipped defaults
    assert report["board"]["profile"] == "sim"
    mic = report["microphone"]
    reference = read_wav(FIXTURE).astype(np.float64)
    assert mic["ok"] and abs(mic["rms_dbfs"] - 20 * np.log10(np.sqrt(np.mean(reference**2)) / 32768)) < 0.2
    assert mic["clipped_percent"] == 0
    wake = report["wake"]
    assert wake["engine"] == "micro" and wake["heard_check_phrase"] is True
    assert 0 < wake["cpu_ms_per_audio_second"] < 100
    asr = report["asr"]
    assert asr["heard"] == "turn on the kitchen light" and asr["command_seconds"] == 2.0
    assert 0 < asr["decode_ms"] < 5000
    assert report["memory"]["doctor_peak_rss_mb"] > 50
    assert "systemd" in report["service"]
    verdict = report["verdict"]
    expected = verdict["expected_end_of_speech_to_light_ms"]
    assert verdict["ok"] and 150 < expected["median"] < expected["p90"]
    assert "from end of speech to the light" in " ".join(verdict["lines"])


def test_a_clipping_recording_is_named_and_fails(tmp_path: Path) -> None:
    loud = np.clip(np.sin(np.arange(48000) * 0.05) * 60000, -32768, 32767)
    result = doctor(tmp_path, "--board", "sim", "--input", str(write_wav(tmp_path / "loud.wav", loud)))
    assert result.returncode == 1
    assert "edge will not work as it is" in result.stdout
    assert "microphone: the input clips: turn the capture gain down" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_missing_microphone_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(SHIPPED_CONFIG.read_text() + "\naudio:\n  device: no such mic\n")
    result = doctor(tmp_path, "--json", "-c", str(config), "--board", "sim")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["microphone"]["problem"].startswith("microphone 'no such mic'")
    assert not report["verdict"]["ok"]
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(
    not Path("/usr/share/alsa/alsa.conf").exists(),
    reason="needs ALSA's configuration (apt-get install libportaudio2, which brings it)",
)
def test_the_microphone_is_recorded_through_portaudio(tmp_path: Path) -> None:
    reference = read_wav(FIXTURE)
    env = fake_sound_card(tmp_path / "home", np.tile(reference, 4).tobytes())
    config = tmp_path / "edge.yaml"
    config.write_text(SHIPPED_CONFIG.read_text() + "\naudio:\n  device: fixture\n  sample_rate_hz: 16000\n")
    result = doctor(tmp_path, "--json", "-c", str(config), "--board", "sim", "--seconds", "3", home=env)
    assert result.returncode == 0, result.stdout + result.stderr
    mic = json.loads(result.stdout)["microphone"]
    assert mic["source"] == "microphone 'fixture' at 16000 Hz" and mic["seconds"] == 3.0
    heard = np.tile(reference, 4)[: 3 * 16000].astype(np.float64)
    assert abs(mic["rms_dbfs"] - 20 * np.log10(np.sqrt(np.mean(heard**2)) / 32768)) < 0.5


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    result = doctor(tmp_path, "--input", str(tmp_path / "none.wav"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("edge: error: --input ")
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio")
    result = doctor(tmp_path, "--input", str(bogus))
    assert result.returncode == 2 and str(bogus) in result.stderr and "Traceback" not in result.stderr


def test_doctor_runs_from_an_installed_layout_with_no_checkout(tmp_path: Path) -> None:
    """The files as a wheel installs them (pyproject's package-dir mapping), no repository around them.

    A real wheel is built and installed by hand (docs/troubleshooting.md): building one here would download setuptools.
    """
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    site = tmp_path / "site-packages"
    shutil.copytree(REPO / "edge", site / "edge", ignore=shutil.ignore_patterns("__pycache__"))
    for package, folder in setuptools["package-dir"].items():
        shutil.copytree(REPO / folder, site / package.replace(".", "/"))
    env = subprocess_env(PYTHONPATH=str(site))
    env.pop("EDGE_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "edge", "doctor", "--json", "--input", str(FIXTURE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["board"]["profile"] in ("sim", "rpi4b", "rpi5", "rpizero2w")  # auto: the boards were found
    assert report["asr"]["heard"] == "turn on the kitchen light"
    assert report["wake"]["heard_check_phrase"] is True
