"""Spoken replies: the sentences, real espeak-ng speech, and the wake word muted while edge speaks."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from edge.config import load_config
from edge.errors import BackendMissingError, ConfigError
from edge.events import ActionResult, Detection, Event, NotUnderstood, StageError, Timeout, Transcript
from edge.runtime.replies import reply_for
from edge.runtime.settings import VoiceConfig
from edge.runtime.speaker import EspeakSynthesizer, Speaker, WakeMute, synthesizer_from_config
from edge.speech.audio import chunk_samples, read_wav
from edge.speech.wake.engines import MicroWakeDetector

from .support import SHIPPED_CONFIG

FIXTURES = Path(__file__).parent / "fixtures"
WAKE_CLIP = FIXTURES / "commands" / "turn_on_the_kitchen_light__flite_kal16__clean.wav"
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)"
)


@pytest.mark.parametrize(
    ("event", "sentence"),
    [
        (ActionResult(0, "light_set_brightness", "kitchen_light", "kitchen_light 50 %",
                      {"on": True, "level_percent": 50}), "the kitchen light is on at 50 percent"),
        (ActionResult(0, "light_on", "bedroom_light", "bedroom_light on", {"on": True, "level_percent": 100}),
         "the bedroom light is on"),
        (ActionResult(0, "fan_off", "ceiling_fan", "ceiling_fan off", {"on": False, "level_percent": 0}),
         "the ceiling fan is off"),
        (ActionResult(0, "status_query", None, "...", {
            "kitchen_light": {"on": False, "level_percent": 0},
            "bedroom_light": {"on": True, "level_percent": 100},
            "ceiling_fan": {"on": True, "level_percent": 60},
        }), "the kitchen light is off, the bedroom light is on and the ceiling fan is on at 60 percent"),
        (ActionResult(0, "stop_cancel", None, "cancelled, nothing changed", {}), "okay, cancelled"),
        (NotUnderstood(0, "turn on the garage light", "no light configured in the garage"),
         "there is no garage light"),
        (NotUnderstood(0, "turn on the garage light", "there is no garage light"), "there is no garage light"),
        (NotUnderstood(0, "turn on the garage light",
                       "there is no garage light; I have: kitchen light, bedroom light"),
         "there is no garage light. I have: kitchen light, bedroom light"),
        (NotUnderstood(0, "make the lights red", "I can't change colours"), "I can't change colours"),
        (NotUnderstood(0, "turn on the light", "which light: kitchen_light or bedroom_light?"),
         "which one: the kitchen light or the bedroom light?"),
        (NotUnderstood(0, "make me a coffee", "not a command for the lights or fans"),
         "sorry, I did not understand"),
        (StageError(0, "asr", "RuntimeError: boom"), "sorry, something went wrong"),
    ],
)  # fmt: skip
def test_replies_say_what_happened(event: Event, sentence: str) -> None:
    assert reply_for(event) == sentence


@pytest.mark.parametrize(
    "event",
    [Detection(0, "hey_jarvis", 0.9), Transcript(0, "hi", "x", "silence"), Timeout(0, "no speech")],
)
def test_nothing_is_said_mid_command_or_after_silence(event: Event) -> None:
    assert reply_for(event) is None


@needs_espeak
def test_espeak_ng_speaks_a_status_answer() -> None:
    samples, rate_hz = EspeakSynthesizer().synthesize("the kitchen light is on at 50 percent")
    assert rate_hz == 22050
    assert 1.0 < len(samples) / rate_hz < 5.0
    assert np.abs(samples.astype(np.int32)).max() > 3000  # speech, not silence


@needs_espeak
def test_text_that_looks_like_an_option_is_spoken_not_obeyed() -> None:
    samples, _ = EspeakSynthesizer().synthesize("--help")
    assert len(samples) > 1000


def _detections(wake: object, chunks: list) -> list[object]:
    return [d for d in (wake.process(c) for c in chunks) if d is not None]  # type: ignore[attr-defined]


@needs_espeak
def test_the_wake_word_is_muted_while_a_reply_plays() -> None:
    chunks = list(chunk_samples(read_wav(WAKE_CLIP), 20))
    now_s = [100.0]
    mute = WakeMute(MicroWakeDetector("hey jarvis", 0.5), clock=lambda: now_s[0])
    requests: list = []
    played = threading.Event()
    lengths: list[int] = []

    def player(samples: np.ndarray, rate_hz: int) -> None:
        lengths.append(len(samples))
        played.set()

    speaker = Speaker(EspeakSynthesizer(), player, mute, submit=lambda r: requests.append(r) or True)
    try:
        speaker.on_event(
            ActionResult(0, "light_on", "kitchen_light", "x", {"on": True, "level_percent": 100})
        )
        assert played.wait(20)
    finally:
        speaker.close()
    assert lengths and lengths[0] > 10_000
    # The speaker asked for the mute; run it where the daemon would, on the pipeline thread (here).
    assert not mute.muted
    assert [request() for request in requests] == [[]]
    assert mute.muted
    assert _detections(mute, chunks) == []
    assert mute.muted_detections >= 1
    now_s[0] += 60  # the reply has ended
    mute.reset()
    assert _detections(mute, chunks)
    mute.close()


def test_a_speaker_never_blocks_the_pipeline_thread() -> None:
    release = threading.Event()

    class SlowSynthesizer:
        name = "slow"

        def synthesize(self, text: str) -> tuple[np.ndarray, int]:
            release.wait(10)
            return np.zeros(1600, dtype=np.int16), 16000

    speaker = Speaker(SlowSynthesizer(), lambda samples, rate: None)
    event = ActionResult(0, "light_on", "kitchen_light", "x", {"on": True, "level_percent": 100})
    for _ in range(20):
        speaker.on_event(event)  # returns at once although nothing can be spoken yet
    release.set()
    speaker.close()
    assert speaker.dropped >= 20 - 4 - 1


def test_piper_without_a_voice_file_is_a_config_error(tmp_path: Path) -> None:
    text = SHIPPED_CONFIG.read_text(encoding="utf-8") + "\nvoice:\n  replies: true\n  engine: piper\n"
    path = tmp_path / "edge.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"voice\.engine: piper needs voice\.piper_voice"):
        load_config(path, board_override="sim")
    path.write_text(text + "  piper_voice: missing.onnx\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"voice\.piper_voice: file not found: .*missing\.onnx"):
        load_config(path, board_override="sim")


def test_a_piper_voice_without_piper_installed_says_what_to_install(tmp_path: Path) -> None:
    try:
        import piper  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("piper-tts is installed here")
    voice = tmp_path / "en_US-test.onnx"
    voice.write_bytes(b"not used")
    with pytest.raises(BackendMissingError, match="pip install piper-tts"):
        synthesizer_from_config(VoiceConfig(replies=True, piper_voice=voice))
    assert isinstance(synthesizer_from_config(VoiceConfig(replies=True)), EspeakSynthesizer)
