"""Spoken replies: text to speech (espeak-ng, or Piper where a voice is installed) on a thread of its own.

The pipeline thread only drops a sentence into a bounded queue. The speaker thread synthesizes it, asks the
pipeline thread (through ``Daemon.submit``) to mute the wake word for as long as the sentence plays plus a
margin, then plays it, so edge never wakes itself and listening never waits for speech.
"""

from __future__ import annotations

import io
import logging
import queue
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.errors import BackendMissingError, EdgeError
from edge.events import Event
from edge.runtime.replies import reply_for
from edge.runtime.settings import VoiceConfig
from edge.speech.audio import AudioChunk, import_sounddevice

log = logging.getLogger(__name__)

QUEUE_SENTENCES = 4  # older replies are dropped: a late answer is worse than none
MUTE_MARGIN_S = 0.7  # room echo, plus chunks captured during playback but processed just after it
Submit = Callable[[Callable[[], list[Event]]], bool]
Player = Callable[[np.ndarray, int], None]


class Synthesizer(Protocol):
    """Text in, (int16 samples, sample rate) out."""

    name: str

    def synthesize(self, text: str) -> tuple[np.ndarray, int]: ...


class EspeakSynthesizer:
    """espeak-ng as a subprocess writing a WAV to stdout; never given anything but the reply text."""

    name = "espeak-ng"

    def __init__(self, voice: str = "en-us", rate_wpm: int = 160, executable: str | None = None) -> None:
        found = executable or shutil.which("espeak-ng")
        if found is None:
            raise BackendMissingError(
                "spoken replies need espeak-ng: sudo apt-get install espeak-ng (or set voice.replies: false)"
            )
        self.executable = found
        self.voice = voice
        self.rate_wpm = rate_wpm

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """Speak ``text`` into memory."""
        # An argv list with "--" before the text: nothing said to edge can become an option or a command.
        argv = [self.executable, "-v", self.voice, "-s", str(self.rate_wpm), "--stdout", "--", text]
        result = subprocess.run(argv, capture_output=True, timeout=20, check=False)
        if result.returncode != 0:
            raise EdgeError(
                f"espeak-ng failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
            )
        return _decode_stream_wav(result.stdout)


class PiperSynthesizer:
    """Piper (piper-tts) with one voice file loaded once."""

    name = "piper"

    def __init__(self, voice_path: Path) -> None:
        try:
            from piper import PiperVoice  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise BackendMissingError(
                "voice.piper_voice is set but Piper is not installed: pip install piper-tts"
            ) from None
        self._voice: Any = PiperVoice.load(str(voice_path))

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """Speak ``text`` into memory."""
        chunks = list(self._voice.synthesize(text))
        if not chunks:
            return np.zeros(0, dtype=np.int16), 16000
        data = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return np.frombuffer(data, dtype=np.int16), int(chunks[0].sample_rate)


def synthesizer_from_config(voice: VoiceConfig) -> Synthesizer:
    """Piper where a voice is configured (engine auto or piper), else espeak-ng."""
    if voice.engine == "piper" or (voice.engine == "auto" and voice.piper_voice is not None):
        assert voice.piper_voice is not None  # read_voice refuses engine piper without a voice
        return PiperSynthesizer(voice.piper_voice)
    return EspeakSynthesizer(voice.espeak_voice, voice.rate_wpm)


def _decode_stream_wav(data: bytes) -> tuple[np.ndarray, int]:
    # espeak-ng streams its WAV, so the header's sizes are placeholders; wave reads what is there.
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise EdgeError("espeak-ng wrote audio that is not 16-bit mono")
        rate = wav.getframerate()
        frames = wav.readframes(len(data))
    return np.frombuffer(frames, dtype=np.int16), rate


def sounddevice_blocking_player() -> Player:
    """Play on the default output and wait for the end, on a stream of its own (feedback sounds use sd.play)."""
    sd = import_sounddevice()

    def play(samples: np.ndarray, rate_hz: int) -> None:
        with sd.OutputStream(samplerate=rate_hz, channels=1, dtype="int16") as stream:
            stream.write(samples.reshape(-1, 1))

    return play


class WakeMute:
    """Wraps the wake detector: while muted (edge is speaking) it still listens but reports no detection.

    Owned by the pipeline thread: ``mute_for`` runs there, handed over through ``Daemon.submit``.
    """

    def __init__(self, wake: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = wake
        self._clock = clock
        self._muted_until_s = 0.0
        self._logged_until_s = 0.0
        self.muted_detections = 0

    def mute_for(self, seconds: float) -> None:
        """Report no detection for the next ``seconds`` (extends, never shortens, a running mute)."""
        self._muted_until_s = max(self._muted_until_s, self._clock() + seconds)

    @property
    def muted(self) -> bool:
        """True while edge is speaking."""
        return self._clock() < self._muted_until_s

    def process(self, chunk: AudioChunk) -> Any:
        """Feed the detector (keeping its streaming state); drop what it finds while muted."""
        detection = self.inner.process(chunk)
        if detection is not None and self.muted:
            self.muted_detections += 1
            if self._logged_until_s != self._muted_until_s:  # once per reply, not once per chunk
                self._logged_until_s = self._muted_until_s
                log.info("wake: %s heard while edge speaks, ignored", getattr(detection, "name", "wake"))
            return None
        return detection

    def reset(self) -> None:
        """Reset the wrapped detector."""
        self.inner.reset()

    def close(self) -> None:
        """Close the wrapped detector."""
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # last_score, threshold and the like belong to the wrapped detector.
        return getattr(self.inner, name)


def request_mute(mute: WakeMute | None, submit: Submit | None, seconds: float) -> None:
    """Ask the pipeline thread (through the daemon's inbox) to mute the wake word while edge plays sound."""
    if mute is None or submit is None:
        return

    def mute_request() -> list[Event]:
        mute.mute_for(seconds)
        return []

    submit(mute_request)


class Speaker:
    """Speaks replies to events on its own thread; ``on_event`` is the (never blocking) daemon sink."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        player: Player,
        mute: WakeMute | None = None,
        submit: Submit | None = None,
    ) -> None:
        self.synthesizer = synthesizer
        self.player = player
        self.mute = mute
        self.submit = submit  # set once the daemon exists
        self.dropped = 0
        self.spoken = 0
        self.failures = 0
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=QUEUE_SENTENCES)
        self._thread = threading.Thread(target=self._run, name="edge-speaker", daemon=True)
        self._thread.start()

    def on_event(self, event: Event) -> None:
        """Queue the reply to ``event`` (pipeline thread); drop the oldest when replies pile up."""
        text = reply_for(event)
        if text is None:
            return
        while True:
            try:
                self._queue.put_nowait(text)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                return
            try:
                self._say(text)
            except Exception as err:  # a missing speaker or a TTS failure must never stop listening
                # Warned once: a Pi with no speaker would otherwise log this after every command.
                level = logging.DEBUG if self.failures else logging.WARNING
                log.log(level, "voice: cannot say %r: %s: %s", text, type(err).__name__, err)
                self.failures += 1

    def _say(self, text: str) -> None:
        samples, rate_hz = self.synthesizer.synthesize(text)
        duration_s = len(samples) / rate_hz if rate_hz else 0.0
        request_mute(self.mute, self.submit, duration_s + MUTE_MARGIN_S)
        log.info("voice: %r (%.1f s, %s)", text, duration_s, self.synthesizer.name)
        self.player(samples, rate_hz)
        self.spoken += 1

    def close(self, timeout_s: float = 5.0) -> None:
        """Finish the sentence being spoken, drop the rest, stop the thread."""
        stop_worker(self._queue, self._thread, timeout_s)


def stop_worker(work: queue.Queue[Any], thread: threading.Thread, timeout_s: float) -> None:
    """Drop what waits in ``work``, then stop its worker after the item in hand (None is the stop sign)."""
    while True:
        try:
            work.get_nowait()
        except queue.Empty:
            break
    work.put(None)
    thread.join(timeout_s)


def speaker_from_config(voice: VoiceConfig, pipeline: Any) -> Speaker | None:
    """A Speaker whose replies mute ``pipeline``'s wake word; None (logged) when there is no sound output."""
    synthesizer = synthesizer_from_config(voice)  # a missing engine is a config problem: it raises
    try:
        player = sounddevice_blocking_player()
    except EdgeError as err:
        log.warning("voice: spoken replies off: %s", err)
        return None
    # The pipeline consults its wake detector only on the pipeline thread; the wrapper's mute window is
    # changed only there too (through Daemon.submit), so nothing is shared between threads.
    mute = WakeMute(pipeline.wake)
    pipeline.wake = mute
    log.info("voice: spoken replies with %s", synthesizer.name)
    return Speaker(synthesizer, player, mute)
