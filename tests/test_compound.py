"""Several commands in one sentence, and refusing an unsure transcript, on gpiozero's MockPWMPin."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.config import Config
from edge.devices.bank import DeviceBank
from edge.events import ActionResult, Intent, NotUnderstood, Transcript
from edge.runtime.replies import reply_for
from edge.understanding.compound import split_commands
from edge.understanding.handler import UNSURE, Understanding
from edge.understanding.utterance import Utterance

from .support import SHIPPED_CONFIG, edge_command, subprocess_env

# Shipped edge.yaml: kitchen_light GPIO12 (PWM, alias lamp), bedroom_light GPIO23, living_room_light GPIO24,
# ceiling_fan GPIO13 (PWM).
PINS = {
    "kitchen_light": "GPIO12",
    "bedroom_light": "GPIO23",
    "living_room_light": "GPIO24",
    "ceiling_fan": "GPIO13",
}


@pytest.fixture
def bank(shipped_config: Config, pin_factory: MockFactory) -> DeviceBank:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    yield bank
    bank.close()


@pytest.fixture
def understanding(shipped_config: Config, bank: DeviceBank) -> Understanding:
    return Understanding.from_config(shipped_config, bank)


def pin_states(pin_factory: MockFactory) -> dict[str, float]:
    return {name: round(pin_factory.pin(pin).state, 2) for name, pin in PINS.items()}


def test_lights_and_the_fan_all_go_on(understanding: Understanding, pin_factory: MockFactory) -> None:
    events = understanding.handle("turn on the lights and the fan", 0)
    assert pin_states(pin_factory) == dict.fromkeys(PINS, 1.0)
    assert [type(e) for e in events] == [Intent, ActionResult]
    assert set(events[1].devices) == set(PINS)


def test_kitchen_and_bedroom_lights_off_leaves_the_living_room(
    understanding: Understanding, bank: DeviceBank, pin_factory: MockFactory
) -> None:
    for name in bank:
        bank[name].set_on()
    understanding.handle("turn the kitchen and bedroom lights off", 0)
    assert pin_states(pin_factory) == {
        "kitchen_light": 0.0,
        "bedroom_light": 0.0,
        "living_room_light": 1.0,
        "ceiling_fan": 1.0,
    }


def test_fan_off_and_lamp_on_are_two_commands(
    understanding: Understanding, bank: DeviceBank, pin_factory: MockFactory
) -> None:
    bank["ceiling_fan"].set_on()
    events = understanding.handle("fan off and lamp on", 0)
    assert pin_factory.pin("GPIO13").state == 0 and pin_factory.pin("GPIO12").state == 1
    assert [(type(e), getattr(e, "name", None)) for e in events] == [
        (Intent, "fan_off"),
        (ActionResult, None),
        (Intent, "light_on"),
        (ActionResult, None),
    ]
    assert [e.text for e in events if isinstance(e, Intent)] == ["fan off", "lamp on"]


def test_everything_off_then_one_light_on_ends_with_that_light_on(
    understanding: Understanding, bank: DeviceBank, pin_factory: MockFactory
) -> None:
    for name in bank:
        bank[name].set_on()
    understanding.handle("switch off everything and then turn on the bedside light", 0)
    assert pin_states(pin_factory) == {**dict.fromkeys(PINS, 0.0), "bedroom_light": 1.0}


def test_the_part_naming_a_missing_device_is_said_and_the_rest_done(
    understanding: Understanding, pin_factory: MockFactory
) -> None:
    events = understanding.handle("turn on the garage light and the fan", 0)
    assert pin_states(pin_factory) == {**dict.fromkeys(PINS, 0.0), "ceiling_fan": 1.0}
    missing = [e for e in events if isinstance(e, NotUnderstood)]
    assert len(missing) == 1 and missing[0].reason.startswith("there is no garage light")
    assert reply_for(missing[0]).startswith("there is no garage light")


def test_a_request_edge_cannot_do_is_refused_and_the_other_part_done(
    understanding: Understanding, pin_factory: MockFactory
) -> None:
    events = understanding.handle("turn on the light and play music", 0)
    assert pin_states(pin_factory) == {**dict.fromkeys(PINS, 0.0), "kitchen_light": 1.0}
    refused = [e for e in events if isinstance(e, NotUnderstood)]
    assert [(e.text, e.reason) for e in refused] == [
        ("play music", "I can't play media or change the volume")
    ]


def test_out_of_scope_sentences_with_and_still_do_nothing(
    understanding: Understanding, pin_factory: MockFactory
) -> None:
    for text in (
        "what's the weather and the time",
        "play some jazz and then set a timer",
        "the lamp and the fan",
    ):
        assert not [e for e in understanding.handle(text, 0) if isinstance(e, ActionResult)], text
    assert pin_states(pin_factory) == dict.fromkeys(PINS, 0.0)


def test_split_keeps_one_command_and_lists_of_rooms_whole(understanding: Understanding) -> None:
    finder = understanding.parser.finder
    for text in ("turn on the lamp", "turn the kitchen and bedroom lights off", "the lamp and the fan"):
        parts = split_commands(Utterance.of(text), finder.rooms, finder.mentions, lambda _part: False)
        assert [p.command.text for p in parts] == [" ".join(Utterance.of(text).words)], text
    parts = split_commands(
        Utterance.of("switch the fan off and then the lamp on"),
        finder.rooms,
        finder.mentions,
        lambda _part: False,
    )
    assert [p.command.text for p in parts] == ["switch the fan off", "the lamp on"]


def heard(word_probability: float) -> Transcript:
    return Transcript(0, "", "whisper", "silence", word_probability=word_probability, avg_logprob=-0.3)


def test_an_unsure_transcript_switches_nothing(
    understanding: Understanding, pin_factory: MockFactory
) -> None:
    understanding.min_certainty = 0.2
    events = understanding.handle("turn on the lamp and the fan", 0, heard(0.1))
    assert [type(e) for e in events] == [NotUnderstood]
    # The intent model is sure of this sentence (0.9 or more, printed with two decimals).
    assert re.match(
        re.escape(UNSURE) + r": least sure word p=0\.10 x intent confidence (0\.9\d|1\.00) ", events[0].reason
    )
    assert events[0].reason.endswith("< asr.min_certainty 0.20")
    assert reply_for(events[0]) == "sorry, I didn't catch that"
    assert pin_states(pin_factory) == dict.fromkeys(PINS, 0.0)
    # Whisper's mean token log-probability has its own floor.
    garbled = Transcript(0, "", "whisper", "silence", word_probability=0.9, avg_logprob=-1.4)
    assert understanding.handle("turn on the lamp", 0, garbled)[0].reason.endswith(
        "avg logprob -1.40 < asr.min_avg_logprob -1.00"
    )
    # Sure enough: acted. A stop is never refused, since it switches nothing.
    understanding.handle("turn on the lamp", 0, heard(0.5))
    assert pin_factory.pin("GPIO12").state == 1
    assert isinstance(understanding.handle("stop", 0, heard(0.01))[0], Intent)


def test_intent_cli_applies_every_part_on_mock_pins() -> None:
    result = subprocess.run(
        edge_command(
            "intent", "fan on and lamp on", "--apply", "--json", "-c", str(SHIPPED_CONFIG), "--board", "sim"
        ),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
        check=True,
    )
    output = json.loads(result.stdout)
    assert [part["intent"] for part in output["parts"]] == ["fan_on", "light_on"]
    assert output["states"]["ceiling_fan"]["on"] and output["states"]["kitchen_light"]["on"]
    assert not output["states"]["bedroom_light"]["on"]


@pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="needs espeak-ng and sox (apt-get install espeak-ng sox)",
)
def test_replay_of_a_spoken_sentence_of_two_commands_does_both(tmp_path: Path) -> None:
    """ "alexa", a pause, "switch on the fan and turn on the lamp" spoken by espeak-ng, through edge replay."""
    pieces = []
    for name, text in (("wake", "alexa"), ("command", "switch on the fan and turn on the lamp")):
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(tmp_path / f"{name}.raw.wav"), text],
            check=True,
        )
        subprocess.run(
            [
                "sox",
                str(tmp_path / f"{name}.raw.wav"),
                "-r",
                "16000",
                "-c",
                "1",
                "-b",
                "16",
                str(tmp_path / f"{name}.wav"),
            ],
            check=True,
        )
        pieces.append(str(tmp_path / f"{name}.wav"))
    pad = str(tmp_path / "pad.wav")
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            pad,
            "synth",
            "0.7",
            "whitenoise",
            "vol",
            "0.002",
        ],
        check=True,
    )
    clip = tmp_path / "alexa__lamp_and_fan.wav"
    subprocess.run(["sox", pad, pieces[0], pad, pieces[1], pad, pad, str(clip)], check=True)
    result = subprocess.run(
        edge_command("replay", "-c", str(SHIPPED_CONFIG), "--board", "sim", "--json", str(clip)),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=300,
        check=True,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [e["name"] for e in events if e["type"] == "intent"] == ["fan_on", "light_on"]
    final = events[-1]["devices"]
    assert final["kitchen_light"]["on"] and final["ceiling_fan"]["on"]
    assert not final["bedroom_light"]["on"] and not final["living_room_light"]["on"]
    transcript = next(e for e in events if e["type"] == "transcript")
    assert 0 < transcript["word_probability"] <= 1 and transcript["avg_logprob"] < 0
