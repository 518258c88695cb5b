"""bench/wake_recordings.py: the drawn recordings are held out, wakes are counted as the detector runs a head."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.wake_real import Clip
from bench.wake_recordings import Checked, draw, wakes
from edge.speech.audio import SAMPLE_RATE_HZ
from edge.speech.wake.custom import CustomWakeDetector
from edge.speech.wake.features import EmbeddingStream
from edge.speech.wake.synthesis import Utterance, Voice, synthesize
from edge.speech.wake.training import TINY_SETTINGS, train_wake_word

REPO = Path(__file__).resolve().parents[1]
PHRASE = "smart mirror"


def _clips() -> list[Clip]:
    silence = np.zeros(10, dtype=np.int16)
    phrases = ["smart mirror"] * 12 + ["snowboy"] * 5 + [""] * 3
    return [Clip(f"c{i}.wav", p, "wake_word" if p else "speech", silence) for i, p in enumerate(phrases)]


def test_draw_is_a_fixed_rule_of_the_trial_and_k_over_the_phrases_clips() -> None:
    clips = _clips()
    five = draw(clips, PHRASE, 5, trial=0)
    assert five == draw(clips, PHRASE, 5, trial=0) and len(set(five)) == 5
    assert all(clips[i].phrase == PHRASE for i in five)
    assert draw(clips, PHRASE, 5, trial=1) != five
    with pytest.raises(ValueError, match="fewer than --k 10"):
        draw(clips, "snowboy", 10, trial=0)


def test_the_bench_skips_in_one_line_without_the_eval_clips(tmp_path: Path) -> None:
    env = {"EDGE_EVAL_DIR": str(tmp_path / "absent"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.wake_recordings"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"skipped: {tmp_path / 'absent' / 'audio'} is absent (the real eval clips live outside the repository)"
    ]


@pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("espeak-ng") is None,
    reason="training speaks with Debian's flite and espeak-ng (.ci/run installs them)",
)
def test_a_head_over_its_threshold_wakes_and_the_check_takes_the_wakes_back(tmp_path: Path) -> None:
    settings = replace(
        TINY_SETTINGS, positives=6, words=4, sentences=3, near_copies=1, noise_seconds=1, epochs=3, workers=1
    )
    model = tmp_path / "mirror.tflite"
    model.write_bytes(train_wake_word(PHRASE, settings).model)
    head = CustomWakeDetector(model)
    head.threshold = (
        0.0  # every full window is over it: wakes are set by trigger frames and the 2 s refractory
    )
    spoken = synthesize(
        [Utterance("please open the garage door now", Voice("flite", "slt"), 1.0, 0.0)], workers=1
    )[0]
    pad = np.zeros(SAMPLE_RATE_HZ, dtype=np.float32)
    audio = (np.concatenate([pad, spoken, pad, pad, pad]) * 20000).astype(np.int16)
    embeddings = EmbeddingStream(precision="int8").embed(audio)
    count = wakes(head, embeddings, audio)
    assert 2 <= count <= len(embeddings) // 25 + 1
    check = Checked(PHRASE)
    head.verifier = check
    assert wakes(head, embeddings, audio) == 0  # Whisper does not hear "smart mirror" in it
    asked, cost = len(check.verdicts), check.cpu_s
    assert asked >= 1
    assert wakes(head, embeddings, audio) == 0
    assert (len(check.verdicts), check.cpu_s) == (asked, cost)  # each candidate was asked once
