"""Training speech for a custom wake word, made on the device with Debian's flite and espeak-ng.

Every installed flite voice and every English espeak-ng voice with each of its variants says the phrase at
several speeds and pitches (set in the synthesizer, which changes them without artefacts). Words missing from
any dictionary still work: both engines fall back to letter-to-sound rules. Loudness, background noise and
room reverberation are added in numpy from a seeded generator, so the same seed gives the same audio.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import BackendMissingError
from edge.speech.audio import SAMPLE_RATE_HZ, read_wav

log = logging.getLogger(__name__)

# awb_time only speaks clock times; the mbrola voices need voice data Debian installs separately.
_SKIPPED_FLITE = {"awb_time"}
# Held back from training so `edge wake test` measures voices the head has never heard.
HELD_BACK_FLITE = ("kal16",)
HELD_BACK_VARIANT_EVERY = 6  # every 6th espeak-ng variant, for every English voice


@dataclass(frozen=True)
class Voice:
    """One synthesizer voice: ``engine`` is flite or espeak-ng; ``name`` is what its -voice/-v takes."""

    engine: str
    name: str


@dataclass(frozen=True)
class Utterance:
    """A text to synthesize and how: speed factor (1 = normal) and pitch shift in semitones."""

    text: str
    voice: Voice
    speed: float
    pitch_semitones: float


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise BackendMissingError(f"training a wake word needs {program}: sudo apt-get install {program}")
    return path


def installed_voices() -> tuple[list[Voice], list[Voice]]:
    """(training voices, held-back voices) from every installed flite voice and espeak-ng voice+variant."""
    flite = subprocess.run([_require("flite"), "-lv"], capture_output=True, text=True, check=True).stdout
    flite_names = [n for n in flite.split(":", 1)[-1].split() if n not in _SKIPPED_FLITE]
    espeak = _require("espeak-ng")
    listing = subprocess.run([espeak, "--voices=en"], capture_output=True, text=True, check=True).stdout
    rows = [row.split() for row in listing.splitlines()[1:] if " mb/" not in row]
    languages = sorted({row[1] for row in rows if len(row) > 1 and row[1] != "variant"})
    listing = subprocess.run([espeak, "--voices=variant"], capture_output=True, text=True, check=True).stdout
    variants = [row.split()[4].removeprefix("!v/") for row in listing.splitlines()[1:] if row.strip()]
    train: list[Voice] = []
    held: list[Voice] = []
    for name in flite_names:
        (held if name in HELD_BACK_FLITE else train).append(Voice("flite", name))
    for language in languages:
        train.append(Voice("espeak-ng", language))
        for index, variant in enumerate(variants):
            voice = Voice("espeak-ng", f"{language}+{variant}")
            (held if index % HELD_BACK_VARIANT_EVERY == 0 else train).append(voice)
    return train, held


def _synthesize_one(utterance: Utterance, workdir: Path, index: int) -> np.ndarray:
    out = workdir / f"{index}.wav"
    voice, speed = utterance.voice, utterance.speed
    if voice.engine == "flite":
        # flite's pitch is an absolute mean F0; 110 Hz is roughly the mean of its voices.
        f0 = 110.0 * 2 ** (utterance.pitch_semitones / 12)
        command = ["flite", "-voice", voice.name, "-t", utterance.text, "-o", str(out)]
        command += ["--setf", f"duration_stretch={1 / speed:.3f}", "--setf", f"int_f0_target_mean={f0:.1f}"]
    else:
        pitch = int(np.clip(50 + 4 * utterance.pitch_semitones, 0, 99))
        command = ["espeak-ng", "-v", voice.name, "-s", str(round(165 * speed)), "-p", str(pitch)]
        command += ["-w", str(out), utterance.text]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0 or not out.exists():
        log.debug("wake: %s %s failed: %s", voice.engine, voice.name, result.stderr[-200:])
        return np.zeros(0, dtype=np.float32)
    return read_wav(out).astype(np.float32) / 32768.0


def synthesize(utterances: Sequence[Utterance], workers: int = 2) -> list[np.ndarray]:
    """Float32 16 kHz audio for each utterance, in order; an empty array where a voice failed."""
    for program in {u.voice.engine for u in utterances}:
        _require(program)
    with tempfile.TemporaryDirectory(prefix="edge-wake-") as tmp, ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(_synthesize_one, u, Path(tmp), i) for i, u in enumerate(utterances)]
        return [trim(job.result()) for job in jobs]


def trim(audio: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """Cut leading and trailing silence so clip boundaries mark where speech starts and ends."""
    loud = np.flatnonzero(np.abs(audio) > floor * max(float(np.abs(audio).max(initial=0.0)), 1e-6))
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio[:0]


def noise(rng: np.random.Generator, samples: int) -> np.ndarray:
    """Unit-RMS white, pink or brown noise."""
    white = rng.standard_normal(samples)
    colour = int(rng.integers(3))
    if colour == 0 or samples < 2:
        return white.astype(np.float32)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(samples, 1 / SAMPLE_RATE_HZ)
    freqs[0] = freqs[1]
    shaped = np.fft.irfft(spectrum / (np.sqrt(freqs) if colour == 1 else freqs), samples)
    return (shaped / (np.std(shaped) + 1e-9)).astype(np.float32)


def reverberate(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """Convolve with a synthetic room: decaying noise with an RT60 of 0.15-0.6 s, partly mixed."""
    rt60_s = float(rng.uniform(0.15, 0.6))
    length = int(rt60_s * SAMPLE_RATE_HZ)
    t = np.arange(length) / SAMPLE_RATE_HZ
    response = rng.standard_normal(length) * np.exp(-6.9 * t / rt60_s)
    response[0] = 1.0
    size = len(audio) + length - 1
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(response, size), size)[: len(audio)]
    wet *= np.sqrt(np.mean(audio**2) / (np.mean(wet**2) + 1e-12))
    mix = float(rng.uniform(0.3, 0.8))
    return ((1 - mix) * audio + mix * wet).astype(np.float32)


def vary(rng: np.random.Generator, audio: np.ndarray, reverb_share: float = 0.4) -> np.ndarray:
    """Random loudness (-20..0 dB) and, for some clips, reverberation; noise is added to whole streams."""
    if len(audio) and rng.random() < reverb_share:
        audio = reverberate(rng, audio)
    peak = float(np.abs(audio).max(initial=0.0)) or 1.0
    return (audio / peak * 0.9 * 10 ** (rng.uniform(-20, 0) / 20)).astype(np.float32)


_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "sh", "ch", "th", "")
_VOWELS = ("a", "e", "i", "o", "u", "ay", "ee", "oo")
_VOWEL_RUN = re.compile(r"[aeiouy]+")


def _word_variants(word: str, rng: np.random.Generator) -> list[str]:
    """Words that sound close to ``word``: a new onset, a new first vowel, a cut ending, an added ending."""
    out = set()
    match = _VOWEL_RUN.search(word)
    if match is not None:
        head, rest = word[: match.start()], word[match.start() :]
        for onset in rng.choice(_ONSETS, 4, replace=False):
            out.add(onset + rest)
        for vowel in rng.choice(_VOWELS, 3, replace=False):
            out.add(head + vowel + word[match.end() :])
        # A final "e" is silent in English spelling: cutting there would leave the same word.
        runs = [r for r in _VOWEL_RUN.finditer(word) if not (r.group() == "e" and r.end() == len(word))]
        if len(runs) > 1:
            out.add(word[: runs[-1].start()])
            out.add(word[runs[0].end() :] if runs[0].start() == 0 else word[runs[0].start() :])
    out.update({word + "er", word[:-1] + "y" if len(word) > 3 else word + "o"})
    out.discard(word)
    return sorted(w for w in out if len(w) > 1)


def near_phrases(phrase: str, rng: np.random.Generator) -> list[str]:
    """Adversarial negatives: each part of the phrase alone and sound-alikes of one word at a time."""
    words = phrase.split()
    near = set()
    for start in range(len(words)):
        for end in range(start + 1, len(words) + 1):
            if end - start < len(words):
                near.add(" ".join(words[start:end]))
    for index, word in enumerate(words):
        for variant in _word_variants(word, rng):
            near.add(" ".join([*words[:index], variant, *words[index + 1 :]]))
    near.discard(phrase)
    return sorted(near)


# Everyday sentences written for this module (not the bench's): chatter, commands, classroom talk.
_SUBJECTS = ("I", "we", "my brother", "the teacher", "our neighbour", "the children", "she", "you", "they")
_VERBS = (
    "will bring",
    "forgot",
    "wanted to see",
    "found",
    "cooked",
    "talked about",
    "lost",
    "painted",
    "fixed",
    "ordered",
    "borrowed",
    "cleaned",
)
_OBJECTS = (
    "the blue bicycle",
    "a bowl of soup",
    "the history homework",
    "three tickets for the concert",
    "the broken window",
    "a new pair of shoes",
    "the old radio",
    "some fresh vegetables",
    "the garden fence",
    "a letter from grandma",
    "the map of the city",
    "a box of pencils",
)
_TAILS = (
    "yesterday",
    "after school",
    "on monday morning",
    "before dinner",
    "last weekend",
    "in the kitchen",
    "at the station",
    "for the science project",
    "",
)
_COMMANDS = (
    "turn on the kitchen light",
    "switch off the fan please",
    "make the lamp brighter",
    "dim the bedroom light to twenty percent",
    "is the fan on",
    "stop",
    "cancel that",
    "set the light to fifty",
    "what time is it",
    "okay thank you",
    "good morning everyone",
    "hello how are you",
    "open the door",
    "play some music",
)


# Short words and names people say on their own, the most common source of false wakes for a head that
# only ever heard the phrase surrounded by quiet.
_WORDS = tuple(
    """
    hello hi hey okay yes no maybe thanks please sorry wait stop go come
    look listen here there now later again really right left up down on off
    light fan music radio phone door window table chair kitchen garden water coffee tea
    bread apple orange banana pizza dinner lunch breakfast morning evening night today tomorrow monday
    friday weekend one two three four five six seven eight nine ten hundred red
    blue green yellow black white big small hot cold fast slow good bad nice
    great fine anna ben carla david emma frank grace henry isla jack kate leo
    maria nina oscar paul rosa sam tom victor william zoe alex jessica michael sarah
    robert linda james computer porcupine jarvis mycroft nabu rhasspy snowboy siri google cortana bumblebee
    terminator americano cappuccino latte espresso teacher student lesson homework school pencil paper book story
    picture question answer problem doctor hospital station airport ticket money market shop bottle glass
    plate spoon fork knife actually basically seriously definitely absolutely excuse pardon goodbye welcome congratulations
    birthday holiday summer winter autumn spring weather sunny rainy cloudy windy snow ice fire
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def isolated_words(rng: np.random.Generator, count: int, phrase: str) -> list[str]:
    """``count`` one- to three-word utterances said on their own; none is the phrase."""
    out: list[str] = []
    while len(out) < count:
        size = int(rng.choice([1, 1, 2, 3]))
        text = " ".join(str(w) for w in rng.choice(_WORDS, size))
        if phrase not in text:
            out.append(text)
    return out


def everyday_sentences(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` varied sentences of everyday speech and spoken commands."""
    sentences = []
    for _ in range(count):
        if rng.random() < 0.25:
            sentences.append(str(rng.choice(_COMMANDS)))
            continue
        parts = (rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_TAILS))
        sentences.append(" ".join(str(p) for p in parts if p))
    return sentences
