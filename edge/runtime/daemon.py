"""The long-running daemon: audio in, pipeline, GPIO out, with systemd notification and recovery.

Threads live only at the edges: sounddevice's callback thread hands audio to the microphone source's bounded
queue; everything else (pipeline, devices, status, watchdog) runs on the one thread that calls ``run``.
Signals only set an event that the loop checks between chunks, so no stage is ever interrupted half-way.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from edge.devices.bank import DeviceBank
from edge.errors import AudioError, AudioFormatError, DeviceError
from edge.events import ActionResult, Detection, Event, HandedOver, NotUnderstood, StageError, Timeout
from edge.runtime import notify
from edge.runtime.pipeline import Pipeline
from edge.runtime.status import DaemonStats, StatusWriter
from edge.speech.audio import AudioChunk, AudioSource

log = logging.getLogger(__name__)

EventSink = Callable[[Event], None]
# Called with every chunk after the pipeline, on the pipeline thread (the web view's meter); must not block.
ChunkTap = Callable[[AudioChunk], None]
# A request from another thread (the web view's command box, an MQTT command): run on the pipeline thread.
Request = Callable[[], list[Event]]
INBOX_SIZE = 32
_OUTCOMES = (ActionResult, NotUnderstood, Timeout, StageError, HandedOver)
BACKOFF_RESET_AFTER_MS = 5000.0


class Backoff:
    """Exponential retry delays: 0.5 s, 1 s, 2 s ... capped, reset once a source has worked for a while."""

    def __init__(self, first_s: float = 0.5, cap_s: float = 30.0) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self._next_s = first_s

    def next_delay(self) -> float:
        """Return the delay to wait now and double the next one."""
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.cap_s)
        return delay

    def reset(self) -> None:
        """Start again from the first delay."""
        self._next_s = self.first_s


class Daemon:
    """Runs the pipeline on a live audio source until asked to stop, surviving audio failures.

    The daemon drives every output to its safe state when it stops; the bank's owner releases the pins.

    Every seam is injected: ``open_source`` builds a fresh audio source (called again after a failure),
    ``sleep`` waits between retries (returns early when a stop is requested), ``clock`` paces the watchdog
    and the status file. ``stop_when_source_ends`` is for files and pipes, which end for good.
    """

    def __init__(
        self,
        open_source: Callable[[], AudioSource],
        pipeline: Pipeline,
        bank: DeviceBank,
        *,
        stats: DaemonStats | None = None,
        status_writer: StatusWriter | None = None,
        sinks: tuple[EventSink, ...] = (),
        taps: tuple[ChunkTap, ...] = (),
        backoff: Backoff | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        stop_when_source_ends: bool = False,
    ) -> None:
        self.open_source = open_source
        self.pipeline = pipeline
        self.bank = bank
        self.stats = stats or DaemonStats()
        self.status_writer = status_writer
        self.sinks = sinks
        self.taps = taps
        self._tap_failures: dict[ChunkTap, int] = {}
        self.backoff = backoff or Backoff()
        self.stop_requested = threading.Event()
        # Set by a stop or a request, so a retry delay (no microphone) still serves typed commands at once.
        self._wakeup = threading.Event()
        self._sleep = sleep or self._wait_serving_requests
        self._clock = clock
        # A file or a pipe ends for good; a microphone that "ends" has gone away and is worth reopening.
        self.stop_when_source_ends = stop_when_source_ends
        self._watchdog_s = notify.watchdog_interval_s()
        self._last_ping_s: float | None = None
        self._failures = 0
        self._healthy_ms = 0.0  # audio delivered by the current source
        self._source: AudioSource | None = None
        self._lost_before = (0, 0)  # drops and overflows of the sources already closed
        # Other threads never touch the devices or the pipeline: they hand requests through this queue.
        self._inbox: queue.Queue[Request] = queue.Queue(maxsize=INBOX_SIZE)

    def install_signal_handlers(self) -> Callable[[], None]:
        """Ask the loop to stop on SIGTERM and SIGINT (main thread only); return a function undoing it."""

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("daemon: %s received, stopping", signal.Signals(signum).name)
            self.stop()

        previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        return restore

    def stop(self) -> None:
        """Ask the loop to stop after the current chunk (any thread)."""
        self.stop_requested.set()
        self._wakeup.set()

    def submit(self, request: Request) -> bool:
        """Queue ``request`` to run on the pipeline thread (any thread); False when the inbox is full.

        Its events are published to every sink like the pipeline's own, so a command typed in the web view
        or sent over MQTT reaches the status file, the log and every other integration.
        """
        try:
            self._inbox.put_nowait(request)
        except queue.Full:
            log.warning("daemon: %d requests waiting, refusing another", INBOX_SIZE)
            return False
        self._wakeup.set()
        return True

    def _wait_serving_requests(self, delay_s: float) -> None:
        deadline_s = time.monotonic() + delay_s
        while not self.stop_requested.is_set():
            remaining_s = deadline_s - time.monotonic()
            if remaining_s <= 0:
                return
            self._wakeup.wait(remaining_s)
            self._wakeup.clear()
            self._serve_requests()

    def _serve_requests(self) -> None:
        while True:
            try:
                request = self._inbox.get_nowait()
            except queue.Empty:
                return
            try:
                events = request()
            except Exception as err:
                log.exception("daemon: request %r failed", request)
                events = [StageError(0, "request", f"{type(err).__name__}: {err}")]
            for event in events:
                self._publish(event)

    def run(self) -> None:
        """Serve until stopped; every output ends in its safe state whatever happens."""
        try:
            self.bank.to_safe_state()
            self.stats.set_state("listening")
            notify.ready("listening")
            log.info("daemon: ready, listening (%d devices)", len(self.bank))
            self._write_status(force=True)
            while not self.stop_requested.is_set():
                self._serve_one_source()
        finally:
            notify.stopping("stopping: outputs to their safe state")
            self._safe_shutdown()

    def _safe_shutdown(self) -> None:
        try:
            self.bank.to_safe_state()
        except DeviceError as err:
            log.error("devices: %s", err)
        self.stats.set_state("stopped")
        self._write_status(force=True)
        # The bank's owner (the Runtime) releases the pins; closing twice would fail on closed devices.
        log.info("daemon: stopped; outputs in their safe state")

    def _serve_one_source(self) -> None:
        try:
            source = self.open_source()
        except AudioFormatError:
            raise  # the configured format can never work: retrying would only hide it
        except (AudioError, OSError) as err:
            self._retry_later(f"cannot open the audio source: {err}")
            return
        self._source = source
        self._healthy_ms = 0.0
        try:
            for chunk in source.chunks():
                self._step(chunk)
                if self.stop_requested.is_set():
                    return
            if self.stop_when_source_ends:
                log.info("audio: the source ended, stopping")
                self.stop_requested.set()
            elif not self.stop_requested.is_set():
                self._retry_later("the audio source ended")
        except AudioFormatError:
            raise
        except (AudioError, OSError) as err:
            self._retry_later(f"audio source failed: {err}")
        finally:
            self._close_source(source)

    def _step(self, chunk: AudioChunk) -> None:
        if self._failures:
            log.info("audio: source back after %d failed attempt(s)", self._failures)
            self._failures = 0
            self.stats.set_state("listening")
            notify.status("listening")
        self._healthy_ms += chunk.duration_ms
        if self._healthy_ms >= BACKOFF_RESET_AFTER_MS:
            # Only a source that keeps working earns short retries again; one that flaps keeps backing off.
            self.backoff.reset()
        try:
            events = self.pipeline.feed(chunk)
        except Exception as err:  # the pipeline guards its stages; this is the last line of defence
            log.exception("pipeline: failed on chunk at %d ms; back to listening", chunk.timestamp_ms)
            events = [StageError(chunk.timestamp_ms, "pipeline", f"{type(err).__name__}: {err}")]
            self._reset_pipeline()
        for event in events:
            self._publish(event)
        for tap in self.taps:
            try:
                tap(chunk)
            except Exception:
                # A tap runs on every chunk (~33 a second): one traceback per broken tap, then quiet counts.
                failures = self._tap_failures[tap] = self._tap_failures.get(tap, 0) + 1
                if failures == 1:
                    log.exception("daemon: chunk tap %r failed; later failures are only counted", tap)
                else:
                    log.debug("daemon: chunk tap %r failed (%d times)", tap, failures)
        self._serve_requests()
        self._housekeeping()

    def _publish(self, event: Event) -> None:
        self.stats.record_event(event)
        if isinstance(event, Detection):
            notify.status(f"heard {event.name}, listening for a command")
        elif isinstance(event, _OUTCOMES):
            counts = self.stats.counts
            notify.status(
                f"listening; {counts['wakes']} wakes, {counts['commands_understood']} understood, "
                f"{counts['errors']} errors"
            )
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:
                log.exception("daemon: event sink %r failed", sink)

    def _housekeeping(self) -> None:
        now = self._clock()
        if self._watchdog_s and (self._last_ping_s is None or now - self._last_ping_s >= self._watchdog_s):
            # Pinged from the pipeline loop itself, so a hung pipeline stops the pings and systemd restarts it.
            notify.watchdog()
            self._last_ping_s = now
        self._write_status()

    def _retry_later(self, reason: str) -> None:
        self._reset_pipeline()
        self.stats.record_restart()
        self._failures += 1
        delay = self.backoff.next_delay()
        log.warning("audio: %s; retrying in %.1f s", reason, delay)
        self.stats.set_state("waiting for audio", reason, retry_in_s=delay)
        notify.status(f"waiting for audio: {reason}")
        self._write_status(force=True)
        if self._watchdog_s:
            notify.watchdog()  # waiting for a microphone is not a hang
            self._last_ping_s = self._clock()
        self._sleep(delay)

    def _reset_pipeline(self) -> None:
        try:
            self.pipeline.reset()
        except Exception:
            log.exception("pipeline: reset failed")

    def _close_source(self, source: AudioSource) -> None:
        drops, overflows = _losses(source)
        self._lost_before = (self._lost_before[0] + drops, self._lost_before[1] + overflows)
        self._source = None
        try:
            source.close()
        except Exception:
            log.exception("audio: closing the source failed")

    def _write_status(self, force: bool = False) -> None:
        if self.status_writer is None:
            return
        drops, overflows = _losses(self._source) if self._source is not None else (0, 0)
        self.stats.set_audio_losses(self._lost_before[0] + drops, self._lost_before[1] + overflows)
        try:
            self.stats.set_devices(self.bank.states())
            if force:
                self.status_writer.write_now(self.stats)
            else:
                self.status_writer.maybe_write(self.stats, self._clock())
        except Exception as err:  # a status file must never stop the lights from working
            log.warning("status: cannot write %s: %s", self.status_writer.path, err)


def _losses(source: AudioSource) -> tuple[int, int]:
    # Only the microphone drops or overflows; other sources have no such counters.
    drops = getattr(source, "drops", 0)
    overflows = getattr(source, "overflows", 0)
    return (drops if isinstance(drops, int) else 0, overflows if isinstance(overflows, int) else 0)
