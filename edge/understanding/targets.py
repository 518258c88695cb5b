"""Which configured devices a command is about: names, rooms, "all", plurals, and places edge lacks.

Precedence, most specific first: a room with a kind word ("the bedroom lamp" is the bedroom light even
when "lamp" is another light's alias), then names and aliases, then rooms ("the lights in the kitchen and
bedroom"), then quantifiers ("all the lights", "everything", plural "the lights"), then the only device or
the configured default. A place or device name that edge.yaml does not have ("the garage light") is
reported with what there is, never replaced by another device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from edge.devices.settings import DeviceConfig

LIGHT_WORDS = frozenset({"light", "lights", "lamp", "lamps", "lighting", "bulb", "bulbs"})
FAN_WORDS = frozenset({"fan", "fans"})
_PLURALS = frozenset({"lights", "lamps", "bulbs", "fans", "lighting"})
_ALL = frozenset({"all", "every", "each", "everywhere", "throughout", "entire", "whole"})
_EVERYTHING = frozenset({"everything", "anything"})
# Words around a device noun that name neither a place nor a device: articles, verbs, fillers, descriptors.
_FILLER_WORDS = (
    "a an the my our your this that these those all every each single of and or to at in on off up "
    "down out please turn switch put flip click power shut kill cut get set make dim brighten "
    "activate deactivate enable disable start stop is are was were it them both can could would will "
    "you me i we just now still left some any no more less ceiling overhead main led big little small "
    "smart bright dim new old other lit lights light lamp lamps fan fans here there room rooms area "
    "areas house home apartment flat place everywhere throughout entire whole across around over for "
    "thanks hey ok okay so be light's fan's leave forget did do does have has if whether check tell "
    "let know see how many which what status increase decrease raise lower reduce boost bump crank "
    "soften illuminate drop knock tone bring push ramp step adjust change want need give like percent "
    "brightness speed level "
    # names people call a voice assistant by ("olly, lights off")
    "olly computer jarvis alexa assistant siri google mycroft jane rhasspy"
)
_FILLER = frozenset(_FILLER_WORDS.split()) - {"room", "rooms", "area", "areas", "floor"}
# Nouns that end a place's name ("the dining room") but alone name no place ("the lights in the room").
_PLACE_NOUNS = frozenset(
    {"room", "rooms", "area", "areas", "floor", "morning", "evening", "night", "afternoon"}
)
_HERE = frozenset({"here", "this"})
# Words that may follow a room without naming a device there ("the kitchen too", "the bedroom to low").
_FOLLOWER_WORDS = (
    "too also again as well then first please thanks low medium high max maximum minimum half full "
    "one two three four five six seven eight nine ten twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred"
)
_FOLLOWERS = frozenset(_FOLLOWER_WORDS.split())


@dataclass(frozen=True)
class Targets:
    """The devices meant, how they were chosen, or the problem that stops a choice."""

    devices: tuple[str, ...] = ()
    how: str = ""  # named | room | all | only | default
    problem: str | None = None
    candidates: tuple[str, ...] = ()


class TargetFinder:
    """Device resolution for one configuration."""

    def __init__(self, devices: Sequence[DeviceConfig], default_devices: Mapping[str, str]) -> None:
        self.devices = tuple(devices)
        self.defaults = dict(default_devices)
        self._names = sorted(
            ((tuple(name.split()), d) for d in devices for name in d.spoken_names),
            key=lambda item: -len(item[0]),
        )
        self._rooms = sorted({tuple(d.room.split()) for d in devices if d.room}, key=len, reverse=True)

    def find(self, words: list[str], kind: str | None, *, any_kind: bool = False) -> Targets:
        """Devices of ``kind`` (None: any) that ``words`` refer to; ``any_kind``: "everything" may mix kinds."""
        rooms, rest = self._take_rooms(words)
        kind = kind or kind_of(words)
        by_room_kind = self._room_kind(words)
        if by_room_kind or self._named(words, weak_ok=False):
            named = [*by_room_kind, *self._named(words, weak_ok=not rooms)]
            return Targets(tuple(_unique([d.name for d in named])), "named")
        unknown = None if rooms else _unknown_place(words)
        if unknown:
            return Targets(problem=self._missing(unknown, kind))
        weak = [] if rooms else self._named(words, weak_ok=True)
        if weak:
            return Targets(tuple(_unique([d.name for d in weak])), "named")
        everything = bool(_EVERYTHING & set(rest)) and any_kind
        pool = [d for d in self.devices if everything or kind in (None, d.kind)]
        stranger = self._noun_after_room(words) if rooms and not kind_of(words) else None
        if stranger:
            # "the living room lane" (a misheard "lamp") names no device here: never guess one from the room.
            return Targets(problem=self._missing(stranger, None).replace(" device;", ";", 1))
        if rooms:
            pool = [d for d in pool if d.room in rooms]
            if not pool:
                where = " or the ".join(rooms)
                return Targets(problem=f"no {kind or 'device'} configured in the {where}")
            return Targets(tuple(d.name for d in pool), "room")
        several = everything or _ALL & set(rest) or (_PLURALS & set(rest) and not _HERE & set(rest))
        if several and pool:
            return Targets(tuple(d.name for d in pool), "all")
        return self._single(pool, kind)

    def mentions(self, words: list[str], *, everything: bool = False) -> bool:
        """True when ``words`` name a light or a fan: a kind word or a configured name (or, asked, "everything")."""
        if (LIGHT_WORDS | FAN_WORDS | ({"everything"} if everything else set())) & set(words):
            return True
        return any(tuple(words[i : i + len(n)]) == n for n, _d in self._names for i in range(len(words)))

    def _single(self, pool: list[DeviceConfig], kind: str | None) -> Targets:
        what = kind or "device"
        if len(pool) == 1:
            return Targets((pool[0].name,), "only")
        if not pool:
            return Targets(problem=f"no {what} configured")
        if kind and kind in self.defaults:
            return Targets((self.defaults[kind],), "default")
        names = tuple(d.name for d in pool)
        return Targets(problem=f"which {what}: {' or '.join(names)}?", candidates=names)

    def _missing(self, place: str, kind: str | None) -> str:
        what = kind or "device"
        have = [d.name.replace("_", " ") for d in self.devices if kind in (None, d.kind)]
        listing = ", ".join(have) if have else "none"
        return f"there is no {place} {what}; I have: {listing}"

    def _take_rooms(self, words: list[str]) -> tuple[list[str], list[str]]:
        """Configured rooms mentioned, and the words left once they are taken out."""
        found: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(words):
            room = next((r for r in self._rooms if tuple(words[i : i + len(r)]) == r), None)
            if room:
                found.append(" ".join(room))
                i += len(room)
            else:
                rest.append(words[i])
                i += 1
        return _unique(found), rest

    def _noun_after_room(self, words: list[str]) -> str | None:
        """ "living room lane": a configured room followed by a word that is no filler, number or level."""
        for i in range(len(words)):
            room = next((r for r in self._rooms if tuple(words[i : i + len(r)]) == r), None)
            after = i + len(room) if room else len(words)
            if room and after < len(words):
                word = words[after]
                if word not in _FILLER and word not in _FOLLOWERS and not word.isdigit():
                    return f"{' '.join(room)} {word}"
        return None

    @property
    def rooms(self) -> list[tuple[str, ...]]:
        """The configured rooms as word tuples, longest first."""
        return list(self._rooms)

    def _room_kind(self, words: list[str]) -> list[DeviceConfig]:
        """Devices named as room + kind word ("bedroom lamp"), also each room of "kitchen and bedroom lights"."""
        found: list[DeviceConfig] = []
        for room in self._rooms:
            for i in range(len(words) - len(room)):
                if tuple(words[i : i + len(room)]) != room:
                    continue
                kind = kind_of([words[i + len(room)]])
                if kind:
                    places = [*self._rooms_listed_before(words, i), " ".join(room)]
                    found += [d for d in self.devices if d.kind == kind and d.room in places]
        return found

    def _rooms_listed_before(self, words: list[str], end: int) -> list[str]:
        """Rooms joined by "and"/"or" that end right before ``end``: "kitchen and" in front of "bedroom"."""
        listed: list[str] = []
        while end > 0 and words[end - 1] in ("and", "or"):
            fits = (r for r in self._rooms if len(r) < end and tuple(words[end - 1 - len(r) : end - 1]) == r)
            room = next(fits, None)
            if room is None:
                break
            listed.insert(0, " ".join(room))
            end -= 1 + len(room)
        return listed

    def _named(self, words: list[str], *, weak_ok: bool) -> list[DeviceConfig]:
        """Devices named by name or alias; an alias that is only a kind word ("lamp") yields to a room."""
        found: list[DeviceConfig] = []
        i = 0
        while i < len(words):
            for name, device in self._names:
                if tuple(words[i : i + len(name)]) == name and (weak_ok or not _generic(name)):
                    found.append(device)
                    i += len(name)
                    break
            else:
                i += 1
        return found


def _generic(name: tuple[str, ...]) -> bool:
    return all(word in LIGHT_WORDS | FAN_WORDS for word in name)


def kind_of(words: Sequence[str]) -> str | None:
    present = set(words)
    return "fan" if FAN_WORDS & present else "light" if LIGHT_WORDS & present else None


T = TypeVar("T")


def _unique(items: list[T]) -> list[T]:
    return list(dict.fromkeys(items))


def _unknown_place(words: list[str]) -> str | None:
    """A place or device name that is not configured: words before the device noun, or after "in the"."""
    nouns = [i for i, word in enumerate(words) if word in LIGHT_WORDS | FAN_WORDS]
    first = nouns[0] if nouns else len(words)
    start = first
    while nouns and start > 0 and words[start - 1] not in _FILLER:
        start -= 1
    if start < first and not set(words[start:first]) <= _PLACE_NOUNS:
        return " ".join(words[start:first])
    for i in range(first + 1 if nouns else 0, len(words) - 1):
        if words[i] in ("in", "on", "at") and words[i + 1] in ("the", "my", "our"):
            place = []
            for word in words[i + 2 :]:
                if word in _FILLER:
                    break
                place.append(word)
            if place and not set(place) <= _PLACE_NOUNS:
                return " ".join(place)
    return None
