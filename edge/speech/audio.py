"""Audio sources: WAV files, raw PCM on stdin, and the microphone, all as 16 kHz mono int16 chunks.

Every source converts to the one format the pipeline takes (16 kHz, mono, signed 16-bit little-endian) so no
stage ever sees a sample rate. WAV files are parsed here (PCM 8/16/24/32-bit, float 32/64-bit, any channel
count, WAVE_FORMAT_EXTENSIBLE) rather than with the ``wave`` module, which rejects float and extensible files.
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from edge.errors import AudioError, AudioFormatError, BackendMissingError
from edge.speech.resample import Resampler, resample, to_int16

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_STREAMING_SIZES = (0, 0xFFFFFFFF)  # written by recorders that never went back to fix the header
_DROP_LOG_INTERVAL_S = 10.0


@dataclass(frozen=True)
class AudioChunk:
    """A slice of 16 kHz mono int16 audio; ``timestamp_ms`` is audio time since the stream began."""

    pcm: bytes
    timestamp_ms: int

    @property
    def duration_ms(self) -> float:
        """Length of the chunk in milliseconds."""
        return len(self.pcm) / 2 / SAMPLE_RATE_HZ * 1000

    def samples(self) -> np.ndarray:
        """The samples as an int16 array."""
        return np.frombuffer(self.pcm, dtype="<i2")


class AudioSource(Protocol):
    """Anything that yields audio chunks until it ends or fails."""

    def chunks(self) -> Iterator[AudioChunk]: ...
    def close(self) -> None: ...


def chunk_samples(samples: np.ndarray, chunk_ms: int, start_ms: int = 0) -> Iterator[AudioChunk]:
    """Cut int16 samples into chunks of ``chunk_ms``; the last one is padded with silence."""
    size = SAMPLE_RATE_HZ * chunk_ms // 1000
    pcm = np.asarray(samples, dtype="<i2")
    for offset in range(0, len(pcm), size):
        piece = pcm[offset : offset + size]
        if len(piece) < size:
            piece = np.concatenate([piece, np.zeros(size - len(piece), dtype="<i2")])
        yield AudioChunk(piece.tobytes(), start_ms + offset * 1000 // SAMPLE_RATE_HZ)


@dataclass(frozen=True)
class _WavFormat:
    code: int
    channels: int
    rate_hz: int
    bits: int


def read_wav(path: Path | str) -> np.ndarray:
    """Read any common WAV file as 16 kHz mono int16; raise AudioFormatError naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        # A format error, not a plain AudioError: retrying a file that is not there cannot help.
        raise AudioFormatError(f"{path}: cannot read: {err.strerror or err}") from None
    fmt, pcm = _parse_riff(data, str(path))
    if (fmt.code, fmt.bits, fmt.channels, fmt.rate_hz) == (_PCM, 16, 1, SAMPLE_RATE_HZ) and pcm:
        # Already the pipeline's format: no float64 copies (a minute of audio would pass through ~25 MB).
        return np.frombuffer(pcm, dtype="<i2").astype(np.int16)
    audio = _decode(pcm, fmt, str(path))
    if fmt.rate_hz != SAMPLE_RATE_HZ:
        audio = resample(audio, fmt.rate_hz)
    return to_int16(audio)


def _parse_riff(data: bytes, name: str) -> tuple[_WavFormat, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    fmt: _WavFormat | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(data[body : body + size], name)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError(f"{name}: malformed WAV: data chunk before the fmt chunk")
            if size in _STREAMING_SIZES:
                size = len(data) - body
            elif body + size > len(data):
                raise AudioFormatError(
                    f"{name}: truncated WAV: data chunk declares {size} bytes, file has {len(data) - body}"
                )
            frame = fmt.channels * fmt.bits // 8
            return fmt, data[body : body + size - size % frame]
        offset = body + size + (size & 1)  # chunks are padded to an even length
    raise AudioFormatError(f"{name}: malformed WAV: no {'data' if fmt else 'fmt'} chunk")


def _parse_fmt(body: bytes, name: str) -> _WavFormat:
    if len(body) < 16:
        raise AudioFormatError(f"{name}: malformed WAV: fmt chunk is {len(body)} bytes, need 16")
    code, channels, rate_hz, _, _, bits = struct.unpack_from("<HHIIHH", body)
    if code == _EXTENSIBLE:
        if len(body) < 40:
            raise AudioFormatError(f"{name}: malformed WAV: short WAVE_FORMAT_EXTENSIBLE header")
        code = struct.unpack_from("<H", body, 24)[0]  # the sub-format GUID starts with the format code
    fmt = _WavFormat(code, channels, rate_hz, bits)
    supported = (code == _PCM and bits in (8, 16, 24, 32)) or (code == _FLOAT and bits in (32, 64))
    if not supported or channels < 1 or not 1000 <= rate_hz <= 768_000:
        raise AudioFormatError(
            f"{name}: unsupported WAV format (code 0x{code:04x}, {bits}-bit, {channels} channels, {rate_hz} Hz); "
            "edge reads PCM 8/16/24/32-bit and float 32/64-bit"
        )
    return fmt


def _decode(pcm: bytes, fmt: _WavFormat, name: str) -> np.ndarray:
    if fmt.code == _FLOAT:
        audio = np.frombuffer(pcm, dtype="<f4" if fmt.bits == 32 else "<f8").astype(np.float64)
        audio = np.nan_to_num(audio)
    elif fmt.bits == 8:
        audio = (np.frombuffer(pcm, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif fmt.bits == 24:
        raw = np.frombuffer(pcm, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        audio = (np.where(value >= 1 << 23, value - (1 << 24), value)).astype(np.float64) / float(1 << 23)
    else:
        dtype = "<i2" if fmt.bits == 16 else "<i4"
        audio = np.frombuffer(pcm, dtype=dtype).astype(np.float64) / float(1 << (fmt.bits - 1))
    if len(audio) == 0:
        raise AudioFormatError(f"{name}: WAV file holds no audio")
    return audio.reshape(-1, fmt.channels).mean(axis=1)


class WavSource:
    """A WAV file as chunks, as fast as possible or paced like a microphone (``realtime``)."""

    def __init__(self, path: Path | str, *, chunk_ms: int = 30, realtime: bool = False) -> None:
        self.path = Path(path)
        self.chunk_ms = chunk_ms
        self.realtime = realtime
        self.samples = read_wav(self.path)  # fail at once on a bad file, not half-way through a replay

    def chunks(self) -> Iterator[AudioChunk]:
        """Yield the file's chunks."""
        started = time.monotonic()
        for chunk in chunk_samples(self.samples, self.chunk_ms):
            if self.realtime:
                delay = started + chunk.timestamp_ms / 1000 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield chunk

    def close(self) -> None:
        """Nothing to release: the file was read whole."""


class RawSource:
    """Raw signed 16-bit little-endian 16 kHz mono PCM from a byte stream, e.g. ``arecord ... | edge run -``."""

    def __init__(self, stream: BinaryIO, *, chunk_ms: int = 30) -> None:
        self.stream = stream
        self.chunk_bytes = 2 * SAMPLE_RATE_HZ * chunk_ms // 1000

    def chunks(self) -> Iterator[AudioChunk]:
        """Yield chunks until the stream ends; a final partial chunk is kept (an odd last byte is not)."""
        position = 0
        while True:
            data = _read_exactly(self.stream, self.chunk_bytes)
            data = data[: len(data) - len(data) % 2]
            if not data:
                return
            yield AudioChunk(data, position * 1000 // SAMPLE_RATE_HZ)
            position += len(data) // 2

    def close(self) -> None:
        """Leave the stream open: it belongs to the caller (usually stdin)."""


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        data = stream.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


def import_sounddevice() -> Any:
    """Import sounddevice, or say what to install."""
    try:
        import sounddevice
    except ImportError:
        raise BackendMissingError("the microphone needs sounddevice: pip install sounddevice") from None
    except OSError as err:  # sounddevice raises OSError when the PortAudio library is missing
        raise BackendMissingError(
            f"the microphone needs PortAudio ({err}): sudo apt-get install libportaudio2"
        ) from None
    return sounddevice


class MicrophoneSource:
    """A sound card input through sounddevice/PortAudio, converted to 16 kHz mono.

    sounddevice's callback runs on PortAudio's thread and only copies the block, with its place in the
    stream, into a bounded queue. The pipeline falls behind while a slow board decodes a command and catches
    up while it listens, so the queue holds seconds. When it is full anyway the oldest block is dropped
    (counted in ``drops``) so the pipeline hears the present, and the chunks after a gap are stamped with
    their true stream time: the pipeline sees the gap and never joins audio from either side into one
    command. A recorder that wants the first seconds intact passes ``keep_oldest=True`` and the newest
    block is dropped instead. Everything else (downmix, resampling, logging) happens on the reading thread.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        sample_rate_hz: int | None = None,
        channels: int = 1,
        chunk_ms: int = 30,
        queue_chunks: int = 750,
        stall_timeout_s: float = 2.0,
        keep_oldest: bool = False,
    ) -> None:
        self._sd = import_sounddevice()
        self.keep_oldest = keep_oldest
        self.chunk_ms = chunk_ms
        self.stall_timeout_s = stall_timeout_s
        self.drops = 0
        self.overflows = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=queue_chunks)
        self._frames_in = 0  # device frames delivered by the callback: where the next block starts
        self._closing = False
        self.device, self.rate_hz, self.channels = self._choose_settings(device, sample_rate_hz, channels)
        self._resampler = Resampler(self.rate_hz, SAMPLE_RATE_HZ)
        try:
            self._stream = self._sd.RawInputStream(
                device=self.device,
                samplerate=self.rate_hz,
                channels=self.channels,
                dtype="int16",
                blocksize=self.rate_hz * chunk_ms // 1000,
                callback=self._callback,
                finished_callback=self._finished,
            )
            self._stream.start()
        except self._sd.PortAudioError as err:
            raise AudioError(f"microphone {self.device!r}: cannot open: {err}") from None
        log.info("audio: microphone %r at %d Hz, %d channel(s)", self.device, self.rate_hz, self.channels)

    def _choose_settings(
        self, device: str | int | None, rate_hz: int | None, channels: int
    ) -> tuple[str | int | None, int, int]:
        sd = self._sd
        try:
            info = sd.query_devices(device, "input")
        except (ValueError, sd.PortAudioError) as err:
            if device is None:
                raise AudioError(
                    "no microphone: the system has no default input device (plug one in, or set audio.device; "
                    "see `edge audio-devices`)"
                ) from None
            raise AudioError(f"microphone {device!r}: {err} (see `edge audio-devices`)") from None
        index = info["index"]
        channels = min(channels, int(info["max_input_channels"])) or 1
        candidates = [rate_hz] if rate_hz else [SAMPLE_RATE_HZ, int(info["default_samplerate"]), 48000, 44100]
        for candidate in candidates:
            try:
                sd.check_input_settings(device=index, samplerate=candidate, channels=channels, dtype="int16")
                return index, int(candidate), channels
            except (ValueError, sd.PortAudioError) as err:
                last_error = err
        raise AudioError(f"microphone {info['name']!r}: no usable sample rate in {candidates}: {last_error}")

    def _callback(self, indata: Any, _frames: int, _time: Any, status: Any) -> None:
        # PortAudio's thread: copy and hand over, nothing slow, no logging.
        if status.input_overflow:
            with self._lock:
                self.overflows += 1
        block = bytes(indata)
        start, self._frames_in = self._frames_in, self._frames_in + len(block) // (2 * self.channels)
        self._put((start, block))

    def _finished(self) -> None:
        self._put(None)  # wakes the reader when the device vanishes

    def _put(self, item: tuple[int, bytes] | None) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                if self.keep_oldest and item is not None:
                    with self._lock:
                        self.drops += 1
                    return
                try:
                    self._queue.get_nowait()
                    with self._lock:
                        self.drops += 1
                except queue.Empty:
                    pass

    def chunks(self) -> Iterator[AudioChunk]:
        """Yield 16 kHz mono chunks until closed; raise AudioError when the device stops delivering."""
        size = SAMPLE_RATE_HZ * self.chunk_ms // 1000
        pending = np.zeros(0, dtype=np.int16)
        emitted = 0  # 16 kHz samples of stream time before ``pending``
        expected = 0  # the device frame the next block should start at
        reported, last_report = (0, 0), 0.0
        while not self._closing:
            runs = self._take_blocks()
            if runs is None:
                if self._closing:
                    return
                raise AudioError(f"microphone {self.device!r}: the input stream stopped (device unplugged?)")
            for start, frames, pcm in runs:
                if start != expected:
                    # Blocks were dropped: skip their time (and the part-chunk before them), stamps stay true.
                    emitted += len(pending) + (start - expected) * SAMPLE_RATE_HZ // self.rate_hz
                    pending = pending[:0]
                expected = start + frames
                pending = np.concatenate([pending, self._convert(pcm)])
                while len(pending) >= size:
                    yield AudioChunk(pending[:size].tobytes(), emitted * 1000 // SAMPLE_RATE_HZ)
                    pending, emitted = pending[size:], emitted + size
            now = time.monotonic()
            with self._lock:
                counts = (self.drops, self.overflows)
            if counts != reported and now - last_report >= _DROP_LOG_INTERVAL_S:
                log.warning("audio: %d chunks dropped, %d input overflows so far", *counts)
                reported, last_report = counts, now

    def _take_blocks(self) -> list[tuple[int, int, bytes]] | None:
        """Wait for one block, then take whatever else is queued: after a stall, one conversion catches up.

        Returns runs of contiguous blocks as (first frame, frames, PCM); None means the stream has ended.
        """
        try:
            item = self._queue.get(timeout=self.stall_timeout_s)
        except queue.Empty:
            raise AudioError(
                f"microphone {self.device!r}: no audio for {self.stall_timeout_s:.0f} s"
            ) from None
        runs: list[tuple[int, int, bytes]] = []
        taken = 0
        while item is not None:
            start, block = item
            frames = len(block) // (2 * self.channels)
            if runs and runs[-1][0] + runs[-1][1] == start:
                first, count, pcm = runs[-1]
                runs[-1] = (first, count + frames, pcm + block)
            else:
                runs.append((start, frames, block))
            taken += 1
            if taken == 64:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return None if item is None else runs

    def _convert(self, block: bytes) -> np.ndarray:
        audio = np.frombuffer(block, dtype="<i2")
        if self.channels > 1:
            audio = audio.reshape(-1, self.channels).mean(axis=1)
        if self.rate_hz == SAMPLE_RATE_HZ:
            return audio.astype(np.int16)
        return to_int16(self._resampler.process(audio / 32768.0))

    def close(self) -> None:
        """Stop and release the stream."""
        self._closing = True
        try:
            self._stream.abort()
            self._stream.close()
        except self._sd.PortAudioError as err:
            log.debug("audio: closing the microphone: %s", err)
        self._put(None)
