"""The daemon under injected faults: a failing microphone, a failing GPIO pin, SIGTERM mid-command.

The pipeline is the real one, built from tiny deterministic stages (the real engines are tested elsewhere):
each test chunk carries a marker sample value that says what it "is" (the wake word, a word, silence).
The devices are real gpiozero devices on gpiozero's MockFactory; a failing pin is a MockPWMPin subclass.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge.config import Config
from edge.devices.bank import DeviceBank
from edge.errors import AudioError, AudioFormatError
from edge.events import ActionResult, Detection, Event, NotUnderstood, StageError, Timeout, Transcript
from edge.runtime.daemon import BACKOFF_RESET_AFTER_MS, INBOX_SIZE, Backoff, Daemon
from edge.runtime.pipeline import Pipeline, State
from edge.runtime.status import DaemonStats, StatusWriter
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk

CHUNK_MS = 30
SILENCE, WAKE = 0, 1000
WORDS = {2001: "kitchen_light", 2002: "on", 2003: "off", 2004: "ceiling_fan", 2005: "explode"}
MARKERS = {word: value for value, word in WORDS.items()}


def chunk(marker: int, index: int) -> AudioChunk:
    samples = SAMPLE_RATE_HZ * CHUNK_MS // 1000
    return AudioChunk(marker.to_bytes(2, "little", signed=True) * samples, index * CHUNK_MS)


def marker_of(audio: AudioChunk) -> int:
    return int(audio.samples()[0])


def utterance(*words: str) -> list[int]:
    """Wake chunk, the words, then enough silence to end the command and leave the refractory time."""
    return [WAKE, *(MARKERS[word] for word in words), *[SILENCE] * 3]


class MarkerWake:
    """Fires on a wake-marker chunk."""

    name = "marker"

    def process(self, audio: AudioChunk) -> Detection | None:
        return Detection(audio.timestamp_ms, "test_wake", 0.9) if marker_of(audio) == WAKE else None

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class MarkerRecognizer:
    """Writes down the word each chunk carries."""

    engine = "marker"

    def __init__(self) -> None:
        self.words: list[str] = []

    def start(self) -> None:
        self.words = []

    def process(self, audio: AudioChunk) -> None:
        if marker_of(audio) in WORDS:
            self.words.append(WORDS[marker_of(audio)])

    def partial(self) -> str:
        return " ".join(self.words)

    def finish(self) -> str:
        return " ".join(self.words)

    def reset(self) -> None:
        self.words = []

    def close(self) -> None:
        pass


class MarkerEndpointer:
    """The command ends after two silent chunks following speech; no speech for four chunks times out."""

    def __init__(self, silent_chunks: int = 2) -> None:
        self.silent_chunks = silent_chunks
        self.reset()

    def begin(self, history: Sequence[AudioChunk]) -> None:
        """The wake chunk carries no command word: the window starts empty."""
        self.reset()

    def release(self) -> list[AudioChunk]:
        ready, self._ready = self._ready, []
        return ready

    @property
    def started(self) -> bool:
        return self._speech

    @property
    def in_speech(self) -> bool:
        return self._silent == 0 and self._speech

    def process(self, audio: AudioChunk) -> str | None:
        self._chunks += 1
        self._ready.append(audio)
        if marker_of(audio) in WORDS:
            self._speech, self._silent = True, 0
            return None
        self._silent += 1
        if self._speech and self._silent >= self.silent_chunks:
            return "silence"
        return "no_speech" if not self._speech and self._chunks >= 4 else None

    def observe(self, audio: AudioChunk) -> None:
        """Marker audio has no noise floor to learn."""

    def reset(self) -> None:
        self._chunks, self._silent, self._speech = 0, 0, False
        self._ready: list[AudioChunk] = []

    @property
    def trailing_silence_ms(self) -> int:
        return self._silent * CHUNK_MS


class SwitchHandler:
    """``<device> on|off`` switches a real device; anything else is not understood."""

    def __init__(self, bank: DeviceBank) -> None:
        self.bank = bank

    def handle(self, text: str, timestamp_ms: int, heard: object = None) -> list[Event]:
        words = text.split()
        if len(words) != 2 or words[0] not in self.bank or words[1] not in ("on", "off"):
            return [NotUnderstood(timestamp_ms, text, "no such command")]
        device = self.bank[words[0]]
        device.set_on() if words[1] == "on" else device.set_off()
        return [ActionResult(timestamp_ms, f"light_{words[1]}", device.name, text, device.state())]


class ScriptSource:
    """An AudioSource of our own: plays marker chunks, may fail after some, and runs a hook per chunk."""

    def __init__(
        self,
        markers: list[int],
        *,
        start_index: int = 0,
        fail_after: int | None = None,
        on_chunk: Callable[[int], None] | None = None,
        drops: int = 0,
        overflows: int = 0,
    ) -> None:
        self.markers = markers
        self.start_index = start_index
        self.fail_after = fail_after
        self.on_chunk = on_chunk
        self.closed = False
        self.drops = drops  # what a MicrophoneSource counts
        self.overflows = overflows

    def chunks(self) -> Iterator[AudioChunk]:
        for offset, marker in enumerate(self.markers):
            if self.fail_after is not None and offset == self.fail_after:
                raise AudioError("microphone 'USB mic': the input stream stopped (device unplugged?)")
            if self.on_chunk is not None:
                self.on_chunk(offset)
            yield chunk(marker, self.start_index + offset)

    def close(self) -> None:
        self.closed = True


class Opener:
    """Hands out prepared sources in order; an exception in the list is raised instead (a missing device)."""

    def __init__(self, daemon_stop: Callable[[], Daemon], plan: list[ScriptSource | Exception]) -> None:
        self.plan = plan
        self.opened: list[ScriptSource] = []
        self._daemon = daemon_stop

    def __call__(self) -> ScriptSource:
        if not self.plan:
            self._daemon().stop()  # the script is over: end the test run like a SIGTERM would
            return ScriptSource([])
        step = self.plan.pop(0)
        if isinstance(step, Exception):
            raise step
        self.opened.append(step)
        return step


def marker_pipeline(bank: DeviceBank, recognizer: MarkerRecognizer | None = None) -> Pipeline:
    """The real Pipeline on the marker stages (duck-typed stand-ins for the engines' roles)."""
    endpointer: Any = MarkerEndpointer()
    return Pipeline(
        MarkerWake(), recognizer or MarkerRecognizer(), endpointer, SwitchHandler(bank), refractory_ms=0
    )


def build(
    config: Config, factory: MockFactory, plan: list[ScriptSource | Exception], tmp_path: Path
) -> tuple[Daemon, Opener, list[Event], list[float]]:
    bank = DeviceBank.from_config(config, factory)
    pipeline = marker_pipeline(bank)
    events: list[Event] = []
    delays: list[float] = []
    holder: list[Daemon] = []
    opener = Opener(lambda: holder[0], plan)
    daemon = Daemon(
        opener,
        pipeline,
        bank,
        stats=DaemonStats(),
        status_writer=StatusWriter(tmp_path / "status.json"),
        sinks=(events.append,),
        backoff=Backoff(first_s=0.5, cap_s=4.0),
        sleep=delays.append,
    )
    holder.append(daemon)
    return daemon, opener, events, delays


def types(events: list[Event]) -> list[str]:
    return [event.type for event in events]


def test_audio_failure_reopens_the_source_with_backoff_and_events_keep_flowing(
    shipped_config, pin_factory, tmp_path
) -> None:
    first = ScriptSource(
        [*utterance("kitchen_light", "on"), *[SILENCE] * 5], fail_after=8, drops=3, overflows=1
    )
    plan: list[ScriptSource | Exception] = [
        first,
        AudioError("microphone 'USB mic': cannot open: device busy"),
        AudioError("microphone 'USB mic': cannot open: no such device"),
        ScriptSource(utterance("kitchen_light", "off"), start_index=100, drops=1, overflows=1),
    ]
    daemon, opener, events, delays = build(shipped_config, pin_factory, plan, tmp_path)
    daemon.run()

    assert types(events) == ["wake", "transcript", "action", "wake", "transcript", "action"]
    assert [e.description for e in events if isinstance(e, ActionResult)] == [
        "kitchen_light on",
        "kitchen_light off",
    ]
    # The stream failed, two reopenings failed, then the source came back but too briefly to reset the
    # backoff: its end (the script's) waits longer still, up to the cap.
    assert delays == [0.5, 1.0, 2.0, 4.0]
    assert len(opener.opened) == 2 and all(source.closed for source in opener.opened)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "stopped"
    assert status["audio"] == {"drops": 4, "overflows": 2, "restarts": 4}
    assert status["counters"]["wakes"] == 2


def test_a_source_that_keeps_working_resets_the_backoff(shipped_config, pin_factory, tmp_path) -> None:
    healthy_chunks = math.ceil(BACKOFF_RESET_AFTER_MS / CHUNK_MS)
    plan: list[ScriptSource | Exception] = [
        ScriptSource([SILENCE] * 3, fail_after=2),
        ScriptSource([SILENCE] * 3, fail_after=2),
        ScriptSource([SILENCE] * (healthy_chunks + 1), fail_after=healthy_chunks),
    ]
    daemon, _opener, _events, delays = build(shipped_config, pin_factory, plan, tmp_path)
    daemon.run()
    assert delays == [0.5, 1.0, 0.5]


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(first_s=0.5, cap_s=3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_a_bad_audio_format_is_not_retried(shipped_config, pin_factory, tmp_path) -> None:
    plan: list[ScriptSource | Exception] = [AudioFormatError("mic: 8 kHz only")]
    daemon, _opener, _events, delays = build(shipped_config, pin_factory, plan, tmp_path)
    with pytest.raises(AudioFormatError):
        daemon.run()
    assert delays == []


def failing_pin_class(failing_pin: str) -> type[MockPWMPin]:
    class FailingPin(MockPWMPin):
        """A pin whose driver fails whenever it is driven on (a dead GPIO expander, say)."""

        def _set_state(self, value: float) -> None:
            if value and self.info.name == failing_pin:
                raise OSError(errno.EIO, "GPIO write failed")
            super()._set_state(value)

    return FailingPin


def test_a_gpio_write_failure_is_an_error_event_and_the_loop_survives(shipped_config, tmp_path) -> None:
    factory = MockFactory(revision="c03111", pin_class=failing_pin_class("GPIO12"))
    try:
        markers = utterance("kitchen_light", "on") + utterance("ceiling_fan", "on")
        daemon, _opener, events, _delays = build(shipped_config, factory, [ScriptSource(markers)], tmp_path)
        daemon.run()
        errors = [e for e in events if isinstance(e, StageError)]
        assert types(events) == ["wake", "transcript", "error", "wake", "transcript", "action"]
        assert errors[0].stage == "command" and "GPIO write failed" in errors[0].message
        assert events[-1].device == "ceiling_fan"  # type: ignore[attr-defined]
        assert daemon.pipeline.state is State.LISTENING
        status = json.loads((tmp_path / "status.json").read_text())
        assert status["counters"]["errors"] == 1 and status["counters"]["wakes"] == 2
        factory.pin("GPIO13").assert_states([0.0, 1.0, 0.0])  # the fan ran, then went safe at exit
    finally:
        factory.reset()


def test_an_unknown_command_and_a_timeout_return_to_listening(shipped_config, pin_factory, tmp_path) -> None:
    markers = [*utterance("explode"), WAKE, *([SILENCE] * 5), *utterance("kitchen_light", "on")]
    daemon, _opener, events, _delays = build(shipped_config, pin_factory, [ScriptSource(markers)], tmp_path)
    daemon.run()
    assert types(events) == [
        "wake",
        "transcript",
        "not-understood",
        "wake",
        "timeout",
        "wake",
        "transcript",
        "action",
    ]
    assert isinstance(events[4], Timeout) and isinstance(events[1], Transcript)


def test_sigterm_during_a_command_stops_with_every_output_safe(shipped_config, pin_factory, tmp_path) -> None:
    first = utterance("kitchen_light", "on")
    markers = [*first, WAKE, MARKERS["ceiling_fan"], SILENCE, *utterance("ceiling_fan", "on")]
    sigterm_at = len(first) + 2  # after the wake and one word of the second command

    def on_chunk(offset: int) -> None:
        if offset == sigterm_at:
            os.kill(os.getpid(), signal.SIGTERM)

    daemon, _opener, events, _delays = build(
        shipped_config, pin_factory, [ScriptSource(markers, on_chunk=on_chunk)], tmp_path
    )
    restore = daemon.install_signal_handlers()
    try:
        daemon.run()
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert types(events) == ["wake", "transcript", "action", "wake"]
    # The light went on with the first command and back to its safe state at the signal; the fan never ran.
    pin_factory.pin("GPIO12").assert_states([0.0, 1.0, 0.0])
    pin_factory.pin("GPIO13").assert_states([0.0])
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "stopped"


def test_a_stage_that_raises_outside_the_pipeline_guards_is_survived(
    shipped_config, pin_factory, tmp_path
) -> None:
    class BrokenRecognizer(MarkerRecognizer):
        def start(self) -> None:  # raised inside Pipeline._listen, which only guards wake.process
            raise RuntimeError("model file vanished")

    bank = DeviceBank.from_config(shipped_config, pin_factory)
    pipeline = marker_pipeline(bank, BrokenRecognizer())
    events: list[Event] = []
    sources = [ScriptSource([*utterance("kitchen_light", "on"), SILENCE])]
    daemon = Daemon(
        lambda: sources.pop() if sources else daemon_stop(), pipeline, bank, sinks=(events.append,)
    )

    def daemon_stop() -> ScriptSource:
        daemon.stop()
        return ScriptSource([])

    daemon.run()
    assert events and all(isinstance(e, StageError) for e in events)
    assert "model file vanished" in events[0].message  # type: ignore[attr-defined]
    assert pipeline.state is State.LISTENING


def test_watchdog_ready_and_stopping_reach_the_notify_socket(
    shipped_config, pin_factory, tmp_path, monkeypatch
) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # ping every second of the injected clock
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        ticks = iter(range(1000))
        bank = DeviceBank.from_config(shipped_config, pin_factory)
        pipeline = marker_pipeline(bank)
        sources = [ScriptSource([SILENCE] * 3)]
        daemon = Daemon(
            lambda: sources.pop() if sources else stop_now(),
            pipeline,
            bank,
            clock=lambda: float(next(ticks)),
            stop_when_source_ends=True,
        )

        def stop_now() -> ScriptSource:
            raise AssertionError("the source is not reopened when stop_when_source_ends is set")

        daemon.run()
        messages = []
        server.setblocking(False)
        while True:
            try:
                messages.append(server.recv(4096).decode())
            except BlockingIOError:
                break
    fields = [message.split("\n")[0] for message in messages]
    assert fields[0] == "READY=1"
    assert fields.count("WATCHDOG=1") == 3  # one per chunk, as the injected clock moves 1 s per chunk
    assert fields[-1] == "STOPPING=1"


def test_a_request_from_another_thread_runs_on_the_pipeline_thread_while_no_microphone_is_there(
    shipped_config, pin_factory, tmp_path
) -> None:
    """The web view's command box must work in a room whose microphone is missing (retry back-off)."""
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    events: list[Event] = []
    ran_on: list[str] = []
    published = threading.Event()

    def collect(event: Event) -> None:
        events.append(event)
        published.set()

    def never_opens() -> ScriptSource:
        raise AudioError("microphone 'USB mic': cannot open: no such device")

    daemon = Daemon(
        never_opens,
        marker_pipeline(bank),
        bank,
        sinks=(collect,),
        backoff=Backoff(first_s=30.0, cap_s=30.0),  # a request must not wait for the retry
    )

    def switch_on() -> list[Event]:
        ran_on.append(threading.current_thread().name)
        return SwitchHandler(bank).handle("kitchen_light on", 0)

    runner = threading.Thread(target=daemon.run, name="pipeline")
    runner.start()
    try:
        assert daemon.submit(switch_on)
        assert published.wait(timeout=5)
        assert ran_on == ["pipeline"]
        assert [e.type for e in events] == ["action"]
        assert pin_factory.pin("GPIO12").state == 1
    finally:
        daemon.stop()
        runner.join(timeout=5)
    assert not runner.is_alive()
    assert pin_factory.pin("GPIO12").state == 0  # safe state on the way out


def test_a_full_inbox_refuses_requests_instead_of_blocking(shipped_config, pin_factory) -> None:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    daemon = Daemon(lambda: ScriptSource([]), marker_pipeline(bank), bank)
    accepted = [daemon.submit(list) for _ in range(INBOX_SIZE + 3)]
    assert accepted == [True] * INBOX_SIZE + [False] * 3


def early_end_pipeline(bank: DeviceBank) -> Pipeline:
    """The marker stages with a five-chunk silence, and a short one (two chunks) for a whole command."""
    endpointer: Any = MarkerEndpointer(silent_chunks=5)
    return Pipeline(
        MarkerWake(),
        MarkerRecognizer(),
        endpointer,
        SwitchHandler(bank),
        refractory_ms=0,
        complete_after=lambda text: (
            2 * CHUNK_MS if text in ("kitchen_light on", "kitchen_light off") else None
        ),
    )


def feed_markers(pipeline: Pipeline, markers: list[int]) -> list[Event]:
    return [event for index, marker in enumerate(markers) for event in pipeline.feed(chunk(marker, index))]


def test_a_whole_command_ends_after_the_short_silence(shipped_config, pin_factory) -> None:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    markers = [WAKE, MARKERS["kitchen_light"], MARKERS["on"], *[SILENCE] * 6]
    events = feed_markers(early_end_pipeline(bank), markers)
    transcript = next(event for event in events if isinstance(event, Transcript))
    assert (transcript.text, transcript.endpoint) == ("kitchen_light on", "complete")
    # Ended on the second silent chunk (index 4), not the fifth: the words held for half the short silence.
    assert transcript.timestamp_ms == 5 * CHUNK_MS
    assert bank["kitchen_light"].is_on
    bank.close()


def test_a_pause_inside_an_unfinished_command_waits_the_full_silence(shipped_config, pin_factory) -> None:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    # "kitchen light ... on": three silent chunks after an incomplete command do not end it.
    markers = [WAKE, MARKERS["kitchen_light"], *[SILENCE] * 3, MARKERS["on"], *[SILENCE] * 6]
    events = feed_markers(early_end_pipeline(bank), markers)
    transcripts = [event for event in events if isinstance(event, Transcript)]
    assert [(t.text, t.endpoint) for t in transcripts] == [("kitchen_light on", "complete")]
    assert bank["kitchen_light"].is_on
    bank.close()


def test_without_a_completeness_check_the_full_silence_ends_the_command(shipped_config, pin_factory) -> None:
    bank = DeviceBank.from_config(shipped_config, pin_factory)
    pipeline = early_end_pipeline(bank)
    pipeline.complete_after = None
    events = feed_markers(pipeline, [WAKE, MARKERS["kitchen_light"], MARKERS["on"], *[SILENCE] * 6])
    transcript = next(event for event in events if isinstance(event, Transcript))
    assert transcript.endpoint == "silence" and transcript.timestamp_ms == 8 * CHUNK_MS
    bank.close()


def test_the_shipped_completeness_rule_waits_longer_for_a_command_without_a_device(
    shipped_config, pin_factory
) -> None:
    from edge.runtime.assembly import build_runtime

    runtime = build_runtime(shipped_config, pin_factory=pin_factory)
    try:
        complete_after = runtime.pipeline.complete_after
        assert complete_after is not None
        short = shipped_config.endpoint.complete_silence_ms
        assert complete_after("turn on the kitchen light") == short
        assert complete_after("turn on the light") == 2 * short  # "... in the bedroom" may follow
        assert complete_after("set the kitchen light to") is None  # a level must follow
        assert complete_after("set the kitchen light") is None
        assert complete_after("turn the kitchen light") is None  # the classifier guesses light_off here
        assert complete_after("turn the kitchen light off") == short
        assert complete_after("set the fan to medium") == short
        assert complete_after("what a lovely day it is outside") is None
        assert complete_after("") is None
    finally:
        runtime.close()


def test_the_runtime_keeps_numpys_blas_on_one_thread(shipped_config, pin_factory) -> None:
    """OpenBLAS threads spin for ~50 ms after each product: in an always-on daemon that is wasted CPU."""
    from threadpoolctl import threadpool_info

    from edge.runtime.assembly import build_runtime

    runtime = build_runtime(shipped_config, pin_factory=pin_factory)
    try:
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas), blas
    finally:
        runtime.close()
