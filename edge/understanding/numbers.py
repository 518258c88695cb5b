"""Spoken English numbers 0..100 as recognizers write them: ``seventy five``, ``a hundred``, ``half``."""

from __future__ import annotations

_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# Words recognizers commonly put in place of a number word (homophones and near misses).
_SOUNDALIKES = {"to": 2, "too": 2, "for": 4, "fore": 4, "won": 1, "ate": 8, "fourty": 40, "tree": 3}
_FRACTIONS = {"half": 50, "quarter": 25, "a quarter": 25, "three quarters": 75, "full": 100}


def spoken(number: int) -> str:
    """Return ``number`` (0..100) in words: 75 -> ``seventy five``."""
    if not 0 <= number <= 100:
        raise ValueError(f"{number} is outside 0..100")
    if number == 100:
        return "one hundred"
    if number < 20:
        return _UNITS[number]
    tens, units = divmod(number, 10)
    return _TENS[tens - 2] + (f" {_UNITS[units]}" if units else "")


def _build_table() -> dict[str, int]:
    table = {spoken(n): n for n in range(101)}
    table.update({"hundred": 100, "a hundred": 100, "one hundred": 100, "oh": 0, "nought": 0})
    for n in range(21, 100):
        if n % 10:
            tens, units = divmod(n, 10)
            table[f"{_TENS[tens - 2]}-{_UNITS[units]}"] = n
    table.update({str(n): n for n in range(101)})
    return table


_TABLE = _build_table()


def parse_number(words: list[str], start: int, *, soundalikes: bool = False) -> tuple[int, int] | None:
    """Read a number at ``words[start:]``; return (value, words used) or None.

    ``soundalikes`` also accepts words like ``to``/``for`` that a recognizer writes for ``two``/``four``;
    callers allow it only right after a cue such as ``speed``.
    """
    for length in (3, 2, 1):
        phrase = " ".join(words[start : start + length])
        if len(phrase.split()) != length:
            continue
        if phrase in _TABLE:
            return _TABLE[phrase], length
        if phrase in _FRACTIONS:
            return _FRACTIONS[phrase], length
    word = words[start] if start < len(words) else ""
    if word.endswith("%") and word[:-1].isdigit() and int(word[:-1]) <= 100:
        return int(word[:-1]), 1
    if soundalikes and word in _SOUNDALIKES:
        return _SOUNDALIKES[word], 1
    return None
