"""Several commands in one sentence: "fan off and lamp on", "turn on the lights and the fan".

A sentence is cut at "and"/"then" into parts. A part with an action word of its own ("lamp on", "play
music") is a command and is classified alone; a part that only names devices or rooms ("the fan", "the
bedroom") shares the action of the command before it (or after it, when it comes first). A list of rooms in
front of a device word ("the kitchen and bedroom lights") is not cut: the device word belongs to each room.
Only a part that names a light, a fan or "everything", or asks for something edge refuses ("play music"),
stands alone; any other part is joined back to its neighbour, so a sentence about neither lights nor fans is
classified whole, as before. A part is acted on only where it would be acted on said alone: "turn on the
light and play music" switches the light and says edge cannot play media.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.understanding.utterance import Utterance

CONJUNCTIONS = frozenset({"and", "then"})
# Words that make a part a request of its own, rather than one more target for the request before it.
_ACTION_WORD_LIST = (
    "on off up down turn switch put flip kill cut shut power dim dimmer brighten brighter raise lower "
    "increase decrease boost reduce set make start stop cancel play open close lock unlock activate "
    "deactivate enable disable speed slow slower faster full half max maximum minimum low medium high "
    "percent what what's is are how tell check show give"
)
_ACTION_WORDS = frozenset(_ACTION_WORD_LIST.split())


@dataclass(frozen=True)
class Part:
    """One command of a sentence and the device phrases that share its action."""

    command: Utterance
    targets: tuple[Utterance, ...] = ()


def split_commands(
    utterance: Utterance,
    rooms: Sequence[tuple[str, ...]],
    mentions: Callable[[list[str]], bool],
    unsupported: Callable[[Utterance], bool],
) -> list[Part]:
    """The commands of ``utterance``; one Part holding all of it when it is a single command.

    ``rooms`` are the configured rooms (as word tuples); ``mentions`` says whether words name a light or a
    fan; ``unsupported`` whether a part asks for something edge cannot do ("play music").
    """
    segments = _segments(utterance.words, rooms)
    if len(segments) > 1:
        segments = _merge_loose(segments, lambda words: mentions(list(words)), unsupported)
    if len(segments) < 2:
        return [Part(utterance)]
    parts: list[Part] = []
    leading: list[Utterance] = []
    for words in segments:
        piece = Utterance.from_words(words)
        if _ACTION_WORDS.isdisjoint(words) and not any(w.isdigit() for w in words) and mentions(list(words)):
            if parts:
                parts[-1] = Part(parts[-1].command, (*parts[-1].targets, piece))
            else:
                leading.append(piece)
        else:
            parts.append(Part(piece, tuple(leading)))
            leading = []
    if leading:
        return [Part(utterance)]  # device names only, no action word: one sentence after all
    return parts


def _merge_loose(
    segments: list[tuple[str, ...]],
    mentions: Callable[[tuple[str, ...]], bool],
    unsupported: Callable[[Utterance], bool],
) -> list[tuple[str, ...]]:
    """Join back every part that names no device and asks nothing edge refuses ("dim it", "the weather").

    Only a part about a light or a fan, or a request edge cannot do, stands alone: a fragment of some other
    sentence ("transfer money between checking and savings") must never be classified on its own words.
    """
    if not any(mentions(words) for words in segments):
        return [_join(segments)]
    kept: list[list[tuple[str, ...]]] = []
    waiting: list[tuple[str, ...]] = []
    for words in segments:
        if mentions(words) or unsupported(Utterance.from_words(words)):
            kept.append([*waiting, words])
            waiting = []
        elif kept:
            kept[-1].append(words)
        else:
            waiting.append(words)
    return [_join(group) for group in kept]


def _join(group: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    joined: list[str] = []
    for words in group:
        joined += [*(["and"] if joined else []), *words]
    return tuple(joined)


def _segments(words: Sequence[str], rooms: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """``words`` cut at the conjunctions, except inside a list of rooms ("kitchen and bedroom lights")."""
    segments: list[list[str]] = [[]]
    for i, word in enumerate(words):
        if word in CONJUNCTIONS:
            if segments[-1] and _joins_rooms(words, i, rooms):
                segments[-1].append(word)
            elif segments[-1]:
                segments.append([])
            continue
        segments[-1].append(word)
    return [tuple(segment) for segment in segments if segment]


def _joins_rooms(words: Sequence[str], at: int, rooms: Sequence[tuple[str, ...]]) -> bool:
    """True when the conjunction at ``at`` stands between two configured rooms."""
    before = any(tuple(words[at - len(room) : at]) == room for room in rooms if at >= len(room))
    after = any(tuple(words[at + 1 : at + 1 + len(room)]) == room for room in rooms)
    return before and after
