"""The user's recordings in wake word training: the phrase found in its room, and that room as a negative.

Recordings here are made the way a user's are: a real synthesizer (flite) says the phrase inside a second of
a room's noise, written to WAV and read back by the CLI's own loader.
"""

from __future__ import annotations

import shutil
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge.speech.audio import SAMPLE_RATE_HZ, read_wav
from edge.speech.wake.features import HOP_SAMPLES
from edge.speech.wake.head_file import EMBEDDING_SIZE
from edge.speech.wake.recordings import channel_negatives, frame_levels_db, positive_clips, split_recording
from edge.speech.wake.synthesis import Utterance, Voice, synthesize, trim
from edge.speech.wake.training import TINY_SETTINGS, load_recordings, recording_windows, train_wake_word

pytestmark = pytest.mark.skipif(
    shutil.which("flite") is None, reason="the recordings are spoken by Debian's flite (.ci/run installs it)"
)

PHRASE = "smart mirror"
LEAD_S, TAIL_S = 1.0, 0.8


def _spoken(text: str) -> np.ndarray:
    return synthesize([Utterance(text, Voice("flite", "slt"), 1.0, 0.0)], workers=1)[0]


def _room(rng: np.random.Generator, samples: int, level_db: float) -> np.ndarray:
    """A hum and hiss, as a cheap microphone in a room records: not white, not silent."""
    t = np.arange(samples) / SAMPLE_RATE_HZ
    hiss = np.convolve(rng.standard_normal(samples), np.ones(4) / 4, mode="same")
    bed = hiss + 0.5 * np.sin(2 * np.pi * 50 * t)
    return (bed / np.std(bed) * 10 ** (level_db / 20)).astype(np.float32)


def _recording(speech: np.ndarray, rng: np.random.Generator, level_db: float = -40.0) -> np.ndarray:
    lead, tail = int(LEAD_S * SAMPLE_RATE_HZ), int(TAIL_S * SAMPLE_RATE_HZ)
    audio = _room(rng, lead + len(speech) + tail, level_db)
    audio[lead : lead + len(speech)] += speech / np.abs(speech).max() * 0.5
    return audio


def _write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE_HZ)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def _hum_ratio(audio: np.ndarray) -> float:
    """How far the 50 Hz hum stands over the median of a 2 s spectrum."""
    spectrum = np.abs(np.fft.rfft(audio[: SAMPLE_RATE_HZ * 2]))
    return float(spectrum[100] / np.median(spectrum))  # bin 100 of a 2 s frame is 50 Hz


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return _spoken(PHRASE)


@pytest.fixture(scope="module")
def recording_dir(tmp_path_factory: pytest.TempPathFactory, speech: np.ndarray) -> Path:
    """Three WAV recordings of the phrase, each in a noisier room than the last."""
    folder = tmp_path_factory.mktemp("recordings")
    rng = np.random.default_rng(0)
    for index, level in enumerate((-50.0, -42.0, -36.0)):
        _write_wav(folder / f"take{index}.wav", _recording(speech, rng, level))
    return folder


def test_the_phrase_is_found_where_a_noisy_floor_defeats_trimming(speech: np.ndarray) -> None:
    audio = _recording(speech, np.random.default_rng(1), level_db=-36.0)
    assert len(trim(audio)) > 0.95 * len(audio)  # a peak-relative cut keeps the whole noisy recording
    part = split_recording(audio)
    start, end = len(part.before), len(part.before) + len(part.speech)
    lead = int(LEAD_S * SAMPLE_RATE_HZ)
    assert abs(start - lead) < 0.12 * SAMPLE_RATE_HZ, start
    assert abs(end - (lead + len(speech))) < 0.12 * SAMPLE_RATE_HZ, end
    # The sound without the phrase is as loud as the room, far under the phrase.
    assert float(np.median(frame_levels_db(part.noise))) < -30
    assert len(part.noise) > 1.2 * SAMPLE_RATE_HZ


def test_load_recordings_keeps_the_room_around_the_phrase(recording_dir: Path) -> None:
    recordings = load_recordings(recording_dir)
    assert len(recordings) == 3
    assert all(len(r) >= (LEAD_S + TAIL_S) * SAMPLE_RATE_HZ for r in recordings)
    assert read_wav(recording_dir / "take0.wav").shape == recordings[0].shape


def test_positives_keep_the_phrase_in_its_own_room(speech: np.ndarray) -> None:
    part = split_recording(_recording(speech, np.random.default_rng(2), level_db=-40.0))
    lead, tail = 2 * SAMPLE_RATE_HZ, 800  # more lead than the recording has: its room is looped
    clips = positive_clips([part], 3, np.random.default_rng(3), lead, tail)
    assert len(clips) == 3
    for audio, end in clips:
        assert end == lead + len(part.speech) and len(audio) == end + tail
        before = audio[:lead]
        assert _hum_ratio(before) > 5  # the recording's room (white noise alone: about 1)
        # The phrase is louder than the room around it, whatever gain the copy got.
        assert (
            float(np.median(frame_levels_db(audio[lead:end])))
            > float(np.median(frame_levels_db(before))) + 15
        )


def test_the_room_alone_and_the_phrase_backwards_are_negatives(speech: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    part = split_recording(_recording(speech, rng, level_db=-40.0))
    stream = channel_negatives([part], 3, rng)
    gap = int(0.3 * SAMPLE_RATE_HZ)
    room = len(stream) - len(part.speech) - 2 * gap
    assert 6 * SAMPLE_RATE_HZ <= room <= 12 * SAMPLE_RATE_HZ  # three stretches of 2-4 s, then the phrase
    assert float(np.percentile(frame_levels_db(stream[:room]), 95)) < -20  # no part of the phrase in them
    assert _hum_ratio(stream[:room]) > 5
    backwards = stream[room + gap : room + gap + len(part.speech)]
    # The phrase reversed, at some gain and maybe under white noise: it matches the reversed phrase, not the phrase.
    forward, reverse = (float(np.corrcoef(backwards, ref)[0, 1]) for ref in (part.speech, part.speech[::-1]))
    assert reverse > 0.9 and abs(forward) < 0.2


def test_recording_windows_are_the_phrases_end_and_the_room(recording_dir: Path) -> None:
    recordings = load_recordings(recording_dir)
    settings = replace(TINY_SETTINGS, recording_copies=2, recording_noise=1, workers=1)
    positives, negatives = recording_windows(recordings, settings)
    assert positives.shape == (3 * 2 * 4, settings.window * EMBEDDING_SIZE)  # 3 recordings, 2 copies, 4 ends
    # 2-4 s of room and the phrase backwards per recording, every window of them
    assert negatives.shape[1] == settings.window * EMBEDDING_SIZE
    assert len(negatives) >= 3 * 2 * SAMPLE_RATE_HZ / HOP_SAMPLES - 3 * settings.window
    again = recording_windows(recordings, replace(settings, workers=2))
    np.testing.assert_array_equal(positives, again[0])
    np.testing.assert_array_equal(negatives, again[1])


def test_recordings_leave_the_synthetic_examples_as_they_were(recording_dir: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("training needs Debian's espeak-ng too (.ci/run installs it)")
    settings = replace(
        TINY_SETTINGS, positives=6, words=4, sentences=3, near_copies=1, noise_seconds=1, epochs=3, workers=1
    )
    without = train_wake_word(PHRASE, settings).manifest["examples"]
    recordings = load_recordings(recording_dir)
    own = recording_windows(recordings, settings)
    trained = train_wake_word(PHRASE, settings, recordings).manifest
    assert trained["user_recordings"] == 3
    assert trained["examples"] == {
        "positive": without["positive"] + len(own[0]),
        "negative": without["negative"] + len(own[1]),
    }
