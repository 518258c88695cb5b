"""The measurements behind ``edge doctor``: board, microphone level, wake and Whisper cost, memory, service.

Everything runs from the installed package: the speech it measures on is two short clips shipped in
``edge.sounds`` (made by tests/fixtures/make_sounds.sh), and quiet room tone is synthesized. Each check
returns a plain dict (what ``edge doctor --json`` prints) with ``ok`` and, when something is wrong, one
``problem`` line that says what to do.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.devices.board import DEVICE_TREE_MODEL, BoardProfile
from edge.errors import EdgeError
from edge.speech.asr.settings import AsrConfig
from edge.speech.audio import SAMPLE_RATE_HZ, MicrophoneSource, chunk_samples, read_wav
from edge.speech.wake.settings import WakeConfig

CHECK_WAKE_PHRASE = "hey jarvis"  # what check_wake.wav says
CHECK_COMMAND = "turn on the kitchen light"  # what check_command.wav says, in 2.0 s
QUIET_SECONDS = 10  # room tone after the wake clip: wake CPU is mostly spent on nobody speaking
CLIPPED = 32767 * 0.99  # a sample this close to full scale was clipped by the card or the amplifier
# End of speech -> light as a function of one decode's time, fitted to the bench's slow-CPU model
# (python -m bench --only latency, simulated_slow_cpu, decodes x1/x5/x15): the short silence that ends a
# complete command, ~80 ms of the rest of the pipeline, then 0.7 decodes for the median command (a decode
# mostly runs while the short silence is heard) and 2.1 for the slowest tenth (two decodes, a longer pause).
OTHER_MS = 80
DECODES_TYPICAL, DECODES_SLOW = 0.7, 2.1


def expected_latency_ms(decode_ms: float, complete_silence_ms: int) -> tuple[int, int]:
    """(median, slowest tenth) end of speech -> light for a board whose 2 s decode takes ``decode_ms``."""
    base = complete_silence_ms + OTHER_MS
    return round((base + DECODES_TYPICAL * decode_ms) / 10) * 10, round(
        (base + DECODES_SLOW * decode_ms) / 10
    ) * 10


SERVICE = "edge.service"


def sound(name: str) -> Path:
    """A clip shipped in ``edge.sounds``."""
    return Path(__file__).resolve().parent.parent / "sounds" / name


def board_check(board: BoardProfile, model_file: Path = DEVICE_TREE_MODEL) -> dict[str, Any]:
    """The profile in use, what the board says it is, reserved pin groups (audio HATs), memory."""
    try:
        model = model_file.read_text(encoding="utf-8", errors="replace").strip("\x00\n")
    except OSError:
        model = None
    groups = sorted(
        {
            why.removeprefix("reserved for ")
            for why in board.reserved.values()
            if why.startswith("reserved for ")
        }
    )
    return {
        "ok": True,
        "profile": board.name,
        "description": board.description,
        "device_tree_model": model,
        "reserved_groups": groups,
        "i2s_hat_reserved": "i2s" in groups,
        "memory_total_mb": _meminfo_mb("MemTotal"),
        "memory_available_mb": _meminfo_mb("MemAvailable"),
    }


def _meminfo_mb(key: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def level_check(samples: np.ndarray, source: str) -> dict[str, Any]:
    """Loudness and clipping of int16 audio heard from ``source``."""
    audio = samples.astype(np.float64)
    rms = float(np.sqrt(np.mean(audio**2))) if len(audio) else 0.0
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    clipped = float(np.mean(np.abs(audio) >= CLIPPED)) * 100 if len(audio) else 0.0
    result: dict[str, Any] = {
        "ok": True,
        "source": source,
        "seconds": round(len(audio) / SAMPLE_RATE_HZ, 2),
        "rms_dbfs": _dbfs(rms),
        "peak_dbfs": _dbfs(peak),
        "clipped_percent": round(clipped, 3),
    }
    if peak < 32768 * 10 ** (-70 / 20):
        result.update(
            ok=False, problem="the input is silent: a muted or wrong device (see `edge audio-devices`)"
        )
    elif clipped > 0.1:
        result.update(ok=False, problem="the input clips: turn the capture gain down (alsamixer)")
    return result


def _dbfs(value: float) -> float:
    return round(20 * np.log10(max(value, 1.0) / 32768), 1)


def microphone_check(
    device: str | int | None, seconds: float, rate: int | None, channels: int
) -> dict[str, Any]:
    """Record ``seconds`` from the microphone and judge its level; no device is a result, not a crash."""
    try:
        source = MicrophoneSource(
            device, sample_rate_hz=rate, channels=channels, chunk_ms=30, queue_chunks=2000, keep_oldest=True
        )
    except EdgeError as err:
        return {"ok": False, "source": _mic_name(device), "problem": str(err)}
    wanted = int(seconds * SAMPLE_RATE_HZ)
    heard: list[np.ndarray] = []
    try:
        for chunk in source.chunks():
            heard.append(chunk.samples())
            if sum(map(len, heard)) >= wanted:
                break
    except EdgeError as err:
        return {"ok": False, "source": _mic_name(device), "problem": str(err)}
    finally:
        source.close()
    samples = np.concatenate(heard)[:wanted] if heard else np.zeros(0, dtype=np.int16)
    return {
        **level_check(samples, f"{_mic_name(device)} at {source.rate_hz} Hz"),
        "drops": source.drops,
    }


def _mic_name(device: str | int | None) -> str:
    return "the default microphone" if device is None else f"microphone {device!r}"


def room_tone(seconds: float, seed: int = 7) -> np.ndarray:
    """Quiet noise (about -60 dBFS) standing in for a room where nobody speaks."""
    noise = np.random.default_rng(seed).normal(0.0, 32.0, int(seconds * SAMPLE_RATE_HZ))
    return noise.astype(np.int16)


def wake_check(config: WakeConfig) -> dict[str, Any]:
    """CPU the wake engine takes per second of audio, and whether it hears the shipped phrase."""
    from edge.speech.wake.engines import wake_from_config

    try:
        detector = wake_from_config(config, source="wake")
    except EdgeError as err:
        return {"ok": False, "engine": config.engine, "problem": str(err)}
    audio = np.concatenate([read_wav(sound("check_wake.wav")), room_tone(QUIET_SECONDS)])
    detections = []
    try:
        started = time.process_time()
        for chunk in chunk_samples(audio, 20):
            found = detector.process(chunk)
            if found is not None:
                detections.append(found)
        cpu_s = time.process_time() - started
    finally:
        detector.close()
    seconds = len(audio) / SAMPLE_RATE_HZ
    listens = CHECK_WAKE_PHRASE in config.phrases
    result: dict[str, Any] = {
        "ok": True,
        "engine": config.engine,
        "phrases": list(config.phrases),
        "cpu_ms_per_audio_second": round(1000 * cpu_s / seconds, 2),
        "heard_check_phrase": bool(detections) if listens else None,
    }
    if listens and not detections:
        result.update(
            ok=False, problem=f"the wake engine did not hear the shipped {CHECK_WAKE_PHRASE!r} clip"
        )
    return result


def whisper_check(config: AsrConfig, lead_in: str) -> dict[str, Any]:
    """Load Whisper, decode the shipped 2 s command once to warm up, then three times: the median time."""
    if config.engine in ("vosk", "pocketsphinx"):
        return {"ok": True, "engine": config.engine, "skipped": f"asr.engine is {config.engine}, not Whisper"}
    from edge.speech.asr.whisper import whisper_available, whisper_recognizer

    if not whisper_available():
        return {
            "ok": config.engine == "auto",
            "engine": config.engine,
            "problem": "CTranslate2 is not installed",
        }
    started = time.perf_counter()
    try:
        recognizer, model_dir = whisper_recognizer(config.whisper_model, lead_in=lead_in)
    except EdgeError as err:
        return {"ok": False, "engine": "whisper", "problem": str(err)}
    load_ms = (time.perf_counter() - started) * 1000
    pcm = read_wav(sound("check_command.wav")).astype("<i2").tobytes()
    times = []
    try:
        recognizer.transcribe(pcm)
        for _ in range(3):
            text = recognizer.transcribe(pcm)
            times.append(recognizer.last_decode_ms)
    finally:
        recognizer.close()
    result: dict[str, Any] = {
        "ok": text == CHECK_COMMAND,
        "engine": "whisper",
        "model": str(model_dir),
        "load_ms": round(load_ms),
        "command_seconds": round(len(pcm) / 2 / SAMPLE_RATE_HZ, 2),
        "decode_ms": round(float(np.median(times))),
        "heard": text,
    }
    if text != CHECK_COMMAND:
        result["problem"] = f"Whisper heard {text!r} in the shipped clip, not {CHECK_COMMAND!r}"
    return result


def memory_check() -> dict[str, Any]:
    """Peak RSS of this process (with the wake engine and Whisper loaded), and the service's if it runs."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"ok": True, "doctor_peak_rss_mb": round(peak_mb, 1), "service_peak_rss_mb": _service_peak_mb()}


def _service_peak_mb() -> float | None:
    pid = _systemctl("show", "--property=MainPID", "--value", SERVICE)
    if not pid or not pid.isdigit() or pid == "0":
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _systemctl(*args: str) -> str | None:
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").is_dir():
        return None
    try:
        done = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or done.stderr.strip()


def service_check() -> dict[str, Any]:
    """Whether the systemd unit is installed, enabled and running; no systemd is said plainly."""
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").is_dir():
        return {
            "ok": True,
            "systemd": False,
            "note": "systemd is not running here: `edge service install` needs it",
        }
    active = _systemctl("is-active", SERVICE)
    enabled = _systemctl("is-enabled", SERVICE)
    result: dict[str, Any] = {
        "ok": True,
        "systemd": True,
        "unit": SERVICE,
        "active": active,
        "enabled": enabled,
    }
    if enabled in (None, "", "not-found") or (enabled and "No such file" in enabled):
        result["note"] = "the service is not installed: `sudo edge service install` starts edge at boot"
    elif active == "failed":
        result.update(ok=False, problem=f"{SERVICE} failed: see `journalctl -u {SERVICE} -e`")
    return result
