"""Settings of the runtime's own outputs (``voice``, ``feedback`` sections of edge.yaml) and their readers.

Light on purpose: ``edge.config`` reads them without importing the speaker or the feedback code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.devices.board import BoardProfile
from edge.devices.settings import DeviceConfig, check_output_pin
from edge.yamlfields import Section

VOICE_ENGINES = ("auto", "espeak-ng", "piper")


@dataclass(frozen=True)
class VoiceConfig:
    """Spoken replies: off unless ``replies``; Piper only when a voice file is given."""

    replies: bool = False
    engine: str = "auto"
    espeak_voice: str = "en-us"
    rate_wpm: int = 160
    piper_voice: Path | None = None


def read_voice(section: Section, base_dir: Path) -> VoiceConfig:
    """Read ``voice:``; an absent section means no spoken replies."""
    piper_voice: Path | None = None
    piper_value = section.string("piper_voice", None)
    if piper_value is not None:
        piper_voice = (base_dir / Path(piper_value).expanduser()).resolve()
        if not piper_voice.is_file():
            section.fail("piper_voice", f"file not found: {piper_voice} (a Piper voice .onnx file)")
    voice = VoiceConfig(
        replies=section.boolean("replies", False),
        engine=section.string("engine", "auto", choices=VOICE_ENGINES),
        espeak_voice=section.string("espeak_voice", "en-us"),
        rate_wpm=section.integer("rate_wpm", 160, low=80, high=450),
        piper_voice=piper_voice,
    )
    if voice.engine == "piper" and piper_voice is None:
        section.fail("engine", "piper needs voice.piper_voice (the path of a Piper voice .onnx file)")
    section.finish()
    return voice


@dataclass(frozen=True)
class FeedbackConfig:
    """Sounds and status LED that tell a person they were heard."""

    sounds: bool
    status_led: str | None
    status_led_pwm: bool = False


def read_feedback(section: Section, board: BoardProfile, devices: tuple[DeviceConfig, ...]) -> FeedbackConfig:
    """The ``feedback`` section: sounds, and a status LED on a free pin."""
    led: str | None = None
    led_pwm = section.boolean("status_led_pwm", False)
    if section.raw("status_led", None) is not None:
        led = check_output_pin(section, "status_led", board, pwm=led_pwm)
        for device in devices:
            if device.pin == led:
                section.fail("status_led", f"{led} is already used by device {device.name!r}")
    feedback = FeedbackConfig(sounds=section.boolean("sounds", True), status_led=led, status_led_pwm=led_pwm)
    section.finish()
    return feedback
