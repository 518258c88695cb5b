"""The Wyoming integration attached to ``edge run``: satellite, services and server, built from the config.

It hangs off the daemon's seams only: the pipeline's command handler is wrapped (local first, see
handover.py), a sink and a tap record the command in progress, and ``Daemon.submit`` carries every change
back to the pipeline thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from edge.config import Config
from edge.errors import EdgeError
from edge.events import Event
from edge.integrations.wyoming.handover import HandOver
from edge.integrations.wyoming.info import build_info, wake_words_of
from edge.integrations.wyoming.playback import Playback
from edge.integrations.wyoming.satellite import Satellite
from edge.integrations.wyoming.server import WyomingServer
from edge.integrations.wyoming.services import Engines
from edge.runtime.daemon import ChunkTap, Request
from edge.runtime.speaker import Player, WakeMute, sounddevice_blocking_player, synthesizer_from_config
from edge.speech.wake.engines import wake_from_config

log = logging.getLogger(__name__)


class WyomingBridge:
    """Everything ``wyoming:`` turns on; ``start`` once the daemon exists, ``close`` after it stops."""

    def __init__(self, server: WyomingServer, playback: Playback, satellite: Satellite | None) -> None:
        self.server = server
        self.playback = playback
        self.satellite = satellite

    @classmethod
    def from_config(cls, config: Config, pipeline: Any, *, player: Player | None = None) -> WyomingBridge:
        """Build from ``config.wyoming`` around ``pipeline`` (its handler and wake are wrapped, not replaced).

        ``player`` is the speaker (sounddevice by default; tests pass their own sink).
        """
        settings = config.wyoming
        if settings is None:
            raise EdgeError("wyoming: the config has no wyoming section")
        mute = pipeline.wake if isinstance(pipeline.wake, WakeMute) else WakeMute(pipeline.wake)
        pipeline.wake = mute
        # With spoken replies on, a finished timer is said in edge's voice; without, it rings.
        voice = synthesizer_from_config(config.voice) if config.voice.replies else None
        playback = Playback(player if player is not None else _default_player(), mute, voice)
        satellite: Satellite | None = None
        if settings.satellite:
            satellite = Satellite(playback, timeout_s=settings.handover_timeout_s)
            recognizer = pipeline.recognizer
            handover = HandOver(
                pipeline.handler, satellite.offer, lambda: getattr(recognizer, "last_heard", "")
            )
            pipeline.handler = handover
            satellite.handover = handover
        engines = Engines(
            ThreadPoolExecutor(1, thread_name_prefix="edge-wyoming-engine"),
            new_wake=_wake_factory(config) if settings.wake_service else None,
            transcribe=_transcriber(config, pipeline.recognizer) if settings.asr_service else None,
        )
        info = build_info(
            settings,
            wake_words_of(mute.inner),
            wake=engines.new_wake is not None,
            asr=engines.transcribe is not None,
        )
        return cls(WyomingServer(settings, info, satellite=satellite, engines=engines), playback, satellite)

    @property
    def sinks(self) -> list[Callable[[Event], None]]:
        """Daemon sinks: the recorder learns where a command starts and ends."""
        return [self.satellite.recorder.on_event] if self.satellite is not None else []

    @property
    def taps(self) -> tuple[ChunkTap, ...]:
        """Daemon taps: the recorder keeps the command's audio."""
        return (self.satellite.recorder.on_chunk,) if self.satellite is not None else ()

    def start(self, submit: Callable[[Request], bool]) -> None:
        """Hand over the daemon's inbox and start listening (EdgeError when the address cannot be bound)."""
        self.playback.submit = submit
        if self.satellite is not None:
            self.satellite.submit = submit
        self.server.start()

    def close(self) -> None:
        """Stop the server, then the speaker thread."""
        try:
            self.server.close()
        finally:
            self.playback.close()


def _default_player() -> Player | None:
    try:
        return sounddevice_blocking_player()
    except EdgeError as err:
        log.warning("wyoming: no sound output, Home Assistant's answers will not be heard: %s", err)
        return None


def _wake_factory(config: Config) -> Callable[[], Any]:
    """A fresh detector per service connection: each keeps its own streaming state."""
    return lambda: wake_from_config(config.wake, source=str(config.source))


def _transcriber(config: Config, recognizer: Any) -> Callable[[bytes], str] | None:
    """Whisper for Home Assistant: the command recognizer's model, without its command-word check."""
    from edge.speech.asr.whisper import WhisperRecognizer, whisper_recognizer

    try:
        if isinstance(recognizer, WhisperRecognizer):
            # CTranslate2 queues concurrent calls on one model, so sharing it costs no second 70 MB copy.
            whisper = WhisperRecognizer(recognizer.model_dir, shared_model=recognizer.model)
        else:
            whisper, _ = whisper_recognizer(
                config.asr.whisper_model, source=f"{config.source}: asr.whisper_model"
            )
    except EdgeError as err:
        log.warning("wyoming: speech-to-text service off: %s", err)
        return None
    return whisper.transcribe
