"""Cross-checks that need more than the config file: the intent vocabulary and model."""

from __future__ import annotations

from edge.understanding.intent import load_classifier
from edge.understanding.settings import UnderstandingSettings
from edge.understanding.vocabulary import load_vocabulary


def validate_models(config: UnderstandingSettings) -> list[str]:
    """Load the vocabulary and intent model the config names; return summary lines, raise on errors."""
    vocabulary = load_vocabulary(config.intent.vocabulary, config.devices)
    classifier = load_classifier(config.intent, config.devices)
    return [
        f"intents: {config.intent.vocabulary} ({len(vocabulary.sentences())} training sentences)",
        f"model:   {config.intent.model} ({classifier.describe()})",
    ]
