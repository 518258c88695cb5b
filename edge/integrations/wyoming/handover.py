"""Local first: the pipeline's command handler keeps what edge can do and hands the rest to Home Assistant.

``HandOver`` wraps edge's own understanding. A command it understands is acted on exactly as before (one
``isinstance`` more). Only a command it would refuse as outside its domain ("what's the weather", a light
edge does not have) becomes a ``HandedOver`` event, and only while a Home Assistant satellite connection is
running. Understanding never acts on a refused command, so a command handed over is never also done here.
Everything in this module runs on the pipeline thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge.events import Event, HandedOver, NotUnderstood, Transcript
from edge.runtime.pipeline import CommandHandler
from edge.understanding.unsupported import NOT_A_COMMAND, REASONS

log = logging.getLogger(__name__)

# Refusals that mean "not mine": a request edge has no action for, or a device or room it does not have
# (Home Assistant may own "the porch light"). "which one: ...?" and a missing level stay here: they are
# about edge's own devices, and edge asks back.
_NOT_MINE = frozenset({NOT_A_COMMAND, *REASONS.values()})
_NOT_MINE_PREFIXES = (
    "there is no ",
    "no light configured in",
    "no fan configured in",
    "no device configured in",
)

# Offers the command's audio to the satellite; False when it cannot take it (then edge answers itself).
Offer = Callable[[HandedOver], bool]


def hands_over(reason: str) -> bool:
    """True when a refusal with this reason is a request for someone else, not a question about edge's devices."""
    text = reason.strip()
    return text in _NOT_MINE or text.lower().startswith(_NOT_MINE_PREFIXES)


class HandOver:
    """A CommandHandler: edge's understanding first, Home Assistant's pipeline for what it refuses."""

    def __init__(self, inner: CommandHandler, offer: Offer, heard: Callable[[], str] | None = None) -> None:
        self.inner = inner
        self.offer = offer
        # What the recognizer heard before its command-word check blanked it (Whisper's last_heard).
        self.heard = heard
        self.available = False  # a satellite connection is running; changed only on the pipeline thread
        self.handed_over = 0

    def set_available(self, available: bool) -> list[Event]:
        """Daemon request: Home Assistant's satellite connection started (True) or paused or went away."""
        if available != self.available:
            log.info("wyoming: handing over to Home Assistant %s", "on" if available else "off")
        self.available = available
        return []

    def handle(self, text: str, timestamp_ms: int, heard: Transcript | None = None) -> list[Event]:
        """Edge's own answer, or one HandedOver event when Home Assistant takes the command.

        Only a sentence edge refuses whole goes over: if any part of it was acted on here ("the kitchen light
        on and what's the weather"), the audio would carry that part to Home Assistant too, so it stays.
        """
        events = self.inner.handle(text, timestamp_ms, heard)
        if not self.available or not events:
            return events
        refusals = [event for event in events if isinstance(event, NotUnderstood)]
        if len(refusals) != len(events) or not all(hands_over(event.reason) for event in refusals):
            return events
        words = text or (self.heard() if self.heard is not None else "")
        if not words:
            return events  # the recognizer heard no words at all: noise, not a request for anyone
        handed = HandedOver(timestamp_ms, words, refusals[0].reason)
        if not self.offer(handed):
            return events
        self.handed_over += 1
        log.info("wyoming: %r handed to Home Assistant (edge: %s)", words, refusals[0].reason)
        return [handed]
