"""A compact sentence template syntax, in the spirit of Rhasspy's sentences.ini.

``[please] (turn|switch) on [the] {light}``: ``[x]`` is optional, ``(a|b)`` picks one alternative, ``{name}``
refers to a slot whose values are templates themselves. Templates are parsed into a small tree whose
expansions are numbered, so the n-th sentence can be built without expanding all of them; a template that would
expand into millions of sentences is sampled deterministically instead.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*([\[\]()|{}]|[^\s\[\]()|{}]+)")


class TemplateError(ValueError):
    """A template has unbalanced brackets or names an unknown slot."""


@dataclass(frozen=True)
class Node:
    """A template tree node: ``words`` alone is a literal, ``parts`` a sequence, ``options`` a choice."""

    words: tuple[str, ...] = ()
    parts: tuple[Node, ...] = ()
    options: tuple[Node, ...] = ()
    flat: bool = False  # options are equally plain (slot values such as device names and numbers)

    def count(self) -> int:
        """How many sentences this node expands into."""
        if self.options:
            return sum(option.count() for option in self.options)
        return math.prod(part.count() for part in self.parts) if self.parts else 1

    def nth(self, index: int) -> tuple[str, ...]:
        """Return the words of expansion number ``index`` (0 <= index < count())."""
        if self.options:
            for option in self.options:
                size = option.count()
                if index < size:
                    return option.nth(index)
                index -= size
            raise IndexError(index)
        if not self.parts:
            return self.words
        words: list[str] = []
        for part in reversed(self.parts):
            index, digit = divmod(index, part.count())
            words[:0] = part.nth(digit)
        return tuple(words)

    def walk(self, rng: random.Random) -> list[str]:
        """One random expansion, choosing uniformly among the alternatives at every choice."""
        if self.options:
            return rng.choice(self.options).walk(rng)
        if not self.parts:
            return list(self.words)
        return [word for part in self.parts for word in part.walk(rng)]

    def plainest(self, budget: int) -> list[tuple[int, tuple[str, ...]]]:
        """Expansions as (rank, words) with rank <= ``budget``; rank adds up the position of each choice.

        Template authors list the common alternative first, so low ranks are the plain ways to say it.
        """
        if self.options:
            found: list[tuple[int, tuple[str, ...]]] = []
            for position, option in enumerate(self.options):
                cost = 0 if self.flat else position
                if cost <= budget:
                    found += [(rank + cost, words) for rank, words in option.plainest(budget - cost)]
            return found
        if not self.parts:
            return [(0, self.words)]
        partial: list[tuple[int, tuple[str, ...]]] = [(0, ())]
        for part in self.parts:
            partial = [
                (rank + more, words + extra)
                for rank, words in partial
                for more, extra in part.plainest(budget - rank)
            ]
        return partial

    def all_words(self) -> set[str]:
        """Every word any expansion can contain."""
        found = set(self.words)
        for child in (*self.parts, *self.options):
            found |= child.all_words()
        return found


EMPTY = Node()


def literal(text: str) -> Node:
    """A node for fixed words."""
    return Node(words=tuple(text.lower().split()))


def choice(nodes: list[Node], *, flat: bool = False) -> Node:
    """A node choosing one of ``nodes`` (``flat``: all equally plain, for slot values)."""
    return nodes[0] if len(nodes) == 1 else Node(options=tuple(nodes), flat=flat)


def parse(template: str, slots: Callable[[str], Node]) -> Node:
    """Parse one template; ``slots(name)`` returns the node for ``{name}`` (KeyError if unknown)."""
    tokens = _TOKEN.findall(template.lower())
    node, end = _parse_choice(tokens, 0, slots, closer=None)
    if end != len(tokens):
        raise TemplateError(f"unexpected {tokens[end]!r} in {template!r}")
    return node


def _parse_choice(
    tokens: list[str], pos: int, slots: Callable[[str], Node], closer: str | None
) -> tuple[Node, int]:
    options: list[Node] = []
    parts: list[Node] = []
    while pos < len(tokens):
        token = tokens[pos]
        if token == closer:
            break
        if token in ")]}":
            raise TemplateError(f"unbalanced {token!r}")
        if token == "|":
            options.append(_sequence(parts))
            parts = []
            pos += 1
        elif token in "([":
            inner, pos = _parse_choice(tokens, pos + 1, slots, closer=")" if token == "(" else "]")
            if pos >= len(tokens):
                raise TemplateError(f"missing closing bracket for {token!r}")
            parts.append(choice([inner, EMPTY]) if token == "[" else inner)
            pos += 1
        elif token == "{":
            if pos + 2 >= len(tokens) or tokens[pos + 2] != "}":
                raise TemplateError("a slot is written {name}")
            try:
                parts.append(slots(tokens[pos + 1]))
            except KeyError:
                raise TemplateError(f"unknown slot {{{tokens[pos + 1]}}}") from None
            pos += 3
        else:
            parts.append(literal(token))
            pos += 1
    if closer is None and pos < len(tokens):
        raise TemplateError(f"unbalanced {tokens[pos]!r}")
    options.append(_sequence(parts))
    return choice(options), pos


def _sequence(parts: list[Node]) -> Node:
    return parts[0] if len(parts) == 1 else Node(parts=tuple(parts))


def sample(node: Node, limit: int, seed: str) -> Iterator[str]:
    """Yield every expansion if there are at most ``limit``, else up to ``limit`` distinct random ones.

    Random sentences pick each alternative with equal chance at every choice, so a short alternative
    (``did i leave``) is as well represented as one that expands into thousands of sentences.
    """
    total = node.count()
    if total <= limit:
        for index in range(total):
            yield " ".join(node.nth(index))
        return
    rng = random.Random(seed)
    seen: set[str] = set()
    for _attempt in range(limit * 10):
        sentence = " ".join(node.walk(rng))
        if sentence not in seen:
            seen.add(sentence)
            yield sentence
            if len(seen) == limit:
                return


def slot_table(definitions: Mapping[str, list[str]], builtin: Mapping[str, Node]) -> dict[str, Node]:
    """Parse slot definitions (lists of templates that may refer to other slots) into nodes."""
    nodes: dict[str, Node] = dict(builtin)
    resolving: set[str] = set()

    def resolve(name: str) -> Node:
        if name in nodes:
            return nodes[name]
        if name not in definitions:
            raise KeyError(name)
        if name in resolving:
            raise TemplateError(f"slot {{{name}}} refers to itself")
        resolving.add(name)
        nodes[name] = choice([parse(value, resolve) for value in definitions[name]])
        resolving.discard(name)
        return nodes[name]

    for name in definitions:
        resolve(name)
    return nodes
