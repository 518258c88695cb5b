"""Every spoken fixture through the shipped pipeline (micro wake word, VAD endpointing, the shipped recognizer),
asserting the GPIO pins.

The pins are read back from gpiozero's own ``MockFactory``: a PWM pin's state is its duty cycle, a relay
pin's state is 0 or 1. The known misses on synthetic voices in heavy noise are not hidden: the command clips
are held together to the accuracy floor below, and every clip that must not act (other speech with and
without the wake phrase, noise, the wake phrase alone, a command without it) is checked one by one.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge.config import Config, load_config
from edge.events import ActionResult, Detection, Event
from edge.runtime.assembly import Runtime, build_runtime
from edge.speech.audio import SAMPLE_RATE_HZ, chunk_samples, read_wav

from .support import REPO, SHIPPED_CONFIG, edge_command, subprocess_env

FIXTURES = REPO / "tests" / "fixtures"
MANIFEST = yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))["clips"]
POSITIVES = [clip for clip in MANIFEST if clip["intent"] is not None]
NEGATIVES = [clip for clip in MANIFEST if clip["intent"] is None]
# The share of command clips that must end with exactly the expected pins. On the room-like fixtures (noise bed,
# pauses, +-12 dB, reverb, fifteen voices) the shipped config (Whisper tiny.en) got 27 of 42 (worktree at 01:45;
# PocketSphinx grammar 20 of 42). Whisper misses the most robotic voices; this floor catches a regression without
# pretending the pipeline is better than it is. Accuracy on real people is tests/test_real_speech.py's.
# Since asr.min_certainty (bench/transcript_certainty.py), Whisper's unsure guesses at the robotic voices
# ("journey on the bedroom light", "set of ends deemed to high", "turn off the pan") are answered "sorry, I
# didn't catch that" instead of acted on: 23 of 42 right (29 with the check off), and no clip switches a device
# it did not ask for.
MIN_COMMAND_ACCURACY = 0.5


def _config() -> Config:
    # The shipped config: asr.engine auto resolves to Whisper, which installs with edge, so a developer's
    # English Vosk model does not change what CI checks. Whisper's wake check is off here: it refuses the
    # robotic synthetic voices' wake words (with it 22 of 42 clips were right, without 27), while it accepts
    # real people's (tests/test_wake.py, tests/test_real_speech.py); this test is about the rest of the path.
    config = load_config(SHIPPED_CONFIG, board_override="sim")
    return replace(config, wake=replace(config.wake, verify=False))


@pytest.fixture(scope="module")
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(revision="c03111", pin_class=MockPWMPin)
    yield factory
    factory.reset()


@pytest.fixture(scope="module")
def runtime(factory: MockFactory) -> Iterator[Runtime]:
    runtime = build_runtime(_config(), pin_factory=factory)
    yield runtime
    runtime.close()


_stream_ms = [0]  # audio time runs on across clips, as it does for a microphone


def replay_clip(runtime: Runtime, relative: str) -> list[Event]:
    """Fresh start (listening, outputs safe), the clip, then a quiet room until every timeout has passed."""
    runtime.pipeline.reset()
    runtime.bank.to_safe_state()
    samples = read_wav(FIXTURES / relative)
    # The quiet tail outlasts the no-speech timeout and the refractory period of any wake in this clip.
    tail_ms = max(runtime.config.endpoint.no_speech_timeout_ms, runtime.config.wake.refractory_ms) + 200
    samples = np.concatenate([samples, np.zeros(SAMPLE_RATE_HZ * tail_ms // 1000, dtype=np.int16)])
    chunk_ms = runtime.config.audio.chunk_ms
    events = []
    for chunk in chunk_samples(samples, chunk_ms, _stream_ms[0]):
        events += runtime.pipeline.feed(chunk)
        _stream_ms[0] = chunk.timestamp_ms + chunk_ms
    return events


def pin_levels(runtime: Runtime, factory: MockFactory) -> dict[str, dict[str, Any]]:
    """What the mock pins say, in the manifest's terms."""
    levels = {}
    for device in runtime.config.devices:
        state = float(factory.pin(device.pin).state)
        if not device.active_high:
            state = 1.0 - state
        percent = round(state * 100)
        levels[device.name] = {"on": percent > 0, "level_percent": percent}
    return levels


def pins_as_expected(levels: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> bool:
    """The manifest's devices as it says; a device added to edge.yaml since must still be off."""
    return all(levels[name] == expected.get(name, {"on": False, "level_percent": 0}) for name in levels)


def test_command_clips_set_the_expected_pins(runtime: Runtime, factory: MockFactory) -> None:
    missed, switched_wrongly = [], []
    for clip in POSITIVES:
        events = replay_clip(runtime, clip["file"])
        woke = any(isinstance(event, Detection) for event in events)
        levels = pin_levels(runtime, factory)
        if not woke or not pins_as_expected(levels, clip["devices"]):
            missed.append(Path(clip["file"]).name)
        # Every clip starts with everything off: a device on that the clip does not turn on is a wrong action.
        expected_on = {name for name, state in clip["devices"].items() if state["on"]}
        if {name for name, state in levels.items() if state["on"]} - expected_on:
            switched_wrongly.append(Path(clip["file"]).name)
    accuracy = 1 - len(missed) / len(POSITIVES)
    assert accuracy >= MIN_COMMAND_ACCURACY, f"accuracy {accuracy:.2f}; missed: {missed}"
    assert not switched_wrongly


@pytest.mark.parametrize("clip", NEGATIVES, ids=[Path(c["file"]).stem for c in NEGATIVES])
def test_negative_clip_changes_nothing(runtime: Runtime, factory: MockFactory, clip: dict[str, Any]) -> None:
    events = replay_clip(runtime, clip["file"])
    assert not [event for event in events if isinstance(event, ActionResult) and event.state]
    assert pins_as_expected(pin_levels(runtime, factory), clip["devices"])
    if not clip["wake"]:
        assert not [event for event in events if isinstance(event, Detection)]


def test_replay_cli_prints_events_and_final_state() -> None:
    clip = next(c for c in POSITIVES if c["intent"] == "light_on" and c["snr_db"] is None)
    result = subprocess.run(
        edge_command(
            "replay", "-c", str(SHIPPED_CONFIG), "--board", "sim", "--json", str(FIXTURES / clip["file"])
        ),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    types = [line["type"] for line in lines]
    assert types[0] == "wake" and "transcript" in types and "intent" in types and "action" in types
    assert lines[-1]["type"] == "state" and pins_as_expected(lines[-1]["devices"], clip["devices"])
    assert all(line["file"].endswith(".wav") for line in lines[:-1])


def test_replay_cli_rejects_a_file_that_is_not_audio(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not a wav file\n")
    result = subprocess.run(
        edge_command("replay", "-c", str(SHIPPED_CONFIG), "--board", "sim", str(bogus)),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("edge: error: ") and str(bogus) in last
    assert "Traceback" not in result.stderr
