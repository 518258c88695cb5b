"""Requests close to edge's domain that it cannot carry out, each with the reason a person is told.

The classifier learns these as internal labels (``unsupported_colour`` ...) so a colour or a curtain is not
mistaken for a light; the public intent is always ``none``. A small cue list backs the model up: a sentence
that asks a light for a colour or an effect, or names a plug, a cover or a lock, is never an action.
"""

from __future__ import annotations

from edge.understanding.utterance import Utterance, as_utterance

# Internal label -> what edge says. The order is the model's label order after the public intents.
REASONS: dict[str, str] = {
    "unsupported_colour": "I can't change colours",
    "unsupported_effect": "I can't make lights flash or run effects",
    "unsupported_plug": "I have no plugs or sockets to switch",
    "unsupported_cover": "I can't open, close or lock doors, covers, curtains or blinds",
    "unsupported_media": "I can't play media or change the volume",
    "unsupported_timer": "I can't set timers, alarms or reminders",
    "unsupported_climate": "I can't control heating, cooling or the thermostat",
    "unsupported_sensor": "I have no sensors to read",
    "unsupported_appliance": "I can only switch lights and fans",
    "unsupported_rule": "I can't run schedules, rules or notifications",
    "unsupported_fan_mode": "I can't make fans oscillate or change direction",
}
UNSUPPORTED: tuple[str, ...] = tuple(REASONS)
NOT_A_COMMAND = "not a command for the lights or fans"

_KIND_WORDS = frozenset({"light", "lights", "lamp", "lamps", "lighting", "bulb", "bulbs", "fan", "fans"})
# Words that make a request unsupported whatever the classifier thought. A cue directly before a kind word
# names a device, not the request ("the front door light", "the curtain lights"), and is skipped.
_CUES: dict[str, frozenset[str]] = {
    "unsupported_colour": frozenset(
        [
            "colour",
            "color",
            "colours",
            "colors",
            "red",
            "green",
            "blue",
            "yellow",
            "orange",
            "purple",
            "pink",
            "violet",
            "cyan",
            "magenta",
            "turquoise",
            "teal",
            "hue",
            "saturation",
            "rgb",
        ]
    ),
    "unsupported_effect": frozenset(
        ["flash", "flashing", "blink", "blinking", "strobe", "flicker", "flickering", "disco"]
    ),
    "unsupported_rule": frozenset(["notify", "notification", "notifications", "whenever"]),
    "unsupported_fan_mode": frozenset(["oscillate", "oscillation", "oscillating", "swivel", "swing"]),
}
# These name the thing asked for only when no light or fan is named: "the lamp by the window" is a lamp.
_OBJECT_CUES: dict[str, frozenset[str]] = {
    "unsupported_plug": frozenset(["plug", "plugs", "socket", "sockets", "outlet", "outlets", "wemo"]),
    "unsupported_cover": frozenset(
        [
            "curtain",
            "curtains",
            "blind",
            "blinds",
            "shade",
            "shades",
            "shutter",
            "shutters",
            "cover",
            "covers",
            "awning",
            "lock",
            "unlock",
            "locked",
            "unlocked",
            "door",
            "doors",
            "gate",
            "window",
            "windows",
        ]
    ),
    "unsupported_timer": frozenset(
        ["timer", "timers", "alarm", "alarms", "reminder", "reminders", "countdown", "stopwatch"]
    ),
    "unsupported_media": frozenset(
        [
            "music",
            "song",
            "songs",
            "track",
            "tracks",
            "playlist",
            "podcast",
            "radio",
            "tv",
            "television",
            "volume",
            "media",
            "player",
            "speaker",
            "play",
            "spotify",
            "album",
            "jazz",
            "audiobook",
        ]
    ),
    "unsupported_climate": frozenset(
        ["temperature", "temp", "thermostat", "heating", "heater", "degrees", "ac"]
    ),
}


def reason_for(label: str) -> str | None:
    """The reason for an internal unsupported label, else None."""
    return REASONS.get(label)


def cue_label(text: str | Utterance) -> str | None:
    """The unsupported label a cue word in ``text`` demands, or None when there is none."""
    utterance = as_utterance(text)
    words = utterance.words
    cues = _CUES if _KIND_WORDS & utterance.word_set else {**_CUES, **_OBJECT_CUES}
    for i, word in enumerate(words):
        if i + 1 < len(words) and words[i + 1] in _KIND_WORDS:
            continue
        for label, found in cues.items():
            if word in found:
                return label
    return None
