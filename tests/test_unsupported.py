"""Cue words that make a request unsupported whatever the classifier thought, and what they leave alone."""

from __future__ import annotations

import pytest

from edge.understanding.unsupported import cue_label, reason_for


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("turn the lights red", "unsupported_colour"),
        ("flash the lights", "unsupported_effect"),
        ("turn on smart socket", "unsupported_plug"),
        ("close the blinds", "unsupported_cover"),
        ("stop my timer", "unsupported_timer"),
        ("notify me when the kitchen light turns on", "unsupported_rule"),
        ("make the fan oscillate", "unsupported_fan_mode"),
        ("turn on the oscillating fan", None),  # a kind of fan, not a mode
        ("play some jazz", "unsupported_media"),
        ("turn on the front door light", None),  # a place before a light is not a door request
        ("turn on the lamp by the window", None),
    ],
)
def test_unsupported_cues(text: str, label: str | None) -> None:
    assert cue_label(text) == label


def test_every_unsupported_label_has_a_reason() -> None:
    assert reason_for("unsupported_colour") == "I can't change colours"
    assert reason_for("light_on") is None
