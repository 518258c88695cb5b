"""Feedback: which sound each event plays, the status LED patterns on gpiozero's mock pins, failures."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge.config import Config
from edge.events import ActionResult, Detection, Intent, NotUnderstood, StageError, Timeout, Transcript
from edge.runtime.feedback import LISTENING_DIM, SOUND_NAMES, Feedback, load_sounds
from edge.runtime.settings import FeedbackConfig

WAKE = Detection(1000, "hey_jarvis", 0.99)
HEARD = Transcript(2000, "turn on the lamp", "pocketsphinx", "silence")
DONE = ActionResult(2000, "light_on", "kitchen_light", "kitchen_light on")
UNCLEAR = NotUnderstood(2000, "purple monkey", "low confidence")


def with_led(config: Config, *, pwm: bool, sounds: bool = True) -> Config:
    return replace(config, feedback=FeedbackConfig(sounds=sounds, status_led="GPIO25", status_led_pwm=pwm))


class Recorder:
    """A player that remembers what it was asked to play (the seam Feedback takes instead of sounddevice)."""

    def __init__(self) -> None:
        self.played: list[np.ndarray] = []

    def __call__(self, samples: np.ndarray, rate_hz: int) -> None:
        assert rate_hz == 16000
        self.played.append(samples)


def test_sounds_are_short_16k_clips() -> None:
    sounds = load_sounds()
    assert set(sounds) == set(SOUND_NAMES)
    for samples in sounds.values():
        assert 0.05 < len(samples) / 16000 < 0.5
        assert np.abs(samples).max() > 3000  # audible


def test_each_outcome_plays_its_sound() -> None:
    sounds, player = load_sounds(), Recorder()
    feedback = Feedback(sounds=sounds, player=player)
    for event in (WAKE, HEARD, Intent(2000, "light_on", 0.9), DONE, WAKE, UNCLEAR, StageError(1, "asr", "x")):
        feedback.on_event(event)
    expected = ["wake", "success", "wake", "error", "error"]
    assert len(player.played) == len(expected)
    for samples, name in zip(player.played, expected, strict=True):
        assert np.array_equal(samples, sounds[name])


def test_a_failing_player_is_logged_once_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken(samples: np.ndarray, rate_hz: int) -> None:
        raise OSError("no default output device")

    feedback = Feedback(sounds=load_sounds(), player=broken)
    with caplog.at_level(logging.WARNING, logger="edge.runtime.feedback"):
        for _ in range(3):
            feedback.on_event(WAKE)
    assert caplog.text.count("cannot play sounds") == 1


def test_real_sounddevice_without_a_speaker_does_not_stop_anything(shipped_config: Config) -> None:
    feedback = Feedback.from_config(shipped_config, None, sounds=True)
    feedback.on_event(WAKE)  # there is no sound card here; this must only log
    feedback.on_event(DONE)
    feedback.close()


def test_sounds_switched_off_by_config_or_caller(shipped_config: Config) -> None:
    off_in_config = replace(shipped_config, feedback=FeedbackConfig(sounds=False, status_led=None))
    assert Feedback.from_config(off_in_config, None, sounds=True).player is None
    assert Feedback.from_config(shipped_config, None, sounds=False).player is None


def test_led_is_off_while_listening_on_when_heard_and_blinks_on_errors(
    shipped_config: Config, pin_factory: MockFactory
) -> None:
    feedback = Feedback.from_config(with_led(shipped_config, pwm=False), pin_factory, sounds=False)
    pin = pin_factory.pin("GPIO25")
    feedback.on_event(WAKE)
    feedback.on_event(DONE)
    feedback.on_event(WAKE)
    feedback.on_event(Timeout(5000, "no speech"))
    pin.assert_states([False, True, False, True, False])
    pin.clear_states()
    feedback.on_event(UNCLEAR)
    feedback.led._blink_thread.join(timeout=5)  # gpiozero's blink runs n times on its own thread
    pin.assert_states([False, True, False, True, False, True, False])
    feedback.close()
    assert not pin.state


def test_pwm_led_glows_dimly_while_listening(shipped_config: Config, pin_factory: MockFactory) -> None:
    feedback = Feedback.from_config(with_led(shipped_config, pwm=True), pin_factory, sounds=False)
    pin = pin_factory.pin("GPIO25")
    assert pin.state == pytest.approx(LISTENING_DIM)
    feedback.on_event(WAKE)
    assert pin.state == 1
    feedback.on_event(DONE)
    assert pin.state == pytest.approx(LISTENING_DIM)
    feedback.close()
