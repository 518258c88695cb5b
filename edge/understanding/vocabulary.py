"""The intent vocabulary: intents.yaml templates expanded with the configured device names.

Device names, aliases, rooms and fan levels come from the device config (built-in slots ``{light_name}``,
``{fan_name}``, ``{device_name}``, ``{room}``, ``{level}``, plus ``{percent}`` and ``{index}`` numbers), so
renaming a device needs no edit of the YAML. The same vocabulary feeds the trainer (``sentences``) and
the recognizer grammars (``command_phrases``, ``words``).

A ``training.yaml`` next to intents.yaml adds training-only templates (other rooms and devices as
placeholders, addressed and indirect requests, close-domain negatives under internal ``unsupported_*``
labels). They teach the classifier and never reach the recognizer's grammar.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from edge.devices.settings import DeviceConfig
from edge.errors import ConfigError
from edge.understanding.numbers import spoken
from edge.understanding.templates import (
    EMPTY,
    Node,
    TemplateError,
    choice,
    literal,
    parse,
    sample,
    slot_table,
)
from edge.understanding.unsupported import UNSUPPORTED
from edge.yamlfields import load_yaml_mapping

INTENTS: tuple[str, ...] = (
    "light_on",
    "light_off",
    "light_brighter",
    "light_dimmer",
    "light_set_brightness",
    "fan_on",
    "fan_off",
    "fan_faster",
    "fan_slower",
    "fan_set_speed",
    "status_query",
    "stop_cancel",
    "none",
)
MAX_SENTENCES_PER_TEMPLATE = 120  # training sentences drawn from one template
MAX_COMMAND_PHRASES = 4000  # recognizer grammars slow down past a few thousand phrases
_GRAMMAR_RANK = 3  # how far from the plainest form (summed alternative positions) grammar phrases go
_GRAMMAR_PERCENTS = (5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90, 100)
# Used when the config has no rooms or no named fan levels, so templates that mention them still expand.
_FALLBACK_ROOMS = ("house",)
_FALLBACK_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Vocabulary:
    """Intents and their parsed templates, for one device configuration."""

    source: Path
    intents: tuple[str, ...]
    templates: tuple[tuple[str, str, Node], ...]  # (intent, template text, parsed template)
    # The same in-scope templates without politeness fillers and with round numbers: the grammar's phrases.
    cores: tuple[Node, ...] = ()
    per_template: int = MAX_SENTENCES_PER_TEMPLATE
    training: tuple[tuple[str, str, Node], ...] = ()  # training-only (label, template text, parsed template)

    @property
    def labels(self) -> tuple[str, ...]:
        """The classifier's labels: the public intents, then the internal unsupported ones."""
        return (*self.intents, *UNSUPPORTED)

    def sentences(self) -> list[tuple[str, str]]:
        """Training sentences as (text, public intent), including the ``none`` negatives; deterministic."""
        public = set(self.intents)
        return [(text, label if label in public else "none") for text, label in self.labelled_sentences()]

    def labelled_sentences(self) -> list[tuple[str, str]]:
        """Training sentences as (text, label), internal ``unsupported_*`` labels kept; deterministic."""
        seen: set[str] = set()
        result: list[tuple[str, str]] = []
        for intent, text, node in (*self.templates, *self.training):
            for sentence in sample(node, self.per_template, seed=f"{intent}:{text}"):
                if sentence and sentence not in seen:
                    seen.add(sentence)
                    result.append((sentence, intent))
        return result

    def command_phrases(self) -> list[str]:
        """In-scope phrases for recognizer grammars, at most MAX_COMMAND_PHRASES, deterministic.

        The filler-free templates' plainest expansions come first ("turn on the kitchen light" before
        "flip on kitchen light"); every device name, room and number counts as equally plain.
        """
        ranked: dict[str, tuple[int, int]] = {}
        for core in self.cores:
            for rank, words in core.plainest(_GRAMMAR_RANK):
                text = " ".join(words)
                key = (rank, len(words))
                if text and (text not in ranked or key < ranked[text]):
                    ranked[text] = key
        best = sorted(ranked, key=lambda text: (*ranked[text], text))[:MAX_COMMAND_PHRASES]
        return sorted(best)

    def words(self) -> list[str]:
        """Every word any in-scope template can produce (a superset of command_phrases' words), sorted."""
        found: set[str] = set()
        for intent, _text, node in self.templates:
            if intent != "none":
                found |= node.all_words()
        return sorted(found)

    def digest(self) -> str:
        """sha256 of the training sentences, stored in a model's manifest to tell what it was trained on."""
        data = json.dumps(self.labelled_sentences(), separators=(",", ":")).encode()
        return hashlib.sha256(data).hexdigest()


TRAINING_FILE = "training.yaml"
# More training-only grammar files (models/grammar/*.yaml), read in name order after training.yaml; each can
# use the slots of the files read before it.
GRAMMAR_DIR = "grammar"


def training_files(path: Path) -> list[Path]:
    """The training-only files that go with the intents file ``path``, in the order they are read."""
    first = path.with_name(TRAINING_FILE)
    grammar = path.with_name(GRAMMAR_DIR)
    more = sorted(grammar.glob("*.yaml")) if grammar.is_dir() else []
    return [first, *more] if first.is_file() else more


def load_vocabulary(path: Path, devices: Sequence[DeviceConfig]) -> Vocabulary:
    """Read intents.yaml (and the training-only files beside it) and expand them against ``devices``."""
    vocabulary, slots = _load_intents(path, devices)
    training: list[tuple[str, str, Node]] = []
    for extra in training_files(path):
        templates, slots = _load_training(extra, slots, vocabulary.labels)
        training += templates
    return replace(vocabulary, training=tuple(training)) if training else vocabulary


def _load_training(
    path: Path, slots: dict[str, Node], labels: tuple[str, ...]
) -> tuple[tuple[tuple[str, str, Node], ...], dict[str, Node]]:
    """The file's templates, and the slot table with its slots added (for the files read after it)."""
    source = str(path)
    data = load_yaml_mapping(path)
    unknown = set(data) - {"slots", "sentences"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown key (allowed: slots, sentences)")
    slot_defs = data.get("slots") or {}
    groups = data.get("sentences") or {}
    if not isinstance(slot_defs, dict) or not isinstance(groups, dict):
        raise ConfigError(source, "", "'slots' and 'sentences' must be mappings")
    taken = sorted(set(slot_defs) & set(slots))
    if taken:
        raise ConfigError(source, f"slots.{taken[0]}", "already defined by intents.yaml or an earlier file")
    try:
        table = slot_table(slot_defs, slots)
    except (TemplateError, KeyError) as err:
        raise ConfigError(source, "slots", str(err)) from None
    templates: list[tuple[str, str, Node]] = []
    for label, lines in groups.items():
        if label not in labels:
            raise ConfigError(source, f"sentences.{label}", f"unknown label (allowed: {', '.join(labels)})")
        if not isinstance(lines, list) or not lines:
            raise ConfigError(source, f"sentences.{label}", "expected a non-empty list of templates")
        for index, line in enumerate(lines):
            try:
                templates.append((label, str(line), parse(str(line), table.__getitem__)))
            except (TemplateError, KeyError) as err:
                raise ConfigError(
                    source, f"sentences.{label}[{index}]", f"unknown slot or bad template: {err}"
                ) from None
    return tuple(templates), table


def _load_intents(path: Path, devices: Sequence[DeviceConfig]) -> tuple[Vocabulary, dict[str, Node]]:
    source = str(path)
    data = load_yaml_mapping(path)
    unknown = set(data) - {"slots", "intents"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown key (allowed: slots, intents)")
    slot_defs = data.get("slots") or {}
    intents = data.get("intents") or {}
    if not isinstance(slot_defs, dict) or not isinstance(intents, dict):
        raise ConfigError(source, "", "'slots' and 'intents' must be mappings")
    for name, values in slot_defs.items():
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ConfigError(source, f"slots.{name}", "expected a non-empty list of templates")
    try:
        builtin = builtin_slots(devices)
        slots = slot_table(slot_defs, builtin)
        core_slots = slot_table(slot_defs, {**builtin, **_plain_slots(builtin)})
    except TemplateError as err:
        raise ConfigError(source, "slots", str(err)) from None
    for intent in intents:
        if intent not in INTENTS:
            raise ConfigError(source, f"intents.{intent}", f"unknown intent (allowed: {', '.join(INTENTS)})")
    missing = [name for name in INTENTS if name not in intents]
    if missing:
        raise ConfigError(source, "intents", f"missing intents: {', '.join(missing)}")
    templates: list[tuple[str, str, Node]] = []
    cores: list[Node] = []
    for intent, lines in intents.items():
        if not isinstance(lines, list) or not lines:
            raise ConfigError(source, f"intents.{intent}", "expected a non-empty list of templates")
        for index, line in enumerate(lines):
            try:
                templates.append((intent, str(line), parse(str(line), slots.__getitem__)))
                if intent != "none":
                    cores.append(parse(str(line), core_slots.__getitem__))
            except TemplateError as err:
                raise ConfigError(source, f"intents.{intent}[{index}]", str(err)) from None
    return Vocabulary(path, INTENTS, tuple(templates), tuple(cores)), slots


def _plain_slots(builtin: dict[str, Node]) -> dict[str, Node]:
    # The grammar keeps the plain forms; fillers ("could you ... please") and rare variants are left to the
    # classifier and the free-form recognizer, so a few thousand phrases cover the common commands.
    plain = {
        "pre": EMPTY,
        "ask_state": EMPTY,
        "post": EMPTY,
        "percent": choice([literal(spoken(n)) for n in _GRAMMAR_PERCENTS], flat=True),
        "amount": choice([EMPTY, literal("a bit"), literal("a little")]),
    }
    forms = {
        "light": "[the] ({light_name}|light|lights) | the (light|lights) in the {room}",
        "fan": "[the] ({fan_name}|fan) | the fan in the {room}",
        "on_verb": "(turn|switch) on",
        "off_verb": "(turn|switch) off",
        "up_verb": "(turn up|increase|raise)",
        "down_verb": "(turn down|decrease|lower)",
    }
    table = {**builtin, **plain}
    return {**plain, **{name: parse(form, table.__getitem__) for name, form in forms.items()}}


def builtin_slots(devices: Sequence[DeviceConfig]) -> dict[str, Node]:
    """Slots filled from the device config, and the spoken numbers."""

    def names(kind: str | None) -> Node:
        found = [name for d in devices if kind in (None, d.kind) for name in d.spoken_names]
        return choice([literal(name) for name in found] or [literal(kind or "device")], flat=True)

    rooms = sorted({d.room for d in devices if d.room}) or list(_FALLBACK_ROOMS)
    levels = sorted({level for d in devices for level in d.levels}) or list(_FALLBACK_LEVELS)
    return {
        "light_name": names("light"),
        "fan_name": names("fan"),
        "device_name": names(None),
        "room": choice([literal(room) for room in rooms], flat=True),
        "level": choice([literal(level) for level in levels], flat=True),
        "percent": choice([literal(spoken(n)) for n in range(101)], flat=True),
        "index": choice([literal(spoken(n)) for n in range(1, 6)], flat=True),
    }
