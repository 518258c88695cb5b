"""A Home Assistant stand-in for the Wyoming tests: the wyoming library's own client over real TCP.

Home Assistant's Wyoming integration is a client of edge's server: it connects, sends run-satellite, asks
for info, pings, and answers a satellite's run-pipeline with audio. ``Peer`` does the same with
``wyoming.client.AsyncTcpClient`` and the library's event classes; edge's side is the real server, pipeline,
gpiozero mock pins and daemon.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from gpiozero.pins.mock import MockFactory
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong

from edge.config import Config, load_config
from edge.events import Event as EdgeEvent
from edge.integrations.wyoming.bridge import WyomingBridge
from edge.runtime.assembly import Runtime, build_runtime
from edge.runtime.daemon import Daemon
from edge.speech.audio import AudioChunk, WavSource

from .support import SHIPPED_CONFIG

TIMEOUT_S = 30.0  # every wait on the peer is bounded by this


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wyoming_config(tmp_path: Path, extra_yaml: str = "", **settings: object) -> Config:
    """The shipped edge.yaml (sim board), ``extra_yaml``, and a wyoming: section on a free localhost port."""
    lines = [f"  listen: 127.0.0.1:{free_port()}"] + [
        f"  {key}: {str(value).lower() if isinstance(value, bool) else value}"
        for key, value in settings.items()
    ]
    path = tmp_path / "edge.yaml"
    shipped = SHIPPED_CONFIG.read_text(encoding="utf-8")
    path.write_text(shipped + extra_yaml + "\nwyoming:\n" + "\n".join(lines) + "\n")
    config = load_config(path, board_override="sim")
    # The fixtures' wake words are synthetic voices, which Whisper's wake check often refuses (as
    # test_end_to_end says); these tests are about what happens after a wake, so the detector alone decides.
    return replace(config, wake=replace(config.wake, verify=False))


@dataclass
class Speaker:
    """edge's speaker sink: what the playback thread hands to the sound card, kept for the test."""

    clips: list[tuple[np.ndarray, int]] = field(default_factory=list)
    played: threading.Event = field(default_factory=threading.Event)

    def __call__(self, samples: np.ndarray, rate_hz: int) -> None:
        self.clips.append((samples.copy(), rate_hz))
        self.played.set()


@dataclass
class Edge:
    """The runtime, the Wyoming bridge around its pipeline, and what the daemon published."""

    runtime: Runtime
    bridge: WyomingBridge
    speaker: Speaker
    events: list[EdgeEvent] = field(default_factory=list)
    audio_end_ms: int = (
        0  # where the last file ended: the next one carries on from there, as a microphone would
    )
    _daemon: Daemon | None = None

    @property
    def port(self) -> int:
        return self.bridge.server.port

    def daemon_for(self, wav: Path) -> Daemon:
        """A daemon over ``wav`` (as fast as it decodes) whose inbox the bridge uses; not started."""
        sinks: tuple[Callable[[EdgeEvent], None], ...] = (
            self.runtime.publish,
            *self.bridge.sinks,
            self.events.append,
        )
        self._daemon = Daemon(
            lambda: LaterSource(WavSource(wav, chunk_ms=self.runtime.config.audio.chunk_ms), self),
            self.runtime.pipeline,
            self.runtime.bank,
            sinks=sinks,
            taps=self.bridge.taps,
            stop_when_source_ends=True,
        )
        return self._daemon

    def submit(self, request: Callable[[], list[EdgeEvent]]) -> bool:
        """The bridge's way into the pipeline thread: the current daemon's inbox."""
        assert self._daemon is not None
        return self._daemon.submit(request)

    def run_daemon(self) -> None:
        """Run the current daemon to its file's end on a thread of its own, joined with a timeout."""
        assert self._daemon is not None
        thread = threading.Thread(target=self._daemon.run, daemon=True)
        thread.start()
        thread.join(TIMEOUT_S)
        assert not thread.is_alive(), "the daemon did not finish the file"

    def close(self) -> None:
        self.bridge.close()
        self.runtime.close()


class LaterSource:
    """A file whose audio time carries on from the previous file's (the pipeline's refractory time is audio time)."""

    def __init__(self, source: WavSource, edge: Edge) -> None:
        self.source = source
        self.edge = edge

    def chunks(self) -> Iterator[AudioChunk]:
        # Later than the refractory time after the last command, as a person speaking again would be.
        start_ms = self.edge.audio_end_ms + self.edge.runtime.config.wake.refractory_ms
        for chunk in self.source.chunks():
            moved = AudioChunk(chunk.pcm, chunk.timestamp_ms + start_ms)
            self.edge.audio_end_ms = moved.timestamp_ms + round(moved.duration_ms)
            yield moved

    def close(self) -> None:
        self.source.close()


def start_edge(config: Config, factory: MockFactory, first_wav: Path) -> Edge:
    """Build edge with the Wyoming server on, listening, with a daemon ready for ``first_wav``."""
    runtime = build_runtime(config, pin_factory=factory)
    speaker = Speaker()
    bridge = WyomingBridge.from_config(config, runtime.pipeline, player=speaker)
    edge = Edge(runtime, bridge, speaker)
    edge.daemon_for(first_wav)
    bridge.start(edge.submit)
    return edge


class Peer:
    """Home Assistant's side of one connection, on an asyncio loop of the test's thread."""

    def __init__(self, port: int) -> None:
        self.client = AsyncTcpClient("127.0.0.1", port)
        self.received: list[Event] = []

    async def __aenter__(self) -> Peer:
        await asyncio.wait_for(self.client.connect(), TIMEOUT_S)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.client.disconnect()

    async def send(self, event: Event) -> None:
        await asyncio.wait_for(self.client.write_event(event), TIMEOUT_S)

    async def read(self) -> Event | None:
        """The next event (None when edge closed the connection), bounded by TIMEOUT_S."""
        event = await asyncio.wait_for(self.client.read_event(), TIMEOUT_S)
        if event is not None:
            self.received.append(event)
        return event

    async def read_until(self, event_type: str) -> list[Event]:
        """Every event up to and including the first of ``event_type``."""
        seen: list[Event] = []
        while True:
            event = await self.read()
            assert event is not None, f"edge closed the connection before {event_type}; got {seen}"
            seen.append(event)
            if event.type == event_type:
                return seen

    async def describe(self) -> Info:
        await self.send(Describe().event())
        return Info.from_event((await self.read_until("info"))[-1])

    async def round_trip(self) -> list[Event]:
        """Ping and wait for the pong: everything edge wrote before it has arrived (returned)."""
        await self.send(Ping(text="sync").event())
        seen = await self.read_until("pong")
        assert Pong.from_event(seen[-1]).text == "sync"
        return seen[:-1]


async def detect(port: int, samples: np.ndarray, names: list[str]) -> Event:
    """Home Assistant's wake word entity: detect, the audio, then edge's detection or not-detected."""
    from wyoming.audio import AudioChunk as WyChunk
    from wyoming.audio import AudioStart, AudioStop
    from wyoming.wake import Detect

    async with Peer(port) as peer:
        await peer.send(Detect(names=names).event())
        await peer.send(AudioStart(rate=16000, width=2, channels=1).event())
        pcm = samples.astype("<i2").tobytes()
        for offset in range(0, len(pcm), 2048):
            await peer.send(
                WyChunk(rate=16000, width=2, channels=1, audio=pcm[offset : offset + 2048]).event()
            )
        await peer.send(AudioStop().event())
        while True:
            answer = await peer.read()
            assert answer is not None, "edge closed the connection"
            if answer.type in ("detection", "not-detected"):
                return answer


def wait_until(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    """Poll a condition another thread makes true (a closed connection), bounded by ``timeout_s``."""
    step = threading.Event()
    waited = 0.0
    while not condition():
        assert waited < timeout_s, "condition not met in time"
        step.wait(0.01)
        waited += 0.01
