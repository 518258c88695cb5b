"""``edge doctor``: on the board itself, will edge work here, and how fast will it answer?

One run (well under a minute on a Pi) checks the board profile, the microphone's level, what the wake word
and Whisper cost on this CPU, memory and the systemd unit, then says what to expect. ``--json`` is what a
bug report should include.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Any

from edge import __version__
from edge.commands.common import load, print_json
from edge.config import find_config_path
from edge.devices.board import resolve_board
from edge.errors import EXIT_FAILURE, EdgeError, UsageError
from edge.runtime import checkup
from edge.speech.asr.settings import AsrConfig
from edge.speech.audio import read_wav
from edge.speech.settings import EndpointConfig
from edge.speech.wake.settings import WakeConfig

# What edge runs with when no edge.yaml is found: the shipped defaults.
DEFAULT_WAKE = WakeConfig(
    engine="micro", phrases=("hey jarvis", "alexa"), sensitivity=0.5, refractory_ms=2000, vosk_model=None
)
DEFAULT_ASR = AsrConfig(engine="auto", mode="grammar", vosk_model=None)
SLOW_DECODE_MS = 1500  # past this, a command answers in over two seconds: usable, but it feels slow


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``doctor`` command."""
    parser = subparsers.add_parser(
        "doctor",
        parents=[common],
        help="check this board: microphone, CPU, memory, service; say what to expect",
        description="Check the board profile, the microphone (level and clipping), the wake word's CPU, one "
        "Whisper decode, peak memory and the systemd unit, then say how fast edge will answer here. "
        "Uses edge.yaml if one is found, else the shipped defaults.",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (attach it to a bug report)"
    )
    parser.add_argument(
        "--input", metavar="FILE.wav", help="judge this recording's level instead of recording the microphone"
    )
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="how long to listen to the microphone (default 3)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run every check, print the report, exit 1 when something will stop edge from working."""
    if not 0.5 <= args.seconds <= 30:
        raise UsageError(f"--seconds {args.seconds} must be between 0.5 and 30")
    if args.input is not None and not Path(args.input).is_file():
        raise UsageError(f"--input {args.input}: no such file (give a WAV recording)")
    report = checks(args)
    if args.json:
        print_json(report)
    else:
        print(render(report))
    return 0 if report["verdict"]["ok"] else EXIT_FAILURE


def checks(args: argparse.Namespace) -> dict[str, Any]:
    """Every check's result and the verdict, as one JSON-ready dict."""
    config_row, config = _config(args)
    if config is not None:
        board, audio = config.board, config.audio
        wake, asr, endpoint = config.wake, config.asr, config.endpoint
        device, rate, channels = audio.device, audio.sample_rate_hz, audio.channels
    else:
        board = resolve_board(args.board or "auto", source="--board", key="board")
        wake, asr, endpoint = DEFAULT_WAKE, DEFAULT_ASR, EndpointConfig()
        device, rate, channels = None, board.audio.sample_rate_hz, board.audio.channels
    if args.input is not None:
        microphone = checkup.level_check(read_wav(Path(args.input)), args.input)
    else:
        microphone = checkup.microphone_check(device, args.seconds, rate, channels)
    report: dict[str, Any] = {
        "edge": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "config": config_row,
        "board": checkup.board_check(board),
        "microphone": microphone,
        "wake": checkup.wake_check(wake),
        "asr": checkup.whisper_check(asr, " ".join(wake.phrases)),
        "memory": checkup.memory_check(),
        "service": checkup.service_check(),
    }
    report["verdict"] = verdict(report, endpoint.complete_silence_ms)
    return report


def _config(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    path = find_config_path(args.config)
    if not args.config and not path.is_file():
        return {
            "ok": True,
            "path": None,
            "note": "no edge.yaml found: checked with the shipped defaults",
        }, None
    try:
        return {"ok": True, "path": str(path)}, load(args)
    except EdgeError as err:
        return {"ok": False, "path": str(path), "problem": str(err)}, None


def verdict(report: dict[str, Any], complete_silence_ms: int) -> dict[str, Any]:
    """Whether edge will work here, what is in the way, and the expected end-of-speech-to-light time."""
    sections = ("config", "microphone", "wake", "asr", "service")
    problems = [f"{name}: {report[name]['problem']}" for name in sections if report[name].get("problem")]
    ok = all(report[name].get("ok", True) for name in sections)
    asr = report["asr"]
    lines = []
    expected: dict[str, int] | None = None
    if "decode_ms" in asr:
        typical, slow = checkup.expected_latency_ms(asr["decode_ms"], complete_silence_ms)
        expected = {"median": typical, "p90": slow}
        lines.append(
            f"this board decodes a {asr['command_seconds']:.0f} s command in ~{_seconds(asr['decode_ms'])}: "
            f"expect ~{_seconds(typical)} from end of speech to the light (up to ~{_seconds(slow)})"
        )
        if asr["decode_ms"] > SLOW_DECODE_MS:
            lines.append(
                "that is slow: close other programs, or try asr.engine: vosk (faster, less accurate)"
            )
    wake = report["wake"]
    if "cpu_ms_per_audio_second" in wake:
        share = wake["cpu_ms_per_audio_second"] / 10
        lines.append(f"listening for the wake word takes {share:.1f} % of one core")
    headline = "edge should work on this board" if ok else "edge will not work as it is: fix the lines below"
    lines = [headline, *problems, *lines]
    return {"ok": ok, "expected_end_of_speech_to_light_ms": expected, "lines": lines}


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms / 1000:.2f} s"


def render(report: dict[str, Any]) -> str:
    """The report for a person at the terminal: one line per check, then the verdict."""
    board, mic, wake, asr = report["board"], report["microphone"], report["wake"], report["asr"]
    memory, service = report["memory"], report["service"]
    reserved = ", ".join(board["reserved_groups"]) or "none"
    rows = [
        f"edge {report['edge']}, Python {report['python']} on {report['machine']}",
        f"config      {report['config'].get('path') or report['config'].get('note')}",
        f"board       {board['profile']} ({board['device_tree_model'] or 'not a Raspberry Pi'}); "
        f"reserved pins: {reserved}; memory {board['memory_total_mb']} MB",
        "microphone  "
        + (
            f"{mic['source']}: {mic['seconds']} s, level {mic['rms_dbfs']} dBFS, "
            f"peak {mic['peak_dbfs']} dBFS, clipped {mic['clipped_percent']} %"
            if "rms_dbfs" in mic
            else f"{mic['source']}: {mic['problem']}"
        ),
        f"wake        {wake['engine']}: "
        + (
            f"{wake['cpu_ms_per_audio_second']} ms CPU per second of audio"
            if "cpu_ms_per_audio_second" in wake
            else wake.get("problem", "")
        ),
        "whisper     "
        + (
            f"one {asr['command_seconds']} s command decoded in {asr['decode_ms']} ms "
            f"(heard {asr['heard']!r}; model loaded in {asr['load_ms']} ms)"
            if "decode_ms" in asr
            else asr.get("skipped") or asr.get("problem", "")
        ),
        f"memory      peak RSS {memory['doctor_peak_rss_mb']} MB here"
        + (
            f", {memory['service_peak_rss_mb']} MB in the running service"
            if memory["service_peak_rss_mb"]
            else ""
        ),
        "service     "
        + (
            f"{service['unit']}: {service['active']}, {service['enabled']}"
            if service["systemd"]
            else service["note"]
        ),
        "",
        *report["verdict"]["lines"],
    ]
    return "\n".join(rows)
