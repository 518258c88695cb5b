"""Estimated peak memory of ``edge run`` for a config, against the board profile's memory budget.

The figures are measured peaks of the real daemon (``python -m bench.memory``: 60 s of the fixtures, peak RSS
from /proc, x86-64 with CPython 3.11): the shipped config, then one setting changed at a time. An estimate is
the shipped figure plus the measured difference of each setting that differs. Parts that were not measured
here (a Vosk model, Piper voices) are counted by their model files' size and said to be estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.config import Config
from edge.speech.asr.settings import find_whisper_model

# Peak RSS of `edge run` with the shipped edge.yaml: micro wake word (two phrases), Whisper tiny.en as int8,
# Silero VAD, no live view, no MQTT (`/usr/bin/time -v edge run --input 60s.wav`: 167.0 MB).
SHIPPED_PEAK_MB = 167.0
# Measured differences from the shipped config, one setting at a time (bench.memory's "levers").
WHISPER_MB = 57.0  # Whisper's share: shipped minus the same config on PocketSphinx
POCKETSPHINX_WAKE_MB = 32.0  # the pocketsphinx wake word instead of micro
SILERO_MB = 5.0  # Silero instead of the energy detector
LIVE_VIEW_MB = 9.0  # aiohttp and the live view's server
MQTT_MB = 2.0  # paho-mqtt (its import; bench.memory's "alternatives")
LITERT_MB = 12.0  # ai-edge-litert, which the custom wake engine's models need (its import and interpreter)
FLOAT16_LOAD_MB = 72.0  # Whisper quantized while loading, when its int8 copy cannot be written


@dataclass(frozen=True)
class Footprint:
    """An estimate and the parts that moved it away from the shipped config's measured peak."""

    peak_mb: float
    parts: tuple[tuple[str, float], ...]

    def describe(self) -> str:
        """``~176 MB (shipped config 167; live view +9)``."""
        moved = "; ".join(f"{name} {mb:+.0f}" for name, mb in self.parts)
        return f"~{self.peak_mb:.0f} MB" + (
            f" (shipped config {SHIPPED_PEAK_MB:.0f}; {moved})" if moved else ""
        )


def estimate(config: Config, *, whisper: bool | None = None) -> Footprint:
    """Estimated peak RSS of ``edge run`` with ``config``; ``whisper`` overrides whether asr is Whisper."""
    parts: list[tuple[str, float]] = []
    uses_whisper = asr_uses_whisper(config) if whisper is None else whisper
    if not uses_whisper:
        parts.append(("no Whisper", -WHISPER_MB))
        if _asr_is_vosk(config):
            parts.append(("Vosk model (its files' size, not measured)", _vosk_mb(config.asr.vosk_model)))
    elif not int8_copy_possible(config):
        parts.append(("Whisper quantized while loading (no writable cache)", FLOAT16_LOAD_MB))
    wake = config.wake.engine
    if wake == "pocketsphinx":
        parts.append(("pocketsphinx wake word", POCKETSPHINX_WAKE_MB))
    elif wake == "vosk":
        parts.append(("Vosk wake model (its files' size, not measured)", _vosk_mb(config.wake.vosk_model)))
    elif wake == "custom":
        parts.append(("custom wake models on ai-edge-litert (runtime measured, models by size)", LITERT_MB))
    if config.endpoint.vad == "energy":
        parts.append(("energy VAD", -SILERO_MB))
    if config.web is not None:
        parts.append(("live view", LIVE_VIEW_MB))
    if config.mqtt is not None:
        parts.append(("MQTT", MQTT_MB))
    if config.voice.replies and config.voice.piper_voice is not None:
        parts.append(("Piper voice (its file's size, not measured)", _file_mb(config.voice.piper_voice)))
    return Footprint(SHIPPED_PEAK_MB + sum(mb for _, mb in parts), tuple(parts))


def expected(config: Config) -> Footprint:
    """The estimate for what ``edge run`` will load, after ``asr: auto`` has weighed the board's budget."""
    return estimate(config, whisper=asr_uses_whisper(config) and not whisper_over_budget(config))


def asr_uses_whisper(config: Config) -> bool:
    """Whether the asr section, as written, ends on Whisper (auto does when a model is installed)."""
    if config.asr.engine == "whisper":
        return True
    return config.asr.engine == "auto" and find_whisper_model(config.asr.whisper_model) is not None


def whisper_over_budget(config: Config) -> str:
    """Why ``asr: auto`` should pass Whisper by on this board ('' when it fits, or the choice is not auto).

    Only when the lighter recognizer brings the config within the budget: otherwise Whisper stays (the
    check-config warning says the config does not fit).
    """
    budget = config.board.memory_budget_mb
    if budget is None or config.asr.engine != "auto" or not asr_uses_whisper(config):
        return ""
    with_whisper = estimate(config, whisper=True).peak_mb
    if with_whisper <= budget or estimate(config, whisper=False).peak_mb > budget:
        return ""
    return f"Whisper would peak ~{with_whisper:.0f} MB, over the {config.board.name} budget of {budget} MB"


def fit_warning(config: Config, footprint: Footprint) -> str | None:
    """One line when the estimate is over the board's budget, else None."""
    budget = config.board.memory_budget_mb
    if budget is None or footprint.peak_mb <= budget:
        return None
    return (
        f"{config.source}: will not fit the {config.board.name} memory budget: estimated peak "
        f"{footprint.describe()} against {budget} MB (boards/{config.board.name}.yaml memory.budget_mb)"
    )


def int8_copy_possible(config: Config) -> bool:
    """True when Whisper's int8 copy exists or can be written (else it is quantized while loading)."""
    from edge.speech.asr.whisper_int8 import int8_load_possible

    model = find_whisper_model(config.asr.whisper_model)
    return model is None or int8_load_possible(model)  # no model: asr fails with its own error


def _asr_is_vosk(config: Config) -> bool:
    from edge.speech.asr.recognizers import find_vosk_model

    return config.asr.engine == "vosk" or (
        config.asr.engine == "auto" and find_vosk_model(config.asr.vosk_model) is not None
    )


def _vosk_mb(configured: Path | None) -> float:
    from edge.speech.asr.recognizers import find_vosk_model

    folder = find_vosk_model(configured)
    if folder is None:
        return 0.0
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def _file_mb(path: Path) -> float:
    return path.stat().st_size / 2**20 if path.is_file() else 0.0
