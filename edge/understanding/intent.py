"""Intent classification: hashed text features through the trained MLP in the LiteRT interpreter.

The model file carries a manifest (labels, feature settings, threshold, weight hashes); a model made for
other feature code or other intents is refused with one line that says to run ``edge train``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge.devices.settings import DeviceConfig
from edge.errors import BackendMissingError, ModelError
from edge.tflite_model import MLPWeights, read_tflite
from edge.understanding.features import FEATURE_VERSION, FeatureSettings, Lexicon, featurize, normalize_words
from edge.understanding.settings import IntentConfig
from edge.understanding.tflite_c import TfLiteCModel, library_path
from edge.understanding.unsupported import UNSUPPORTED
from edge.understanding.utterance import Utterance, as_utterance
from edge.understanding.vocabulary import INTENTS

log = logging.getLogger(__name__)


def load_interpreter_class(backend: str = "auto") -> tuple[Any, str]:
    """Return (Interpreter class, backend name): ai-edge-litert, else tflite-runtime (the Python bindings)."""
    if backend in ("auto", "litert"):
        try:
            from ai_edge_litert.interpreter import Interpreter

            return Interpreter, "litert"
        except ImportError:
            if backend == "litert":
                raise BackendMissingError(
                    "ai-edge-litert is not installed: pip install ai-edge-litert"
                ) from None
    try:
        from tflite_runtime.interpreter import Interpreter as RuntimeInterpreter

        return RuntimeInterpreter, "tflite_runtime"
    except ImportError:
        wanted = "tflite-runtime is not installed" if backend == "tflite_runtime" else "no TFLite interpreter"
        raise BackendMissingError(f"{wanted}: pip install ai-edge-litert (or tflite-runtime)") from None


class LiteRTIntentClassifier:
    """Classify a transcript into one of the intents, or ``none`` below the confidence threshold."""

    def __init__(
        self,
        path: Path,
        *,
        devices: Sequence[DeviceConfig] = (),
        threshold: float | None = None,
        backend: str = "auto",
    ) -> None:
        source = str(path)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ModelError(f"{source}: cannot read model: {err.strerror or err}") from None
        manifest, weights = read_tflite(data, source)
        self.path = path
        self.manifest = manifest
        self.weights: MLPWeights = weights
        self.settings = _check_manifest(manifest, source)
        self.labels: tuple[str, ...] = tuple(manifest["labels"])
        self.threshold: float = float(manifest["threshold"]) if threshold is None else threshold
        self.lexicon = Lexicon.from_devices(devices)
        self._shared: TfLiteCModel | None = None
        if backend == "tflite_c" or (backend == "auto" and library_path() is not None):
            # The TFLite C library the micro wake engine loads anyway: no second runtime in the daemon.
            self.backend = "tflite_c"
            try:
                self._shared = TfLiteCModel(data)
            except ImportError:
                raise BackendMissingError(
                    "the tflite_c backend needs: pip install pymicro-wakeword"
                ) from None
            except ValueError as err:
                raise ModelError(
                    f"{source}: the interpreter refused the model ({err}); run `edge train`"
                ) from None
            return
        self._load_interpreter(data, backend, source)

    def _load_interpreter(self, data: bytes, backend: str, source: str) -> None:
        interpreter_class, self.backend = load_interpreter_class(backend)
        try:
            # The built-in kernels alone: XNNPACK buys nothing on a model this small and prints a banner.
            resolvers = sys.modules[interpreter_class.__module__].OpResolverType
            self._interpreter = interpreter_class(
                model_content=data,
                num_threads=1,
                experimental_op_resolver_type=resolvers.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as err:
            raise ModelError(
                f"{source}: the interpreter refused the model ({err}); run `edge train`"
            ) from None
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    def features(self, text: str | Utterance) -> np.ndarray:
        """The model's input row for ``text`` (an Utterance's words are used as they are)."""
        return featurize(normalize_words(as_utterance(text).words, self.lexicon), self.settings)

    def probabilities(self, text: str | Utterance) -> np.ndarray:
        """Probability per label, from the interpreter."""
        if self._shared is not None:
            return self._shared.run(self.features(text)[None, :])[0]
        self._interpreter.set_tensor(self._input, self.features(text)[None, :])
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output)[0], dtype=np.float32)

    def classify(self, text: str | Utterance) -> tuple[str, float]:
        """Return (intent, confidence); ``none`` when out of scope or below the threshold."""
        label, confidence = self.classify_label(text)
        return (label if label in INTENTS else "none"), confidence

    def classify_label(self, text: str | Utterance) -> tuple[str, float]:
        """Like ``classify``, but an unsupported request keeps its internal label (``unsupported_colour``)."""
        if not as_utterance(text).words:
            return "none", 0.0
        probs = self.probabilities(text)
        best = int(probs.argmax())
        confidence = float(probs[best])
        if confidence < self.threshold and self.labels[best] in INTENTS:
            return "none", confidence
        return self.labels[best], confidence

    def describe(self) -> str:
        """One line: size, shape, threshold and backend."""
        size_kb = self.path.stat().st_size / 1024
        hidden, features = self.weights.w1.shape
        return (
            f"{size_kb:.0f} KB, {features} features -> {hidden} -> {len(self.labels)} intents, "
            f"threshold {self.threshold:.2f}, {self.backend}"
        )

    def close(self) -> None:
        """Free the shared-runtime interpreter, if that is the backend."""
        if self._shared is not None:
            self._shared.close()


IntentClassifier = LiteRTIntentClassifier


def _check_manifest(manifest: dict[str, Any], source: str) -> FeatureSettings:
    try:
        settings = FeatureSettings.from_dict(manifest["features"])
        labels = list(manifest["labels"])
        float(manifest["threshold"])
    except (KeyError, TypeError, ValueError, IndexError):
        raise ModelError(f"{source}: malformed model manifest; run `edge train` to rebuild it") from None
    if settings.version != FEATURE_VERSION:
        raise ModelError(
            f"{source}: model uses text features v{settings.version}, this edge computes "
            f"v{FEATURE_VERSION}; run `edge train` to rebuild it"
        )
    if labels != [*INTENTS, *UNSUPPORTED]:
        raise ModelError(
            f"{source}: model intents ({', '.join(labels)}) differ from edge's "
            f"({', '.join([*INTENTS, *UNSUPPORTED])}); "
            "run `edge train` to rebuild it"
        )
    return settings


def load_classifier(
    config: IntentConfig, devices: Sequence[DeviceConfig] = (), *, backend: str = "auto"
) -> LiteRTIntentClassifier:
    """Load the intent model the config names; ``devices`` lets configured names map to their kind."""
    classifier = LiteRTIntentClassifier(
        config.model, devices=devices, threshold=config.threshold, backend=backend
    )
    log.debug("intent: %s (%s)", config.model, classifier.describe())
    return classifier
