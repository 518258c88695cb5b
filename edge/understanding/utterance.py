"""One sentence as understanding sees it: its words, tokenised once, and the numbers in them, read once.

Every step after the recognizer (unsupported cues, the classifier's features, the slot parser, the status
check, the split into several commands) reads the same ``Utterance`` instead of tokenising the text again.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from edge.understanding.numbers import parse_number

_WORD = re.compile(r"[a-z0-9']+")


def tokens(text: str) -> list[str]:
    """Lower-case words as a recognizer writes them; ``50%`` becomes ``50 percent``."""
    spaced = text.lower().replace("-", " ").replace("%", " percent ")
    return [word for word in (w.strip("'") for w in _WORD.findall(spaced)) if word]


@dataclass(frozen=True)
class Utterance:
    """A transcript and its words; ``numbers`` maps a word position to (value, words used)."""

    text: str
    words: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Utterance:
        """Tokenise ``text``: the one place a sentence is split into words."""
        return cls(text, tuple(tokens(text)))

    @classmethod
    def from_words(cls, words: tuple[str, ...]) -> Utterance:
        """A part of a longer utterance (one command of several), already tokenised."""
        return cls(" ".join(words), words)

    @functools.cached_property
    def word_set(self) -> frozenset[str]:
        """The distinct words, for membership tests."""
        return frozenset(self.words)

    @functools.cached_property
    def numbers(self) -> dict[int, tuple[int, int]]:
        """Plain numbers (no soundalikes) by the position they start at: ``{3: (75, 2)}``."""
        found: dict[int, tuple[int, int]] = {}
        for i in range(len(self.words)):
            number = parse_number(list(self.words), i)
            if number:
                found[i] = number
        return found


def as_utterance(text: str | Utterance) -> Utterance:
    """``text`` itself when it is already an Utterance, else its tokenisation."""
    return text if isinstance(text, Utterance) else Utterance.of(text)
