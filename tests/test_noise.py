"""Speex noise suppression: real pyspeex-noise on a recorded voice under steady noise."""

from __future__ import annotations

import numpy as np

from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk, chunk_samples, read_wav
from edge.speech.noise import SpeexCleaner
from edge.speech.vad import level_db

from .support import REPO

RNG = np.random.default_rng(3)


def test_steady_noise_is_suppressed_and_the_voice_kept() -> None:
    voice = read_wav(REPO / "tests" / "fixtures" / "ko_bul_kkeo.wav").astype(np.float64)
    hiss = RNG.normal(0, 32768 * 10 ** (-45 / 20), 3 * SAMPLE_RATE_HZ)
    audio = np.concatenate([hiss[: 2 * SAMPLE_RATE_HZ], voice + np.resize(hiss, len(voice))])
    cleaner = SpeexCleaner()
    cleaned = [cleaner.process(chunk) for chunk in chunk_samples(audio.astype(np.int16), 30)]
    assert all(len(c.pcm) == 2 * 30 * 16 for c in cleaned)  # chunk sizes and timestamps are kept
    assert [c.timestamp_ms for c in cleaned[:3]] == [0, 30, 60]
    noise_after = np.mean([level_db(c) for c in cleaned[40:66]])  # 1.2-2.0 s: noise alone, estimate settled
    noise_before = level_db(
        AudioChunk(hiss[SAMPLE_RATE_HZ : 2 * SAMPLE_RATE_HZ].astype(np.int16).tobytes(), 0)
    )
    assert noise_after < noise_before - 10
    # Inside the word the voice keeps its level (no gain control that could crush or pump it).
    speech_after = np.mean([level_db(c) for c in cleaned[80:95]])
    speech_before = np.mean([level_db(c) for c in chunk_samples(audio.astype(np.int16), 30)][80:95])
    assert abs(speech_after - speech_before) < 6  # measured 4.7 dB: the quiet edges of syllables go too
    assert speech_after > noise_after + 30
