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
from edge.speech.audio import AudioChunk
from edge.speech.wake.models import SharedFeatureModels
from edge.speech.wake.settings import WakeConfig

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
        return MicroWakeDetector(config.phrases, config.sensitivity, source=source)
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


class MicroWakeDetector:
    """pymicro-wakeword's bundled TFLite models: one or several phrases over one shared feature frontend.

    Each model ships a probability cutoff tuned by its author for the mean of its last outputs.
    Sensitivity 0.5 keeps that cutoff; 0 and 1 move it by 2 in logit space (for hey_jarvis: 0.996 and 0.81),
    so the scale is symmetric around the author's choice rather than a guessed absolute probability.
    ``last_score`` and ``threshold`` are those of the phrase nearest to its cutoff (for a live view).
    """

    def __init__(
        self, phrases: str | Sequence[str], sensitivity: float = 0.5, *, source: str = "config"
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
        self.cutoffs = [
            _shift_logit(float(model.probability_cutoff), 4.0 * (0.5 - sensitivity)) for model in self._models
        ]
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
        for features in self._features.process_streaming(chunk.pcm):
            probabilities = self._shared.process(features)
            if probabilities is None:
                continue
            margins = [p - c for p, c in zip(probabilities, self.cutoffs, strict=True)]
            best = int(np.argmax(margins))
            self.last_score, self.threshold = probabilities[best], self.cutoffs[best]
            if margins[best] > 0:
                end_ms = chunk.timestamp_ms + round(chunk.duration_ms)
                return Detection(end_ms, self.phrases[best].replace(" ", "_"), probabilities[best])
        return None

    def reset(self) -> None:
        """Forget the audio heard so far."""
        self._features.reset()
        self._shared.reset()
        self.last_score = 0.0

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
