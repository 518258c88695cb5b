"""Wyoming satellite costs: local commands with the satellite off and on, a handover's added time, listening CPU.

    python -m bench.wyoming_satellite [--quick]      # prints one JSON object

Everything is the real thing: edge's pipeline and Wyoming server (its own thread), and a Home Assistant
stand-in built from the wyoming library's AsyncTcpClient over TCP on localhost, on a thread of its own that
runs the satellite (run-satellite), pings every 2 s as Home Assistant does, and answers every handover with
an audio clip at once. Clips are paced in real time as a microphone delivers them.

- ``local``: end-of-speech to GPIO latency of the command fixtures, satellite off and on (connected),
  interleaved clip by clip so machine load hits both alike. Same measure as bench/latency.py.
- ``handover``: edge's share of a handed-over request: the offer on the pipeline thread, the offer to the last byte
  of the command's audio on the socket, and Home Assistant's last answer byte to edge's speaker starting.
  Home Assistant's own speech-to-text, intent and text-to-speech are not edge's and are not timed.
- ``listening``: process CPU per second of audio with no wake word, satellite off and on; the stand-in's
  thread CPU is subtracted (it is Home Assistant's, on another machine in real life).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from wyoming.audio import AudioChunk as WyChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.ping import Ping
from wyoming.satellite import RunSatellite

from bench.fixtures import REPO, TRAILING_SILENCE_MS, ClipPlayer, load_clips
from bench.latency import _percentiles
from edge.config import Config, load_config
from edge.events import ActionResult, Event, HandedOver
from edge.integrations.wyoming.bridge import WyomingBridge
from edge.integrations.wyoming.handover import HandOver
from edge.runtime.assembly import build_runtime
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk, read_wav

HANDOVER_CLIPS = sorted((REPO / "tests" / "fixtures" / "handover").glob("*.wav"))
ANSWER = REPO / "tests" / "fixtures" / "ko_annyeong.wav"
NEGATIVE = [clip for clip in load_clips() if not clip.wake]


class StandIn:
    """Home Assistant's side on its own thread and loop: runs the satellite, pings, answers each handover."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answer = read_wav(ANSWER)
        self.answer_sent_s: list[float] = []
        self.handovers = 0
        self.audio_s: list[float] = []  # the command audio of each handover, in seconds
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: AsyncTcpClient | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def cpu_s(self) -> float:
        """This thread's CPU time so far."""
        return time.clock_gettime(time.pthread_getcpuclockid(self.thread.ident or 0))

    async def _run(self) -> None:
        client = AsyncTcpClient("127.0.0.1", self.port)
        await client.connect()
        await client.write_event(RunSatellite().event())
        pinger = asyncio.create_task(self._ping(client))
        self.ready.set()
        self._loop, self._client = asyncio.get_running_loop(), client
        received = 0
        try:
            while True:
                # Never cancelled mid-event (that would lose bytes): stop() closes the connection instead.
                event = await client.read_event()
                if event is None:
                    return
                if event.type == "audio-start":
                    received = 0
                elif event.type == "audio-chunk":
                    received += len(event.payload or b"")
                elif event.type == "audio-stop":
                    self.handovers += 1
                    self.audio_s.append(received / (2 * SAMPLE_RATE_HZ))
                    await self._reply(client)
        finally:
            pinger.cancel()
            await client.disconnect()

    async def _ping(self, client: AsyncTcpClient) -> None:
        while True:
            await asyncio.sleep(2.0)  # Home Assistant's own ping interval
            await client.write_event(Ping().event())

    async def _reply(self, client: AsyncTcpClient) -> None:
        await client.write_event(AudioStart(rate=SAMPLE_RATE_HZ, width=2, channels=1).event())
        pcm = self.answer.astype("<i2").tobytes()
        for offset in range(0, len(pcm), 2048):
            chunk = WyChunk(rate=SAMPLE_RATE_HZ, width=2, channels=1, audio=pcm[offset : offset + 2048])
            await client.write_event(chunk.event())
        await client.write_event(AudioStop().event())
        self.answer_sent_s.append(time.perf_counter())

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("the stand-in could not connect")

    def stop(self) -> None:
        if self._loop is not None and self._client is not None:
            client = self._client
            self._loop.call_soon_threadsafe(
                lambda: self._loop and self._loop.create_task(client.disconnect())
            )
        self.thread.join(10)


class Rig:
    """One runtime with the Wyoming bridge; ``satellite(on)`` switches the handler and hooks as edge run does."""

    def __init__(self, config: Config) -> None:
        self.runtime = build_runtime(config, mock_gpio=True, sounds=False)
        self.played_s: list[float] = []
        self.bridge = WyomingBridge.from_config(config, self.runtime.pipeline, player=self._play)
        handler = self.runtime.pipeline.handler
        assert isinstance(handler, HandOver)
        self.handover = handler
        self.inbox: queue.Queue[Callable[[], list[Event]]] = queue.Queue()
        self.offer_ms: list[float] = []
        offer = handler.offer

        def timed_offer(event: HandedOver) -> bool:
            began = time.perf_counter()
            try:
                return offer(event)
            finally:
                self.offer_ms.append((time.perf_counter() - began) * 1000)

        handler.offer = timed_offer
        self.bridge.start(self._submit)
        self.player = ClipPlayer(self.runtime)
        self.on = True

    def _play(self, _samples: np.ndarray, _rate_hz: int) -> None:
        self.played_s.append(time.perf_counter())

    def _submit(self, request: Callable[[], list[Event]]) -> bool:
        self.inbox.put(request)
        return True

    def satellite(self, on: bool) -> None:
        """On: the HandOver handler, the recorder's sink and tap; off: edge's own handler, no hooks."""
        self.on = on
        self.runtime.pipeline.handler = self.handover if on else self.handover.inner

    def feed(self, chunk: AudioChunk) -> list[Event]:
        """One daemon step: the pipeline, then sinks and taps, then requests from other threads."""
        events = self.runtime.pipeline.feed(chunk)
        if self.on:
            for event in events:
                for sink in self.bridge.sinks:
                    sink(event)
            for tap in self.bridge.taps:
                tap(chunk)
        while not self.inbox.empty():
            self.inbox.get_nowait()()
        return events

    def paced(self, samples: np.ndarray, until: Callable[[Event], bool]) -> Iterator[tuple[float, Event]]:
        """Feed a clip in real time; yield (wall time, event); stop pacing once ``until`` is met."""
        self.runtime.pipeline.reset()
        self.runtime.bank.to_safe_state()
        start_ms, started, done = self.player.stream_ms, time.perf_counter(), False
        for chunk in self.player.chunks(samples):
            if not done:
                due = started + (chunk.timestamp_ms - start_ms + chunk.duration_ms) / 1000
                time.sleep(max(0.0, due - time.perf_counter()))
            for event in self.feed(chunk):
                done = done or until(event)
                yield time.perf_counter(), event

    def settle(self, timeout_s: float = 15.0) -> None:
        """Wait until Home Assistant's answer has played and the wake word is no longer muted for it.

        A real answer mutes the wake word while it plays (so edge does not wake itself); the next clip must
        not start inside that window, or its wake word would be ignored and the clip counted as missed.
        """
        deadline = time.perf_counter() + timeout_s
        satellite = self.bridge.satellite
        while time.perf_counter() < deadline:
            while not self.inbox.empty():
                self.inbox.get_nowait()()
            waiting = satellite is not None and satellite.sent > len(self.played_s)
            if not waiting and not getattr(self.runtime.pipeline.wake, "muted", False):
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.bridge.close()
        self.runtime.close()


def local_latency(rig: Rig, quick: bool) -> dict[str, Any]:
    clips = [
        c for c in load_clips() if c.wake and c.intent and c.intent not in ("status_query", "stop_cancel")
    ]
    clips = clips[::6] if quick else clips
    totals: dict[str, list[float]] = {"off": [], "on": []}
    missed = {"off": 0, "on": 0}
    misses: list[str] = []
    for clip in clips:
        samples = read_wav(clip.path)
        speech_end_s = len(samples) / SAMPLE_RATE_HZ - TRAILING_SILENCE_MS / 1000
        for mode in ("off", "on") if len(totals["off"]) % 2 == 0 else ("on", "off"):
            rig.satellite(mode == "on")
            started = time.perf_counter()
            acted = [wall for wall, e in rig.paced(samples, lambda e: isinstance(e, ActionResult))
                     if isinstance(e, ActionResult)]  # fmt: skip
            rig.settle()
            if acted:
                totals[mode].append((acted[0] - started - speech_end_s) * 1000)
            else:
                missed[mode] += 1
                misses.append(f"{mode}: {clip.path.name}")
    rig.satellite(True)
    return {
        "clips": len(clips),
        "off_ms": _percentiles(totals["off"]),
        "on_ms": _percentiles(totals["on"]),
        "on_minus_off_p50_ms": round(float(np.median(totals["on"]) - np.median(totals["off"])), 1),
        "missed": missed,
        "missed_clips": misses,
        "handed_over_during_local": rig.handover.handed_over,
    }


def handover_share(rig: Rig, stand_in: StandIn, quick: bool) -> dict[str, Any]:
    rig.satellite(True)
    heard: list[str] = []
    clips = HANDOVER_CLIPS if quick else HANDOVER_CLIPS * 5
    sent_before = rig.bridge.satellite.sent if rig.bridge.satellite else 0
    for clip in clips:
        samples = read_wav(clip)
        for _wall, event in rig.paced(samples, lambda e: isinstance(e, HandedOver)):
            if isinstance(event, HandedOver):
                heard.append(event.text)
        rig.settle()
    satellite = rig.bridge.satellite
    assert satellite is not None
    to_speaker = [played - sent for played, sent in zip(rig.played_s, stand_in.answer_sent_s, strict=False)]
    return {
        "clips": len(clips),
        "requests": len(heard),
        "sent_to_stand_in": (satellite.sent - sent_before),
        "edge_heard": sorted(set(heard)),
        "command_audio_s": _percentiles(stand_in.audio_s),
        "pipeline_thread_offer_ms": _percentiles(rig.offer_ms),
        "offer_to_last_audio_byte_ms": _percentiles(list(satellite.send_ms)),
        "answer_end_to_speaker_ms": _percentiles([s * 1000 for s in to_speaker]),
    }


def listening_cpu(rig: Rig, stand_in: StandIn, seconds: float) -> dict[str, Any]:
    negatives = [read_wav(clip.path) for clip in NEGATIVE]
    audio = np.concatenate(negatives * int(1 + seconds * SAMPLE_RATE_HZ / sum(map(len, negatives))))
    audio = audio[: int(seconds * SAMPLE_RATE_HZ)]
    result: dict[str, Any] = {"audio_s": seconds}
    for mode in ("off", "on"):
        rig.satellite(mode == "on")
        cpu, peer = time.process_time(), stand_in.cpu_s()
        list(rig.paced(audio, lambda e: False))
        used = time.process_time() - cpu - (stand_in.cpu_s() - peer)
        result[f"{mode}_cpu_percent_of_one_core"] = round(100 * used / seconds, 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips, 20 s of listening per mode")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    config = load_config(REPO / "edge.yaml", board_override="sim")
    import dataclasses

    from edge.integrations.wyoming.settings import WyomingConfig

    config = dataclasses.replace(config, wyoming=WyomingConfig(port=_free_port()))
    rig = Rig(config)
    stand_in = StandIn(rig.bridge.server.port)
    stand_in.start()
    try:
        while not rig.handover.available:  # run-satellite reaches the pipeline through the inbox
            rig.feed(
                AudioChunk(bytes(2 * SAMPLE_RATE_HZ * config.audio.chunk_ms // 1000), rig.player.stream_ms)
            )
        out = {
            "command": "python -m bench.wyoming_satellite" + (" --quick" if args.quick else ""),
            "local": local_latency(rig, args.quick),
            "handover": handover_share(rig, stand_in, args.quick),
            "listening": listening_cpu(rig, stand_in, 20.0 if args.quick else 60.0),
        }
    finally:
        stand_in.stop()
        rig.close()
    print(json.dumps(out, indent=2))
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
