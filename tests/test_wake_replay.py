"""A wake that Whisper confirmed late hands the command the same audio as the unchecked wake would have.

micro with ``wake.verify`` decides after the score's peak (and Whisper's decode), then says how late it was;
the pipeline replays the audio since the moment the unchecked detector would have woken. Off by one chunk,
the endpointer's voice detector and Whisper hear the command shifted by 20 ms, which is enough to turn
"lamp" into "liam" on real voices. Real micro models, real Whisper check, real Silero endpointer.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

import pytest

from edge.config import Config, load_config
from edge.events import Detection, Transcript
from edge.runtime.assembly import build_runtime
from edge.speech.audio import AudioChunk, chunk_samples, read_wav
from edge.speech.wake.engines import MicroWakeDetector

from .support import SHIPPED_CONFIG

FIXTURES = Path(__file__).parent / "fixtures" / "commands"
ALEXA_CLIPS = sorted(FIXTURES.glob("alexa__*.wav"))
CHUNK_MS = 20  # the default chunk: not a multiple of micro's 30 ms step, so steps and chunks drift apart


def first_wake(detector: MicroWakeDetector, path: Path) -> Detection | None:
    detector.reset()
    for chunk in chunk_samples(read_wav(path), CHUNK_MS):
        detection = detector.process(chunk)
        if detection is not None:
            return detection
    return None


def test_checked_wake_reports_the_unchecked_wake_moment_to_the_chunk() -> None:
    checked = MicroWakeDetector("alexa", verify=True)
    plain = MicroWakeDetector("alexa")
    compared = 0
    for path in ALEXA_CLIPS:
        on_time, late = first_wake(plain, path), first_wake(checked, path)
        if on_time is None or late is None:  # Whisper may refuse a synthetic voice in noise
            continue
        assert late.timestamp_ms > on_time.timestamp_ms, path.name  # decided after the peak, so later
        assert late.timestamp_ms - checked.decision_lag_ms == on_time.timestamp_ms, path.name
        compared += 1
    assert compared >= 3


def _config(verify: bool, noise_suppression: Literal["none", "command", "all"]) -> Config:
    config = load_config(SHIPPED_CONFIG, board_override="sim")
    audio = replace(config.audio, chunk_ms=CHUNK_MS, noise_suppression=noise_suppression)
    return replace(config, audio=audio, wake=replace(config.wake, phrases=("alexa",), verify=verify))


def heard_by_recognizer(
    verify: bool, path: Path, noise_suppression: Literal["none", "command", "all"] = "none"
) -> list[tuple[int, bytes]]:
    """The chunks the command recognizer is handed after the first wake in ``path``."""
    runtime = build_runtime(_config(verify, noise_suppression), mock_gpio=True, sounds=False)
    heard: list[tuple[int, bytes]] = []
    recognizer = runtime.pipeline.recognizer
    process = recognizer.process

    def recording(chunk: AudioChunk) -> None:
        heard.append((chunk.timestamp_ms, chunk.pcm))
        process(chunk)

    recognizer.process = recording  # type: ignore[method-assign]
    try:
        for chunk in chunk_samples(read_wav(path), CHUNK_MS):
            events = runtime.pipeline.feed(chunk)
            if any(isinstance(e, Transcript) for e in events):
                break
    finally:
        runtime.close()
    return heard


# The fixtures whose synthetic "alexa" Whisper accepts (the others are refused, so no command follows).
CONFIRMED = [
    p
    for p in ALEXA_CLIPS
    if p.name.split("__")[1] in ("turn_off_the_fan", "turn_off_the_kitchen_light", "turn_on_the_fan")
]


@pytest.mark.parametrize("path", CONFIRMED, ids=lambda p: p.name.split("__")[1])
def test_the_command_audio_is_the_same_with_and_without_the_check(path: Path) -> None:
    unchecked = heard_by_recognizer(False, path)
    checked = heard_by_recognizer(True, path)
    assert unchecked, "the unchecked pipeline never started a command"
    assert [t for t, _ in checked] == [t for t, _ in unchecked]
    assert checked == unchecked


def test_replayed_audio_is_cleaned_as_command_audio_is() -> None:
    # Speex cleans only the command window: the chunks replayed after a late wake must be cleaned too.
    unchecked = heard_by_recognizer(False, CONFIRMED[0], "command")
    assert unchecked and unchecked != heard_by_recognizer(False, CONFIRMED[0])
    assert heard_by_recognizer(True, CONFIRMED[0], "command") == unchecked
