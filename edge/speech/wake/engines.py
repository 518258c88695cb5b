"""Wake word detectors: pymicro-wakeword (fixed phrases, lowest CPU), Vosk or PocketSphinx (any phrase).

Each detector takes 16 kHz chunks and returns a ``Detection`` the moment it is sure, not at the end of the
utterance: a person who says the wake phrase and the command in one breath must not lose the command (the
pipeline's pre-roll covers the detector's decision delay). Sensitivity is 0..1 for every engine; 0.5 is the
engine's own recommended setting, higher wakes more easily.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.errors import BackendMissingError, ConfigError
from edge.events import Detection
from edge.speech.asr.recognizers import find_vosk_model, load_vosk_model, pocketsphinx_decoder
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk
from edge.speech.wake.models import RecentAudio, SharedFeatureModels
from edge.speech.wake.settings import WakeConfig
from edge.speech.wake.verify import VERIFY_SECONDS, PhraseVerifier

log = logging.getLogger(__name__)

MICRO_PHRASES = {
    "hey jarvis": "HEY_JARVIS",
    "okay nabu": "OKAY_NABU",
    "alexa": "ALEXA",
    "hey mycroft": "HEY_MYCROFT",
}


class WakeDetector(Protocol):
    """Streaming wake phrase detector."""

    name: str
    last_score: float  # the latest score on the engine's own scale, for a live view
    threshold: float  # the score at which it wakes, on the same scale

    def process(self, chunk: AudioChunk) -> Detection | None: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


def wake_from_config(config: WakeConfig, *, source: str = "config") -> WakeDetector:
    """Build the detector the ``wake`` section asks for; ``source`` names the config file in errors."""
    if config.engine == "micro":
        return MicroWakeDetector(config.phrases, config.sensitivity, verify=config.verify, source=source)
    if len(config.phrases) > 1:
        raise ConfigError(
            source,
            "wake.phrase",
            f"{config.engine} listens for one phrase; only micro takes a list of phrases",
        )
    if config.engine == "custom" and config.model is not None:
        from edge.speech.wake.custom import CustomWakeDetector

        return CustomWakeDetector(
            config.model,
            config.sensitivity,
            verify=config.verify,
            step_ms=config.step_ms,
            source=f"{source}: wake.model",
        )
    if config.engine == "vosk":
        model_dir = find_vosk_model(config.vosk_model)
        if model_dir is None:
            raise ConfigError(
                source,
                "wake.engine",
                "vosk needs a Vosk model: run `edge models fetch vosk-small-en` or set wake.vosk_model",
            )
        return VoskWakeDetector(model_dir, config.phrase, config.sensitivity)
    return PocketSphinxWakeDetector(config.phrase, config.sensitivity, source=source)


def _shift_logit(probability: float, shift: float) -> float:
    logit = math.log(probability / (1 - probability)) + shift
    return 1 / (1 + math.exp(-logit))


# With Whisper's check, a candidate needs a probability this much lower in logit space (alexa: 0.9 -> 0.1).
# On ../shared/eval, real "alexa" clips scored 0.93-0.99 at the low end and every other real clip under 0.1,
# but on a private set 5 % of real "alexa" scored under the author's 0.9, and 1.5 false wakes an hour scored
# over it. Whisper accepted every real "alexa" candidate and none of the bench stream's 14 an hour at 0.1.
CHECKED_LOGIT_SHIFT = -4.4
PEAK_WAIT_STEPS = 10  # a candidate waits at most 10 model steps (300 ms) for its score to stop rising
# Whisper's verdict depends on where the audio ends (a real "alexa" before a pause was refused with 20 ms
# chunks and accepted with 30 ms ones), so a refused candidate is heard once more, 240 ms later.
RETRY_STEPS = 8
# Whisper's yes for micro's candidates (see verify.PHRASE_LOGPROB_MIN for the rule): micro, trained on real
# speech, checked 28 times in the bench's hour of speech, and the highest of those scored -9.4.
CHECKED_LOGPROB_MIN = -7.5


class MicroWakeDetector:
    """pymicro-wakeword's bundled TFLite models: one or several phrases over one shared feature frontend.

    Each model ships a probability cutoff tuned by its author for the mean of its last outputs.
    Sensitivity 0.5 keeps that cutoff; 0 and 1 move it by 2 in logit space (for hey_jarvis: 0.996 and 0.81),
    so the scale is symmetric around the author's choice rather than a guessed absolute probability.
    With ``verify``, the cutoff is far lower and each candidate is only a question to Whisper, asked once per
    rise of the score over the cutoff, on the last 2.2 s of audio (``edge.speech.wake.verify``).
    ``last_score`` and ``threshold`` are those of the phrase nearest to its cutoff (for a live view).
    """

    def __init__(
        self,
        phrases: str | Sequence[str],
        sensitivity: float = 0.5,
        *,
        verify: bool = False,
        whisper_model: Path | None = None,
        source: str = "config",
    ) -> None:
        phrases = (phrases,) if isinstance(phrases, str) else tuple(phrases)
        for phrase in phrases:
            if phrase not in MICRO_PHRASES:
                raise ConfigError(
                    source,
                    "wake.phrase",
                    f"{phrase!r} has no micro model (micro knows: {', '.join(MICRO_PHRASES)}); "
                    "use engine pocketsphinx or vosk for other phrases",
                )
        try:
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
        except ImportError:
            raise BackendMissingError(
                "the micro wake word engine needs: pip install pymicro-wakeword"
            ) from None
        self.phrases = phrases
        self.phrase = phrases[0]
        self.name = "+".join(phrase.replace(" ", "_") for phrase in phrases)
        # The features (the spectrogram) are computed once and fed to every phrase's small model.
        self._features = MicroWakeWordFeatures()
        self._models = [MicroWakeWord.from_builtin(Model[MICRO_PHRASES[phrase]]) for phrase in phrases]
        self._shared = SharedFeatureModels(self._models)
        shift = 4.0 * (0.5 - sensitivity)
        self.author_cutoffs = [_shift_logit(float(model.probability_cutoff), shift) for model in self._models]
        shift += CHECKED_LOGIT_SHIFT if verify else 0.0
        self.cutoffs = [_shift_logit(float(model.probability_cutoff), shift) for model in self._models]
        self.decision_lag_ms = 0  # audio heard after the moment the unchecked detector would have woken
        self.verifier = PhraseVerifier(phrases, whisper_model, CHECKED_LOGPROB_MIN) if verify else None
        self.candidates = 0  # wakes over the cutoff so far, accepted or not
        self.refused = 0  # candidates Whisper did not hear as the phrase
        self._armed = [True] * len(phrases)  # one question per rise of a phrase's score over its cutoff
        self._waited = [-1] * len(phrases)  # steps a candidate has waited for its score's peak; -1: none
        self._peaks = [0.0] * len(phrases)
        # Audio time (end of the chunk) at which the score passed the author's cutoff, where the unchecked
        # detector would have woken; else where the score peaked. None: no candidate yet.
        self._on_time_ms: list[int | None] = [None] * len(phrases)
        self._crossed = [False] * len(phrases)  # whether _on_time_ms is the author's cutoff's crossing
        self._chunk_end_ms = 0  # end of the chunk being processed
        self._retry = [-1] * len(phrases)  # steps until a refused candidate is heard again; -1: none
        self._recent = RecentAudio(int(VERIFY_SECONDS * SAMPLE_RATE_HZ))
        self.last_score = 0.0
        self.threshold = self.cutoffs[0]
        for phrase, model, cutoff in zip(phrases, self._models, self.cutoffs, strict=True):
            log.debug(
                "wake: micro %s cutoff %.3f (model default %.3f)", phrase, cutoff, model.probability_cutoff
            )

    @property
    def cutoff(self) -> float:
        """The first phrase's probability cutoff."""
        return self.cutoffs[0]

    def process(self, chunk: AudioChunk) -> Detection | None:
        """Feed one chunk; a Detection naming the phrase whose averaged probability passes its cutoff."""
        if self.verifier is not None:
            self._recent.add(chunk.samples())
        self._chunk_end_ms = chunk.timestamp_ms + round(chunk.duration_ms)
        for features in self._features.process_streaming(chunk.pcm):
            probabilities = self._shared.process(features)
            if probabilities is None:
                continue
            margins = [p - c for p, c in zip(probabilities, self.cutoffs, strict=True)]
            best = int(np.argmax(margins))
            self.last_score, self.threshold = probabilities[best], self.cutoffs[best]
            for index in np.argsort(margins)[::-1]:
                if self._confirmed(int(index), probabilities[index], margins[index] > 0):
                    return Detection(
                        self._chunk_end_ms, self.phrases[index].replace(" ", "_"), self._peaks[index]
                    )
        return None

    def _confirmed(self, index: int, probability: float, over: bool) -> bool:
        """Whether phrase ``index`` wakes now: at once over the cutoff without a verifier, else Whisper's say.

        The lower cutoff is crossed while the phrase is still being said, so Whisper is asked once the score
        stops rising (or after ``PEAK_WAIT_STEPS``), on audio that holds the whole phrase.
        """
        if self.verifier is None:
            self._peaks[index] = probability
            return over
        retry = self._retry[index]
        if retry >= 0:  # a refused candidate waits RETRY_STEPS, then Whisper hears the phrase once more
            self._retry[index] = retry - 1
            return self._ask(index, last=True) if retry == 0 else False
        waited = self._waited[index]
        if waited < 0:  # no candidate open
            if over and self._armed[index]:
                self._armed[index], self._waited[index], self._peaks[index] = False, 0, probability
                self._on_time_ms[index] = self._chunk_end_ms
                self._crossed[index] = probability > self.author_cutoffs[index]
            elif not over:
                self._armed[index] = True
            return False
        crossed = probability > self.author_cutoffs[index]
        if not self._crossed[index] and (crossed or probability >= self._peaks[index]):
            self._on_time_ms[index], self._crossed[index] = self._chunk_end_ms, crossed
        if probability >= self._peaks[index] and waited < PEAK_WAIT_STEPS:
            self._waited[index], self._peaks[index] = waited + 1, probability
            return False
        self._waited[index] = -1
        self._armed[index] = not over
        self.candidates += 1
        if self._ask(index):
            return True
        self._retry[index] = RETRY_STEPS
        return False

    def _ask(self, index: int, last: bool = False) -> bool:
        """Whisper's verdict on the last seconds for phrase ``index``; on a yes, the decision lag is set."""
        assert self.verifier is not None
        phrase = self.phrases[index]
        verdict = self.verifier.check(self._recent.samples(), phrase)
        if not verdict.accepted:
            self.refused += 1 if last else 0  # a candidate counts as refused once, after its second hearing
            log.info(
                "wake: %r candidate refused: Whisper heard %r (phrase log-probability %.1f)",
                phrase,
                verdict.heard,
                verdict.phrase_logprob,
            )
            return False
        # The audio since the unchecked detector would have woken goes to the command, as it would have:
        # counted in whole chunks of audio time, so the pipeline replays exactly the chunks after that one.
        on_time_ms = self._on_time_ms[index]
        self.decision_lag_ms = self._chunk_end_ms - (self._chunk_end_ms if on_time_ms is None else on_time_ms)
        return True

    def reset(self) -> None:
        """Forget the audio heard so far."""
        self._features.reset()
        self._shared.reset()
        self.last_score = 0.0
        self._armed = [True] * len(self.phrases)
        self._waited = [-1] * len(self.phrases)
        self._retry = [-1] * len(self.phrases)
        self._on_time_ms = [None] * len(self.phrases)
        self._crossed = [False] * len(self.phrases)
        self._recent.clear()

    def close(self) -> None:
        """Release the TFLite interpreters."""
        for model in self._models:
            model.close()


class VoskWakeDetector:
    """Any phrase, spotted by Vosk restricted to a grammar of the phrase and ``[unk]``.

    With a two-entry grammar every sound is decoded as either the phrase or ``[unk]``, so other speech is
    rejected by the words' confidence: each word of the phrase must reach ``1 - 0.6 * sensitivity``. The
    check runs as soon as the partial result has held the phrase for two chunks, not at the end of speech.
    """

    def __init__(self, model_dir: Path, phrase: str, sensitivity: float = 0.5) -> None:
        self.name = phrase.replace(" ", "_")
        self.phrase = phrase
        self.min_confidence = 1.0 - 0.6 * sensitivity
        self.threshold = self.min_confidence
        self.last_score = 0.0
        self._model = load_vosk_model(model_dir)
        self._recognizer: Any = None
        self._stable_chunks = 0
        self.reset()

    def process(self, chunk: AudioChunk) -> Detection | None:
        """Feed one chunk; a Detection once the phrase is heard with enough confidence."""
        if self._recognizer.AcceptWaveform(chunk.pcm):
            return self._judge(json.loads(self._recognizer.Result()), chunk)
        partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        self._stable_chunks = self._stable_chunks + 1 if self.phrase in partial else 0
        if self._stable_chunks < 2:
            return None
        return self._judge(json.loads(self._recognizer.FinalResult()), chunk)

    def _judge(self, result: dict[str, Any], chunk: AudioChunk) -> Detection | None:
        self._stable_chunks = 0
        words = [w for w in result.get("result", []) if w.get("word") != "[unk]"]
        spotted = _find_phrase(words, self.phrase.split())
        if spotted is None:
            return None
        score = min(float(w.get("conf", 0.0)) for w in spotted)
        self.last_score = score
        if score < self.min_confidence:
            log.debug(
                "wake: vosk heard %r with confidence %.2f, below %.2f",
                self.phrase,
                score,
                self.min_confidence,
            )
            return None
        return Detection(chunk.timestamp_ms + round(chunk.duration_ms), self.name, score)

    def reset(self) -> None:
        """Start a fresh recognizer."""
        from vosk import KaldiRecognizer

        self._recognizer = KaldiRecognizer(
            self._model, 16000, json.dumps([self.phrase, "[unk]"], ensure_ascii=False)
        )
        self._recognizer.SetWords(True)
        self._stable_chunks = 0

    def close(self) -> None:
        """Drop the recognizer (the model stays cached for the command recognizer)."""
        self._recognizer = None


def _find_phrase(words: list[dict[str, Any]], phrase: list[str]) -> list[dict[str, Any]] | None:
    texts = [w.get("word") for w in words]
    for start in range(len(texts) - len(phrase) + 1):
        if texts[start : start + len(phrase)] == phrase:
            return words[start : start + len(phrase)]
    return None


class PocketSphinxWakeDetector:
    """Any English phrase whose words are in PocketSphinx's dictionary, by keyphrase spotting.

    Sensitivity maps onto the keyphrase threshold on a log scale: 1e-10 (strict) at 0 to 1e-50 (eager) at 1,
    1e-30 at 0.5, the middle of the range PocketSphinx's documentation suggests for two- or three-word phrases.
    """

    def __init__(self, phrase: str, sensitivity: float = 0.5, *, source: str = "config") -> None:
        self.name = phrase.replace(" ", "_")
        self.phrase = phrase
        self.threshold = 10.0 ** (-10.0 - 40.0 * sensitivity)
        self.last_score = 0.0  # PocketSphinx reports only spotted phrases: 1.0 at a detection, else 0.0
        probe = pocketsphinx_decoder()
        missing = [word for word in phrase.split() if probe.lookup_word(word) is None]
        if missing:
            raise ConfigError(
                source,
                "wake.phrase",
                f"PocketSphinx's dictionary lacks {', '.join(map(repr, missing))}; choose other words",
            )
        self._decoder = pocketsphinx_decoder(keyphrase=phrase, kws_threshold=self.threshold)
        self._decoder.start_utt()

    def process(self, chunk: AudioChunk) -> Detection | None:
        """Feed one chunk; a Detection when the keyphrase search fires."""
        self._decoder.process_raw(chunk.pcm, False, False)
        hypothesis = self._decoder.hyp()
        if hypothesis is None:
            return None
        score = math.exp(max(hypothesis.prob, -700)) if hypothesis.prob else 1.0
        self.last_score = 1.0
        self.reset()
        return Detection(chunk.timestamp_ms + round(chunk.duration_ms), self.name, score)

    def reset(self) -> None:
        """Restart the utterance."""
        self._decoder.end_utt()
        self._decoder.start_utt()

    def close(self) -> None:
        """End the utterance."""
        self._decoder.end_utt()
