"""Command recognizers: Whisper (free-form), Vosk (Kaldi) and PocketSphinx (vocabulary grammar or free).

In grammar mode the recognizer can only answer with the configured command phrases (plus ``[unk]`` for
Vosk), which makes a small model accurate on a Pi and keeps stray words out of the intent classifier. Free
mode uses each engine's own language model. ``asr: auto`` picks Whisper tiny.en (edge.speech.asr.whisper) when
CTranslate2 and its model are installed, else Vosk when an English Vosk model is, else PocketSphinx (whose US
English model ships in its wheel). Whisper writes what was said, so speech that is no command stays no
command; a grammar forces every sound onto its nearest phrase.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edge.errors import BackendMissingError, ModelError
from edge.speech.asr.settings import DEFAULT_VOSK_MODEL_DIRS, AsrConfig, find_whisper_model
from edge.speech.asr.whisper import WhisperRecognizer, whisper_available, whisper_recognizer
from edge.speech.audio import SAMPLE_RATE_HZ, AudioChunk

log = logging.getLogger(__name__)

MAX_GRAMMAR_PHRASES = 3000  # past this, the grammar lists words instead of whole phrases
_WORD = re.compile(r"^[a-z][a-z']*$")  # what a PocketSphinx dictionary entry can be


class PhraseSource(Protocol):
    """What the recognizers need from the vocabulary (edge.understanding.vocabulary.Vocabulary fits)."""

    def command_phrases(self) -> list[str]: ...
    def words(self) -> list[str]: ...


def is_vosk_model(path: Path) -> bool:
    """True when ``path`` looks like an unpacked Vosk model (acoustic model and configuration)."""
    return (path / "am" / "final.mdl").is_file() and (path / "conf").is_dir()


def find_vosk_model(configured: Path | None) -> Path | None:
    """The configured Vosk model directory, else the first default location holding one, else None."""
    candidates = [configured] if configured is not None else list(DEFAULT_VOSK_MODEL_DIRS)
    for candidate in candidates:
        if is_vosk_model(candidate):
            return candidate
    return None


def _import_vosk() -> Any:
    try:
        import vosk
    except ImportError:
        raise BackendMissingError("Vosk recognition needs: pip install vosk") from None
    vosk.SetLogLevel(-1)  # Kaldi's per-utterance chatter would drown the daemon's own log
    return vosk


@functools.lru_cache(maxsize=2)
def load_vosk_model(path: Path) -> Any:
    """Load a Vosk model once per process (the wake detector and the recognizer share it)."""
    vosk = _import_vosk()
    if not is_vosk_model(path):
        raise ModelError(f"{path}: not a Vosk model (expected am/final.mdl and conf/)")
    try:
        return vosk.Model(str(path))
    except Exception as err:  # vosk raises a bare Exception when Kaldi cannot read the model
        raise ModelError(f"{path}: cannot load the Vosk model: {err}") from None


def pocketsphinx_decoder(**options: Any) -> Any:
    """A PocketSphinx decoder with the bundled US English model and its logging silenced."""
    try:
        import pocketsphinx
    except ImportError:
        raise BackendMissingError("PocketSphinx recognition needs: pip install pocketsphinx") from None
    return pocketsphinx.Decoder(loglevel="FATAL", **options)


def _clean(text: str) -> str:
    return " ".join(word for word in text.split() if word != "[unk]")


class VoskRecognizer:
    """Vosk, optionally restricted to a grammar of the command phrases."""

    engine = "vosk"

    def __init__(self, model_dir: Path, phrases: Sequence[str] | None = None) -> None:
        vosk = _import_vosk()
        self.model_dir = model_dir
        self._model = load_vosk_model(model_dir)
        if phrases:
            entries = list(dict.fromkeys(phrases))
            if len(entries) > MAX_GRAMMAR_PHRASES:
                entries = sorted({word for phrase in entries for word in phrase.split()})
            self.grammar: list[str] | None = [*entries, "[unk]"]
            self._recognizer = vosk.KaldiRecognizer(
                self._model, SAMPLE_RATE_HZ, json.dumps(self.grammar, ensure_ascii=False)
            )
        else:
            self.grammar = None
            self._recognizer = vosk.KaldiRecognizer(self._model, SAMPLE_RATE_HZ)
        self._segments: list[str] = []

    def start(self) -> None:
        """Begin a new command."""
        self.reset()

    def process(self, chunk: AudioChunk) -> None:
        """Feed one chunk."""
        # Vosk closes a segment at its own pause detection; a command with a pause spans several.
        if self._recognizer.AcceptWaveform(chunk.pcm):
            self._segments.append(json.loads(self._recognizer.Result()).get("text", ""))

    def partial(self) -> str:
        """The current best guess, for live display."""
        return _clean(json.loads(self._recognizer.PartialResult()).get("partial", ""))

    def finish(self) -> str:
        """End the command and return its text (``[unk]`` removed)."""
        self._segments.append(json.loads(self._recognizer.FinalResult()).get("text", ""))
        text = _clean(" ".join(self._segments))
        self._segments = []
        return text

    def reset(self) -> None:
        """Forget any audio in progress."""
        self._recognizer.Reset()
        self._segments = []

    def close(self) -> None:
        """Nothing to release beyond the cached model."""
        self._segments = []


@dataclass(frozen=True)
class PhraseGrammar:
    """The command phrases as a minimal finite-state grammar: states, and (from, to, probability[, word])."""

    phrases: tuple[str, ...]  # the phrases kept (all their words known)
    rejected_words: tuple[str, ...]
    start_state: int
    final_state: int
    transitions: tuple[tuple[Any, ...], ...]
    states: int


def phrase_grammar(phrases: Sequence[str], known: Callable[[str], bool], lead_in: str = "") -> PhraseGrammar:
    """Compile phrases into a minimal word graph; phrases with unknown words are left out.

    Shared prefixes and shared endings become shared states (the phrase list of a few thousand expanded
    sentences shrinks to a few hundred states), which keeps PocketSphinx's search small and fast: a flat list
    would start thousands of parallel paths and lose the right one to pruning. Each word of ``lead_in`` (the
    wake phrase) may optionally come first: the pipeline's pre-roll hands the recognizer the end of the wake
    phrase, which a strict grammar would otherwise force onto a command.
    """
    rejected: set[str] = set()
    trie: dict[str, Any] = {}
    kept: list[str] = []
    for phrase in dict.fromkeys(" ".join(p.split()) for p in phrases):
        bad = [w for w in phrase.split() if not _WORD.match(w) or not known(w)]
        if bad:
            # A phrase missing a word would mean something else ("turn on the X light" -> "the light").
            rejected.update(bad)
            continue
        kept.append(phrase)
        node = trie
        for word in phrase.split():
            node = node.setdefault(word, {})
        node[""] = {}  # a phrase may end here
    if not kept:
        raise ModelError("no command phrase has all its words in the PocketSphinx dictionary")
    final = 0
    transitions: list[tuple[Any, ...]] = []
    states: dict[tuple[Any, ...], int] = {}

    def state_of(node: dict[str, Any]) -> int:
        arcs = tuple(sorted((word, state_of(child)) for word, child in node.items() if word))
        ends = "" in node
        if not arcs:
            return final
        key = (ends, arcs)
        if key not in states:
            states[key] = number = len(states) + 1
            share = 1.0 / (len(arcs) + ends)
            transitions.extend((number, target, share, word) for word, target in arcs)
            if ends:
                transitions.append((number, final, share))
        return states[key]

    start = state_of(trie)
    count = len(states) + 1
    for word in reversed(lead_in.split()):
        if _WORD.match(word) and known(word):
            transitions += [(count, start, 0.5, word), (count, start, 0.5)]
            start, count = count, count + 1
    return PhraseGrammar(tuple(kept), tuple(sorted(rejected)), start, final, tuple(transitions), count)


class PocketSphinxRecognizer:
    """PocketSphinx with a word graph of the command phrases, or its bundled language model."""

    engine = "pocketsphinx"

    def __init__(self, phrases: Sequence[str] | None = None, *, lead_in: str = "") -> None:
        if phrases:
            self._decoder = pocketsphinx_decoder(lm=None)
            grammar = phrase_grammar(phrases, lambda w: self._decoder.lookup_word(w) is not None, lead_in)
            if grammar.rejected_words:
                log.warning(
                    "asr: PocketSphinx's dictionary lacks %s; phrases with them are left out",
                    ", ".join(grammar.rejected_words),
                )
            fsg = self._decoder.create_fsg(
                "commands", grammar.start_state, grammar.final_state, list(grammar.transitions)
            )
            self._decoder.add_fsg("commands", fsg)
            self._decoder.activate_search("commands")
            self.lead_in = lead_in
            self._phrases: set[str] | None = set(grammar.phrases)
            self.grammar: PhraseGrammar | None = grammar
        else:
            self._decoder = pocketsphinx_decoder()
            self.grammar = None
            self.lead_in = ""
            self._phrases = None
        self._in_utterance = False
        self._last_phrase = ""  # the last whole grammar phrase partial() saw in this command

    def start(self) -> None:
        """Begin a new command."""
        self.reset()
        self._decoder.start_utt()
        self._in_utterance = True

    def process(self, chunk: AudioChunk) -> None:
        """Feed one chunk."""
        if not self._in_utterance:
            self.start()
        self._decoder.process_raw(chunk.pcm, False, False)

    def partial(self) -> str:
        """The best path so far (lead-in words stripped); it may not yet be a whole grammar phrase."""
        if not self._in_utterance:
            return ""
        words = self._words()
        if self._phrases is not None and words in self._phrases:
            self._last_phrase = words
        return words

    def _words(self) -> str:
        hypothesis = self._decoder.hyp()
        words = [] if hypothesis is None else _clean(hypothesis.hypstr).split()
        lead_in = self.lead_in.split()
        while words and words[0] in lead_in:
            lead_in = lead_in[lead_in.index(words[0]) + 1 :]
            words = words[1:]
        return " ".join(words)

    def finish(self) -> str:
        """End the command and return its text (without any lead-in words)."""
        if not self._in_utterance:
            return ""
        self._decoder.end_utt()
        self._in_utterance = False
        text = self._words()
        if self._phrases is not None and text not in self._phrases:
            # With no complete path through the grammar PocketSphinx returns the best partial one
            # ("turn on the"); that is not a command the person said. A whole phrase seen in the pause
            # before (the pipeline's early-end check) is: end_utt's final pass can lose it to the silence.
            log.debug(
                "asr: partial grammar match %r discarded (phrase seen before: %r)", text, self._last_phrase
            )
            text = self._last_phrase
        self._last_phrase = ""
        return text

    def reset(self) -> None:
        """Forget any audio in progress."""
        if self._in_utterance:
            self._decoder.end_utt()
            self._in_utterance = False
        self._last_phrase = ""

    def close(self) -> None:
        """End any utterance in progress."""
        self.reset()


Recognizer = WhisperRecognizer | VoskRecognizer | PocketSphinxRecognizer


def recognizer_from_config(
    config: AsrConfig, vocabulary: PhraseSource, *, wake_phrase: str = "", whisper_over_budget: str = ""
) -> tuple[Recognizer, str]:
    """Build the command recognizer the ``asr`` section asks for; also say why this engine.

    ``wake_phrase`` lets a PocketSphinx grammar absorb the end of the wake phrase that the pre-roll carries.
    ``whisper_over_budget`` (why Whisper would not fit the board's memory) makes ``auto`` pass Whisper by.
    """
    if config.engine == "whisper":
        whisper, whisper_dir = whisper_recognizer(
            config.whisper_model, lead_in=wake_phrase, known_words=frozenset(vocabulary.words())
        )
        return whisper, f"whisper tiny.en (free-form): model at {whisper_dir}"
    auto_whisper = config.engine == "auto" and whisper_available() and not whisper_over_budget
    found = find_whisper_model(config.whisper_model) if auto_whisper else None
    if found is not None:
        whisper = WhisperRecognizer(found, lead_in=wake_phrase, known_words=frozenset(vocabulary.words()))
        return whisper, f"whisper tiny.en (free-form): model at {found}"
    phrases = vocabulary.command_phrases() if config.mode == "grammar" else None
    mode = f"grammar of {len(phrases)} phrases" if phrases else "free-form"
    where = str(config.vosk_model) if config.vosk_model else " or ".join(map(str, DEFAULT_VOSK_MODEL_DIRS))
    if config.engine in ("auto", "vosk"):
        model_dir = find_vosk_model(config.vosk_model)
        if model_dir is not None:
            why = f"; {whisper_over_budget}" if whisper_over_budget else ""
            return VoskRecognizer(model_dir, phrases), f"vosk ({mode}): model at {model_dir}{why}"
        if config.engine == "vosk":
            raise ModelError(
                f"asr.engine is vosk but there is no Vosk model in {where}; run `edge models fetch vosk-small-en`"
            )
        reason = f"pocketsphinx ({mode}): no English Vosk model in {where}"
        if whisper_over_budget:
            reason = f"pocketsphinx ({mode}): {whisper_over_budget}, and no English Vosk model in {where}"
    else:
        reason = f"pocketsphinx ({mode}): asr.engine is pocketsphinx"
    return PocketSphinxRecognizer(phrases, lead_in=wake_phrase), reason
