"""The optional parts of ``edge run``: live view, spoken replies, MQTT and Wyoming, attached to the daemon.

All hang off the daemon's seams only (event sinks, chunk taps, ``Daemon.submit``), so with all off
``edge run`` is exactly what it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.config import Config
from edge.events import Event
from edge.integrations.web.settings import WebConfig, web_from_flag
from edge.runtime.assembly import Runtime
from edge.runtime.daemon import ChunkTap, Request
from edge.runtime.status import DaemonStats

log = logging.getLogger(__name__)


def requested_web(config: Config, flag: str | None) -> WebConfig | None:
    """The live view to serve: ``--web [HOST:PORT]`` over the config's ``web:``; UsageError when unsafe."""
    if flag is None:
        return config.web
    return web_from_flag(flag, config.web, str(config.source))


@dataclass
class Extras:
    """Sinks and taps for the daemon, started once it exists and closed after it stops."""

    stats: DaemonStats = field(default_factory=DaemonStats)
    sinks: list[Callable[[Event], None]] = field(default_factory=list)
    taps: tuple[ChunkTap, ...] = ()
    _view: Any = None
    _speaker: Any = None
    _mqtt: Any = None
    _wyoming: Any = None
    _runtime: Runtime | None = None

    def build(self, config: Config, runtime: Runtime, web: WebConfig | None) -> None:
        """Build what the config and flags ask for (nothing is listening yet)."""
        if config.voice.replies:
            from edge.runtime.speaker import speaker_from_config

            self._speaker = speaker_from_config(config.voice, runtime.pipeline)
            if self._speaker is not None:
                self.sinks.append(self._speaker.on_event)
        if web is not None:
            from edge.integrations.web.view import LiveView

            self._view = LiveView(
                web, config, runtime.pipeline, runtime.understanding, runtime.bank, self.stats
            )
            self.sinks.append(self._view.feed.on_event)
            self.taps = (self._view.feed.on_chunk,)
        if config.mqtt is not None:
            from edge.integrations.mqtt.bridge import MqttBridge

            self._mqtt = MqttBridge.from_config(config, runtime.bank)
            self.sinks.append(self._mqtt.on_event)
        if config.wyoming is not None:
            from edge.integrations.wyoming.bridge import WyomingBridge

            # After the speaker: both share one wake mute, so edge never wakes itself on either's audio.
            self._wyoming = WyomingBridge.from_config(config, runtime.pipeline)
            self.sinks.extend(self._wyoming.sinks)
            self.taps = (*self.taps, *self._wyoming.taps)
        self._runtime = runtime

    def start(self, submit: Callable[[Request], bool]) -> None:
        """Hand over the daemon's inbox and start serving."""
        if self._speaker is not None:
            self._speaker.submit = submit
        if self._view is not None:
            self._view.connect(submit)
            self._view.start()
        if self._mqtt is not None:
            self._mqtt.start(submit)
        if self._wyoming is not None:
            self._wyoming.start(submit)

    def close(self) -> None:
        """Stop serving and speaking; failures are logged, never raised over the daemon's own exit."""
        if self._mqtt is not None and self._runtime is not None:
            try:
                # The daemon has put every output in its safe state: the broker hears that, then offline.
                self._mqtt.close(self._runtime.bank.states())
            except Exception:
                log.exception("extras: closing the MQTT bridge failed")
        for part in (self._wyoming, self._view, self._speaker):
            if part is None:
                continue
            try:
                part.close()
            except Exception:
                log.exception("extras: closing %r failed", part)
