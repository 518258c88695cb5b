"""The same answers on any CPU: the fixtures with the recognizer's decodes made 20x and 50x slower.

The slowdown is injected through the recognizer's clock (every decode measures 20x or 50x its real time), not
slept, so the test costs what a full-speed replay costs. Edge once chose its partial-decode step from the last
decode's time, and a slow board then heard fewer partials and ended commands elsewhere; what the pipeline
hears and does must now depend on the audio alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge.events import ActionResult, Detection, Event, StageError, Transcript
from edge.runtime.assembly import Runtime, build_runtime
from edge.speech.asr.whisper import WhisperRecognizer
from edge.speech.audio import SAMPLE_RATE_HZ, chunk_samples, read_wav

from .test_end_to_end import FIXTURES, MANIFEST, _config, pin_levels, replay_clip

SLOWDOWNS = (20, 50)
# Every clip that wakes: the ones where recognition, endpointing and the action can differ.
CLIPS = [clip for clip in MANIFEST if clip["wake"]]


def slowed_clock(factor: float) -> Callable[[], float]:
    """A clock on which every interval lasts ``factor`` times its real length (a CPU that much slower)."""
    return lambda: time.perf_counter() * factor


def answers(factor: float) -> tuple[dict[str, Any], float]:
    """Per clip on a fresh runtime (a dimmed light remembers its level): transcripts, actions, final pins.

    Also the last decode's time as the recognizer measured it.
    """
    factory = MockFactory(revision="c03111", pin_class=MockPWMPin)
    runtime = build_runtime(_config(), pin_factory=factory)
    try:
        recognizer = runtime.pipeline.recognizer
        assert isinstance(recognizer, WhisperRecognizer), "the shipped config should resolve to Whisper"
        recognizer.clock = slowed_clock(factor)
        return _replay_all(runtime, factory), recognizer.last_decode_ms
    finally:
        runtime.close()
        factory.reset()


def _replay_all(runtime: Runtime, factory: MockFactory) -> dict[str, Any]:
    result = {}
    for clip in CLIPS:
        events = replay_clip(runtime, clip["file"])
        heard = [(e.text, e.endpoint, e.endpoint_ms) for e in events if isinstance(e, Transcript)]
        done = [(e.intent, e.device, e.description) for e in events if isinstance(e, ActionResult)]
        result[Path(clip["file"]).name] = (heard, done, pin_levels(runtime, factory))
    return result


def test_slow_recognizer_gives_the_same_transcripts_and_pins() -> None:
    full_speed, real_decode_ms = answers(1)
    # Enough clips act for the comparison to mean something. Not "most": Whisper's certainty check refuses
    # the robotic voices' garbled transcripts (about half of them), at every speed alike.
    assert sum(bool(done) for _, done, _ in full_speed.values()) >= 15
    for factor in SLOWDOWNS:
        slowed, slow_decode_ms = answers(factor)
        # The seam took: decodes really did look this much slower to edge.
        assert slow_decode_ms > 5 * real_decode_ms, (factor, slow_decode_ms, real_decode_ms)
        different = {
            name: (full_speed[name], slowed[name]) for name in full_speed if full_speed[name] != slowed[name]
        }
        assert not different, f"x{factor}: {different}"


def test_audio_lost_mid_command_drops_the_command_and_the_next_one_is_heard() -> None:
    factory = MockFactory(revision="c03111", pin_class=MockPWMPin)
    runtime = build_runtime(_config(), pin_factory=factory)
    clip = next(c for c in CLIPS if c["intent"] == "light_on" and c["snr_db"] is None)
    try:
        samples = read_wav(FIXTURES / clip["file"])
        events = list(_feed(runtime, samples, 0))
        wake_ms = next(e.timestamp_ms for e in events if isinstance(e, Detection))
        end_ms = next(e.timestamp_ms for e in events if isinstance(e, Transcript))
        runtime.bank.to_safe_state()
        runtime.pipeline.reset()
        # The same clip with 400 ms cut out between the wake and the end of the command: stamps jump over it.
        cut_ms = (wake_ms + end_ms) // 2 // 20 * 20
        cut, gap = cut_ms * SAMPLE_RATE_HZ // 1000, 400 * SAMPLE_RATE_HZ // 1000
        before = list(_feed(runtime, samples[:cut], 100_000, quiet_ms=0))
        after = list(_feed(runtime, samples[cut + gap :], 100_000 + cut_ms + 400))
        lost = [e for e in after if isinstance(e, StageError)]
        assert any(isinstance(e, Detection) for e in before)
        assert len(lost) == 1 and lost[0].stage == "audio" and "400 ms" in lost[0].message
        assert not [e for e in before + after if isinstance(e, ActionResult | Transcript)]
        assert not pin_levels(runtime, factory)["kitchen_light"]["on"]
        # Then the whole clip again, later in the stream: heard and acted on as at first.
        again = list(_feed(runtime, samples, 200_000))
        assert [e.text for e in again if isinstance(e, Transcript)] == [
            e.text for e in events if isinstance(e, Transcript)
        ]
        assert pin_levels(runtime, factory)["kitchen_light"]["on"]
    finally:
        runtime.close()
        factory.reset()


def _feed(runtime: Runtime, samples: np.ndarray, start_ms: int, quiet_ms: int = 4200) -> Iterator[Event]:
    """The samples then a quiet room, as chunks stamped from ``start_ms``."""
    quiet = np.zeros(SAMPLE_RATE_HZ * quiet_ms // 1000, dtype=np.int16)
    for chunk in chunk_samples(np.concatenate([samples, quiet]), runtime.config.audio.chunk_ms, start_ms):
        yield from runtime.pipeline.feed(chunk)
