"""Feedback that tells a person they were heard: short sounds and an optional status LED.

Sounds play through sounddevice without blocking the pipeline; a missing speaker is logged once and never
stops the daemon. The LED shows the pipeline's state: off (or dim, on a PWM LED) while listening, on while
a command is being heard, blinking after an error or a command that was not understood.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import Config
from edge.errors import EdgeError
from edge.events import ActionResult, Detection, Event, HandedOver, NotUnderstood, StageError, Timeout
from edge.speech.audio import SAMPLE_RATE_HZ, import_sounddevice, read_wav

log = logging.getLogger(__name__)

SOUNDS_DIR = Path(__file__).resolve().parent.parent / "sounds"
SOUND_NAMES = ("wake", "success", "error")
LISTENING_DIM = 0.05  # a PWM status LED glows faintly while listening, so a dark LED means "not running"
Player = Callable[[np.ndarray, int], None]


def load_sounds(directory: Path = SOUNDS_DIR) -> dict[str, np.ndarray]:
    """The feedback sounds as 16 kHz int16 arrays, keyed by name."""
    return {name: read_wav(directory / f"{name}.wav") for name in SOUND_NAMES}


def sounddevice_player() -> Player:
    """Play on the default output without waiting for the sound to end."""
    sd = import_sounddevice()

    def play(samples: np.ndarray, rate_hz: int) -> None:
        sd.play(samples, rate_hz, blocking=False)

    return play


class Feedback:
    """Plays a sound and sets the status LED for each pipeline event."""

    def __init__(
        self, *, sounds: dict[str, np.ndarray] | None = None, player: Player | None = None, led: Any = None
    ) -> None:
        self.sounds = sounds or {}
        self.player = player
        self.led = led
        self._sound_failed = False
        self.listening()

    @classmethod
    def from_config(cls, config: Config, pin_factory: Any, sounds: bool) -> Feedback:
        """Sounds when both the config and ``sounds`` allow them; the LED on ``pin_factory`` if configured."""
        led = None
        if config.feedback.status_led:
            from gpiozero import LED, PWMLED

            led_class = PWMLED if config.feedback.status_led_pwm else LED
            led = led_class(config.feedback.status_led, pin_factory=pin_factory)
        clips: dict[str, np.ndarray] | None = None
        player: Player | None = None
        if sounds and config.feedback.sounds:
            try:
                clips, player = load_sounds(), sounddevice_player()
            except EdgeError as err:
                log.warning("feedback: sounds disabled: %s", err)
        return cls(sounds=clips, player=player, led=led)

    def on_event(self, event: Event) -> None:
        """React to one pipeline event."""
        if isinstance(event, Detection):
            self.play("wake")
            self._led_on()
        elif isinstance(event, ActionResult):
            self.play("success")
            self.listening()
        elif isinstance(event, NotUnderstood | StageError):
            self.play("error")
            self._blink()
        elif isinstance(event, Timeout | HandedOver):
            self.listening()

    def play(self, name: str) -> None:
        """Start a sound; a failure is logged (once) and otherwise ignored."""
        if self.player is None or name not in self.sounds:
            return
        try:
            self.player(self.sounds[name], SAMPLE_RATE_HZ)
        except Exception as err:  # PortAudio errors, a vanished device: feedback must never stop the daemon
            if not self._sound_failed:
                log.warning(
                    "feedback: cannot play sounds (%s: %s); carrying on without", type(err).__name__, err
                )
            self._sound_failed = True

    def listening(self) -> None:
        """LED pattern for 'waiting for the wake word'."""
        if self.led is None:
            return
        if hasattr(self.led, "pulse"):  # PWMLED
            self.led.value = LISTENING_DIM
        else:
            self.led.off()

    def _led_on(self) -> None:
        if self.led is not None:
            self.led.on()

    def _blink(self) -> None:
        if self.led is not None:
            self.led.blink(on_time=0.15, off_time=0.15, n=3, background=True)

    def close(self) -> None:
        """Turn the LED off and release its pin."""
        if self.led is not None:
            self.led.off()
            self.led.close()
            self.led = None
