"""Where ``edge run``'s memory goes: each part loaded step by step in a fresh process, and the levers.

    python -m bench.memory            (or: python -m bench --only memory)

``steps``: one fresh Python process loads what the daemon loads with the shipped config, one part at a time
(interpreter, numpy, edge and gpiozero, devices, the intent model, the micro wake models, Silero,
CTranslate2, Whisper, a first and a longer decode), and reads /proc/self/status (VmRSS, VmHWM, RssAnon,
RssFile) after each; the last row adds smaps_rollup and glibc's own count of malloc arenas (malloc_info).
``alternatives``: the parts the shipped config does not load, each in its own process on top of the same base.
``levers``: the peak RSS of the real ``edge run`` (60 s of the fixtures on stdin, sounds off) with one lever
undone at a time, read from /proc/PID/status VmHWM as bench/daemon_probe.py does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.daemon_probe import _PeakWatcher
from bench.fixtures import REPO, SHIPPED_CONFIG, load_clips
from edge.speech.audio import read_wav

# Run inside the fresh process: each step is a label and the code that loads that part.
_PRELUDE = """
import ctypes, json, os, sys, tempfile
from pathlib import Path
rows = []
def status():
    values = {}
    for line in open("/proc/self/status"):
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0]) / 1024
    return values
def step(label):
    rows.append({"step": label, **status()})
def arenas():
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    path = tempfile.mktemp()
    handle = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, handle)
    libc.fclose(handle)
    text = open(path).read()
    os.unlink(path)
    import re
    heaps = re.findall(r'<heap nr="(\\d+)">(.*?)</heap>', text, re.S)
    sizes = [int(re.search(r'<system type="current" size="(\\d+)"', body).group(1)) for _, body in heaps]
    return {"arenas": len(heaps), "arena_mb": [round(size / 2**20, 1) for size in sizes]}
def rollup():
    values = {}
    for line in open("/proc/self/smaps_rollup"):
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Anonymous", "Private_Dirty", "Shared_Clean"):
            values[key] = int(rest.split()[0]) / 1024
    return values
step("interpreter")
import numpy
step("numpy")
"""

_BASE = """
import edge.commands.run
from edge.config import load_config
from edge.devices.bank import DeviceBank, make_pin_factory
config = load_config(Path(CONFIG), board_override="sim")
step("edge, gpiozero, yaml (imports of edge run)")
bank = DeviceBank.from_config(config, make_pin_factory(config.board, mock=True))
step("devices on mock pins")
from edge.understanding.vocabulary import load_vocabulary
from edge.understanding.handler import Understanding
vocabulary = load_vocabulary(config.intent.vocabulary, config.devices)
understanding = Understanding.from_config(config, bank)
step("intent model (" + understanding.classifier.backend + ")")
"""

_SHIPPED = """
from edge.speech.wake.engines import wake_from_config
wake = wake_from_config(config.wake)
step("micro wake word: " + " + ".join(config.wake.phrases))
from edge.speech.endpoint import Endpointer
endpointer = Endpointer(config.endpoint)
step("silero VAD")
import ctranslate2
step("ctranslate2 (import)")
from edge.speech.asr.recognizers import recognizer_from_config
recognizer, _ = recognizer_from_config(config.asr, vocabulary, wake_phrase="hey jarvis")
step("whisper tiny.en model (int8)")
pcm = Path(AUDIO).read_bytes()
recognizer.transcribe(pcm[: 2 * 16000 * 3])
step("whisper: first decode (3 s)")
recognizer.transcribe(pcm[: 2 * 16000 * 6])
step("whisper: 6 s decode")
print(json.dumps({"rows": rows, "malloc": arenas(), "smaps_rollup": rollup()}))
"""

_ALTERNATIVES = {
    "intent model on ai-edge-litert": """
from edge.understanding.intent import LiteRTIntentClassifier
LiteRTIntentClassifier(config.intent.model, devices=config.devices, backend="litert")
""",
    "whisper loaded from float16 (no int8 copy)": """
import ctranslate2
from edge.speech.asr.settings import find_whisper_model
ctranslate2.models.Whisper(str(find_whisper_model(None)), device="cpu", compute_type="int8", intra_threads=2)
""",
    "pocketsphinx recognizer (grammar)": """
from dataclasses import replace
from edge.speech.asr.recognizers import recognizer_from_config
recognizer_from_config(replace(config.asr, engine="pocketsphinx"), vocabulary, wake_phrase="hey jarvis")
""",
    "pocketsphinx wake word": """
from dataclasses import replace
from edge.speech.wake.engines import wake_from_config
wake_from_config(replace(config.wake, engine="pocketsphinx", phrases=("hey jarvis",)))
""",
    "live view (aiohttp)": """
import aiohttp.web
""",
    "mqtt (paho-mqtt)": """
import paho.mqtt.client
""",
}


def _script(body: str, config: Path, audio: Path) -> str:
    return f"CONFIG = {str(config)!r}\nAUDIO = {str(audio)!r}\n" + _PRELUDE + _BASE + body


def _python(script: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _with_deltas(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    previous = 0.0
    table = []
    for row in rows:
        table.append(
            {
                "step": row["step"],
                "adds_mb": round(row["VmRSS"] - previous, 1),
                "rss_mb": round(row["VmRSS"], 1),
                "peak_mb": round(row["VmHWM"], 1),
                "anon_mb": round(row["RssAnon"], 1),
                "file_mb": round(row["RssFile"], 1),
            }
        )
        previous = row["VmRSS"]
    return table


def steps(config: Path, audio: Path) -> dict[str, Any]:
    """The shipped daemon's parts, one at a time in one fresh process."""
    result = _python(_script(_SHIPPED, config, audio))
    return {
        "rows": _with_deltas(result["rows"]),
        "malloc": result["malloc"],
        "smaps_rollup": result["smaps_rollup"],
    }


def alternatives(config: Path, audio: Path, quick: bool = False) -> list[dict[str, Any]]:
    """What each part the shipped config leaves out would add to the same base (the first two with quick)."""
    rows = []
    for label, body in list(_ALTERNATIVES.items())[: 2 if quick else None]:
        code = body + '\nstep("x")\nprint(json.dumps({"rows": rows}))\n'
        try:
            found = _python(_script(code, config, audio))["rows"]
        except subprocess.CalledProcessError as err:
            rows.append({"part": label, "error": err.stderr.strip().splitlines()[-1:]})
            continue
        base, done = found[-2], found[-1]
        rows.append(
            {
                "part": label,
                "adds_mb": round(done["VmRSS"] - base["VmRSS"], 1),
                "peak_adds_mb": round(done["VmHWM"] - base["VmHWM"], 1),
            }
        )
    return rows


def daemon_peak(config: Path, audio: bytes, env: dict[str, str] | None = None) -> float:
    """Peak RSS (MB) of ``edge run`` on ``audio`` (raw PCM on stdin), sounds off, mock pins."""
    command = [sys.executable, "-m", "edge", "run", "-c", str(config), "--board", "sim", "--input", "-"]
    command += ["--mock-gpio", "--events", "none", "--no-sounds"]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    watcher = _PeakWatcher(process.pid)
    watcher.start()
    assert process.stdin is not None
    process.stdin.write(audio)
    process.stdin.close()
    if process.wait() != 0:
        raise RuntimeError(f"edge run exited {process.returncode} ({' '.join(command)})")
    watcher.join()
    return round(watcher.peak_kb / 1024, 1)


def levers(config: Path, audio: bytes, directory: Path, quick: bool = False) -> list[dict[str, Any]]:
    """Peak RSS of the real daemon with every lever on, then with one undone at a time (two with quick)."""
    unwritable = directory / "not-a-folder"
    unwritable.write_text("")
    rows: list[tuple[str, dict[str, str], Path]] = [("all levers (shipped)", {}, config)]
    rows.append(("no int8 copy of Whisper (cache not writable)", {"EDGE_CACHE_DIR": str(unwritable)}, config))
    if quick:
        return [{"setting": label, "peak_rss_mb": daemon_peak(path, audio, env)} for label, env, path in rows]
    rows.append(("glibc's default arenas (MALLOC_ARENA_MAX=8)", {"MALLOC_ARENA_MAX": "8"}, config))
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    for label, change in (
        ("one wake phrase", lambda d: d["wake"].update(phrase="hey jarvis")),
        ("energy VAD instead of Silero", lambda d: d["endpoint"].update(vad="energy")),
        ("live view on", lambda d: d.update(web={"listen": "127.0.0.1:18097"})),
        ("pocketsphinx instead of Whisper", lambda d: d["asr"].update(engine="pocketsphinx")),
    ):
        variant = yaml.safe_load(yaml.safe_dump(data))
        change(variant)
        path = directory / f"{len(rows)}.yaml"
        path.write_text(yaml.safe_dump(variant), encoding="utf-8")
        rows.append((label, {}, path))
    return [{"setting": label, "peak_rss_mb": daemon_peak(path, audio, env)} for label, env, path in rows]


def _audio_seconds(seconds: float) -> np.ndarray:
    return np.concatenate([read_wav(clip.path) for clip in load_clips()])[: int(seconds * 16000)]


def run(quick: bool = False) -> dict[str, Any]:
    """The memory section: steps, alternatives, levers (20 s of audio and fewer rows with quick)."""
    samples = _audio_seconds(20 if quick else 60)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config = directory / "edge.yaml"
        data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
        data["feedback"]["sounds"] = False
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
        audio = directory / "audio.raw"
        audio.write_bytes(samples.astype("<i2").tobytes())
        result: dict[str, Any] = {
            "command": "python -m bench --quick --only memory" if quick else "python -m bench.memory",
            "steps": steps(config, audio),
            "alternatives": alternatives(config, audio, quick),
        }
        result["levers"] = levers(config, audio.read_bytes(), directory, quick)
        result["audio_seconds"] = round(len(samples) / 16000, 1)
    return result


def main() -> int:
    """Print the memory section as JSON."""
    print(json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
