"""The microphone through the real sounddevice/PortAudio/ALSA path, with a fixture file as the sound card.

ALSA's ``file`` plugin with an ``infile`` serves a raw PCM file as a capture device. Each test writes an
``.asoundrc`` defining that device into a temporary HOME and runs the capture in a subprocess (PortAudio
reads the ALSA configuration once per process). The plugin has no clock: it delivers as fast as it is read,
so the tests that want every sample give the queue room for what the device produces before the first read.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.speech.audio import read_wav, resample, to_int16

from .support import REPO, edge_command, subprocess_env

FIXTURE = REPO / "tests/fixtures/commands/turn_on_the_kitchen_light__flite_kal16__clean.wav"

pytestmark = pytest.mark.skipif(
    not Path("/usr/share/alsa/alsa.conf").exists(),
    reason="needs ALSA's configuration (apt-get install libportaudio2, which brings it)",
)


def fake_sound_card(home: Path, raw: bytes) -> dict[str, str]:
    """A HOME whose .asoundrc defines capture device ``fixture`` reading ``raw``; the env to use it."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "fixture.raw").write_bytes(raw)
    (home / ".asoundrc").write_text(
        textwrap.dedent(
            f"""\
            pcm.fixture {{
                type file
                slave.pcm "null"
                file "/dev/null"
                infile "{home / "fixture.raw"}"
                format "raw"
            }}
            """
        ),
        encoding="utf-8",
    )
    return subprocess_env(HOME=str(home))


CAPTURE = """
import json, sys, threading
import numpy as np
from edge.speech.audio import MicrophoneSource
args = json.loads(sys.argv[1])
source = MicrophoneSource("fixture", **args["settings"])
if args.get("wait_for_drops"):
    # No clock: the device fills the small queue at once; wait until it has had to drop.
    deadline = threading.Event()
    for _ in range(200):
        if source.drops:
            break
        deadline.wait(0.01)
got, stamps = [], []
for chunk in source.chunks():
    got.append(chunk.samples())
    stamps.append([chunk.timestamp_ms, int(chunk.samples()[0])])
    if sum(map(len, got)) >= args["samples"]:
        break
# The reader always takes the oldest queued audio, so a drop before this point means a gap in what it got.
drops_while_reading = source.drops
source.close()
np.save(args["out"], np.concatenate(got)[: args["samples"]])
stats = {"drops": source.drops, "drops_while_reading": drops_while_reading, "stamps": stamps}
print(json.dumps({**stats, "overflows": source.overflows, "rate_hz": source.rate_hz}))
"""


def capture(
    tmp_path: Path, raw: bytes, samples: int, **settings: object
) -> tuple[np.ndarray, dict[str, Any]]:
    env = fake_sound_card(tmp_path / "home", raw)
    wait = settings.pop("wait_for_drops", False)
    out = tmp_path / "captured.npy"
    request = {"settings": settings, "samples": samples, "out": str(out), "wait_for_drops": wait}
    result = subprocess.run(
        [sys.executable, "-c", CAPTURE, json.dumps(request)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return np.load(out), json.loads(result.stdout.strip().splitlines()[-1])


def test_capture_at_16k_mono_is_the_fixture_bit_for_bit(tmp_path: Path) -> None:
    reference = read_wav(FIXTURE)
    got, stats = capture(
        tmp_path,
        reference.tobytes(),
        len(reference),
        sample_rate_hz=16000,
        channels=1,
        chunk_ms=20,
        queue_chunks=40_000,
    )
    assert stats["rate_hz"] == 16000 and stats["drops_while_reading"] == 0
    assert np.array_equal(got, reference)  # nothing lost, reordered or altered on the way


def test_a_48k_stereo_card_is_converted_to_16k_mono(tmp_path: Path) -> None:
    reference = read_wav(FIXTURE)
    at_48k = to_int16(resample(reference / 32768.0, 16000, 48000))
    stereo = np.stack([at_48k, at_48k // 2], axis=1)  # the second channel quieter, as a real array would be
    got, stats = capture(
        tmp_path,
        stereo.tobytes(),
        len(reference),
        sample_rate_hz=48000,
        channels=2,
        chunk_ms=30,
        queue_chunks=40_000,
    )
    assert stats["rate_hz"] == 48000 and stats["drops_while_reading"] == 0
    expected = reference * 0.75  # the mean of the two channels
    correlation = np.corrcoef(got[200:-200], expected[200:-200])[0, 1]
    assert correlation > 0.995
    assert abs(np.std(got) / np.std(expected) - 1) < 0.02


def test_a_full_queue_drops_the_oldest_audio_and_counts_it(tmp_path: Path) -> None:
    ramp = (np.arange(16000 * 20) // 10).astype(np.int16)  # each sample tells where in the stream it was
    got, stats = capture(
        tmp_path,
        ramp.tobytes(),
        320,
        sample_rate_hz=16000,
        channels=1,
        chunk_ms=20,
        queue_chunks=3,
        wait_for_drops=True,
    )
    assert stats["drops"] > 0
    assert got[0] != 0, "the first chunk of the stream should have been dropped, not the newest"
    # Each chunk is stamped with its true place in the stream, gaps included: the ramp says where it was.
    for timestamp_ms, first in stats["stamps"]:
        assert abs(timestamp_ms * 16 - first * 10) < 26, (timestamp_ms, first)


def test_an_unknown_device_is_an_audio_error(tmp_path: Path) -> None:
    env = fake_sound_card(tmp_path / "home", bytes(3200))
    code = "from edge.speech.audio import MicrophoneSource\nMicrophoneSource('no such mic', sample_rate_hz=16000)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "edge.errors.AudioError: microphone 'no such mic'" in result.stderr
    assert "edge audio-devices" in result.stderr


def test_audio_devices_cli_lists_the_card(tmp_path: Path) -> None:
    env = fake_sound_card(tmp_path / "home", bytes(3200))
    result = subprocess.run(
        edge_command("audio-devices", "--json"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names = [row["name"] for row in json.loads(result.stdout)["inputs"]]
    assert "fixture" in names


def test_record_cli_writes_what_the_card_hears(tmp_path: Path) -> None:
    reference = read_wav(FIXTURE)
    env = fake_sound_card(tmp_path / "home", reference.tobytes())
    out = tmp_path / "heard.wav"
    result = subprocess.run(
        edge_command("record", str(out), "--seconds", "1", "--device", "fixture"),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # no edge.yaml here: record works without a config
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with wave.open(str(out), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()) == (
            16000,
            1,
            2,
            16000,
        )
    assert np.array_equal(read_wav(out), reference[:16000])
