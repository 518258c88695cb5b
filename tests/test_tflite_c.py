"""The intent model on pymicro-wakeword's TFLite C library: same numbers as LiteRT, no LiteRT in the daemon."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.config import Config
from edge.errors import ModelError
from edge.understanding.intent import LiteRTIntentClassifier
from edge.understanding.vocabulary import load_vocabulary

from .support import REPO, SHIPPED_CONFIG


def test_tflite_c_gives_litert_s_probabilities(shipped_config: Config) -> None:
    model = shipped_config.intent.model
    shared = LiteRTIntentClassifier(model, devices=shipped_config.devices)
    litert = LiteRTIntentClassifier(model, devices=shipped_config.devices, backend="litert")
    assert (shared.backend, litert.backend) == ("tflite_c", "litert")
    vocabulary = load_vocabulary(shipped_config.intent.vocabulary, shipped_config.devices)
    texts = [
        *[text for text, _ in vocabulary.sentences()][::40],
        "",
        "what's the weather",
        "dim them kitchen lite",
    ]
    for text in texts:
        assert np.allclose(shared.probabilities(text), litert.probabilities(text), atol=1e-6, rtol=0), text
        assert shared.classify(text) == litert.classify(text)
    shared.close()


def test_a_truncated_model_is_one_model_error_naming_it(shipped_config: Config, tmp_path: Path) -> None:
    data = bytearray(shipped_config.intent.model.read_bytes())
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(bytes(data[:4096]))
    with pytest.raises(ModelError, match=r"broken\.tflite"):
        LiteRTIntentClassifier(broken, devices=shipped_config.devices)


def test_the_daemon_runtime_loads_no_litert_interpreter() -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom edge.config import load_config\n"
        "from edge.runtime.assembly import build_runtime\n"
        f"runtime = build_runtime(load_config(Path({str(SHIPPED_CONFIG)!r}), board_override='sim'), mock_gpio=True)\n"
        "print(runtime.understanding.classifier.backend, 'ai_edge_litert.interpreter' in sys.modules)\n"
        "runtime.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["tflite_c", "False"]
