"""The endpointer: where the command starts and ends after the wake, with the real Silero VAD and the energy one.

Speech here is a recorded voice (the committed Korean fixtures: speech from 0.45 s to 1.4 s) over a continuous
noise bed, never digital silence; the energy detector's tests use a synthetic buzz.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk, chunk_samples, read_wav
from edge.speech.endpoint import LEAD_IN_MS, Endpointer, level_db
from edge.speech.settings import EndpointConfig
from edge.speech.vad import EnergyVad
from edge.speech.wake.engines import MicroWakeDetector

from .support import REPO

RNG = np.random.default_rng(7)
CHUNK_MS = 20
WORD = read_wav(REPO / "tests" / "fixtures" / "ko_bul_kkeo.wav")[
    round(0.45 * SAMPLE_RATE_HZ) : round(1.4 * SAMPLE_RATE_HZ)
]


def noise(seconds: float, db: float = -60) -> np.ndarray:
    """White noise at an RMS level in dBFS: the room."""
    return RNG.normal(0, 32768 * 10 ** (db / 20), round(seconds * SAMPLE_RATE_HZ))


def speechlike(seconds: float, db: float) -> np.ndarray:
    """Syllables: a 200 Hz buzz switched on for 150 ms and off for 50 ms, at an RMS level in dBFS."""
    t = np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    gate = (t % 0.2) < 0.15
    return np.sqrt(2) * 32768 * 10 ** (db / 20) * np.sin(2 * np.pi * 200 * t) * gate


def chunks(*parts: np.ndarray, start_ms: int = 0) -> list[AudioChunk]:
    audio = np.clip(np.concatenate(parts), -32768, 32767).astype(np.int16)
    return list(chunk_samples(audio, CHUNK_MS, start_ms))


def word() -> np.ndarray:
    """The recorded word over the room's noise bed."""
    return WORD + noise(len(WORD) / SAMPLE_RATE_HZ)


def after_wake(
    endpointer: Endpointer, history: list[AudioChunk], *parts: np.ndarray
) -> tuple[str | None, int, list]:
    """Wake at the end of ``history``, then the parts: (reason, when in ms, chunks released to the recognizer)."""
    endpointer.begin(history)
    start_ms = history[-1].timestamp_ms + CHUNK_MS if history else 0
    released: list[AudioChunk] = []
    for chunk in chunks(*parts, start_ms=start_ms):
        reason = endpointer.process(chunk)
        released += endpointer.release()
        if reason:
            return reason, chunk.timestamp_ms + CHUNK_MS, released
    return None, start_ms, released


def test_the_wake_phrase_tail_is_dropped_and_the_command_waits_for_speech_after_a_pause() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    # The wake fires 200 ms before the wake phrase ends: its tail follows, then a 1.2 s pause, then the command.
    wake_phrase = word()
    history = chunks(noise(0.5), wake_phrase[: -SAMPLE_RATE_HZ // 5])
    wake_ms = history[-1].timestamp_ms + CHUNK_MS
    command_ms = wake_ms + 200 + 1200
    reason, at_ms, released = after_wake(
        endpointer, history, wake_phrase[-SAMPLE_RATE_HZ // 5 :], noise(1.2), word(), noise(2.0)
    )
    assert reason == "silence"
    assert command_ms + 800 + 600 <= at_ms <= command_ms + 950 + 600 + 200
    first_ms = released[0].timestamp_ms
    # Only the pause before the command (at most the lead-in), never the wake phrase's own audio.
    assert wake_ms + 200 <= first_ms <= command_ms
    assert command_ms - first_ms <= LEAD_IN_MS + CHUNK_MS
    assert released[-1].timestamp_ms + CHUNK_MS == at_ms


def test_a_command_in_the_same_breath_keeps_the_preroll() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    history = chunks(noise(0.5), word()[: SAMPLE_RATE_HZ // 2])
    wake_ms = history[-1].timestamp_ms + CHUNK_MS
    reason, _, released = after_wake(endpointer, history, word()[SAMPLE_RATE_HZ // 2 :], word(), noise(2.0))
    assert reason == "silence"
    assert released[0].timestamp_ms < wake_ms  # the pre-roll: the command began before the wake decision
    assert wake_ms - released[0].timestamp_ms <= 200


def test_nobody_speaking_after_the_wake_is_no_speech_at_the_timeout() -> None:
    endpointer = Endpointer(EndpointConfig(no_speech_timeout_ms=1500))
    history = chunks(noise(0.3), word(), noise(0.3))
    reason, at_ms, released = after_wake(endpointer, history, noise(3.0))
    wake_ms = history[-1].timestamp_ms + CHUNK_MS
    assert reason == "no_speech"
    assert at_ms - wake_ms == 1500
    assert released == []


def test_a_pause_inside_the_command_does_not_end_it() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    history = chunks(noise(0.5))
    # "set the fan to ... medium": 0.3 s of room between the words (0.4 s with the word's own quiet edges).
    reason, at_ms, _ = after_wake(endpointer, history, noise(0.3), word(), noise(0.3), word(), noise(2.0))
    assert reason == "silence"
    assert at_ms >= 500 + 300 + 950 + 300 + 950 + 500


def test_a_command_ends_at_its_maximum_length_counted_from_its_start() -> None:
    endpointer = Endpointer(EndpointConfig(silence_ms=300, max_command_ms=2000, no_speech_timeout_ms=4000))
    reason, at_ms, _ = after_wake(endpointer, chunks(noise(0.5)), noise(1.0), *[word() for _ in range(4)])
    assert reason == "max_length"
    assert 500 + 1000 + 2000 - LEAD_IN_MS - 100 <= at_ms <= 500 + 1000 + 2000 + 100


def test_level_of_a_full_scale_square_is_zero_db() -> None:
    chunk = AudioChunk(np.array([32767, -32767] * 160, dtype="<i2").tobytes(), 0)
    assert abs(level_db(chunk)) < 0.01
    assert level_db(AudioChunk(bytes(640), 0)) == -100.0


def energy_endpointer(**settings: object) -> Endpointer:
    config = EndpointConfig(vad="energy", **settings)  # type: ignore[arg-type]
    return Endpointer(config, EnergyVad(config.energy_threshold_db))


def test_energy_fallback_learns_the_room_while_listening_and_ends_on_silence() -> None:
    endpointer = energy_endpointer(silence_ms=600)
    hum = noise(6.0, -35)
    for chunk in chunks(hum[: 3 * SAMPLE_RATE_HZ]):
        endpointer.observe(chunk)
    assert isinstance(endpointer.vad, EnergyVad)
    assert -37 < endpointer.vad.noise_floor_db < -34
    speech = speechlike(1.0, -20)
    reason, at_ms, _ = after_wake(
        endpointer, [], speech + hum[3 * SAMPLE_RATE_HZ : 4 * SAMPLE_RATE_HZ], hum[4 * SAMPLE_RATE_HZ :]
    )
    assert reason == "silence"
    assert 1500 <= at_ms <= 1700


def test_energy_fallback_with_a_fixed_threshold_hears_nothing_below_it() -> None:
    endpointer = energy_endpointer(silence_ms=600, energy_threshold_db=-10.0, no_speech_timeout_ms=2000)
    reason, at_ms, _ = after_wake(endpointer, [], speechlike(1.0, -20), noise(5.0))
    assert (reason, at_ms) == ("no_speech", 2000)


EVAL_CLIP = (
    REPO.parent
    / "shared"
    / "eval"
    / "audio"
    / "rhasspy-test__wake_en__precise_turn_on_the_living_room_lamp.wav"
)


@pytest.mark.skipif(
    not EVAL_CLIP.is_file(), reason="../shared/eval (real recordings) is absent outside this workplace"
)
def test_a_real_wake_pause_and_command_give_the_recognizer_only_the_command() -> None:
    """Issue 9's clip: "hey mycroft" ends ~1.35 s, wake fires at 1.26 s, the command runs from 2.0 to ~3.15 s."""
    wake = MicroWakeDetector("hey mycroft")
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    audio = np.concatenate([read_wav(EVAL_CLIP), np.zeros(SAMPLE_RATE_HZ, dtype=np.int16)])
    history: list[AudioChunk] = []
    pieces = iter(chunk_samples(audio, CHUNK_MS))
    for chunk in pieces:
        history = [*history[-23:], chunk]
        if wake.process(chunk) is not None:
            break
    wake.close()
    endpointer.begin(history)
    released: list[AudioChunk] = []
    for chunk in pieces:
        reason = endpointer.process(chunk)
        released += endpointer.release()
        if reason:
            break
    assert reason == "silence"
    assert 1500 <= released[0].timestamp_ms <= 2000  # after the wake phrase's tail, just before the command
    assert 3600 <= chunk.timestamp_ms <= 4000  # 600 ms after the command's last word
