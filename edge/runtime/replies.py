"""What edge says back: confirmations and status answers as short English sentences.

Built from the events' structured fields (device, state), not from log descriptions, so a reply reads
"the kitchen light is on at 50 percent" however the log line is worded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from edge.events import ActionResult, Event, NotUnderstood, StageError

_MISSING_DEVICE = re.compile(r"^no (?P<what>light|fan|device) configured in the (?P<room>[a-z ]+)$")
_WHICH = re.compile(r"^which (?:one|light|fan|device): (?P<names>.+)\?$")


def spoken_name(device: str) -> str:
    """``kitchen_light`` -> ``the kitchen light``."""
    return "the " + device.replace("_", " ")


def state_sentence(device: str, state: Mapping[str, Any]) -> str:
    """``the kitchen light is on at 50 percent`` / ``the bedroom light is off``."""
    name = spoken_name(device)
    if not state.get("on"):
        return f"{name} is off"
    level = state.get("level_percent")
    if isinstance(level, int) and 0 < level < 100:
        return f"{name} is on at {level} percent"
    return f"{name} is on"


def reply_for(event: Event) -> str | None:
    """The sentence to speak after ``event``, or None when it needs no spoken answer."""
    if isinstance(event, ActionResult):
        return _action_reply(event)
    if isinstance(event, NotUnderstood):
        return _not_understood_reply(event.reason)
    if isinstance(event, StageError):
        return "sorry, something went wrong"
    return None


def _action_reply(event: ActionResult) -> str:
    if event.intent == "stop_cancel":
        return "okay, cancelled"
    if event.device:
        return state_sentence(event.device, event.state)
    # A status query about everything carries every device's state.
    states = [
        state_sentence(name, state) for name, state in event.state.items() if isinstance(state, Mapping)
    ]
    if not states:
        return "done"
    return states[0] if len(states) == 1 else ", ".join(states[:-1]) + " and " + states[-1]


def _not_understood_reply(reason: str) -> str:
    text = reason.strip().lower()
    if text.startswith("sorry, i didn't catch that"):
        return "sorry, I didn't catch that"  # the recognizer was unsure of the words: nothing was done
    if text.startswith("there is no "):
        # "there is no garage light; i have: kitchen light, ..." is said as two sentences.
        return text.replace("; i have:", ". I have:")
    # Imported here: edge.config reads the voice section through this package, and the understanding
    # package imports edge.config.
    from edge.understanding.unsupported import REASONS

    if reason.strip() in REASONS.values():
        return reason.strip()  # a request edge cannot do: "I can't change colours"
    missing = _MISSING_DEVICE.match(text)
    if missing:
        return f"there is no {missing['room']} {missing['what']}"
    which = _WHICH.match(text)
    if which:
        names = [spoken_name(name.strip()) for name in which["names"].split(" or ")]
        return "which one: " + " or ".join(names) + "?"
    return "sorry, I did not understand"
