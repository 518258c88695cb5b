"""A wake word trained with `edge wake train` offered to Home Assistant as a Wyoming wake word service."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from wyoming.wake import Detection

from edge.config import load_config
from edge.speech.wake.evaluation import held_back_positives, pad
from edge.speech.wake.synthesis import noise

from .support import edge_command, subprocess_env
from .test_wyoming import KITCHEN_ON
from .wyoming_support import Peer, detect, start_edge, wyoming_config

pytestmark = pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("espeak-ng") is None,
    reason="training a wake word needs Debian's flite and espeak-ng (.ci/run installs them)",
)

PHRASE = "hey edge"


def test_a_trained_wake_word_is_a_wyoming_wake_service(tmp_path: Path) -> None:
    model = tmp_path / "hey_edge.tflite"
    trained = subprocess.run(
        edge_command("wake", "train", PHRASE, "--quick", "--seed", "3", "--out", str(model)),
        capture_output=True, text=True, env=subprocess_env(), timeout=300,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    base = wyoming_config(tmp_path, satellite=False, asr_service=False)
    text = base.source.read_text(encoding="utf-8")
    text = text.replace("  engine: micro ", f"  model: {model}\n  engine: custom ", 1)
    base.source.write_text(
        text.replace("phrase: [hey jarvis, alexa]", f"phrase: {PHRASE}", 1), encoding="utf-8"
    )
    config = load_config(base.source, board_override="sim")
    assert config.wake.engine == "custom"
    factory = MockFactory(revision="c03111", pin_class=MockPWMPin)
    # Voices training never used; the tiny quick model wakes on most of them (tests/test_custom_wake.py).
    spoken = [pad(clip, np.random.default_rng(1)) for clip in held_back_positives(PHRASE, 3, seed=5)]
    quiet = (noise(np.random.default_rng(2), 16000 * 6) * 300).astype(np.int16)
    edge = start_edge(config, factory, KITCHEN_ON)  # the daemon is never run: only the service is used
    try:

        async def describe() -> None:
            async with Peer(edge.port) as peer:
                info = await peer.describe()
                assert [m.name for m in info.wake[0].models] == ["hey_edge"]
                assert info.wake[0].models[0].phrase == PHRASE

        asyncio.run(describe())
        heard = [asyncio.run(detect(edge.port, samples, ["hey_edge"])) for samples in spoken]
        names = [Detection.from_event(e).name for e in heard if e.type == "detection"]
        assert len(names) >= 2 and set(names) == {"hey_edge"}, [e.type for e in heard]
        assert asyncio.run(detect(edge.port, quiet, ["hey_edge"])).type == "not-detected"
    finally:
        edge.close()
        factory.reset()
