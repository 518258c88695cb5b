"""The intent vocabulary: template syntax, expansion with configured devices, grammar phrases."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edge.config import Config
from edge.devices.settings import DeviceConfig
from edge.errors import ConfigError
from edge.understanding.templates import TemplateError, parse, sample
from edge.understanding.vocabulary import INTENTS, MAX_COMMAND_PHRASES, load_vocabulary


def expand(template: str, slots: dict[str, str] | None = None) -> set[str]:
    table = {name: parse(value, {}.__getitem__) for name, value in (slots or {}).items()}
    return set(sample(parse(template, table.__getitem__), 1000, "test"))


def test_optional_alternatives_and_slots_expand() -> None:
    got = expand("(turn|switch) on [the] {thing}", {"thing": "lamp|fan"})
    assert got == {
        f"{verb} on {the}{thing}"
        for verb in ("turn", "switch")
        for the in ("", "the ")
        for thing in ("lamp", "fan")
    }


def test_bad_templates_are_rejected() -> None:
    with pytest.raises(TemplateError):
        expand("(turn on")
    with pytest.raises(TemplateError):
        expand("turn on]")
    with pytest.raises(TemplateError, match="unknown slot"):
        expand("turn on {nothing}")


def test_large_templates_are_sampled_deterministically() -> None:
    node = parse("(a|b|c|d|e|f|g|h|i|j) (a|b|c|d|e|f|g|h|i|j) (a|b|c|d|e|f|g|h|i|j) (k|l)", {}.__getitem__)
    first = list(sample(node, 50, "seed"))
    assert first == list(sample(node, 50, "seed"))
    assert len(first) == len(set(first)) == 50


def test_shipped_vocabulary_uses_the_configured_device_names(shipped_config: Config) -> None:
    vocabulary = load_vocabulary(shipped_config.intent.vocabulary, shipped_config.devices)
    sentences = vocabulary.sentences()
    assert {intent for _, intent in sentences} == set(INTENTS)
    texts = " | ".join(text for text, _ in sentences)
    assert "bedside light" in texts and "ceiling fan" in texts and "living room" in texts


def test_a_renamed_device_needs_no_vocabulary_edit(shipped_config: Config) -> None:
    renamed = [
        replace(d, aliases=("reading lamp",)) if d.name == "kitchen_light" else d
        for d in shipped_config.devices
    ]
    vocabulary = load_vocabulary(shipped_config.intent.vocabulary, renamed)
    assert "reading" in vocabulary.words()
    assert any("reading lamp" in text for text, intent in vocabulary.sentences() if intent == "light_on")


def test_command_phrases_are_bounded_lower_case_and_in_scope(shipped_config: Config) -> None:
    vocabulary = load_vocabulary(shipped_config.intent.vocabulary, shipped_config.devices)
    phrases = vocabulary.command_phrases()
    assert 500 < len(phrases) <= MAX_COMMAND_PHRASES
    assert phrases == vocabulary.command_phrases()
    assert all(p == p.lower() and p.strip() for p in phrases)
    words = set(vocabulary.words())
    assert {w for p in phrases for w in p.split()} <= words
    assert {"seventy", "five", "percent", "fan", "lamp", "weather"} - words == {"weather"}


def test_unknown_intent_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "intents.yaml"
    path.write_text("intents:\n  light_up: ['turn on the light']\n")
    with pytest.raises(ConfigError, match=r"intents.yaml: intents.light_up: unknown intent"):
        load_vocabulary(path, [DeviceConfig("lamp", "light", False, "GPIO17")])


def test_bad_template_names_the_intent_and_index(tmp_path: Path, shipped_config: Config) -> None:
    text = shipped_config.intent.vocabulary.read_text().replace('"{light} on"', '"{light} on)"', 1)
    path = tmp_path / "intents.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"intents\.light_on\[\d+\]: unbalanced"):
        load_vocabulary(path, shipped_config.devices)


def test_training_only_sentences_never_reach_the_grammar(shipped_config: Config) -> None:
    vocabulary = load_vocabulary(shipped_config.intent.vocabulary, shipped_config.devices)
    assert vocabulary.training, "models/training.yaml was not loaded"
    labelled = dict(vocabulary.labelled_sentences())
    assert {"unsupported_colour", "unsupported_plug", "unsupported_cover"} <= set(labelled.values())
    assert set(vocabulary.labels) >= set(INTENTS) and len(vocabulary.labels) > len(INTENTS)
    # Placeholders (a garage, an ikea lamp) and addressed forms teach the classifier only.
    words = set(vocabulary.words())
    assert {"garage", "ikea", "olly", "curtains", "red"}.isdisjoint(words)
    assert not [p for p in vocabulary.command_phrases() if "garage" in p or "olly" in p]
    public = {intent for _, intent in vocabulary.sentences()}
    assert public == set(INTENTS)


def test_a_bad_training_file_names_file_and_key(tmp_path: Path, shipped_config: Config) -> None:
    (tmp_path / "intents.yaml").write_text(shipped_config.intent.vocabulary.read_text())
    (tmp_path / "training.yaml").write_text("sentences:\n  light_sideways: ['tilt {light}']\n")
    with pytest.raises(ConfigError, match=r"training.yaml: sentences.light_sideways: unknown label"):
        load_vocabulary(tmp_path / "intents.yaml", shipped_config.devices)


def test_grammar_files_add_sentences_and_may_not_redefine_a_slot(
    tmp_path: Path, shipped_config: Config
) -> None:
    (tmp_path / "intents.yaml").write_text(shipped_config.intent.vocabulary.read_text())
    grammar = tmp_path / "grammar"
    grammar.mkdir()
    (grammar / "a.yaml").write_text(
        "slots:\n  z_thing: ['(kettle|toaster)']\nsentences:\n  none: ['boil the {z_thing}']\n"
    )
    (grammar / "b.yaml").write_text("sentences:\n  none: ['descale the {z_thing}']\n")
    labelled = dict(load_vocabulary(tmp_path / "intents.yaml", shipped_config.devices).labelled_sentences())
    assert labelled["boil the toaster"] == "none" and labelled["descale the kettle"] == "none"
    (grammar / "c.yaml").write_text("slots:\n  z_thing: ['(oven)']\n")
    with pytest.raises(ConfigError) as err:
        load_vocabulary(tmp_path / "intents.yaml", shipped_config.devices)
    assert "c.yaml" in str(err.value) and "z_thing" in str(err.value)
