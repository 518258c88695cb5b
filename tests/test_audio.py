"""WAV reading in every common format, resampling quality, chunking and the raw stdin source."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from edge.errors import AudioFormatError
from edge.speech.audio import (
    SAMPLE_RATE_HZ,
    AudioChunk,
    RawSource,
    Resampler,
    WavSource,
    chunk_samples,
    read_wav,
    resample,
)

FIXTURES = Path(__file__).parent / "fixtures"
TONE_HZ = 440.0


def tone(rate_hz: int, seconds: float = 0.5, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate_hz * seconds)) / rate_hz
    return amplitude * np.sin(2 * np.pi * TONE_HZ * t)


def encode(audio: np.ndarray, bits: int, fmt: str) -> bytes:
    """Float -1..1 samples (frames x channels) as little-endian PCM or float bytes."""
    if fmt == "float":
        return audio.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return np.clip(np.round(audio * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    scaled = np.round(audio * (2 ** (bits - 1) - 1)).astype(np.int64)
    if bits == 24:
        as_bytes = (scaled & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
        return as_bytes.tobytes()
    return scaled.astype("<i2" if bits == 16 else "<i4").tobytes()


def wav_bytes(
    audio: np.ndarray, rate_hz: int, *, bits: int = 16, fmt: str = "pcm", extensible: bool = False
) -> bytes:
    """A RIFF/WAVE file written by hand, so the reader is tested against the format, not another reader."""
    frames = audio if audio.ndim == 2 else audio[:, None]
    channels = frames.shape[1]
    data = encode(frames.reshape(-1), bits, fmt)
    code = 3 if fmt == "float" else 1
    block = channels * bits // 8
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt_body = struct.pack(
            "<HHIIHHHHI", 0xFFFE, channels, rate_hz, rate_hz * block, block, bits, 22, bits, 0
        )
        fmt_body += struct.pack("<H", code) + guid_tail
    else:
        fmt_body = struct.pack("<HHIIHH", code, channels, rate_hz, rate_hz * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body
    chunks += b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"  # odd-sized chunk with its pad byte
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def assert_is_tone(samples: np.ndarray, seconds: float = 0.5, amplitude: float = 0.5) -> None:
    assert samples.dtype == np.int16
    assert abs(len(samples) - seconds * SAMPLE_RATE_HZ) <= 1
    expected = tone(SAMPLE_RATE_HZ, seconds, amplitude)[: len(samples)] * 32768
    middle = slice(400, len(samples) - 400)  # the resampler's edges see the silence around the file
    error = np.abs(samples[middle] - expected[middle]).max() / 32768
    assert error < 0.01, f"max error {error:.4f} of full scale"


@pytest.mark.parametrize("rate_hz", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_pcm_of_every_rate_and_width_reads_as_the_same_tone(tmp_path: Path, rate_hz: int, bits: int) -> None:
    path = tmp_path / f"tone_{rate_hz}_{bits}.wav"
    path.write_bytes(wav_bytes(tone(rate_hz), rate_hz, bits=bits))
    samples = read_wav(path)
    if bits == 8:  # 8-bit audio is only good to about 1 %
        assert np.abs(samples[400:-400] / 32768 - tone(SAMPLE_RATE_HZ)[400 : len(samples) - 400]).max() < 0.02
    else:
        assert_is_tone(samples)


@pytest.mark.parametrize("bits", [32, 64])
def test_float_wav_is_read(tmp_path: Path, bits: int) -> None:
    path = tmp_path / "float.wav"
    path.write_bytes(wav_bytes(tone(48000), 48000, bits=bits, fmt="float"))
    assert_is_tone(read_wav(path))


def test_stereo_is_mixed_down(tmp_path: Path) -> None:
    left = tone(44100)
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav_bytes(np.stack([left, np.zeros_like(left)], axis=1), 44100))
    assert_is_tone(read_wav(path), amplitude=0.25)


@pytest.mark.parametrize(("bits", "fmt"), [(16, "pcm"), (24, "pcm"), (32, "float")])
def test_wave_format_extensible_is_read(tmp_path: Path, bits: int, fmt: str) -> None:
    path = tmp_path / "extensible.wav"
    four = np.stack([tone(48000)] * 4, axis=1)
    path.write_bytes(wav_bytes(four, 48000, bits=bits, fmt=fmt, extensible=True))
    assert_is_tone(read_wav(path))


def test_resampled_audio_has_no_aliasing() -> None:
    # A 10 kHz tone cannot exist at 16 kHz; it must be filtered out, not folded back to 6 kHz.
    t = np.arange(48000) / 48000
    out = resample(0.5 * np.sin(2 * np.pi * 10_000 * t), 48000)
    assert np.sqrt(np.mean(out[500:-500] ** 2)) < 1e-3


def test_streaming_resampler_matches_the_whole_signal() -> None:
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, 44100)
    resampler = Resampler(44100, SAMPLE_RATE_HZ)
    pieces = [resampler.process(audio[i : i + 441]) for i in range(0, len(audio), 441)]
    streamed = np.concatenate([*pieces, resampler.flush()])
    np.testing.assert_allclose(streamed, resample(audio, 44100), atol=1e-12)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a WAV file"),
        (b"ID3\x03\x00 this is an mp3", "not a WAV file"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt \x04\x00\x00\x00\x01\x00", "fmt chunk is 2 bytes"),
        (b"RIFF\x04\x00\x00\x00WAVE", "no fmt chunk"),
    ],
)
def test_garbage_is_an_audio_format_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError, match=message) as caught:
        read_wav(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_truncated_data_is_an_audio_format_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    path.write_bytes(wav_bytes(tone(16000), 16000)[:-1000])
    with pytest.raises(AudioFormatError, match="truncated"):
        read_wav(path)


def test_unsupported_encoding_says_what_is_supported(tmp_path: Path) -> None:
    data = bytearray(wav_bytes(tone(16000), 16000))
    data[20:22] = struct.pack("<H", 0x0055)  # MPEG layer 3
    path = tmp_path / "mp3.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioFormatError, match=r"code 0x0055.*PCM 8/16/24/32-bit"):
        read_wav(path)


def test_missing_file_is_a_fatal_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match=r"nothing\.wav: cannot read"):
        read_wav(tmp_path / "nothing.wav")


def test_streaming_header_sizes_are_accepted(tmp_path: Path) -> None:
    data = bytearray(wav_bytes(tone(16000), 16000))
    position = data.index(b"data")
    data[position + 4 : position + 8] = b"\xff\xff\xff\xff"  # what a recorder killed mid-stream leaves
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    assert_is_tone(read_wav(path))


def test_chunks_cover_the_audio_with_timestamps() -> None:
    samples = np.arange(1000, dtype=np.int16)
    chunks = list(chunk_samples(samples, 20, start_ms=100))
    assert [c.timestamp_ms for c in chunks] == [100, 120, 140, 160]
    assert all(len(c.pcm) == 640 for c in chunks)
    joined = np.concatenate([c.samples() for c in chunks])
    assert np.array_equal(joined[:1000], samples) and not joined[1000:].any()
    assert chunks[0].duration_ms == 20.0


def test_wav_source_yields_the_fixture_in_chunks() -> None:
    path = next((FIXTURES / "commands").glob("*.wav"))
    source = WavSource(path, chunk_ms=30)
    chunks = list(source.chunks())
    source.close()
    assert {len(c.pcm) for c in chunks} == {960}
    assert np.array_equal(
        np.concatenate([c.samples() for c in chunks])[: len(source.samples)], source.samples
    )


def test_raw_source_reads_stdin_style_streams() -> None:
    pcm = np.arange(850, dtype="<i2").tobytes() + b"\x01"  # an odd trailing byte is dropped

    class Trickle(io.RawIOBase):
        """A pipe that returns at most 100 bytes per read, as pipes do."""

        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            piece, self.data = self.data[: min(size, 100)], self.data[min(size, 100) :]
            return piece

    chunks = list(RawSource(Trickle(pcm), chunk_ms=10).chunks())  # type: ignore[arg-type]
    assert [c.timestamp_ms for c in chunks] == [0, 10, 20, 30, 40, 50]
    assert b"".join(c.pcm for c in chunks) == pcm[:-1]
    assert isinstance(chunks[0], AudioChunk)
