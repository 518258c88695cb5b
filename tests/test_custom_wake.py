"""A custom wake word trained on the spot (tiny settings), loaded by the real TFLite interpreter and config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge.cli import main
from edge.errors import EXIT_CONFIG, EXIT_USAGE
from edge.speech.audio import read_wav
from edge.speech.wake.custom import REFUSED_PAUSE_FRAMES, CustomWakeDetector
from edge.speech.wake.engines import wake_from_config
from edge.speech.wake.evaluation import detects, held_back_positives, pad
from edge.speech.wake.settings import WakeConfig
from edge.speech.wake.synthesis import noise
from edge.speech.wake.training import TINY_SETTINGS, train_wake_word
from edge.tflite_model import read_tflite
from tests.support import SHIPPED_CONFIG, edge_command, subprocess_env

pytestmark = pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("espeak-ng") is None,
    reason="training a wake word needs Debian's flite and espeak-ng (.ci/run installs them)",
)

PHRASE = "hey edge"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny "hey edge" detector trained through the real CLI."""
    out = tmp_path_factory.mktemp("wake") / "hey_edge.tflite"
    result = subprocess.run(
        edge_command("wake", "train", PHRASE, "--quick", "--seed", "3", "--out", str(out), "--json"),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert '"phrase": "hey edge"' in result.stdout
    return out


def test_trained_head_loads_in_the_real_interpreter(tiny_model: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    data = tiny_model.read_bytes()
    manifest, weights = read_tflite(data, str(tiny_model))
    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    window = np.random.default_rng(0).standard_normal((1, weights.w1.shape[1])).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], window)
    interpreter.invoke()
    tflite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert manifest["phrase"] == PHRASE and manifest["user_recordings"] == 0
    np.testing.assert_allclose(tflite, weights.forward(window), atol=1e-4)


def test_fires_on_held_back_voices_and_not_on_noise(tiny_model: Path) -> None:
    detector = CustomWakeDetector(tiny_model)
    clips = held_back_positives(PHRASE, 6, seed=5)
    hits = sum(detects(detector, pad(clip, np.random.default_rng(1))) for clip in clips)
    assert hits >= 4, f"woke on {hits} of {len(clips)} held-back clips"
    rng = np.random.default_rng(2)
    quiet_room = (noise(rng, 16000 * 20) * 300).astype(np.int16)
    assert not detects(detector, quiet_room)
    assert detector.last_score < detector.threshold


def test_wake_config_builds_the_custom_detector(tiny_model: Path) -> None:
    config = WakeConfig("custom", PHRASE, 0.5, 2000, None, model=tiny_model)
    detector = wake_from_config(config)
    assert isinstance(detector, CustomWakeDetector) and detector.name == "hey_edge"
    assert detector.verifier is None
    detector.close()
    verified = wake_from_config(WakeConfig("custom", PHRASE, 0.5, 2000, None, model=tiny_model, verify=True))
    assert isinstance(verified, CustomWakeDetector) and verified.verifier is not None


def test_behind_the_check_a_head_wakes_on_two_frames_over_its_threshold(tiny_model: Path) -> None:
    """The check takes the false wakes; two frames find the real speakers whose score peaks briefly."""
    manifest, _weights = read_tflite(tiny_model.read_bytes(), str(tiny_model))
    assert manifest["trigger_frames"] == 3
    alone = CustomWakeDetector(tiny_model)
    checked = CustomWakeDetector(tiny_model, verify=True)
    assert (alone.trigger_frames, checked.trigger_frames) == (3, 2)
    assert alone.threshold == checked.threshold  # the check changes how long, not how high


def test_after_whisper_refuses_the_next_candidate_waits(tiny_model: Path) -> None:
    """Speech that fooled the head holds its score up; each check is a Whisper run, so the next one waits."""
    checked = CustomWakeDetector(tiny_model, verify=True)
    assert [checked.candidate(0.99) for _ in range(2)] == [False, True]
    room = pad(np.zeros(0, dtype=np.int16), np.random.default_rng(0), 1.0)  # two seconds of quiet noise
    assert not checked.verify(room).accepted
    later = [checked.candidate(0.99) for _ in range(REFUSED_PAUSE_FRAMES + 2)]
    assert later.index(True) == REFUSED_PAUSE_FRAMES - 1, later
    alone = CustomWakeDetector(tiny_model)  # nothing to wait for without a check
    assert [alone.candidate(0.99) for _ in range(6)] == [False, False, True] * 2


def test_verify_is_on_unless_the_config_turns_it_off(tiny_model: Path, tmp_path: Path) -> None:
    from edge.config import load_config

    on = load_config(_config_with_wake(tmp_path, {"engine": "custom", "model": str(tiny_model)}))
    assert on.wake.verify is True
    off = {"engine": "custom", "model": str(tiny_model), "verify": False}
    assert load_config(_config_with_wake(tmp_path, off)).wake.verify is False


def test_verify_must_be_a_boolean(tiny_model: Path, tmp_path: Path, capsys) -> None:
    path = _config_with_wake(tmp_path, {"engine": "custom", "model": str(tiny_model), "verify": "maybe"})
    assert main(["check-config", "-c", str(path), "--board", "sim"]) == EXIT_CONFIG
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "wake.verify" in lines[0], lines


def _config_with_wake(tmp_path: Path, wake: dict[str, object]) -> Path:
    config = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    config["wake"] = wake
    for key in ("model", "vocabulary"):
        if key in config.get("intent", {}):
            config["intent"][key] = str((SHIPPED_CONFIG.parent / config["intent"][key]).resolve())
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_check_config_accepts_the_model_and_takes_its_phrase(
    tiny_model: Path, tmp_path: Path, capsys
) -> None:
    path = _config_with_wake(tmp_path, {"engine": "custom", "model": str(tiny_model)})
    assert main(["check-config", "-c", str(path), "--board", "sim"]) == 0
    out = capsys.readouterr().out
    assert "wake:    custom 'hey edge'" in out
    assert "(step 640 ms, each wake confirmed by Whisper)" in out


@pytest.mark.parametrize("damage", ["truncated", "flipped", "intent_model"])
def test_check_config_rejects_a_bad_model_in_one_line(
    tiny_model: Path, tmp_path: Path, capsys, damage: str
) -> None:
    data = tiny_model.read_bytes()
    bad = tmp_path / "bad.tflite"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        weights_at = len(data) // 3  # inside the first weight matrix
        bad.write_bytes(data[:weights_at] + bytes([data[weights_at] ^ 0xFF]) + data[weights_at + 1 :])
    else:
        shutil.copy(SHIPPED_CONFIG.parent / "models" / "intent.tflite", bad)
    path = _config_with_wake(tmp_path, {"engine": "custom", "model": str(bad)})
    assert main(["check-config", "-c", str(path), "--board", "sim"]) == EXIT_CONFIG
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "wake.model" in lines[0] and "edge wake train" in lines[0], lines


def _with_manifest(model: Path, out: Path, **changes: object) -> Path:
    """A copy of ``model`` whose manifest has ``changes`` (None removes a key)."""
    from edge.tflite_model import write_tflite

    manifest, weights = read_tflite(model.read_bytes(), str(model))
    manifest.update(changes)
    out.write_bytes(write_tflite(weights, {k: v for k, v in manifest.items() if v is not None}))
    return out


def test_a_head_trained_before_int8_embeddings_runs_on_float_ones(tiny_model: Path, tmp_path: Path) -> None:
    trained = CustomWakeDetector(tiny_model)
    older = CustomWakeDetector(
        _with_manifest(
            tiny_model, tmp_path / "old.tflite", embedding_precision=None, embedding_int8_ranges_sha256=None
        )
    )
    assert trained.precision == "int8" and older.precision == "float"
    assert older._features._network.precision == "float"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"embedding_int8_ranges_sha256": "0" * 64},
            "trained on other int8 embeddings than this edge computes",
        ),
        ({"embedding_precision": "int4"}, "embedding_precision 'int4' is not one of float, int8"),
    ],
)
def test_a_head_for_other_embeddings_is_refused_in_one_line(
    tiny_model: Path, tmp_path: Path, capsys, changes: dict[str, object], message: str
) -> None:
    model = _with_manifest(tiny_model, tmp_path / "other.tflite", **changes)
    path = _config_with_wake(tmp_path, {"engine": "custom", "model": str(model)})
    assert main(["check-config", "-c", str(path), "--board", "sim"]) == EXIT_CONFIG
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "wake.model" in lines[0] and message in lines[0], lines


@pytest.mark.parametrize(
    ("wake", "message"),
    [
        ({"engine": "custom"}, "wake.model: engine custom needs model: FILE"),
        ({"engine": "micro", "model": "x.tflite"}, "wake.model: is only read by engine custom"),
        ({"engine": "custom", "model": "missing.tflite"}, "wake.model: file not found"),
        ({"engine": "pocketsphinx", "verify": False}, "wake.verify: unknown key"),
        # A wrong step is named even when the model file is wrong too (here: the config file itself).
        ({"engine": "custom", "model": "edge.yaml", "step_ms": 100}, "wake.step_ms: 100 must be a multiple"),
    ],
)
def test_custom_engine_config_errors(tmp_path: Path, capsys, wake: dict[str, object], message: str) -> None:
    path = _config_with_wake(tmp_path, wake)
    assert main(["check-config", "-c", str(path), "--board", "sim"]) == EXIT_CONFIG
    assert message in capsys.readouterr().err


def test_training_is_deterministic_for_a_seed() -> None:
    from dataclasses import replace

    small = replace(
        TINY_SETTINGS, positives=6, words=4, sentences=3, near_copies=1, noise_seconds=1, epochs=3
    )
    first = train_wake_word("okay pi", replace(small, seed=7))
    again = train_wake_word("okay pi", replace(small, seed=7))
    other = train_wake_word("okay pi", replace(small, seed=8))
    assert first.model == again.model
    assert first.model != other.model


@pytest.mark.parametrize("phrase", ["h3y edge", "", "a very long phrase of far too many words"])
def test_bad_phrase_is_a_usage_error(phrase: str, capsys) -> None:
    assert main(["wake", "train", phrase]) == EXIT_USAGE
    assert "wake phrase" in capsys.readouterr().err


def test_too_few_recordings_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["wake", "train", PHRASE, "--recordings", str(tmp_path)]) == EXIT_USAGE
    assert "no .wav files" in capsys.readouterr().err


def test_negative_stream_windows_do_not_depend_on_the_thread_count() -> None:
    from edge.speech.wake.training import stream_windows

    audio = np.random.default_rng(4).standard_normal(16000 * 6).astype(np.float32) * 0.1
    one = stream_windows(audio, 8, 1)
    assert len(one) == 6 * 16000 // 1280 - 7
    np.testing.assert_array_equal(one, stream_windows(audio, 8, 3))


def test_wake_test_reports_the_head_and_the_whisper_check(tiny_model: Path) -> None:
    import json

    result = subprocess.run(
        edge_command("wake", "test", str(tiny_model), "--clips", "4", "--hours", "0.01", "--json"),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["phrase"] == PHRASE and summary["verify"] is True and summary["held_back_clips"] == 4
    # Whisper can only take wakes away, never add them.
    assert summary["miss_rate"] >= summary["head_miss_rate"]
    assert summary["false_wakes_per_hour"] <= summary["head_false_wakes_per_hour"]
    assert 0.0 <= summary["head_miss_rate"] <= 1.0 and summary["negative_hours"] > 0


def test_wake_test_reports_real_dev_clips_of_the_phrase_where_they_are(
    tiny_model: Path, tmp_path: Path
) -> None:
    import json

    audio = tmp_path / "eval" / "audio"
    audio.mkdir(parents=True)
    rows = []
    for index, (voice, text) in enumerate([("en-us", PHRASE), ("en-gb", PHRASE), ("en-us", "good morning")]):
        path = audio / f"clip{index}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)  # 22 kHz: resampled
        rows.append({"file": path.name, "wake_word": PHRASE if text == PHRASE else None})
    (audio / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    def wake_test(eval_dir: Path) -> dict:
        result = subprocess.run(
            edge_command("wake", "test", str(tiny_model), "--clips", "2", "--hours", "0.005", "--json"),
            capture_output=True,
            text=True,
            env=subprocess_env(EDGE_EVAL_DIR=str(eval_dir)),
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    real = wake_test(tmp_path / "eval")["real_dev_clips"]
    assert real["clips"] == 2 and real["folder"] == str(audio)
    assert 0 <= real["head_missed"] <= real["missed"] <= 2
    low, high = real["miss_rate_95"]
    assert low <= real["miss_rate"] <= high and high - low > 0.3  # two clips say little
    assert wake_test(tmp_path / "nowhere")["real_dev_clips"] is None


def _spoken(command: list[str], text: str, out: Path) -> np.ndarray:
    """``text`` said by a synthesizer command line, trimmed to the speech."""
    subprocess.run(
        [*command, text] if command[0] != "flite" else [*command, "-t", text, "-o", str(out)], check=True
    )
    audio = read_wav(out).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 300)
    return audio[loud[0] : loud[-1] + 1]


@pytest.mark.parametrize(
    ("voice", "step_ms"),
    [
        (["espeak-ng", "-v", "en-us", "-w"], 640),
        (["espeak-ng", "-v", "en-gb+m3", "-w"], 640),
        (["flite", "-voice", "slt"], 640),
        (["espeak-ng", "-v", "en-us", "-w"], 1280),
    ],
    ids=["espeak-us", "espeak-gb-m3", "flite-slt", "espeak-us-1280ms"],
)
def test_a_command_said_in_one_breath_keeps_its_first_words(
    tiny_model: Path, tmp_path: Path, voice: list[str], step_ms: int
) -> None:
    """The custom engine decides a step of frames at a time; the pipeline replays what came after the frame."""
    from dataclasses import replace

    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from edge.config import load_config
    from edge.events import ActionResult, Detection, Transcript
    from edge.runtime.assembly import build_runtime
    from edge.speech.audio import chunk_samples

    command = voice if voice[0] == "flite" else [*voice, str(tmp_path / "said.wav")]
    phrase = _spoken(command, PHRASE, tmp_path / "said.wav")
    words = _spoken(command, "turn on the kitchen light", tmp_path / "said.wav")
    breath = np.zeros(800, dtype=np.float32)  # 50 ms: no pause a wake-then-listen design could wait for
    audio = pad(np.concatenate([phrase, breath, words]).astype(np.int16), np.random.default_rng(0))
    audio = np.concatenate([audio, np.zeros(16000 * 3, dtype=np.int16)])
    config = load_config(SHIPPED_CONFIG, board_override="sim")
    wake = replace(
        config.wake, engine="custom", model=tiny_model, phrases=(PHRASE,), verify=False, step_ms=step_ms
    )
    # The certainty check refuses some synthetic voices' commands; this test is about the replayed first words.
    asr = replace(config.asr, min_certainty=0.0)
    runtime = build_runtime(
        replace(config, wake=wake, asr=asr), pin_factory=MockFactory(pin_class=MockPWMPin)
    )
    try:
        events = [event for chunk in chunk_samples(audio, 30) for event in runtime.pipeline.feed(chunk)]
    finally:
        runtime.close()
    assert any(isinstance(event, Detection) for event in events), events
    texts = [event.text for event in events if isinstance(event, Transcript)]
    assert texts and texts[0].startswith("turn"), texts  # "on the kitchen light" when the start is lost
    assert any(isinstance(event, ActionResult) and event.device == "kitchen_light" for event in events), (
        events
    )


@pytest.mark.parametrize(
    ("step_ms", "message"),
    [(100, "wake.step_ms: 100 must be a multiple of 80 ms"), (2560, "wake.step_ms: 2560 is out of range")],
)
def test_step_ms_is_checked(tiny_model: Path, tmp_path: Path, capsys, step_ms: int, message: str) -> None:
    path = _config_with_wake(tmp_path, {"engine": "custom", "model": str(tiny_model), "step_ms": step_ms})
    assert main(["check-config", "-c", str(path), "--board", "sim"]) == EXIT_CONFIG
    assert message in capsys.readouterr().err


def test_step_ms_sets_how_many_frames_each_call_computes(tiny_model: Path) -> None:
    config = WakeConfig("custom", PHRASE, 0.5, 2000, None, model=tiny_model, step_ms=1280)
    detector = wake_from_config(config)
    assert isinstance(detector, CustomWakeDetector) and detector.step_hops == 16
    detector.close()


def test_whisper_check_borrows_the_command_recognizers_model(tiny_model: Path) -> None:
    from dataclasses import replace

    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from edge.config import load_config
    from edge.runtime.assembly import build_runtime
    from edge.speech.asr.whisper import WhisperRecognizer

    config = load_config(SHIPPED_CONFIG, board_override="sim")
    wake = replace(config.wake, engine="custom", model=tiny_model, phrases=(PHRASE,), verify=True)
    runtime = build_runtime(replace(config, wake=wake), pin_factory=MockFactory(pin_class=MockPWMPin))
    try:
        detector, recognizer = runtime.pipeline.wake, runtime.pipeline.recognizer
        assert isinstance(detector, CustomWakeDetector) and isinstance(recognizer, WhisperRecognizer)
        assert detector.verifier is not None
        assert detector.verifier._whisper().model is recognizer.model  # one copy of Whisper in memory
    finally:
        runtime.close()
