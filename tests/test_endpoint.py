"""The endpointer on synthetic audio: speech then silence, noise floors, length limits."""

from __future__ import annotations

import numpy as np

from edge.config import EndpointConfig
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk, chunk_samples
from edge.speech.endpoint import Endpointer, level_db

RNG = np.random.default_rng(7)


def noise(seconds: float, db: float) -> np.ndarray:
    """White noise at an RMS level in dBFS."""
    return RNG.normal(0, 32768 * 10 ** (db / 20), round(seconds * SAMPLE_RATE_HZ))


def speechlike(seconds: float, db: float) -> np.ndarray:
    """Syllables: a 200 Hz buzz switched on for 150 ms and off for 50 ms, at an RMS level in dBFS."""
    t = np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    gate = (t % 0.2) < 0.15
    return np.sqrt(2) * 32768 * 10 ** (db / 20) * np.sin(2 * np.pi * 200 * t) * gate


def run(endpointer: Endpointer, *parts: np.ndarray) -> tuple[str | None, float]:
    """Feed the parts; return the endpoint reason and when (ms) it came."""
    audio = np.clip(np.concatenate(parts), -32768, 32767).astype(np.int16)
    for chunk in chunk_samples(audio, 20):
        reason = endpointer.process(chunk)
        if reason:
            return reason, chunk.timestamp_ms + 20
    return None, len(audio) / 16


def test_level_of_a_full_scale_square_is_zero_db() -> None:
    chunk = AudioChunk(np.array([32767, -32767] * 160, dtype="<i2").tobytes(), 0)
    assert abs(level_db(chunk)) < 0.01
    assert level_db(AudioChunk(bytes(640), 0)) == -100.0


def test_command_ends_after_the_configured_trailing_silence() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    reason, at_ms = run(endpointer, noise(0.5, -60), speechlike(1.5, -20), noise(2.0, -60))
    assert reason == "silence"
    assert 2000 + 600 <= at_ms <= 2000 + 600 + 60
    assert endpointer.trailing_silence_ms >= 600


def test_pauses_between_words_do_not_end_the_command() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    reason, at_ms = run(
        endpointer, speechlike(0.6, -20), noise(0.4, -60), speechlike(0.6, -20), noise(1.0, -60)
    )
    assert reason == "silence" and at_ms >= 1550 + 600  # the last syllable ends at 1.55 s


def listen(endpointer: Endpointer, audio: np.ndarray) -> None:
    """What the pipeline does while waiting for the wake word: let the endpointer hear the room."""
    for chunk in chunk_samples(np.clip(audio, -32768, 32767).astype(np.int16), 20):
        endpointer.observe(chunk)


def test_adapts_to_a_noisy_room() -> None:
    # A fan at -35 dBFS would count as speech for a fixed -55 dB threshold; the adaptive floor learns it.
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    listen(endpointer, noise(3.0, -35))
    assert -37 < endpointer.noise_floor_db < -34
    hum = noise(3.0, -35)
    speech = speechlike(1.0, -15) + hum[:SAMPLE_RATE_HZ]
    reason, at_ms = run(endpointer, speech, hum[SAMPLE_RATE_HZ:])
    assert reason == "silence" and 1540 <= at_ms <= 1620  # the last syllable ends at 0.95 s


def test_floor_is_found_in_a_short_pause_within_the_command() -> None:
    # No listening history (cold start): the 350 ms pause between wake phrase and command is enough.
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    hum = noise(5.0, -35)
    speech = np.concatenate([speechlike(0.6, -15), np.zeros(5600), speechlike(1.0, -15)])
    reason, at_ms = run(endpointer, speech + hum[: len(speech)], hum[len(speech) :])
    assert reason == "silence" and 1900 + 600 <= at_ms <= 1900 + 660  # last syllable ends at 1.9 s


def test_fixed_threshold_overrides_adaptation() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=600, energy_threshold_db=-10.0))
    reason, _ = run(endpointer, speechlike(1.0, -20), noise(5.0, -60))
    assert reason == "no_speech"  # -20 dB speech is below a -10 dB threshold


def test_max_length_cuts_a_command_that_never_stops() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=600, max_command_ms=2000))
    listen(endpointer, noise(1.0, -60))
    reason, at_ms = run(endpointer, speechlike(5.0, -20))
    assert (reason, at_ms) == ("max_length", 2000)


def test_no_speech_after_the_timeout() -> None:
    endpointer = Endpointer(EndpointConfig(no_speech_timeout_ms=1500))
    reason, at_ms = run(endpointer, noise(3.0, -60))
    assert (reason, at_ms) == ("no_speech", 1500)


def test_reset_starts_a_new_window() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=600, no_speech_timeout_ms=1000))
    run(endpointer, speechlike(0.5, -20))
    endpointer.reset()
    assert endpointer.trailing_silence_ms == 0
    reason, at_ms = run(endpointer, noise(2.0, -60))
    assert (reason, at_ms) == ("no_speech", 1000)
