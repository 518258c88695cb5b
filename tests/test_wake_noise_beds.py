"""What `edge wake train` lays under its synthetic speech (household noise beds) and how it averages heads."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.speech.audio import SAMPLE_RATE_HZ
from edge.speech.wake.head import fit_head, merge_heads
from edge.speech.wake.noise_beds import noise_bed
from edge.speech.wake.training import TINY_SETTINGS, fit_heads
from edge.tflite_model import MLPWeights


def _tone(seconds: float = 0.5, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (0.3 * np.sin(2 * np.pi * hz * t) + 0.1 * np.sin(2 * np.pi * 1800 * t)).astype(np.float32)


def _logits(head: MLPWeights, x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ head.w1.T + head.b1, 0.0) @ head.w2.T + head.b2


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 12)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(int)


def test_merged_heads_average_the_logits_of_their_parts() -> None:
    x, y = _data()
    kw = {"hidden": 4, "epochs": 2, "learning_rate": 0.01, "l2": 0.0, "negative_weight": 1.0}
    heads = [fit_head(x, y, seed=seed, **kw) for seed in (0, 1, 2)]
    merged = merge_heads(heads)
    assert merged.w1.shape == (12, 12) and merged.w2.shape == (2, 12)
    mean = np.mean([_logits(h, x) for h in heads], axis=0)
    np.testing.assert_allclose(_logits(merged, x), mean, atol=1e-5)
    odds = mean[:, 1] - mean[:, 0]
    np.testing.assert_allclose(merged.forward(x)[:, 1], 1 / (1 + np.exp(-odds)), atol=1e-5)


def test_training_averages_heads_from_different_starts() -> None:
    x, y = _data()
    settings = replace(TINY_SETTINGS, hidden=4, epochs=2, heads=3)
    merged = fit_heads(x, y, settings)
    assert merged.w1.shape == (3 * 4, 12)
    # Each part starts from its own seed: three copies of one head would average to that head.
    single = fit_heads(x, y, replace(settings, heads=1))
    assert single.w1.shape == (4, 12)
    np.testing.assert_array_equal(merged.w1[:4], single.w1)
    assert not np.allclose(merged.w1[4:8], single.w1)
    assert merged.digest() == fit_heads(x, y, settings).digest()


def test_noise_beds_are_unit_level_and_repeat_for_a_seed() -> None:
    speech = [_tone(0.3), _tone(0.7)]
    for seed in range(15):
        bed = noise_bed(np.random.default_rng(seed), 8000, speech)
        assert bed.dtype == np.float32 and len(bed) == 8000
        assert np.sqrt(np.mean(bed.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
        np.testing.assert_array_equal(bed, noise_bed(np.random.default_rng(seed), 8000, speech))


def test_noise_beds_are_of_several_kinds_and_babble_is_made_of_the_talkers() -> None:
    # Talkers whose only sound is a 3 kHz tone: a babble bed carries most of its energy there.
    talkers = [(0.3 * np.sin(2 * np.pi * 3000 * np.arange(4000) / SAMPLE_RATE_HZ)).astype(np.float32)]
    shares = []
    for seed in range(30):
        bed = noise_bed(np.random.default_rng(seed), 16000, talkers)
        power = np.abs(np.fft.rfft(bed)) ** 2
        freqs = np.fft.rfftfreq(len(bed), 1 / SAMPLE_RATE_HZ)
        shares.append(float(power[np.abs(freqs - 3000) < 20].sum() / power.sum()))
    tonal = [s for s in shares if s > 0.9]
    assert tonal, "no babble bed in 30 seeds"
    assert len(tonal) < len(shares) / 2, "beds of the other kinds are missing"
