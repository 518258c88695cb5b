"""Wake word detectors on the spoken fixtures: they wake on "hey jarvis" and stay asleep otherwise."""

from __future__ import annotations

import os
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from edge.errors import ConfigError
from edge.events import Detection
from edge.speech.audio import chunk_samples, read_wav
from edge.speech.wake.engines import (
    MicroWakeDetector,
    PocketSphinxWakeDetector,
    WakeDetector,
    wake_from_config,
)
from edge.speech.wake.settings import WakeConfig

FIXTURES = Path(__file__).parent / "fixtures"


def load_manifest() -> list[dict[str, Any]]:
    """The fixture clips, each checked to be 16 kHz mono 16-bit before use."""
    clips = yaml.safe_load((FIXTURES / "manifest.yaml").read_text(encoding="utf-8"))["clips"]
    for clip in clips:
        with wave.open(str(FIXTURES / clip["file"]), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2), clip["file"]
    return clips


CLIPS = load_manifest()
# The "alexa" fixtures are for the shipped two-phrase config (tests/test_end_to_end.py), not these detectors.
WAKE_CLIPS = [c for c in CLIPS if c["wake"] and c.get("wake_phrase", "hey jarvis") == "hey jarvis"]
NO_WAKE_CLIPS = [c for c in CLIPS if not c["wake"]]


def first_detection(detector: WakeDetector, clip: dict[str, Any], chunk_ms: int = 20) -> Detection | None:
    detector.reset()
    for chunk in chunk_samples(read_wav(FIXTURES / clip["file"]), chunk_ms):
        detection = detector.process(chunk)
        if detection is not None:
            return detection
    return None


def detected(detector: WakeDetector, clips: list[dict[str, Any]]) -> list[str]:
    return [c["file"] for c in clips if first_detection(detector, c) is not None]


@pytest.fixture(scope="module")
def micro() -> MicroWakeDetector:
    detector = MicroWakeDetector("hey jarvis", 0.5)
    yield detector
    detector.close()


@pytest.fixture(scope="module")
def sphinx() -> PocketSphinxWakeDetector:
    detector = PocketSphinxWakeDetector("hey jarvis", 0.5)
    yield detector
    detector.close()


def test_fixture_set_is_balanced() -> None:
    assert len(WAKE_CLIPS) >= 40 and len(NO_WAKE_CLIPS) >= 8
    assert any(c["one_breath"] for c in WAKE_CLIPS if "one_breath" in c)


def test_micro_wakes_on_hey_jarvis(micro: MicroWakeDetector) -> None:
    hits = set(detected(micro, WAKE_CLIPS))
    # Measured at sensitivity 0.5 on the room-like fixtures: 37 of 41, including every flite kal16 clip (the
    # misses: fast one-breath espeak-ng clips, a -12 dB clip, a one-breath clip at 10 dB SNR).
    assert len(hits) >= 36, f"only {len(hits)} of {len(WAKE_CLIPS)}"
    for voice in ("flite_kal16",):
        missed = [c["file"] for c in WAKE_CLIPS if c["voice"] == voice and c["file"] not in hits]
        assert not missed, missed


def test_micro_never_wakes_without_the_phrase(micro: MicroWakeDetector) -> None:
    assert detected(micro, NO_WAKE_CLIPS) == []


def test_micro_detects_in_time_for_a_one_breath_command(micro: MicroWakeDetector) -> None:
    one_breath = [c for c in WAKE_CLIPS if c.get("one_breath") and c["voice"].startswith("flite")]
    for clip in one_breath:
        detection = first_detection(micro, clip)
        if detection is None:
            continue
        length_ms = len(read_wav(FIXTURES / clip["file"])) / 16
        # The clip ends with 1 s of silence after the command; the wake must fire well before the command ends.
        assert detection.timestamp_ms < length_ms - 1500, (clip["file"], detection)
        assert detection.name == "hey_jarvis" and detection.score > micro.cutoff


def test_micro_sensitivity_moves_the_cutoff_around_the_models_own() -> None:
    cutoffs = [MicroWakeDetector("hey jarvis", s).cutoff for s in (0.0, 0.5, 1.0)]
    assert cutoffs[0] > cutoffs[1] > cutoffs[2]
    assert cutoffs[1] == pytest.approx(0.97)  # the model author's published cutoff


def test_micro_rejects_a_phrase_it_has_no_model_for() -> None:
    with pytest.raises(ConfigError, match=r"wake\.phrase: 'hey computer' has no micro model"):
        MicroWakeDetector("hey computer", source="edge.yaml")


def test_pocketsphinx_spots_the_phrase(sphinx: PocketSphinxWakeDetector) -> None:
    hits = set(detected(sphinx, WAKE_CLIPS))
    # Measured at sensitivity 0.5 on the room-like fixtures: 17 of 41.
    assert len(hits) >= 16, f"only {len(hits)} of {len(WAKE_CLIPS)}"
    assert {c["file"] for c in WAKE_CLIPS if c["voice"] == "flite_kal16"} <= hits


def test_pocketsphinx_never_wakes_without_the_phrase(sphinx: PocketSphinxWakeDetector) -> None:
    assert detected(sphinx, NO_WAKE_CLIPS) == []


def test_pocketsphinx_rejects_words_outside_its_dictionary() -> None:
    with pytest.raises(ConfigError, match="lacks 'zzyzxq'"):
        PocketSphinxWakeDetector("hey zzyzxq")


def test_wake_from_config_picks_the_engine() -> None:
    config = WakeConfig(
        engine="micro", phrases=("hey jarvis",), sensitivity=0.5, refractory_ms=2000, vosk_model=None
    )
    micro = wake_from_config(config)
    sphinx = wake_from_config(replace(config, engine="pocketsphinx", phrases=("hello computer",)))
    assert isinstance(micro, MicroWakeDetector) and isinstance(sphinx, PocketSphinxWakeDetector)
    assert sphinx.name == "hello_computer"
    micro.close()
    sphinx.close()


def test_vosk_wake_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    config = WakeConfig(
        engine="vosk", phrases=("hey jarvis",), sensitivity=0.5, refractory_ms=0, vosk_model=tmp_path
    )
    with pytest.raises(ConfigError, match="edge models fetch vosk-small-en"):
        wake_from_config(config)


EVAL_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "eval" / "audio"
needs_eval = pytest.mark.skipif(
    not EVAL_AUDIO.is_dir(), reason="../shared/eval/audio (real recordings) is absent outside this workplace"
)


@pytest.fixture(scope="module")
def jarvis_and_alexa() -> MicroWakeDetector:
    detector = MicroWakeDetector(["hey jarvis", "alexa"], 0.5)
    yield detector
    detector.close()


def test_two_phrases_wake_on_the_same_hey_jarvis_clips_as_one(
    micro: MicroWakeDetector, jarvis_and_alexa: MicroWakeDetector
) -> None:
    assert set(detected(jarvis_and_alexa, WAKE_CLIPS)) == set(detected(micro, WAKE_CLIPS))
    assert detected(jarvis_and_alexa, NO_WAKE_CLIPS) == []
    detection = first_detection(jarvis_and_alexa, WAKE_CLIPS[0])
    assert detection is not None and detection.name == "hey_jarvis"


@needs_eval
def test_two_phrases_wake_on_real_people_saying_alexa(jarvis_and_alexa: MicroWakeDetector) -> None:
    clips = sorted(EVAL_AUDIO.glob("wake-word-benchmark__alexa__*.wav"))
    names = []
    for path in clips:
        jarvis_and_alexa.reset()
        padded = np.concatenate([read_wav(path), np.zeros(16000, dtype=np.int16)])
        hits = [d for d in map(jarvis_and_alexa.process, chunk_samples(padded, 20)) if d is not None]
        names += [hits[0].name] if hits else []
    # Measured: 39 of the 40 crowd-sourced recordings, every one named "alexa".
    assert len(names) >= 36 and set(names) == {"alexa"}


def test_the_latest_score_and_its_threshold_are_exposed(jarvis_and_alexa: MicroWakeDetector) -> None:
    jarvis_and_alexa.reset()
    scores = []
    for chunk in chunk_samples(read_wav(FIXTURES / WAKE_CLIPS[0]["file"]), 20):
        if jarvis_and_alexa.process(chunk) is not None:
            break
        scores.append(jarvis_and_alexa.last_score)
    assert jarvis_and_alexa.last_score > jarvis_and_alexa.threshold == pytest.approx(0.97)
    assert max(scores) <= jarvis_and_alexa.threshold
    jarvis_and_alexa.reset()
    assert jarvis_and_alexa.last_score == 0.0


def test_shared_features_give_the_librarys_own_probabilities() -> None:
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

    from edge.speech.wake.models import SharedFeatureModels

    library = [MicroWakeWord.from_builtin(Model[name]) for name in ("HEY_JARVIS", "ALEXA")]
    shared = SharedFeatureModels(
        [MicroWakeWord.from_builtin(Model[name]) for name in ("HEY_JARVIS", "ALEXA")]
    )
    features = MicroWakeWordFeatures()
    steps = 0
    for chunk in chunk_samples(read_wav(FIXTURES / WAKE_CLIPS[0]["file"]), 20):
        for window in features.process_streaming(chunk.pcm):
            ours = shared.process(window)
            theirs = [model.process_streaming_prob(window) for model in library]
            if ours is not None:
                steps += 1
                assert ours == pytest.approx(theirs, abs=1e-6)
    assert steps > 50


def test_a_list_of_phrases_is_for_micro_only() -> None:
    config = WakeConfig(
        engine="pocketsphinx",
        phrases=("hey jarvis", "alexa"),
        sensitivity=0.5,
        refractory_ms=0,
        vosk_model=None,
    )
    with pytest.raises(ConfigError, match=r"wake\.phrase: pocketsphinx listens for one phrase"):
        wake_from_config(config, source="edge.yaml")


def test_pocketsphinx_exposes_a_score_and_threshold_on_one_scale(sphinx: PocketSphinxWakeDetector) -> None:
    clip = next(c for c in WAKE_CLIPS if c["voice"] == "flite_kal16")
    assert first_detection(sphinx, clip) is not None
    assert sphinx.last_score > sphinx.threshold


def test_micro_reads_verify_and_checks_by_default_where_whisper_is_installed() -> None:
    from edge.speech.asr.settings import find_whisper_model
    from edge.speech.wake.settings import read_wake
    from edge.yamlfields import Section

    assert find_whisper_model(None) is not None  # installed with edge
    shipped = read_wake(Section("edge.yaml", "wake", {"engine": "micro", "phrase": "alexa"}), FIXTURES)
    off = read_wake(Section("edge.yaml", "wake", {"phrase": "alexa", "verify": False}), FIXTURES)
    assert shipped.verify and not off.verify
    with pytest.raises(ConfigError, match=r"wake\.verify: expected true or false"):
        read_wake(Section("edge.yaml", "wake", {"phrase": "alexa", "verify": "yes"}), FIXTURES)


def test_checked_micro_cuts_lower_and_stays_asleep_without_the_phrase() -> None:
    checked = MicroWakeDetector(["hey jarvis", "alexa"], verify=True)
    plain = MicroWakeDetector(["hey jarvis", "alexa"])
    assert checked.cutoffs[1] == pytest.approx(0.1, abs=0.01) and plain.cutoffs[1] == pytest.approx(0.9)
    assert detected(checked, NO_WAKE_CLIPS) == []
    # Whisper was asked about some of them (the lower cutoff lets more through) and refused each.
    assert checked.refused == checked.candidates


def test_checked_micro_asks_once_per_rise_and_wakes_on_a_clear_voice() -> None:
    checked = MicroWakeDetector("hey jarvis", verify=True)
    clip = next(c for c in WAKE_CLIPS if c["voice"] == "flite_kal16")
    detection = first_detection(checked, clip)
    assert detection is not None and detection.name == "hey_jarvis"
    assert checked.candidates == 1 and checked.refused == 0


EVAL_DIR = Path(os.environ.get("EDGE_EVAL_DIR", Path(__file__).resolve().parents[2] / "shared" / "eval"))
needs_eval_dir = pytest.mark.skipif(
    not (EVAL_DIR / "audio").is_dir(),
    reason=f"{EVAL_DIR}/audio (real recordings) is absent outside this workplace",
)


@needs_eval_dir
def test_checked_micro_finds_real_alexa_and_refuses_other_real_speech() -> None:
    from edge.speech.wake.evaluation import detects, pad

    rng = np.random.default_rng(0)
    audio = EVAL_DIR / "audio"
    alexa = [read_wav(p) for p in sorted(audio.glob("wake-word-benchmark__alexa__2[0-3]?.wav"))]
    others = [read_wav(p) for p in sorted(audio.glob("wake-word-benchmark__snowboy__*.wav"))[:25]]
    others += [read_wav(p) for p in sorted(audio.glob("speech-to-intent*.wav"))]
    checked = MicroWakeDetector("alexa", verify=True)
    found = sum(detects(checked, pad(clip, rng)) for clip in alexa)
    # Measured: every one of the 86 clips but 229 (damaged in the source), which scores 0.03.
    assert found >= len(alexa) - 2 and len(alexa) >= 30
    assert not any(detects(checked, pad(clip, rng)) for clip in others) and len(others) >= 40
