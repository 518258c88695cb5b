"""The user's own recordings of a wake phrase: where the phrase is, and training audio in their channel.

A recording carries its microphone, room and noise floor. When only positives carry that channel, the head
learns the channel as the phrase and wakes on other sounds through it (measured: 5 real "smart mirror" clips,
trimmed, among the synthetic positives gave 728 false wakes an hour on other real speech, head alone). So the phrase is cut at its
real bounds (frame energy against the recording's own floor: a peak-relative cut leaves a noisy recording
whole), positives keep the recording's real sound around the phrase, and the recording's sound without the
phrase, and the phrase played backwards in it, are negatives. Measured with ``python -m bench.wake_recordings``
(real clips drawn as recordings, the phrase's other clips missed behind Whisper's check, 2 draws): with 5,
snowboy 1 -> 0 of 794 and smart mirror 10 -> 3 of 728, no false wake either way; with 10, 1 -> 1 and 10 -> 9.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.speech.audio import SAMPLE_RATE_HZ

FRAME_SAMPLES = 160  # 10 ms energy frames
MARGIN_SAMPLES = 800  # 50 ms kept around the detected phrase: weak onsets and releases
MIN_RUN_FRAMES = 3  # a loud run shorter than 30 ms is a click, not speech
FLOOR_RISE_DB = 12.0  # speech is at least this far over the recording's noise floor...
PEAK_DROP_DB = 38.0  # ...and within this of its loudest frame
NOISE_SECONDS = (2.0, 4.0)  # each stretch of the recording's own sound used as a negative


@dataclass(frozen=True)
class Recording:
    """One recording split at the phrase: float32 sound before it, the phrase, and sound after it."""

    before: np.ndarray
    speech: np.ndarray
    after: np.ndarray

    @property
    def noise(self) -> np.ndarray:
        """The recording's own sound without the phrase (the margins next to the phrase left out)."""
        parts = [self.before[:-MARGIN_SAMPLES], self.after[MARGIN_SAMPLES:]]
        return np.concatenate([p for p in parts if len(p)] or [np.zeros(0, dtype=np.float32)])


def frame_levels_db(audio: np.ndarray) -> np.ndarray:
    """Energy of each 10 ms frame in dB (full scale 1.0)."""
    frames = audio[: len(audio) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)


def speech_bounds(audio: np.ndarray) -> tuple[int, int]:
    """(first, end) sample of the phrase: loud runs over the floor, with a margin; the whole clip if none."""
    levels = frame_levels_db(audio)
    if len(levels) == 0:
        return 0, len(audio)
    floor = float(np.percentile(levels, 10))
    loud = levels > max(floor + FLOOR_RISE_DB, float(levels.max()) - PEAK_DROP_DB)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    runs = [
        (start, stop)
        for start, stop in zip(edges[::2], edges[1::2], strict=True)
        if stop - start >= MIN_RUN_FRAMES
    ]
    if not runs:
        return 0, len(audio)
    first = max(runs[0][0] * FRAME_SAMPLES - MARGIN_SAMPLES, 0)
    end = min(runs[-1][1] * FRAME_SAMPLES + MARGIN_SAMPLES, len(audio))
    return first, end


def split_recording(audio: np.ndarray) -> Recording:
    """The float32 recording split at the phrase's bounds."""
    first, end = speech_bounds(audio)
    return Recording(audio[:first], audio[first:end], audio[end:])


def _bed(recording: Recording, rng: np.random.Generator, samples: int) -> np.ndarray:
    """``samples`` of the recording's own noise, looped from a random point (silence if it has none)."""
    noise = recording.noise
    if len(noise) < FRAME_SAMPLES or samples <= 0:
        return np.zeros(max(samples, 0), dtype=np.float32)
    start = int(rng.integers(len(noise)))
    return np.resize(np.roll(noise, -start), samples).astype(np.float32)


def _gain(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """The audio 10 dB quieter to 6 dB louder, never clipping; the recording's SNR is kept."""
    peak = float(np.abs(audio).max(initial=0.0)) or 1.0
    gain = min(10 ** (rng.uniform(-10, 6) / 20), 0.95 / peak)
    return (audio * gain).astype(np.float32)


def _with_white(rng: np.random.Generator, audio: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Half the time, extra white noise 10-40 dB under the phrase: another room on top of the user's."""
    if rng.random() < 0.5:
        return audio
    level = float(np.sqrt(np.mean(speech**2))) if len(speech) else 0.0
    level *= 10 ** (-rng.uniform(10, 40) / 20)
    return (audio + rng.standard_normal(len(audio)).astype(np.float32) * level).astype(np.float32)


def _surround(
    recording: Recording, rng: np.random.Generator, middle: np.ndarray, lead: int, tail: int
) -> np.ndarray:
    """``middle`` after ``lead`` samples of the recording's sound and before ``tail`` (its noise looped if short)."""
    before = recording.before[max(len(recording.before) - lead, 0) :] if lead else recording.before[:0]
    after = recording.after[:tail]
    before = np.concatenate([_bed(recording, rng, lead - len(before)), before])
    after = np.concatenate([after, _bed(recording, rng, tail - len(after))])
    return np.concatenate([before, middle, after]).astype(np.float32)


def positive_clips(
    recordings: Sequence[Recording], copies: int, rng: np.random.Generator, lead: int, tail: int
) -> list[tuple[np.ndarray, int]]:
    """(float32 audio, sample where the phrase ends) for ``copies`` varied copies of each recording."""
    out = []
    for recording in recordings:
        for _ in range(copies):
            audio = _surround(recording, rng, recording.speech, lead, tail)
            audio = _with_white(rng, _gain(rng, audio), recording.speech)
            out.append((audio, lead + len(recording.speech)))
    return out


def channel_negatives(recordings: Sequence[Recording], copies: int, rng: np.random.Generator) -> np.ndarray:
    """One float32 stream of negatives in each recording's room: ``copies`` stretches of it alone, then the phrase backwards."""
    # Backwards, the phrase keeps the user's voice, loudness and spectrum but not its order of sounds: the head
    # must wake on the phrase, not on this speaker in this room.
    out = []
    gap = int(0.3 * SAMPLE_RATE_HZ)
    for recording in recordings:
        parts = [
            _bed(recording, rng, int(rng.uniform(*NOISE_SECONDS) * SAMPLE_RATE_HZ)) for _ in range(copies)
        ]
        parts.append(_surround(recording, rng, recording.speech[::-1].copy(), gap, gap))
        out += [_with_white(rng, _gain(rng, part), recording.speech) for part in parts]
    return np.clip(np.concatenate(out), -1, 1) if out else np.zeros(0, dtype=np.float32)
