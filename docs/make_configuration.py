"""Write docs/configuration.md from the config readers themselves, so the reference cannot drift.

`python docs/make_configuration.py` loads the shipped edge.yaml on every board profile, then variants that
switch on the optional branches (custom wake, web, MQTT with TLS, a status LED), while
`edge.yamlfields.recording_reads` notes every key a reader asks for: its kind, default, choices and range.
A section no probe opens (a new one, say `wyoming:`) is opened with a stray key, and keys the reader then
requires are filled in until it reads the rest; a section whose keys need real values (an address, a
file that must load) gets an entry in `_variants`. `--check` exits 1 when the committed page is stale.
The words of each key live in DESCRIPTIONS below; a key without words is listed all the same, marked, and
tests/test_docs.py asks for its words.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge.config import load_config  # noqa: E402
from edge.devices.board import board_names  # noqa: E402
from edge.errors import ConfigError, EdgeError  # noqa: E402
from edge.integrations.mqtt.config import hostname_slug  # noqa: E402
from edge.resources import data_dir  # noqa: E402
from edge.yamlfields import KeyRead, recording_reads  # noqa: E402

OUTPUT = REPO / "docs" / "configuration.md"
SHIPPED = REPO / "edge.yaml"
PROBE_KEY = "__probe__"
# Key path parts that are names the user chooses, shown as placeholders.
WILDCARDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^devices\.[^.]+"), "devices.<name>"),
    (re.compile(r"\.levels\.[^.]+$"), ".levels.<level>"),
    (re.compile(r"^intent\.default_devices\.[^.]+$"), "intent.default_devices.<kind>"),
)

DESCRIPTIONS: dict[str, str] = {
    "board": "Which board profile (`boards/*.yaml`) checks the pins.",
    "board.name": "`auto` reads /proc/device-tree/model and picks the Pi's profile, `sim` anywhere else.",
    "board.reserve": "Pin groups of the profile to keep free, e.g. `[i2s]` for an I2S microphone HAT.",
    "devices": "The lights and fans, one entry per device; the entry's name is how the device is called.",
    "devices.<name>": "One device: lower-case letters, digits and `_`; spoken with spaces for `_`.",
    "devices.<name>.kind": "`light` or `fan`.",
    "devices.<name>.pwm": "Dimmable light or variable-speed fan on a hardware PWM pin; false: on/off (relay).",
    "devices.<name>.pin": "gpiozero pin name (`GPIO12`), never a bare number; checked against the board.",
    "devices.<name>.aliases": "Other names people say for it (`lamp`), words only.",
    "devices.<name>.room": 'The room it is in; "the bedroom light" and "everything in the kitchen" use it.',
    "devices.<name>.levels": "Fans with pwm: named speeds.",
    "devices.<name>.levels.<level>": "A named speed in percent, e.g. `medium: 60`.",
    "devices.<name>.active_high": "Set false for relay boards that switch on a low input.",
    "devices.<name>.safe_state": "Where the output goes at start and on every exit path.",
    "devices.<name>.step_percent": 'How far "brighter", "dimmer", "faster" and "slower" move it.',
    "devices.<name>.pwm_frequency_hz": "PWM frequency of the pin.",
    "feedback": "How a person knows they were heard.",
    "feedback.status_led_pwm": "Drive the status LED with PWM (it must then be on a PWM pin).",
    "feedback.status_led": "A pin for an LED that shows listening, heard and error; null: none.",
    "feedback.sounds": 'A short chime on wake, on success and on "not understood".',
    "audio": "The microphone; unset keys come from the board profile.",
    "audio.device": "Device name or index from `edge audio-devices`; null: the system default.",
    "audio.sample_rate_hz": "Rate the microphone is opened at; edge converts to 16 kHz.",
    "audio.channels": "Channels the microphone is opened with; edge mixes to mono.",
    "audio.chunk_ms": "Audio handed to the pipeline per step (a multiple of 10 ms).",
    "audio.queue_chunks": "Capture queue length; when full the oldest chunk is dropped and counted.",
    "audio.noise_suppression": "Speex noise suppression: on the command window, or also before the wake word.",
    "wake": "The wake word.",
    "wake.engine": "`micro` (low CPU, fixed phrases), `pocketsphinx` or `vosk` (any phrase), `custom` "
    "(a model from `edge wake train`).",
    "wake.phrase": "micro: one phrase or a list (any of them wakes); the others take one phrase.",
    "wake.sensitivity": "Higher wakes more easily, and falsely more often.",
    "wake.refractory_ms": "Ignore new wakes this long after one.",
    "wake.vosk_model": "engine vosk: an unpacked Vosk model folder; unset: the default locations.",
    "wake.model": "engine custom: the .tflite written by `edge wake train` (its phrase wins).",
    "wake.verify": "micro and custom: Whisper must hear the phrase before a wake counts (on by default where "
    "the Whisper model is installed).",
    "wake.step_ms": "engine custom: audio per feature-model call, a multiple of 80 (CPU against wake delay).",
    "asr": "The command recognizer.",
    "asr.engine": "`auto`: Whisper tiny.en if installed, else Vosk with an English model, else PocketSphinx.",
    "asr.mode": "Vosk and PocketSphinx: `grammar` (only command words) or `free`; Whisper is always free.",
    "asr.vosk_model": "An unpacked Vosk model folder (`edge models fetch vosk-small-en`).",
    "asr.whisper_model": "A CTranslate2 Whisper model folder (`edge models fetch whisper-tiny-en`).",
    "asr.min_certainty": "Whisper: a command whose least sure word's probability times the intent's "
    'confidence is below this is answered "sorry, I didn\'t catch that", not acted on.',
    "asr.min_avg_logprob": "Whisper: the same when its tokens' mean log-probability is below this.",
    "endpoint": "When a spoken command starts and ends.",
    "endpoint.silence_ms": "Trailing silence that ends a command.",
    "endpoint.max_command_ms": "Longest command, counted from its start.",
    "endpoint.no_speech_timeout_ms": "How long to wait after the wake word for the command to start.",
    "endpoint.energy_threshold_db": "vad energy: the speech level; null adapts to the noise floor.",
    "endpoint.vad": "`silero` (trained detector) or `energy` (32-bit Pi OS, where Silero has no wheel).",
    "endpoint.complete_silence_ms": "Shorter silence that ends a command whose words already say what to do "
    "(twice that when they name no device).",
    "intent": "The intent classifier and defaults.",
    "intent.default_devices": "Where a command naming no device goes when several of its kind exist.",
    "intent.default_devices.<kind>": '`light: kitchen_light`: the device for "turn on the light".',
    "intent.model": "The intent model (`edge train` rebuilds it).",
    "intent.vocabulary": "The command templates the model and the recognizer grammar come from.",
    "intent.threshold": 'Confidence below which a sentence is "not understood"; null: the model\'s own.',
    "web": "The classroom live view; absent or empty: off (`edge run --web` turns it on).",
    "web.listen": "HOST:PORT; any address but loopback needs a token.",
    "web.token": "The token the page asks for once (at least 8 characters).",
    "web.token_file": "A file whose content is the token (instead of `token`).",
    "voice": 'Spoken replies ("the kitchen light is on at 50 percent").',
    "voice.piper_voice": "A Piper voice .onnx file; Piper speaks when it is set.",
    "voice.replies": "Answer aloud.",
    "voice.engine": "`auto` (Piper when a voice is set, else espeak-ng), `espeak-ng` or `piper`.",
    "voice.espeak_voice": "espeak-ng's voice.",
    "voice.rate_wpm": "Speaking rate in words per minute.",
    "mqtt": "MQTT and Home Assistant discovery; absent: edge opens no network connection.",
    "mqtt.tls": "TLS to the broker.",
    "mqtt.tls.ca_file": "The CA certificate that signed the broker's.",
    "mqtt.tls.cert_file": "A client certificate (with key_file).",
    "mqtt.tls.key_file": "The client certificate's key.",
    "mqtt.username": "Broker user name.",
    "mqtt.password_file": "A file whose first line is the password (never the password in the YAML).",
    "mqtt.client_id": "MQTT client id.",
    "mqtt.host": "The broker's address or host name (an address lets the systemd drop-in allow only it).",
    "mqtt.port": "Broker port (8883 with tls).",
    "mqtt.base_topic": "Where this edge publishes its states and events.",
    "mqtt.discovery_prefix": "Home Assistant's discovery prefix.",
    "mqtt.keepalive_s": "MQTT keepalive.",
    "wyoming": "The Wyoming server for Home Assistant's Assist; absent: off.",
    "wyoming.listen": "HOST:PORT; anything but loopback lets other machines connect.",
    "wyoming.name": "How the device is called in Home Assistant.",
    "wyoming.satellite": "Hand what edge cannot do to Home Assistant's pipeline, and speak its answers.",
    "wyoming.wake_service": "Offer edge's wake words to Home Assistant's own pipelines.",
    "wyoming.asr_service": "Offer edge's Whisper speech-to-text to them.",
    "wyoming.zeroconf": "Announce `_wyoming._tcp` on the local network (only when not on loopback).",
    "wyoming.area": "The area Home Assistant suggests for the satellite.",
    "wyoming.max_connections": "Connections served at once; more are refused.",
    "wyoming.handover_timeout_s": "How long Home Assistant has to answer a handed-over request.",
}


def _generic(path: str) -> str:
    for pattern, replacement in WILDCARDS:
        path = pattern.sub(replacement, path)
    return path


def _probe(config: dict[str, Any], workdir: Path, board: str = "sim") -> tuple[dict[str, KeyRead], str]:
    """Load ``config`` (written to ``workdir``) while recording reads; the error's key path, or ''."""
    path = workdir / "edge.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    with recording_reads() as reads:
        try:
            load_config(path, board_override=board)
            failed = ""
        except ConfigError as err:
            failed = err.key if "required key is missing" in err.message else "(not fillable)"
        except EdgeError:
            failed = "(not fillable)"
    return {_generic(key): read for key, read in reads.items()}, failed


def _fill_value(read: KeyRead | None, workdir: Path) -> Any:
    """A value a reader accepts for a required key, so it goes on to read the next ones."""
    kind = read.kind if read else "string"
    if read and read.choices:
        return read.choices[0]
    values: dict[str, Callable[[], Any]] = {
        "file": lambda: str(workdir / "edge.yaml"),
        "directory": lambda: str(workdir),
        "integer": lambda: int(read.low) if read and read.low is not None else 1,
        "number": lambda: read.low if read and read.low is not None else 0.5,
        "boolean": lambda: True,
        "list of strings": lambda: ["probe"],
        "section": dict,
    }
    return values.get(kind, lambda: "probe")()


def _open_section(base: dict[str, Any], name: str, workdir: Path) -> dict[str, KeyRead]:
    """Read an optional section no probe opened: a stray key opens it, required keys are filled in."""
    section: dict[str, Any] = {PROBE_KEY: True}
    reads: dict[str, KeyRead] = {}
    for _attempt in range(20):
        reads, failed = _probe({**base, name: section}, workdir)
        if not failed.startswith(f"{name}."):
            break
        parts = failed.split(".")[1:]
        target = section
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = _fill_value(reads.get(failed), workdir)
    return reads


def _variants(workdir: Path) -> list[dict[str, Any]]:
    """Config changes that reach the readers' optional branches."""
    some_file = str(workdir / "edge.yaml")
    return [
        {"wake": {"phrase": "hey jarvis"}},
        {"wake": {"engine": "custom", "model": some_file}},
        {"web": {"listen": "127.0.0.1:8080"}},
        {"feedback": {"status_led": "GPIO25"}},
        {"mqtt": {"host": "192.0.2.10"}},
        {"mqtt": {"host": "192.0.2.10", "tls": {"ca_file": some_file, "cert_file": some_file}}},
    ]


def _merge(into: dict[str, list[KeyRead]], reads: dict[str, KeyRead]) -> None:
    for key, read in reads.items():
        if PROBE_KEY not in key:
            into.setdefault(key, []).append(read)


def collect() -> tuple[dict[str, list[KeyRead]], dict[str, dict[str, Any]]]:
    """Every key path with what each probe recorded of it, and board -> its recorded defaults."""
    base = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    keys: dict[str, list[KeyRead]] = {}
    by_board: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for board in board_names():
            reads, failed = _probe(base, workdir, board)
            if failed:
                raise SystemExit(f"the shipped edge.yaml does not load on board {board}")
            _merge(keys, reads)
            by_board[board] = {key: read.default for key, read in reads.items()}
        for change in _variants(workdir):
            _merge(keys, _probe({**base, **change}, workdir)[0])
        for name in [key for key in keys if "." not in key]:
            if not any(key.startswith(name + ".") for key in keys):
                _merge(keys, _open_section(base, name, workdir))
    return keys, by_board


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        for folder in ("models", "boards"):
            if value.is_relative_to(data_dir(folder)):
                return f"`{folder}/{value.relative_to(data_dir(folder))}`"
        return "null"  # a path that depends on where the probe ran, not a default
    if isinstance(value, list | tuple):
        return "`[" + ", ".join(str(item) for item in value) + "]`"
    # Defaults built from this machine's name (mqtt.client_id, base_topic) are shown as the rule.
    text = re.sub(rf"(?<=[-/]){re.escape(hostname_slug())}$", "<hostname>", str(value))
    return f"`{text}`"


def _default(key: str, reads: list[KeyRead], by_board: dict[str, dict[str, Any]]) -> str:
    if all(read.required for read in reads):
        return "required"
    if all(read.kind == "section" for read in reads):
        return ""
    per_board = {board: defaults[key] for board, defaults in by_board.items() if key in defaults}
    if len({repr(value) for value in per_board.values()}) > 1:
        return "board profile: " + ", ".join(f"{board} {_show(v)}" for board, v in per_board.items())
    defaults = [read.default for read in reads if not read.required]
    useful = [value for value in defaults if value not in (None, [], ())]
    return _show(useful[0] if useful else defaults[0])


def _allowed(reads: list[KeyRead]) -> str:
    kinds = sorted({read.kind for read in reads if read.kind != "value"}) or ["any value"]
    if "file" in kinds or "directory" in kinds:
        kinds = [kind for kind in kinds if kind != "string"]  # paths are read as strings first
    text = " or ".join(kinds)
    for read in reads:
        if read.choices:
            return f"{text}: " + ", ".join(f"`{choice}`" for choice in read.choices)
    for read in reads:
        if read.low is not None or read.high is not None:
            low = "" if read.low is None else f"{read.low:g}"
            high = "" if read.high is None else f"{read.high:g}"
            return f"{text}, {low}..{high}"
    return text


def render(keys: dict[str, list[KeyRead]], by_board: dict[str, dict[str, Any]]) -> str:
    """The Markdown page: one table per top-level section, keys in the order the readers ask for them."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python docs/make_configuration.py` from the readers that validate edge.yaml;",
        "     tests/test_docs.py fails when this page is stale. Edit DESCRIPTIONS there, not this file. -->",
        "",
        "One YAML file: `-c FILE`, `$EDGE_CONFIG`, `./edge.yaml` or `/etc/edge/edge.yaml`. The shipped",
        "[`edge.yaml`](../edge.yaml) is a working example. `edge check-config` validates it strictly: unknown",
        "keys, wrong types, values out of range, missing files, pins the board lacks or reserves. Each error is",
        "one line naming the file and key, and exits 78. `<name>`, `<level>` and `<kind>` stand for names you",
        'choose. "required" inside an optional section means required once the section is there.',
        "",
    ]
    sections = [key for key in keys if "." not in key]
    for section in sections:
        lines += [f"## `{section}`", "", DESCRIPTIONS.get(section, "_(no description yet)_"), ""]
        lines += ["| key | type and allowed values | default | what it does |", "|---|---|---|---|"]
        for key in keys:
            if key.startswith(section + "."):
                words = DESCRIPTIONS.get(key, "_(no description yet)_")
                default = _default(key, keys[key], by_board)
                lines.append(f"| `{key}` | {_allowed(keys[key])} | {default} | {words} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with --check tell whether the committed one is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/configuration.md is stale")
    args = parser.parse_args(argv)
    text = render(*collect())
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), "committed", "readers", lineterm=""
            )
            print("\n".join(list(diff)[:40]), file=sys.stderr)
            print("docs/configuration.md is stale: run python docs/make_configuration.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(keys_of(text))} keys)")
    return 0


def keys_of(text: str) -> list[str]:
    """The key paths a rendered page lists."""
    return re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE)


if __name__ == "__main__":
    sys.exit(main())
