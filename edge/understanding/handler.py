"""The pipeline's command handler: classifier for the intent, parser for the slots, then the action."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge.devices.bank import DeviceBank
from edge.devices.settings import DeviceConfig
from edge.events import ActionResult, Event, Intent, NotUnderstood
from edge.understanding.actions import Plan, align_intent, execute, plan_action
from edge.understanding.features import tokens
from edge.understanding.settings import UnderstandingSettings
from edge.understanding.slots import SlotParser, Slots
from edge.understanding.unsupported import NOT_A_COMMAND, cue_label, reason_for
from edge.understanding.vocabulary import INTENTS

log = logging.getLogger(__name__)

# Words of a status question about everything edge controls, naming no device.
_GENERAL_STATUS = frozenset({"status", "state", "anything", "everything"})
# Intents that change or report a device; a cue for an unsupported request overrules them.
ACTION_INTENTS = frozenset(INTENTS) - {"none"}


class Classifier(Protocol):
    """Text in, (intent, confidence) out."""

    def classify(self, text: str) -> tuple[str, float]: ...


@dataclass(frozen=True)
class Interpretation:
    """What a transcript means and what it would do; ``reason`` is set when it cannot be acted on."""

    text: str
    intent: str
    confidence: float
    slots: Slots
    plan: Plan | None
    reason: str | None
    latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        """``{"intent", "confidence", "slots", "action"}`` plus ``reason`` when not understood."""
        data: dict[str, Any] = {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "slots": self.slots.to_dict(),
            "action": self.plan.to_dict() if self.plan and not self.reason else None,
        }
        if self.reason:
            data["reason"] = self.reason
        return data


class Understanding:
    """Classifier + slot parser + actions, emitting Intent/NotUnderstood and ActionResult events."""

    def __init__(
        self,
        classifier: Classifier,
        bank: DeviceBank,
        devices: Sequence[DeviceConfig],
        default_devices: Mapping[str, str],
        clock: Any = time.perf_counter,
    ) -> None:
        self.classifier = classifier
        self.bank = bank
        self.parser = SlotParser(devices, default_devices)
        self._clock = clock

    @classmethod
    def from_config(cls, config: UnderstandingSettings, bank: DeviceBank) -> Understanding:
        """Load the intent model the config names (lazily imports the interpreter)."""
        from edge.understanding.intent import load_classifier

        classifier = load_classifier(config.intent, config.devices)
        return cls(classifier, bank, config.devices, config.intent.default_devices)

    def interpret(self, text: str) -> Interpretation:
        """Classify, fill slots and plan the action, with no side effects."""
        started = self._clock()
        intent, confidence, unsupported = self._classify(text)
        slots = self.parser.parse(text, intent)
        if slots.device and slots.how == "named":
            aligned = align_intent(intent, self.bank[slots.device].kind)
            if aligned != intent:
                log.debug("intent: %s said of %s, taken as %s", intent, slots.device, aligned)
                intent = aligned
                slots = self.parser.parse(text, intent)
        plan: Plan | None = None
        if intent == "none":
            reason: str | None = reason_for(unsupported or "") or NOT_A_COMMAND
        else:
            plan = plan_action(intent, slots, self.bank)
            reason = plan.problem
        latency_ms = (self._clock() - started) * 1000
        return Interpretation(text, intent, confidence, slots, plan, reason, latency_ms)

    def _classify(self, text: str) -> tuple[str, float, str | None]:
        """(public intent, confidence, internal unsupported label or None)."""
        detailed = getattr(self.classifier, "classify_label", None)
        label, confidence = detailed(text) if detailed else self.classifier.classify(text)
        # A colour, an effect, a plug or a cover named in a device command is still not something edge does;
        # for a sentence the model rejected, the cue says why.
        cue = cue_label(text)
        if cue and label in (*ACTION_INTENTS, "none"):
            log.debug("intent: %s overruled by %s", label, cue)
            label = cue
        if label == "status_query" and not self._asks_about_devices(text):
            log.debug("intent: status_query of something that is no light or fan")
            return "none", confidence, None
        if reason_for(label):
            return "none", confidence, label
        return label, confidence, None

    def _asks_about_devices(self, text: str) -> bool:
        """A status question must name a light or fan, or ask in general ("what's on?", "status")."""
        words = tokens(text)
        general = _GENERAL_STATUS & set(words) or (len(words) <= 4 and {"on", "running"} & set(words))
        return bool(general) or self.parser.finder.mentions(words)

    def handle(self, text: str, timestamp_ms: int) -> list[Event]:
        """Interpret and act: Intent then ActionResult, or NotUnderstood."""
        found = self.interpret(text)
        if found.reason or found.plan is None:
            log.info("intent: %s conf=%.2f no action: %s", found.intent, found.confidence, found.reason)
            return [NotUnderstood(timestamp_ms, text, found.reason or "no action", found.confidence)]
        targets = ",".join(found.slots.devices) or found.plan.device or "-"
        log.info("intent: %s conf=%.2f device=%s", found.intent, found.confidence, targets)
        intent_event = Intent(
            timestamp_ms, found.intent, found.confidence, found.slots.to_dict(), text, found.latency_ms
        )
        started = self._clock()
        outcome = execute(found.plan, self.bank)
        latency_ms = (self._clock() - started) * 1000
        result = ActionResult(
            timestamp_ms,
            found.intent,
            found.plan.device,
            outcome.description,
            outcome.state,
            latency_ms,
            devices=found.plan.devices,
        )
        return [intent_event, result]
