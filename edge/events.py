"""Events the pipeline emits: small frozen records with units in their field names.

Names follow the Wyoming vocabulary (Detection, Transcript, Intent, NotUnderstood)
so a bridge to Home Assistant's protocol stays a one-to-one mapping.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Base of all pipeline events; ``timestamp_ms`` is audio time since the stream began."""

    timestamp_ms: int

    @property
    def type(self) -> str:
        """Short lower-case event name used in JSON output."""
        return _TYPE_NAMES[type(self).__name__]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with a leading ``type`` key."""
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class Detection(Event):
    """The wake phrase was heard."""

    name: str
    score: float
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Transcript(Event):
    """The command recognizer produced text; ``endpoint`` says why the command ended.

    Whisper also says how sure it was: ``avg_logprob`` of its tokens, ``word_probability`` of its least sure
    word (0..1) and ``no_speech_prob``; None for recognizers that do not report them.
    """

    text: str
    engine: str
    endpoint: str
    endpoint_ms: float = 0.0
    latency_ms: float = 0.0
    avg_logprob: float | None = None
    word_probability: float | None = None
    no_speech_prob: float | None = None


@dataclass(frozen=True)
class Intent(Event):
    """A transcript was understood as an intent with slots."""

    name: str
    confidence: float
    slots: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    latency_ms: float = 0.0


@dataclass(frozen=True)
class NotUnderstood(Event):
    """A command was heard but no action could be taken; ``reason`` says why."""

    text: str
    reason: str
    confidence: float = 0.0


@dataclass(frozen=True)
class ActionResult(Event):
    """An intent was applied to a device (or answered, for status queries).

    ``device`` is the one device meant (None when several were); ``devices`` lists every device changed.
    """

    intent: str
    device: str | None
    description: str
    state: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0
    devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class HandedOver(Event):
    """A command edge cannot do was handed to Home Assistant's pipeline; edge itself did nothing.

    ``text`` is what edge heard (Home Assistant transcribes the audio again); ``reason`` is what edge would
    have said had it kept the command.
    """

    text: str
    reason: str
    target: str = "home-assistant"


@dataclass(frozen=True)
class Timeout(Event):
    """The command window closed with no speech; the pipeline went back to listening."""

    reason: str


@dataclass(frozen=True)
class StageError(Event):
    """A stage failed while handling one utterance; the pipeline recovered."""

    stage: str
    message: str


_TYPE_NAMES = {
    "Event": "event",
    "Detection": "wake",
    "Transcript": "transcript",
    "Intent": "intent",
    "NotUnderstood": "not-understood",
    "ActionResult": "action",
    "HandedOver": "handed-over",
    "Timeout": "timeout",
    "StageError": "error",
}
