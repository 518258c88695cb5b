"""The pipeline's command handler: classifier for the intent, parser for the slots, then the action."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge.devices.bank import DeviceBank
from edge.devices.settings import DeviceConfig
from edge.events import ActionResult, Event, Intent, NotUnderstood, Transcript
from edge.understanding.actions import Plan, execute, plan_action
from edge.understanding.compound import Part, split_commands
from edge.understanding.settings import UnderstandingSettings
from edge.understanding.slots import SlotParser, Slots
from edge.understanding.unsupported import NOT_A_COMMAND, cue_label, reason_for
from edge.understanding.utterance import Utterance
from edge.understanding.vocabulary import INTENTS

log = logging.getLogger(__name__)

# Words of a status question about everything edge controls, naming no device.
_GENERAL_STATUS = frozenset({"status", "state", "anything", "everything"})
# Intents that change or report a device; a cue for an unsupported request overrules them.
ACTION_INTENTS = frozenset(INTENTS) - {"none"}
# Intents that switch nothing: done even from a transcript the recognizer was unsure of ("stop" is short and
# often heard with little certainty, and cancelling is always safe).
HARMLESS_INTENTS = frozenset({"status_query", "stop_cancel"})
UNSURE = "sorry, I didn't catch that, unsure transcript"


class Classifier(Protocol):
    """Text in, (intent, confidence) out; an Utterance's words are used as they are."""

    def classify(self, text: str | Utterance) -> tuple[str, float]: ...


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
    skipped: tuple[str, ...] = ()  # why a device phrase of this command found nothing ("there is no ...")

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
        if self.skipped:
            data["skipped"] = list(self.skipped)
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
        min_certainty: float = 0.0,
        min_avg_logprob: float = -10.0,
    ) -> None:
        self.classifier = classifier
        self.bank = bank
        self.parser = SlotParser(devices, default_devices)
        self._clock = clock
        self.min_certainty = min_certainty
        self.min_avg_logprob = min_avg_logprob

    @classmethod
    def from_config(cls, config: UnderstandingSettings, bank: DeviceBank) -> Understanding:
        """Load the intent model the config names (lazily imports the interpreter)."""
        from edge.understanding.intent import load_classifier

        classifier = load_classifier(config.intent, config.devices)
        return cls(
            classifier,
            bank,
            config.devices,
            config.intent.default_devices,
            min_certainty=config.asr.min_certainty,
            min_avg_logprob=config.asr.min_avg_logprob,
        )

    def interpret(self, text: str) -> Interpretation:
        """The whole sentence as one command: classify, fill slots and plan, with no side effects."""
        return self._interpret_part(Part(Utterance.of(text)))

    def interpret_all(self, text: str) -> list[Interpretation]:
        """One Interpretation per command in ``text`` ("fan off and lamp on" gives two); no side effects."""
        utterance = Utterance.of(text)
        finder = self.parser.finder
        # "switch off everything and turn on the bedside light": "everything" names devices too.
        parts = split_commands(
            utterance, finder.rooms, lambda words: finder.mentions(words, everything=True), self._refused
        )
        return [self._interpret_part(part) for part in parts]

    @staticmethod
    def _refused(utterance: Utterance) -> bool:
        """True for a request edge cannot do ("play music"): it stands alone as a part, to be refused."""
        return cue_label(utterance) is not None

    def _interpret_part(self, part: Part) -> Interpretation:
        """Classify the part's command; its intent applies to its own words and to every target phrase."""
        started = self._clock()
        utterance = part.command
        intent, confidence, unsupported = self._classify(utterance)
        said, slots = intent, Slots()
        skipped: tuple[str, ...] = ()
        if intent != "none" and part.targets:
            intent, slots, skipped = self.parser.read_many((utterance, *part.targets), intent)
        elif intent != "none":
            intent, slots = self.parser.read(utterance, intent)
        if intent != said:
            log.debug("intent: %s said of %s, taken as %s", said, slots.device, intent)
        plan: Plan | None = None
        if intent == "none":
            reason: str | None = reason_for(unsupported or "") or NOT_A_COMMAND
        else:
            plan = plan_action(intent, slots, self.bank)
            reason = plan.problem
        latency_ms = (self._clock() - started) * 1000
        text = " and ".join(phrase.text for phrase in (utterance, *part.targets))
        return Interpretation(text, intent, confidence, slots, plan, reason, latency_ms, skipped)

    def _classify(self, utterance: Utterance) -> tuple[str, float, str | None]:
        """(public intent, confidence, internal unsupported label or None)."""
        detailed = getattr(self.classifier, "classify_label", None)
        label, confidence = detailed(utterance) if detailed else self.classifier.classify(utterance)
        # A colour, an effect, a plug or a cover named in a device command is still not something edge does;
        # for a sentence the model rejected, the cue says why.
        cue = cue_label(utterance)
        if cue and label in (*ACTION_INTENTS, "none"):
            log.debug("intent: %s overruled by %s", label, cue)
            label = cue
        if label == "status_query" and not self._asks_about_devices(utterance):
            log.debug("intent: status_query of something that is no light or fan")
            return "none", confidence, None
        if reason_for(label):
            return "none", confidence, label
        return label, confidence, None

    def _asks_about_devices(self, utterance: Utterance) -> bool:
        """A status question must name a light or fan, or ask in general ("what's on?", "status")."""
        words = utterance.word_set
        general = _GENERAL_STATUS & words or (len(utterance.words) <= 4 and {"on", "running"} & words)
        return bool(general) or self.parser.finder.mentions(list(utterance.words))

    def handle(self, text: str, timestamp_ms: int, heard: Transcript | None = None) -> list[Event]:
        """Interpret and act on each command of ``text``: Intent then ActionResult, or NotUnderstood, per part.

        ``heard`` carries the recognizer's certainty: an unsure transcript is refused whole, since a misheard
        word may be in any of its parts.
        """
        parts = self.interpret_all(text)
        acting = [p for p in parts if p.plan and not p.reason and p.intent not in HARMLESS_INTENTS]
        doubt = self.doubt(heard, min(p.confidence for p in acting)) if acting else None
        if doubt:
            log.info("intent: %s conf=%.2f refused: %s", acting[0].intent, acting[0].confidence, doubt)
            return [NotUnderstood(timestamp_ms, text, f"{UNSURE}: {doubt}", acting[0].confidence)]
        events: list[Event] = []
        for found in parts:
            events += self._act(found, timestamp_ms)
        return events

    def doubt(self, heard: Transcript | None, confidence: float) -> str | None:
        """Why the recognizer's certainty, with the classifier's ``confidence``, is too low to act on, or None."""
        if heard is None:
            return None
        word, average = heard.word_probability, heard.avg_logprob
        if word is not None and word * confidence < self.min_certainty:
            return (
                f"least sure word p={word:.2f} x intent confidence {confidence:.2f} < "
                f"asr.min_certainty {self.min_certainty:.2f}"
            )
        if average is not None and average < self.min_avg_logprob:
            return f"avg logprob {average:.2f} < asr.min_avg_logprob {self.min_avg_logprob:.2f}"
        return None

    def _act(self, found: Interpretation, timestamp_ms: int) -> list[Event]:
        """One command's events: Intent then ActionResult, or NotUnderstood with the reason."""
        # Planned again now: an earlier command of the sentence may have changed the devices ("everything off
        # and the lamp on" must find the lamp off).
        plan = plan_action(found.intent, found.slots, self.bank) if found.plan is not None else None
        reason = found.reason or (plan.problem if plan else None)
        if reason or plan is None:
            log.info("intent: %s conf=%.2f no action: %s", found.intent, found.confidence, reason)
            return [NotUnderstood(timestamp_ms, found.text, reason or "no action", found.confidence)]
        targets = ",".join(found.slots.devices) or plan.device or "-"
        log.info("intent: %s conf=%.2f device=%s", found.intent, found.confidence, targets)
        intent_event = Intent(
            timestamp_ms, found.intent, found.confidence, found.slots.to_dict(), found.text, found.latency_ms
        )
        started = self._clock()
        outcome = execute(plan, self.bank)
        latency_ms = (self._clock() - started) * 1000
        result = ActionResult(
            timestamp_ms,
            found.intent,
            plan.device,
            outcome.description,
            outcome.state,
            latency_ms,
            devices=plan.devices,
        )
        # The phrases of this command that named nothing edge has are said after what was done.
        missing = [
            NotUnderstood(timestamp_ms, found.text, problem, found.confidence) for problem in found.skipped
        ]
        return [intent_event, result, *missing]
