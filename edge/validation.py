"""Cross-checks that need more than the config file: the intent vocabulary and model."""

from __future__ import annotations

import importlib.util

from edge.config import Config


def validate_models(config: Config) -> list[str]:
    """Load the vocabulary and intent model the config names; return summary lines, raise on errors."""
    lines: list[str] = []
    if importlib.util.find_spec("edge.vocabulary"):
        from edge.vocabulary import load_vocabulary

        vocabulary = load_vocabulary(config.intent.vocabulary, config.devices)
        lines.append(
            f"intents: {config.intent.vocabulary} ({len(vocabulary.sentences())} training sentences)"
        )
    if importlib.util.find_spec("edge.intent"):
        from edge.intent import load_classifier

        classifier = load_classifier(config.intent)
        lines.append(f"model:   {config.intent.model} ({classifier.describe()})")
    return lines
