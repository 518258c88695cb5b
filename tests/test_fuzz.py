"""Fuzzing the two parsers that read files a person hands us: the config loader and the WAV reader.

Whatever the input, each either succeeds or raises its own one-line error (ConfigError, AudioFormatError);
any other exception is a bug. Examples are few and small so the suite stays fast.
"""

from __future__ import annotations

import copy
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.config import Config, load_config
from edge.errors import AudioFormatError, ConfigError
from edge.speech.audio import read_wav

from .support import SHIPPED_CONFIG

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SHIPPED = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["GPIO12", "GPIO99", "on", "off", "light", "fan", "auto", "micro", "sim", "12", "~"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3)
    ),
    max_leaves=6,
)


def key_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a nested mapping (lists count as leaves)."""
    paths: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, child in node.items():
            paths.append((*prefix, key))
            paths += key_paths(child, (*prefix, key))
    return paths


@st.composite
def mutated_configs(draw: st.DrawFn) -> Any:
    """The shipped config with a few keys deleted, replaced, added or renamed."""
    data = copy.deepcopy(SHIPPED)
    for _ in range(draw(st.integers(1, 4))):
        paths = key_paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        operation = draw(st.sampled_from(["delete", "replace", "add", "rename"]))
        if operation == "delete":
            del parent[path[-1]]
        elif operation == "replace":
            parent[path[-1]] = draw(values)
        elif operation == "add":
            parent[draw(st.text(min_size=1, max_size=8) | st.integers())] = draw(values)
        else:
            parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(path[-1])
    return data if draw(st.integers(0, 9)) else draw(values)  # now and then not even a mapping


def load_or_config_error(path: Path) -> Config | None:
    try:
        return load_config(path, board_override="sim")
    except ConfigError as err:
        assert str(err).startswith(f"{path}: ")
        return None


@FUZZ
@given(data=mutated_configs())
def test_mutated_config_loads_or_raises_config_error(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_or_config_error(path)


@FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 2000),
            st.sampled_from(["flip", "insert", "delete"]),
            st.binary(min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_byte_mangled_config_loads_or_raises_config_error(
    tmp_path: Path, edits: list[tuple[int, str, bytes]]
) -> None:
    text = bytearray(SHIPPED_CONFIG.read_bytes())
    for position, operation, payload in edits:
        at = position % (len(text) + 1)
        if operation == "flip" and at < len(text):
            text[at] ^= payload[0] or 1
        elif operation == "insert":
            text[at:at] = payload
        else:
            del text[at : at + len(payload)]
    path = tmp_path / "edge.yaml"
    path.write_bytes(bytes(text))
    load_or_config_error(path)


def wav_bytes(code: int, bits: int, channels: int, rate_hz: int, frames: int, extensible: bool) -> bytes:
    """A well-formed WAV file of noise in the given format."""
    rng = np.random.default_rng(frames)
    count = frames * channels
    if code == 3:
        pcm = rng.uniform(-1, 1, count).astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        pcm = rng.integers(0, 256, count, dtype=np.uint8).tobytes()
    elif bits == 24:
        pcm = rng.integers(0, 256, count * 3, dtype=np.uint8).tobytes()
    else:
        pcm = rng.integers(
            -(2 ** (bits - 1)), 2 ** (bits - 1), count, dtype="<i4" if bits == 32 else "<i2"
        ).tobytes()
    block = channels * bits // 8
    fmt = struct.pack(
        "<HHIIHH", 0xFFFE if extensible else code, channels, rate_hz, rate_hz * block, block, bits
    )
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", code) + bytes(14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


wav_formats = st.sampled_from([(1, 8), (1, 16), (1, 24), (1, 32), (3, 32), (3, 64)])


def read_or_format_error(path: Path) -> np.ndarray | None:
    try:
        audio = read_wav(path)
    except AudioFormatError as err:
        assert str(path) in str(err)
        return None
    assert audio.dtype == np.int16 and audio.ndim == 1
    return audio


@FUZZ
@given(
    fmt=wav_formats,
    channels=st.integers(1, 3),
    rate_hz=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
    frames=st.integers(0, 600),
    extensible=st.booleans(),
)
def test_well_formed_wav_files_read_as_16k_mono(
    tmp_path: Path, fmt: tuple[int, int], channels: int, rate_hz: int, frames: int, extensible: bool
) -> None:
    path = tmp_path / "clip.wav"
    path.write_bytes(wav_bytes(*fmt, channels, rate_hz, frames, extensible))
    audio = read_or_format_error(path)
    if frames == 0:
        assert audio is None  # "holds no audio"
    else:
        assert audio is not None
        assert abs(len(audio) - frames * 16000 / rate_hz) <= 2


@FUZZ
@given(
    fmt=wav_formats,
    frames=st.integers(1, 300),
    edits=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 200),
)
def test_mutated_wav_headers_read_or_raise_audio_format_error(
    tmp_path: Path, fmt: tuple[int, int], frames: int, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(wav_bytes(*fmt, 1, 16000, frames, extensible=False))
    for position, value in edits:  # the header and the first samples
        if position < len(data):
            data[position] = value
    if cut is not None:
        del data[cut:]
    path = tmp_path / "clip.wav"
    path.write_bytes(bytes(data))
    read_or_format_error(path)


@FUZZ
@given(
    data=st.binary(max_size=200)
    | st.binary(max_size=120).map(lambda tail: b"RIFF\x00\x01\x00\x00WAVE" + tail)
)
def test_random_bytes_read_or_raise_audio_format_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "noise.wav"
    path.write_bytes(data)
    read_or_format_error(path)


def test_a_config_error_for_a_control_character_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_bytes(b"\x00" + SHIPPED_CONFIG.read_bytes())  # found by the byte fuzzer
    with pytest.raises(ConfigError) as caught:
        load_config(path, board_override="sim")
    assert "\n" not in str(caught.value)


def test_the_fuzzers_start_from_valid_inputs(tmp_path: Path) -> None:
    assert load_or_config_error(SHIPPED_CONFIG) is not None
    path = tmp_path / "ok.wav"
    path.write_bytes(wav_bytes(1, 16, 1, 16000, 160, extensible=False))
    audio = read_or_format_error(path)
    assert audio is not None and len(audio) == 160


@pytest.mark.parametrize("rate_hz", [16001, 81537])
def test_odd_sample_rates_decode(tmp_path: Path, rate_hz: int) -> None:
    # Rates with no common factor with 16 kHz are what header mutations produce most often.
    path = tmp_path / "odd.wav"
    path.write_bytes(wav_bytes(1, 16, 1, rate_hz, 100, extensible=False))
    assert read_or_format_error(path) is not None
