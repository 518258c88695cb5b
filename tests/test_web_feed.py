"""The live view's feed inside a real daemon: chunk taps, meter, events with candidates, typed commands."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge.config import load_config
from edge.integrations.web.feed import LiveFeed
from edge.integrations.web.layout import page_setup
from edge.runtime.assembly import Runtime, build_runtime
from edge.runtime.daemon import Daemon
from edge.runtime.pipeline import State
from edge.runtime.status import DaemonStats
from edge.speech.audio import AudioChunk, WavSource

from .support import SHIPPED_CONFIG

CLIP = Path(__file__).parent / "fixtures/commands/turn_on_the_kitchen_light__flite_kal16__clean.wav"


@pytest.fixture(scope="module")
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(revision="c03111", pin_class=MockPWMPin)
    yield factory
    factory.reset()


@pytest.fixture(scope="module")
def runtime(factory: MockFactory) -> Iterator[Runtime]:
    runtime = build_runtime(load_config(SHIPPED_CONFIG, board_override="sim"), pin_factory=factory)
    yield runtime
    runtime.close()


def _serve_file(runtime: Runtime, messages: list[dict[str, Any]], typed: str | None = None) -> Daemon:
    ticks = itertools.count()
    daemon: Daemon

    def broken_tap(chunk: AudioChunk) -> None:
        raise RuntimeError("a tap that fails must not stop the daemon")

    feed = LiveFeed(
        messages.append,
        runtime.pipeline,
        runtime.understanding,
        runtime.bank,
        stats := DaemonStats(),
        clock=lambda: next(ticks) * 0.05,  # each chunk is 50 ms later: a 10 Hz meter every second chunk
    )
    daemon = Daemon(
        lambda: WavSource(CLIP, chunk_ms=30),
        runtime.pipeline,
        runtime.bank,
        stats=stats,
        sinks=(feed.on_event,),
        taps=(broken_tap, feed.on_chunk),
        stop_when_source_ends=True,
    )
    if typed:
        assert daemon.submit(feed.command_request(typed))
    daemon.run()
    return daemon


def test_the_feed_sends_meters_events_and_status(runtime: Runtime, factory: MockFactory) -> None:
    messages: list[dict[str, Any]] = []
    _serve_file(runtime, messages)
    meters = [m for m in messages if m["kind"] == "meter"]
    assert len(meters) > 20
    assert {m["state"] for m in meters} == {"listening", "command"}
    assert max(m["level_db"] for m in meters) > -40 > min(m["level_db"] for m in meters)
    events = [m["event"] for m in messages if m["kind"] == "event"]
    assert [e["type"] for e in events] == ["wake", "transcript", "intent", "action"]
    intent = next(m for m in messages if m["kind"] == "event" and m["event"]["type"] == "intent")
    assert intent["candidates"][0]["intent"] == "light_on"
    assert len(intent["candidates"]) == 3
    status = [m["status"] for m in messages if m["kind"] == "status"]
    assert status[-1]["devices"]["kitchen_light"] == {"on": True, "level_percent": 100}
    assert status[-1]["counters"]["actions"] == 1


def test_a_typed_command_switches_the_pin_on_the_pipeline_thread(
    runtime: Runtime, factory: MockFactory
) -> None:
    messages: list[dict[str, Any]] = []
    _serve_file(runtime, messages, typed="set the bedroom light to fifty percent")
    events = [m["event"] for m in messages if m["kind"] == "event"]
    assert events[0]["type"] == "intent" and events[0]["text"] == "set the bedroom light to fifty percent"
    assert events[1]["type"] == "action" and events[1]["device"] == "bedroom_light"
    assert events[1]["state"] == {"on": True, "level_percent": 100}  # a relay: on for any level
    # The daemon drives every output to its safe state when it stops; the pin's history shows the command.
    assert any(state.state for state in factory.pin(23).states)


def test_the_page_setup_puts_each_device_at_its_pin(runtime: Runtime) -> None:
    setup = page_setup(runtime.config)
    pins = {pin["name"]: pin for pin in setup["header"]["pins"]}
    assert len(setup["header"]["pins"]) == 40
    assert pins["GPIO12"]["used_by"] == "kitchen_light" and pins["GPIO12"]["pwm"]
    assert pins["GPIO23"]["number"] == 16
    assert [d["name"] for d in setup["devices"]] == [
        "kitchen_light",
        "bedroom_light",
        "living_room_light",
        "ceiling_fan",
    ]


def test_watching_the_page_costs_whisper_no_extra_decode(runtime: Runtime) -> None:
    """The meter shows Whisper's last decode; only the pipeline decides when to decode again."""
    pipeline = runtime.pipeline
    recognizer: Any = pipeline.recognizer
    assert recognizer.engine == "whisper"  # the shipped config's recognizer
    feed = LiveFeed([].append, pipeline, runtime.understanding, runtime.bank, DaemonStats())
    try:
        pipeline.state = State.COMMAND
        recognizer.start()
        for chunk in WavSource(CLIP, chunk_ms=30).chunks():
            recognizer.process(chunk)
        decode_ms = recognizer.last_decode_ms
        assert feed.meter()["partial"] == ""
        assert recognizer.last_decode_ms == decode_ms  # the page did not decode
        heard = recognizer.partial()  # the pipeline's own call decodes
        assert "kitchen" in heard
        assert feed.meter()["partial"] == heard
    finally:
        pipeline.reset()
