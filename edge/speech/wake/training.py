"""Train a custom wake word head on openWakeWord embeddings, in numpy, on the device.

Examples are windows of ``window`` consecutive embeddings (80 ms apart). A positive window ends 0-3 frames
after the phrase ends; every window of a stream of everyday speech, words said alone, parts of the phrase,
sound-alikes and noise is a negative. Every clip lies over a household noise bed (``noise_beds``). The head is
the intent model's MLP (dense+ReLU, dense, softmax over [other, wake]) so it is written by the same
``edge.tflite_model`` code; ``heads`` MLPs fitted from different starts are averaged as one wider MLP.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import UsageError
from edge.speech.audio import SAMPLE_RATE_HZ, read_wav
from edge.speech.wake.features import HOP_SAMPLES, EmbeddingStream, feature_models_version
from edge.speech.wake.head import fit_head, merge_heads
from edge.speech.wake.head_file import EMBEDDING_SIZE, MANIFEST_KIND, ranges_digest
from edge.speech.wake.noise_beds import noise_bed
from edge.speech.wake.recordings import channel_negatives, positive_clips, split_recording
from edge.speech.wake.synthesis import (
    Utterance,
    Voice,
    everyday_sentences,
    installed_voices,
    isolated_words,
    near_phrases,
    noise,
    synthesize,
    vary,
)
from edge.tflite_model import MLPWeights, write_tflite

log = logging.getLogger(__name__)

WARMUP_HOPS = 12  # hops after which an embedding no longer depends on where the audio started
POSITIVE_OFFSETS = (0, 1, 2, 3)  # frames after the phrase's end whose window is a positive
FLITE_SHARE = 0.3
# People say a wake word faster than a synthesizer's reading pace: up to 1.6x its default rate. With the
# earlier 0.8-1.25x, heads missed every real "hey mycroft" and "okay rhasspy" of ../shared/eval (4 clips);
# with 1.6x they found all four, and "alexa" and "porcupine" kept their score.
SPEED_RANGE = (0.8, 1.6)
NOISE_STRETCH_S = 2.0  # noise-only negatives come in stretches this long, each its own colour and level


@dataclass(frozen=True)
class TrainSettings:
    """How much audio to make and how to fit the head; the defaults fit in about a minute."""

    positives: int = 320  # synthetic positive clips
    recording_copies: int = 12  # copies of each user recording, in its own room, at varied loudness
    recording_noise: int = 2  # negatives: stretches of each recording's room without the phrase
    sentences: int = 60  # everyday sentences (negatives)
    words: int = 260  # short utterances said on their own (negatives)
    near_copies: int = 3  # voices per near-phrase (negatives)
    noise_seconds: float = 20.0  # noise-only negatives
    window: int = 8  # embeddings per example: 1.3 s of audio
    hidden: int = 32
    epochs: int = 40
    learning_rate: float = 0.003
    l2: float = 1e-4
    negative_weight: float = 3.0  # a false wake costs more than a miss that the user simply repeats
    threshold: float = 0.5
    trigger_frames: int = 3  # consecutive frames over the threshold before a wake
    workers: int = min(
        os.cpu_count() or 1, 4
    )  # synthesizer processes at once; the output does not depend on it
    seed: int = 0
    # Heads fitted from different starts and averaged. On the bench's real speech three woke 16-18 % less
    # often than one for "snowboy" and 39-57 % less for "smart mirror" (each wake a Whisper check), for
    # a few more real clips missed ("smart mirror", 3 seeds: 17 instead of 13 of 1107).
    heads: int = 3


TINY_SETTINGS = TrainSettings(
    positives=40, recording_copies=2, sentences=12, words=30, near_copies=1, noise_seconds=4
)


@dataclass(frozen=True)
class TrainedWake:
    """A trained head: the .tflite bytes, its manifest and what went into it."""

    model: bytes
    manifest: dict[str, Any]


def _utterances(texts: Sequence[str], voices: Sequence[Voice], rng: np.random.Generator) -> list[Utterance]:
    # flite's few voices are recorded people (clustergen), espeak-ng's many are formant synthesis: draw
    # FLITE_SHARE of the texts from flite so its more natural voices are not drowned out.
    flite = [v for v in voices if v.engine == "flite"] or list(voices)
    espeak = [v for v in voices if v.engine != "flite"] or list(voices)
    utterances = []
    for text in texts:
        pool = flite if rng.random() < FLITE_SHARE else espeak
        voice = pool[int(rng.integers(len(pool)))]
        speed = float(rng.uniform(*SPEED_RANGE))
        utterances.append(Utterance(text, voice, speed, float(rng.uniform(-4, 4))))
    return utterances


def _phrase_texts(phrase: str, count: int) -> list[str]:
    # A comma makes both engines pause between words, as many people do after "hey".
    forms = [phrase, phrase.replace(" ", ", ", 1)] if " " in phrase else [phrase, phrase + "!"]
    return [forms[i % len(forms)] for i in range(count)]


def _bed(
    rng: np.random.Generator, speech: np.ndarray, samples: int, talkers: Sequence[np.ndarray]
) -> np.ndarray:
    """A household noise bed 5-40 dB below the speech's level; ``talkers`` make its babble."""
    level = float(np.sqrt(np.mean(speech**2))) if len(speech) else 0.01
    return noise_bed(rng, samples, talkers) * level * 10 ** (-rng.uniform(5, 40) / 20)


def _int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


def embed_all(jobs: Sequence[tuple[np.ndarray, range | None]], workers: int) -> list[np.ndarray]:
    """Embeddings of each (int16 audio, frames or None for all) job, in order, on ``workers`` threads.

    The interpreter releases the GIL while it runs, so threads use every core; each thread has its own
    interpreters, and every job starts from silence, so the result does not depend on ``workers``.
    """
    shards = [list(range(len(jobs)))[k::workers] for k in range(workers)]

    def run(indexes: list[int]) -> list[tuple[int, np.ndarray]]:
        extractor = EmbeddingStream(precision="int8")
        return [(i, extractor.embed(jobs[i][0], jobs[i][1])) for i in indexes]

    results: list[np.ndarray] = [np.zeros(0)] * len(jobs)
    with ThreadPoolExecutor(max(workers, 1)) as pool:
        for shard in pool.map(run, [shard for shard in shards if shard]):
            for index, embeddings in shard:
                results[index] = embeddings
    return results


def end_windows(
    clips: Sequence[np.ndarray],
    context: Sequence[np.ndarray],
    rng: np.random.Generator,
    window: int,
    workers: int,
) -> np.ndarray:
    """The windows ending 0-3 frames after each clip ends, each clip over a noise bed.

    Only the frames these windows cover are embedded: an embedding depends on the last 775 ms alone.
    """
    placed: list[tuple[np.ndarray, int]] = []
    lead_samples = (window + 10) * HOP_SAMPLES  # audio the first window's embeddings look back on
    for clip in clips:
        if len(clip) == 0:
            continue
        clip = vary(rng, clip)
        pad = int(rng.uniform(0.05, 0.3) * SAMPLE_RATE_HZ)
        before = np.zeros(max(lead_samples - len(clip), 0) + pad, dtype=np.float32)
        room = len(before) - pad
        if context and room > 0 and rng.random() < 0.3:
            tail = context[int(rng.integers(len(context)))][-room:]
            before[room - len(tail) : room] = tail * rng.uniform(0.3, 1.0)
        after = np.zeros((len(POSITIVE_OFFSETS) + 1) * HOP_SAMPLES, dtype=np.float32)
        audio = np.concatenate([before, clip, after])
        audio += _bed(rng, clip, len(audio), context)
        placed.append((audio, len(before) + len(clip)))
    return phrase_end_windows(placed, window, workers)


def phrase_end_windows(placed: Sequence[tuple[np.ndarray, int]], window: int, workers: int) -> np.ndarray:
    """The windows ending 0-3 frames after the phrase, for (float32 audio, sample where the phrase ends)."""
    jobs: list[tuple[np.ndarray, range | None]] = []
    for audio, end in placed:
        end_frame = (end - 1) // HOP_SAMPLES
        jobs.append((_int16(audio), range(end_frame - window + 1, end_frame + max(POSITIVE_OFFSETS) + 1)))
    rows = [e[o : o + window].reshape(-1) for e in embed_all(jobs, workers) for o in POSITIVE_OFFSETS]
    return np.array(rows, dtype=np.float32).reshape(-1, window * EMBEDDING_SIZE)


def stream_windows(audio: np.ndarray, window: int, workers: int) -> np.ndarray:
    """Every window of a negative stream, embedded in ``workers`` pieces that overlap by WARMUP_HOPS.

    After WARMUP_HOPS hops from silence an embedding equals the one of the unbroken stream (it sees only
    the last 775 ms), so the overlap is dropped and the pieces join exactly.
    """
    pcm = _int16(audio)
    hops = len(pcm) // HOP_SAMPLES
    bounds = [hops * k // workers for k in range(workers + 1)]
    jobs: list[tuple[np.ndarray, range | None]] = []
    for start, stop in itertools.pairwise(bounds):
        warm = min(start, WARMUP_HOPS)
        jobs.append(
            (pcm[(start - warm) * HOP_SAMPLES : stop * HOP_SAMPLES], range(warm, warm + stop - start))
        )
    pieces = [e for e in embed_all(jobs, workers) if len(e)]
    embeddings = np.concatenate(pieces) if pieces else np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
    if len(embeddings) < window:
        return np.zeros((0, window * EMBEDDING_SIZE), dtype=np.float32)
    views = np.lib.stride_tricks.sliding_window_view(embeddings, window, axis=0)
    return views.transpose(0, 2, 1).reshape(len(views), -1).astype(np.float32)


def _negative_stream(
    rng: np.random.Generator, clips: Sequence[np.ndarray], noise_seconds: float
) -> np.ndarray:
    """Clips with short pauses, each over its own noise bed, then noise alone."""
    parts = []
    for clip in clips:
        if len(clip) == 0:
            continue
        clip = vary(rng, clip)
        pause = np.zeros(int(rng.uniform(0.2, 1.0) * SAMPLE_RATE_HZ), dtype=np.float32)
        segment = np.concatenate([clip, pause])
        parts.append(segment + _bed(rng, clip, len(segment), clips))
    # Noise alone in 2 s stretches, each its own colour and level, from a quiet room's hiss (-75 dBFS) to a
    # loud fan: a head that never heard near-silence fired on a quiet room's -60 dBFS ("computer": 7 times
    # in 2 minutes), each a Whisper check.
    for _ in range(max(int(noise_seconds / NOISE_STRETCH_S), 1)):
        stretch = noise(rng, int(NOISE_STRETCH_S * SAMPLE_RATE_HZ))
        parts.append(stretch * 10 ** (rng.uniform(-75, -15) / 20))
    return np.concatenate(parts)


def load_recordings(directory: Path) -> list[np.ndarray]:
    """The user's own recordings of the phrase (every .wav in ``directory``), whole, as float32.

    Not trimmed: the sound around the phrase is the user's room, which training uses (recordings.py).
    """
    paths = sorted(directory.glob("*.wav")) if directory.is_dir() else []
    if not paths:
        raise UsageError(f"--recordings {directory}: no .wav files there (record some with `edge record`)")
    return [read_wav(path).astype(np.float32) / 32768.0 for path in paths]


def recording_windows(
    recordings: Sequence[np.ndarray], settings: TrainSettings
) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) windows of the user's recordings: the phrase's end; the room, and the phrase backwards.

    A generator of its own, so the synthetic examples are the same with and without recordings.
    """
    rng = np.random.default_rng([settings.seed, 1])
    split = [split_recording(audio) for audio in recordings]
    window = settings.window
    lead, tail = (window + 10) * HOP_SAMPLES, (len(POSITIVE_OFFSETS) + 1) * HOP_SAMPLES
    placed = positive_clips(split, settings.recording_copies, rng, lead, tail)
    positives = phrase_end_windows(placed, window, settings.workers)
    negatives = channel_negatives(split, settings.recording_noise, rng)
    return positives, stream_windows(negatives, window, settings.workers)


def _synthesize_all(
    phrase: str, settings: TrainSettings, voices: Sequence[Voice], rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(phrase clips, everyday speech clips, near-phrase clips) from the training voices."""
    near = near_phrases(phrase, rng) * settings.near_copies + isolated_words(rng, settings.words, phrase)
    sentences = [s for s in everyday_sentences(rng, settings.sentences) if phrase not in s]
    jobs = {
        "phrase": _utterances(_phrase_texts(phrase, settings.positives), voices, rng),
        "speech": _utterances(sentences, voices, rng),
        "near": _utterances(near, voices, rng),
    }
    flat = [u for group in jobs.values() for u in group]
    audio = synthesize(flat, settings.workers)
    cut1, cut2 = len(jobs["phrase"]), len(jobs["phrase"]) + len(jobs["speech"])
    return audio[:cut1], audio[cut1:cut2], audio[cut2:]


def fit_heads(x: np.ndarray, y: np.ndarray, settings: TrainSettings) -> MLPWeights:
    """``settings.heads`` heads fitted from different starts, merged into one MLP that averages them."""
    heads = [
        fit_head(
            x,
            y,
            hidden=settings.hidden,
            epochs=settings.epochs,
            learning_rate=settings.learning_rate,
            l2=settings.l2,
            negative_weight=settings.negative_weight,
            seed=settings.seed + 1000 * k,
        )
        for k in range(settings.heads)
    ]
    return heads[0] if len(heads) == 1 else merge_heads(heads)


def train_wake_word(
    phrase: str, settings: TrainSettings = TrainSettings(), recordings: Sequence[np.ndarray] = ()
) -> TrainedWake:
    """Synthesize, embed and fit a head for ``phrase``; deterministic for ``settings.seed``."""
    started = time.monotonic()
    rng = np.random.default_rng(settings.seed)
    voices, _held = installed_voices()
    clips, speech, near = _synthesize_all(phrase, settings, voices, rng)
    synthesized = time.monotonic()
    positives = end_windows(clips, speech, rng, settings.window, settings.workers)
    # Every window of the negative stream is used: words alone followed by a pause, parts of the phrase
    # and sound-alikes (which also teach "not yet finished"), sentences, and noise.
    mixed = [*near, *speech]
    order = rng.permutation(len(mixed))
    stream = _negative_stream(rng, [mixed[i] for i in order], settings.noise_seconds)
    negatives = stream_windows(stream, settings.window, settings.workers)
    if recordings:
        own = recording_windows(recordings, settings)
        positives, negatives = np.concatenate([positives, own[0]]), np.concatenate([negatives, own[1]])
    x = np.concatenate([positives, negatives])
    y = np.concatenate([np.ones(len(positives), dtype=int), np.zeros(len(negatives), dtype=int)])
    embedded = time.monotonic()
    head = fit_heads(x, y, settings)
    scores = head.forward(x)[:, 1]
    manifest = {
        "kind": MANIFEST_KIND,
        "phrase": phrase,
        "window_embeddings": settings.window,
        "threshold": settings.threshold,
        "trigger_frames": settings.trigger_frames,
        "features": f"pyopen-wakeword {feature_models_version()} melspectrogram+embedding",
        # The head runs on the embeddings it was trained on: int8 convolutions with these ranges.
        "embedding_precision": "int8",
        "embedding_int8_ranges_sha256": ranges_digest(),
        # Not the worker count: the same seed must give the same bytes on a 2-core and a 4-core machine.
        "settings": {k: v for k, v in asdict(settings).items() if k != "workers"},
        "examples": {"positive": len(positives), "negative": int(len(y) - len(positives))},
        "user_recordings": len(recordings),
        "train_recall": round(float(np.mean(scores[y == 1] > settings.threshold)), 4),
        "train_false_positive_rate": round(float(np.mean(scores[y == 0] > settings.threshold)), 5),
        "weights_sha256": head.digest(),
    }
    log.info(
        "wake: trained %r on %d positive and %d negative windows (synthesis %.1f s, features %.1f s, "
        "fit %.1f s)",
        phrase,
        len(positives),
        len(y) - len(positives),
        synthesized - started,
        embedded - synthesized,
        time.monotonic() - embedded,
    )
    return TrainedWake(write_tflite(head, manifest, description="edge wake word head"), manifest)


def with_seed(settings: TrainSettings, seed: int) -> TrainSettings:
    """The same settings with another seed."""
    return replace(settings, seed=seed)
