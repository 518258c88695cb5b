"""What `edge wake train` does to synthetic speech and to its heads: rooms, microphones, throats, averaging."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.speech.audio import SAMPLE_RATE_HZ
from edge.speech.wake.augment import equalize, noise_bed, reverberate_room, room_response, warp_tract
from edge.speech.wake.head import fit_head, merge_heads
from edge.speech.wake.training import TINY_SETTINGS, end_windows, hardest_negatives, positive_offsets
from edge.tflite_model import MLPWeights


def _tone(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1800 * t)).astype(np.float32)


def _logits(head: MLPWeights, x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ head.w1.T + head.b1, 0.0) @ head.w2.T + head.b2


def test_merged_heads_average_the_logits_of_their_parts() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 12)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    kw = {"hidden": 4, "epochs": 2, "learning_rate": 0.01, "l2": 0.0, "negative_weight": 1.0}
    heads = [fit_head(x, y, seed=seed, **kw) for seed in (0, 1, 2)]
    merged = merge_heads(heads)
    assert merged.w1.shape == (12, 12) and merged.w2.shape == (2, 12)
    mean = np.mean([_logits(h, x) for h in heads], axis=0)
    np.testing.assert_allclose(_logits(merged, x), mean, atol=1e-5)
    odds = mean[:, 1] - mean[:, 0]
    np.testing.assert_allclose(merged.forward(x)[:, 1], 1 / (1 + np.exp(-odds)), atol=1e-5)


def test_a_warped_throat_changes_the_length_within_the_spread_and_repeats_for_a_seed() -> None:
    tone = _tone()
    lengths = {len(warp_tract(np.random.default_rng(seed), tone, 0.1)) for seed in range(8)}
    assert len(lengths) > 1
    assert all(len(tone) / 1.1 - 1 <= n <= len(tone) / 0.9 + 1 for n in lengths)
    np.testing.assert_array_equal(
        warp_tract(np.random.default_rng(3), tone, 0.1), warp_tract(np.random.default_rng(3), tone, 0.1)
    )
    assert warp_tract(np.random.default_rng(3), tone, 0.0) is tone


def test_a_random_microphone_keeps_the_level_but_changes_the_balance() -> None:
    tone = _tone()
    out = equalize(np.random.default_rng(1), tone, 6.0)
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(tone**2)), rel=1e-3)
    spectrum_in, spectrum_out = np.abs(np.fft.rfft(tone)), np.abs(np.fft.rfft(out))
    low, high = 220 * len(tone) // SAMPLE_RATE_HZ, 1800 * len(tone) // SAMPLE_RATE_HZ
    assert spectrum_out[low] / spectrum_out[high] != pytest.approx(
        spectrum_in[low] / spectrum_in[high], rel=0.05
    )


def test_a_room_starts_with_the_direct_sound_and_dies_away() -> None:
    for seed in range(5):
        response = room_response(np.random.default_rng(seed))
        assert response[0] == 1.0
        tenth = len(response) // 10
        assert np.sum(response[-tenth:] ** 2) < 0.01 * np.sum(response[:tenth] ** 2)
    wet = reverberate_room(np.random.default_rng(0), _tone())
    assert len(wet) == len(_tone()) and np.isfinite(wet).all()


def test_noise_beds_are_unit_level_and_repeat_for_a_seed() -> None:
    speech = [_tone(0.3), _tone(0.7)]
    for seed in range(15):
        bed = noise_bed(np.random.default_rng(seed), 8000, speech)
        assert bed.dtype == np.float32 and len(bed) == 8000
        assert np.sqrt(np.mean(bed.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
        np.testing.assert_array_equal(bed, noise_bed(np.random.default_rng(seed), 8000, speech))


def test_hard_negatives_are_the_windows_a_first_head_scores_near_the_threshold() -> None:
    # A head whose wake logit is the first feature (shifted past the ReLU): P(wake) = sigmoid(x0).
    head = MLPWeights(
        w1=np.eye(1, 3, dtype=np.float32),
        b1=np.full(1, 10.0, dtype=np.float32),
        w2=np.array([[0.0], [1.0]], dtype=np.float32),
        b2=np.array([0.0, -10.0], dtype=np.float32),
    )
    windows = np.array([[-5.0, 0, 0], [-1.0, 0, 0], [0.5, 0, 0], [3.0, 0, 0]], dtype=np.float32)
    hard = hardest_negatives(head, windows, 0.5)  # sigmoid > 0.1: x0 > -2.2
    np.testing.assert_array_equal(hard, windows[1:])


def test_each_clip_gives_one_positive_window_per_offset() -> None:
    settings = replace(TINY_SETTINGS, offsets_before=1, offsets_after=2, workers=1)
    assert list(positive_offsets(settings)) == [-1, 0, 1, 2]
    windows = end_windows([_tone(0.6), _tone(0.9)], [], np.random.default_rng(0), settings)
    assert windows.shape == (2 * 4, settings.window * 96)
    assert np.isfinite(windows).all()
