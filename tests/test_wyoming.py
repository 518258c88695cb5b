"""edge as a Home Assistant satellite and Wyoming services, against a real wyoming-library peer over TCP.

Every case runs the real pipeline (micro wake, Whisper, the TFLite classifier) on fixture WAVs, gpiozero's
MockFactory with MockPWMPin, edge's real Wyoming server on localhost, and a Home Assistant stand-in built
from the wyoming library's AsyncTcpClient and event classes (tests/wyoming_support.py).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.timer import TimerFinished, TimerStarted
from wyoming.tts import Synthesize
from wyoming.wake import Detection

from edge.events import ActionResult, HandedOver, Intent, NotUnderstood
from edge.integrations.wyoming.handover import HandOver, hands_over
from edge.speech.audio import read_wav

from .support import REPO, edge_command, subprocess_env
from .wyoming_support import Edge, Peer, detect, start_edge, wait_until, wyoming_config

FIXTURES = REPO / "tests" / "fixtures"
KITCHEN_ON = FIXTURES / "commands" / "turn_on_the_kitchen_light__flite_kal16__clean.wav"
WEATHER = FIXTURES / "handover" / "whats_the_weather_tomorrow__flite_kal16.wav"
PORCH = FIXTURES / "handover" / "turn_on_the_porch_light__flite_awb.wav"
NO_WAKE = FIXTURES / "commands" / "negative_no_wake__set_the_fan_to_low__flite_rms.wav"
ANSWER = FIXTURES / "ko_annyeong.wav"  # any real speech stands for Home Assistant's text-to-speech answer


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(revision="c03111", pin_class=MockPWMPin)
    yield factory
    factory.reset()


def make_edge(tmp_path: Path, factory: MockFactory, wav: Path, **settings: object) -> Edge:
    return start_edge(wyoming_config(tmp_path, **settings), factory, wav)


def handover_of(edge: Edge) -> HandOver:
    handler = edge.runtime.pipeline.handler
    assert isinstance(handler, HandOver)
    return handler


def levels(edge: Edge, factory: MockFactory) -> dict[str, float]:
    """Each device's highest level while edge ran (the daemon puts every pin back to off when it stops)."""
    return {
        device.name: max(float(change.state) for change in factory.pin(device.pin).states)
        for device in edge.runtime.config.devices
    }


def all_off(edge: Edge, factory: MockFactory) -> bool:
    return all(level == 0.0 for level in levels(edge, factory).values())


async def run_satellite(peer: Peer) -> None:
    """What Home Assistant does on connecting to a satellite; the info answer proves edge took it in."""
    await peer.send(RunSatellite().event())
    await peer.describe()


def stream(peer: Peer, samples: np.ndarray, rate_hz: int = 16000, chunk: int = 1024) -> list[Event]:
    events = [AudioStart(rate=rate_hz, width=2, channels=1).event()]
    for offset in range(0, len(samples), chunk):
        piece = samples[offset : offset + chunk].astype("<i2").tobytes()
        events.append(AudioChunk(rate=rate_hz, width=2, channels=1, audio=piece).event())
    events.append(AudioStop().event())
    return events


def test_describe_reports_a_satellite_its_wake_words_and_whisper(
    tmp_path: Path, factory: MockFactory
) -> None:
    edge = make_edge(tmp_path, factory, KITCHEN_ON)
    try:

        async def scenario() -> None:
            async with Peer(edge.port) as peer:
                info = await peer.describe()
                assert info.satellite is not None and info.satellite.name == "edge"
                assert info.satellite.active_wake_words == ["hey_jarvis", "alexa"]
                assert [m.name for m in info.wake[0].models] == ["hey_jarvis", "alexa"]
                assert info.wake[0].models[0].phrase == "hey jarvis"
                assert info.asr[0].models[0].languages == ["en"] and info.asr[0].installed

        asyncio.run(scenario())
    finally:
        edge.close()


def test_local_command_switches_the_pin_and_sends_nothing(tmp_path: Path, factory: MockFactory) -> None:
    edge = make_edge(tmp_path, factory, KITCHEN_ON)
    try:

        async def scenario() -> None:
            async with Peer(edge.port) as peer:
                await run_satellite(peer)
                await asyncio.to_thread(edge.run_daemon)
                assert handover_of(edge).available
                assert await peer.round_trip() == []  # nothing but the pong came after the info

        asyncio.run(scenario())
        assert levels(edge, factory)["kitchen_light"] == 1.0
        assert [type(e) for e in edge.events if isinstance(e, Intent | ActionResult)] == [
            Intent,
            ActionResult,
        ]
        assert not any(isinstance(e, HandedOver) for e in edge.events)
        assert edge.bridge.satellite is not None and edge.bridge.satellite.sent == 0
    finally:
        edge.close()


async def answer(peer: Peer, samples: np.ndarray) -> None:
    """Home Assistant's pipeline after speech-to-text: what it heard, what it says, then the audio."""
    await peer.send(Transcript(text="what's the weather going to be tomorrow").event())
    await peer.send(Synthesize(text="Tomorrow will be sunny").event())
    for event in stream(peer, samples):
        await peer.send(event)


def test_a_request_edge_cannot_do_goes_to_home_assistant_once(tmp_path: Path, factory: MockFactory) -> None:
    edge = make_edge(tmp_path, factory, WEATHER)
    reply = read_wav(ANSWER)
    try:

        async def scenario() -> list[Event]:
            async with Peer(edge.port) as peer:
                await run_satellite(peer)
                await asyncio.to_thread(edge.run_daemon)
                handed = await peer.read_until("audio-stop")
                await answer(peer, reply)
                handed += await peer.read_until("played")
                return handed

        handed = asyncio.run(scenario())
        types = [event.type for event in handed]
        assert types[:3] == ["detection", "run-pipeline", "audio-start"] and types[-1] == "played"
        assert types.count("run-pipeline") == 1 and handover_of(edge).handed_over == 1
        assert Detection.from_event(handed[0]).name == "hey_jarvis"
        run = RunPipeline.from_event(handed[1])
        assert (run.start_stage, run.end_stage) == (PipelineStage.ASR, PipelineStage.TTS)
        audio = b"".join(AudioChunk.from_event(e).audio for e in handed if e.type == "audio-chunk")
        # The command after the wake word, to its endpoint: the weather question is ~2.5 s of speech.
        assert 2.0 < len(audio) / 32000 < 4.0
        # The answer reached edge's speaker sink, sample for sample.
        assert len(edge.speaker.clips) == 1
        samples, rate = edge.speaker.clips[0]
        assert rate == 16000 and np.array_equal(samples, reply)
        # Edge acted on nothing: no intent, no action, every pin still off; one HandedOver event.
        assert all_off(edge, factory)
        assert not any(isinstance(e, Intent | ActionResult | NotUnderstood) for e in edge.events)
        assert [e.text for e in edge.events if isinstance(e, HandedOver)] == [
            "what's the weather going to be tomorrow"
        ]
    finally:
        edge.close()


def test_a_light_edge_does_not_have_goes_over_but_a_paused_satellite_keeps_it(
    tmp_path: Path, factory: MockFactory
) -> None:
    edge = make_edge(tmp_path, factory, PORCH)
    try:

        async def scenario() -> list[Event]:
            async with Peer(edge.port) as peer:
                await run_satellite(peer)
                await peer.send(PauseSatellite().event())
                await peer.round_trip()
                await asyncio.to_thread(edge.run_daemon)
                return await peer.round_trip()

        assert asyncio.run(scenario()) == []
        refused = [e for e in edge.events if isinstance(e, NotUnderstood)]
        assert len(refused) == 1 and refused[0].reason.startswith("there is no porch light")
        assert hands_over(refused[0].reason) and handover_of(edge).handed_over == 0
        assert all_off(edge, factory)
    finally:
        edge.close()


def test_home_assistant_dropping_mid_command_then_reconnecting(tmp_path: Path, factory: MockFactory) -> None:
    edge = make_edge(tmp_path, factory, WEATHER)
    reply = read_wav(ANSWER)
    try:

        async def drop_mid_command() -> None:
            peer = Peer(edge.port)
            await peer.__aenter__()
            await run_satellite(peer)
            await asyncio.to_thread(edge.run_daemon)
            await peer.read_until("audio-stop")
            edge.daemon_for(PORCH)  # the next daemon's inbox hears of the drop
            writer = peer.client._writer
            assert writer is not None
            writer.transport.abort()  # gone while its pipeline runs: no answer ever comes

        asyncio.run(drop_mid_command())
        wait_until(lambda: edge.bridge.server.connections == 0)
        edge.run_daemon()  # nobody to hand over to: edge answers the porch light itself
        refused = [e for e in edge.events if isinstance(e, NotUnderstood)]
        assert len(refused) == 1 and refused[0].text == "turn on the porch light"
        assert handover_of(edge).handed_over == 1 and not handover_of(edge).available

        async def reconnect() -> list[Event]:
            async with Peer(edge.port) as peer:
                await run_satellite(peer)
                await asyncio.to_thread(edge.run_daemon)
                handed = await peer.read_until("audio-stop")
                for event in stream(peer, reply):
                    await peer.send(event)
                return handed + await peer.read_until("played")

        edge.daemon_for(PORCH)
        handed = asyncio.run(reconnect())
        assert [e.type for e in handed].count("run-pipeline") == 1 and handover_of(edge).handed_over == 2
        assert len(edge.speaker.clips) == 1
        assert all_off(edge, factory)
        assert not any(isinstance(e, ActionResult) for e in edge.events)
    finally:
        edge.close()


def test_malformed_events_are_refused_and_listening_goes_on(tmp_path: Path, factory: MockFactory) -> None:
    edge = make_edge(tmp_path, factory, KITCHEN_ON)
    try:

        async def scenario() -> None:
            async with Peer(edge.port) as peer:
                await run_satellite(peer)
                await peer.send(Event(type="timer-started", data={"id": "t1"}))  # no total_seconds
                error = (await peer.read_until("error"))[-1]
                assert error.data["code"] == "malformed" and "timer-started" in error.data["text"]
                await peer.send(Event(type="no-such-event", data={"x": 1}))
                assert await peer.round_trip() == []
                # A line that is not a Wyoming event at all closes that connection only.
                _reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
                writer.write(b"this is not json\n")
                await writer.drain()
                assert await asyncio.wait_for(_reader.read(), 10) == b""
                writer.close()
                await asyncio.to_thread(edge.run_daemon)
                assert await peer.round_trip() == []

        asyncio.run(scenario())
        assert levels(edge, factory)["kitchen_light"] == 1.0
    finally:
        edge.close()


def test_a_flood_of_connections_is_capped_and_the_satellite_keeps_working(
    tmp_path: Path, factory: MockFactory
) -> None:
    edge = make_edge(tmp_path, factory, KITCHEN_ON, max_connections=3)
    try:

        async def scenario() -> None:
            async with Peer(edge.port) as peer:
                await run_satellite(peer)
                flood = [await asyncio.open_connection("127.0.0.1", edge.port) for _ in range(20)]
                # Two get in; the other eighteen are closed at once by edge.
                closed = [await asyncio.wait_for(reader.read(), 10) == b"" for reader, _ in flood[2:]]
                assert all(closed) and edge.bridge.server.refused == 18
                await asyncio.to_thread(edge.run_daemon)
                assert await peer.round_trip() == []
                for _, writer in flood:
                    writer.close()

        asyncio.run(scenario())
        assert levels(edge, factory)["kitchen_light"] == 1.0
    finally:
        edge.close()


def test_timers_and_announcements_are_played(tmp_path: Path, factory: MockFactory) -> None:
    edge = make_edge(tmp_path, factory, KITCHEN_ON)
    announcement = read_wav(ANSWER)
    try:

        async def scenario() -> None:
            async with Peer(edge.port) as peer:
                await run_satellite(peer)
                await peer.send(TimerStarted(id="t1", total_seconds=60, name="pasta").event())
                await peer.send(TimerFinished(id="t1").event())
                for event in stream(peer, announcement[::2], rate_hz=8000):
                    await peer.send(event)
                await peer.read_until("played")  # one clip after the other: the alarm has played too

        asyncio.run(scenario())
        (alarm, alarm_rate), (said, said_rate) = edge.speaker.clips
        assert alarm_rate == 16000 and np.abs(alarm).max() > 10000  # three beeps
        assert said_rate == 8000 and np.array_equal(said, announcement[::2])
    finally:
        edge.close()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="spoken replies need Debian's espeak-ng")
def test_with_a_voice_a_finished_timer_is_said(tmp_path: Path, factory: MockFactory) -> None:
    config = wyoming_config(tmp_path, extra_yaml="\nvoice:\n  replies: true\n")
    edge = start_edge(config, factory, KITCHEN_ON)
    try:

        async def scenario() -> None:
            async with Peer(edge.port) as peer:
                await run_satellite(peer)
                await peer.send(TimerStarted(id="t2", total_seconds=300, name="pasta").event())
                await peer.send(TimerFinished(id="t2").event())
                for event in stream(peer, read_wav(ANSWER)):  # then an announcement, to know both played
                    await peer.send(event)
                await peer.read_until("played")

        asyncio.run(scenario())
        (said, rate), _announcement = edge.speaker.clips
        # espeak-ng's own rate and a sentence's length ("the pasta timer is done"), not the 16 kHz beeps.
        assert rate == 22050 and 0.8 < len(said) / rate < 3.0
    finally:
        edge.close()


def test_wake_word_service_hears_hey_jarvis_and_not_a_plain_command(
    tmp_path: Path, factory: MockFactory
) -> None:
    edge = make_edge(tmp_path, factory, KITCHEN_ON, satellite=False)
    try:
        heard = asyncio.run(detect(edge.port, read_wav(KITCHEN_ON), ["hey_jarvis"]))
        assert heard.type == "detection" and Detection.from_event(heard).name == "hey_jarvis"
        assert 500 < (Detection.from_event(heard).timestamp or 0) < 2500
        assert asyncio.run(detect(edge.port, read_wav(NO_WAKE), ["hey_jarvis"])).type == "not-detected"
        assert asyncio.run(detect(edge.port, read_wav(KITCHEN_ON), ["alexa"])).type == "not-detected"
    finally:
        edge.close()


def test_speech_to_text_service_transcribes_with_whisper(tmp_path: Path, factory: MockFactory) -> None:
    edge = make_edge(tmp_path, factory, KITCHEN_ON, satellite=False, wake_service=False)
    try:

        async def transcribe(wav: Path) -> str:
            async with Peer(edge.port) as peer:
                info = await peer.describe()
                assert info.satellite is None and not info.wake and info.asr
                await peer.send(Transcribe(language="en").event())
                for event in stream(peer, read_wav(wav)):
                    await peer.send(event)
                return Transcript.from_event((await peer.read_until("transcript"))[-1]).text

        # No command-word check for Home Assistant: the weather question comes out whole.
        assert "weather" in asyncio.run(transcribe(WEATHER)).lower()
        assert "kitchen light" in asyncio.run(transcribe(KITCHEN_ON)).lower()
    finally:
        edge.close()


def test_edge_run_serves_home_assistant_from_the_cli(tmp_path: Path) -> None:
    """The real `edge run` with wyoming: on: the peer connects, and the weather question reaches it once."""
    config = wyoming_config(tmp_path)
    assert config.wyoming is not None
    port = config.wyoming.port
    command = edge_command("run", "-c", str(config.source), "--board", "sim", "--mock-gpio", "--input",
                           str(WEATHER), "--events", "json", "--no-sounds", "--status-file",
                           str(tmp_path / "status.json"))  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=subprocess_env())  # fmt: skip
    try:

        async def scenario() -> list[Event]:
            for _ in range(600):  # the runtime loads its models first; bounded at 30 s
                try:
                    peer = Peer(port)
                    await peer.__aenter__()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("edge run never listened")
            await run_satellite(peer)
            handed = await peer.read_until("audio-stop")
            await peer.__aexit__()
            return handed

        handed = asyncio.run(scenario())
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert [e.type for e in handed].count("run-pipeline") == 1
    kinds = [json.loads(line)["type"] for line in out.splitlines() if line.startswith("{")]
    assert "handed-over" in kinds and "action" not in kinds and "intent" not in kinds


def test_only_a_sentence_edge_refuses_whole_goes_over(tmp_path: Path, factory: MockFactory) -> None:
    """Edge's real understanding and pins; a part edge acts on keeps the whole sentence here."""
    edge = make_edge(tmp_path, factory, KITCHEN_ON)
    handover = handover_of(edge)
    offered: list[HandedOver] = []
    handover.offer = lambda event: offered.append(event) is None
    handover.available = True  # this test's thread stands in for the pipeline thread
    try:
        mixed = handover.handle("turn on the kitchen light and turn on the porch light", 100)
        assert [type(e) for e in mixed] == [Intent, ActionResult, NotUnderstood] and offered == []
        assert levels(edge, factory)["kitchen_light"] == 1.0
        whole = handover.handle("turn on the porch light and the garage light", 200)
        assert [type(e) for e in whole] == [HandedOver] and [e.text for e in offered] == [
            "turn on the porch light and the garage light"
        ]
        handover.available = False
        alone = handover.handle("what's the weather tomorrow", 300)
        assert [type(e) for e in alone] == [NotUnderstood] and len(offered) == 1
    finally:
        edge.close()
