"""Trials built from the real dev set in ../shared/eval/audio: clips as recorded, and wake + pause + command.

The concatenation protocol of eval/README.md: a real "alexa" (wake-word-benchmark), a natural pause, then a
real command, over a continuous noise bed (never digital zeros). Commands are the command part of the
rhasspy/openWakeWord wake+command clips, cut after the wake word at the clip's own first pause (found by
frame energy, the same rule for every clip), and mycroft-core's "stop". Negatives: "alexa" + a real coffee
order, and the coffee orders alone. Everything is seeded: the same trials come out on every run.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.speech.audio import SAMPLE_RATE_HZ, read_wav

REPO = Path(__file__).resolve().parent.parent
# EDGE_EVAL_DIR points elsewhere (a copy of the private set laid out the same way).
EVAL_DIR = Path(os.environ.get("EDGE_EVAL_DIR", REPO.parent / "shared" / "eval"))
AUDIO_DIR = EVAL_DIR / "audio"
SKIP_REASON = f"real dev set not found at {AUDIO_DIR} (a checkout outside the workplace): skipped"

PAUSES_S = (0.3, 0.7, 1.2, 2.0)
FRAME_MS = 20
# A pause is a run of quiet frames at least this long; shorter dips happen inside words ("okay rhasspy").
MIN_PAUSE_MS = 250
# Active runs shorter than this are clicks or breaths, not speech.
MIN_SPEECH_MS = 60
MARGIN_MS = 120  # kept around speech when a clip is trimmed, so soft onsets and tails are not cut
# Noise beds: quiet room tone at these RMS levels, or pink/brown noise 20 dB below the command's speech.
ROOM_TONE_DBFS = (-60.0, -55.0, -50.0, -45.0)
NOISY_SNR_DB = 20.0


@dataclass(frozen=True)
class Trial:
    """One stream to replay and what it should do."""

    name: str
    kind: str  # "as_is" | "protocol" | "negative"
    samples: np.ndarray
    expect: str  # a key of real_speech.EXPECTATIONS
    command: str | None  # the spoken command, for reports
    wake_phrase: str | None  # the phrase said (as-is clips: the clip's own; protocol: "alexa")
    pause_s: float | None
    bed: str
    speech_end_ms: int  # where the command's speech ends in the stream (0 when there is no command)


def available() -> bool:
    """True where the dev set is on disk."""
    return (AUDIO_DIR / "manifest.jsonl").is_file()


def manifest() -> list[dict[str, Any]]:
    """Rows of the dev set's manifest, in file order."""
    lines = (AUDIO_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _active_frames(samples: np.ndarray) -> np.ndarray:
    """Per 20 ms frame: louder than halfway (in dB) between the clip's noise floor and its speech peak."""
    size = SAMPLE_RATE_HZ * FRAME_MS // 1000
    frames = samples[: len(samples) // size * size].astype(np.float64).reshape(-1, size)
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1.0)
    floor, peak = np.percentile(level_db, 10), np.percentile(level_db, 95)
    active = level_db > floor + 0.5 * (peak - floor)
    # Drop active runs too short to be speech.
    min_frames = MIN_SPEECH_MS // FRAME_MS
    for start, end in _runs(active):
        if end - start < min_frames:
            active[start:end] = False
    return active


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def speech_bounds(samples: np.ndarray) -> tuple[int, int]:
    """First and last sample of speech (by frame energy)."""
    runs = _runs(_active_frames(samples))
    if not runs:
        return 0, len(samples)
    size = SAMPLE_RATE_HZ * FRAME_MS // 1000
    return runs[0][0] * size, runs[-1][1] * size


def split_after_wake(samples: np.ndarray) -> tuple[int, int]:
    """(end of the wake word, start of the command) in samples: the clip's first pause after speech began."""
    runs = _runs(_active_frames(samples))
    size = SAMPLE_RATE_HZ * FRAME_MS // 1000
    min_gap = MIN_PAUSE_MS // FRAME_MS
    for (_, end), (next_start, _) in itertools.pairwise(runs):
        if next_start - end >= min_gap:
            return end * size, next_start * size
    raise ValueError("no pause between the wake word and the command")


def _margin() -> int:
    return SAMPLE_RATE_HZ * MARGIN_MS // 1000


def trim(samples: np.ndarray, start: int, end: int) -> tuple[np.ndarray, int, int]:
    """Speech from start to end with margins and 10 ms fades; also the speech's start and end inside it."""
    lo, hi = max(0, start - _margin()), min(len(samples), end + _margin())
    piece = samples[lo:hi].astype(np.float64)
    fade = min(SAMPLE_RATE_HZ // 100, len(piece) // 2)
    ramp = np.linspace(0.0, 1.0, fade)
    piece[:fade] *= ramp
    piece[len(piece) - fade :] *= ramp[::-1]
    return piece, start - lo, end - lo


def colored_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Unit-RMS noise with a 1/f**exponent power spectrum (1: pink, 2: brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE_HZ)
    # Room tone has little below ~20 Hz that a microphone passes; keep the shaping finite there.
    spectrum /= np.maximum(freqs, 20.0) ** (exponent / 2)
    noise = np.fft.irfft(spectrum, n)
    return noise / float(np.sqrt(np.mean(noise**2)))


def rms(samples: np.ndarray) -> float:
    """Root mean square of float or int samples."""
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def bed(n: int, kind: str, speech_rms: float, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A continuous noise bed and its name: room tone at a drawn dBFS, or pink/brown 20 dB below the speech."""
    if kind == "room":
        level = ROOM_TONE_DBFS[int(rng.integers(len(ROOM_TONE_DBFS)))]
        # Room tone: between pink and brown, as rooms are (ventilation and traffic rumble dominate).
        noise = colored_noise(n, rng, 1.5) * 32768 * 10 ** (level / 20)
        return noise, f"room{int(level)}dBFS"
    exponent, color = (1.0, "pink") if rng.integers(2) == 0 else (2.0, "brown")
    noise = colored_noise(n, rng, exponent) * speech_rms / 10 ** (NOISY_SNR_DB / 20)
    return noise, f"{color}_snr{int(NOISY_SNR_DB)}"


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Round and clip floats to int16."""
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


Piece = tuple[np.ndarray, int, int]  # trimmed audio, speech start, speech end (samples)
LEAD_S, TAIL_S = 0.8, 1.2  # room heard before the wake word and after the command


def compose(
    wake: Piece | None, pause_s: float, command: Piece, bed_kind: str, seed: int
) -> tuple[np.ndarray, int, str]:
    """Wake word, pause (speech end to speech start), command, all over one bed; (samples, speech end ms, bed)."""
    rng = np.random.default_rng(seed)
    lead = round(LEAD_S * SAMPLE_RATE_HZ)
    placed: list[tuple[int, np.ndarray]] = []
    command_speech_start = lead + command[1]
    if wake is not None:
        placed.append((lead, wake[0]))
        command_speech_start = lead + wake[2] + round(pause_s * SAMPLE_RATE_HZ)
    command_at = command_speech_start - command[1]
    placed.append((command_at, command[0]))
    n = command_at + len(command[0]) + round(TAIL_S * SAMPLE_RATE_HZ)
    speech = command[0][command[1] : command[2]]
    noise, bed_name = bed(n, bed_kind, rms(speech), rng)
    for at, piece in placed:
        noise[at : at + len(piece)] += piece
    speech_end_ms = (command_at + command[2]) * 1000 // SAMPLE_RATE_HZ
    return to_int16(noise), speech_end_ms, bed_name


def _expect_key(row: dict[str, Any]) -> str:
    return str(row["command"] or row["transcript"])


def _command_pieces(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Piece]]:
    """The command part of every wake+command clip, and the real "stop"."""
    pieces = []
    for row in rows:
        samples = read_wav(AUDIO_DIR / row["file"])
        if row["category"] == "wake_word+command":
            _, command_start = split_after_wake(samples)
            _, end = speech_bounds(samples[command_start:])
            pieces.append((row, trim(samples, command_start, command_start + end)))
        elif row["label"] == "stop_cancel":
            pieces.append((row, trim(samples, *speech_bounds(samples))))
    return pieces


def _speech_piece(name: str) -> Piece:
    samples = read_wav(AUDIO_DIR / name)
    return trim(samples, *speech_bounds(samples))


def as_is_trials(rows: list[dict[str, Any]]) -> list[Trial]:
    """Every wake+command clip (and the wake word inside other speech) replayed exactly as recorded."""
    trials = []
    for row in rows:
        if row["category"] not in ("wake_word+command", "wake_word_in_utterance"):
            continue
        positive = row["category"] == "wake_word+command"
        samples = read_wav(AUDIO_DIR / row["file"])
        end_ms = speech_bounds(samples)[1] * 1000 // SAMPLE_RATE_HZ if positive else 0
        trials.append(
            Trial(
                Path(row["file"]).stem,
                "as_is",
                samples,
                _expect_key(row) if positive else "nothing",
                row["command"],
                row["wake_word"],
                None,
                "as_recorded",
                end_ms,
            )
        )
    return trials


def protocol_trials(rows: list[dict[str, Any]], *, quick: bool = False, seed: int = 9) -> list[Trial]:
    """Real "alexa" + pause + real command (every command at every pause), and the negatives."""
    alexas = [
        _speech_piece(r["file"]) for r in rows if r["category"] == "wake_word" and r["wake_word"] == "alexa"
    ]
    coffee = [r for r in rows if r["category"] == "ood_command"]
    trials: list[Trial] = []
    count = 0
    for ci, (row, command) in enumerate(_command_pieces(rows)):
        for pi, pause in enumerate(PAUSES_S):
            beds = [("room", "noisy")[(ci + pi) % 2]] if quick else ["room", "noisy"]
            for bed_kind in beds:
                samples, end_ms, bed_name = compose(
                    alexas[count % len(alexas)], pause, command, bed_kind, seed + count
                )
                name = f"alexa+{pause}s+{Path(row['file']).stem}__{bed_name}"
                key = _expect_key(row) if row["category"] == "wake_word+command" else str(row["transcript"])
                trials.append(Trial(name, "protocol", samples, key, key, "alexa", pause, bed_name, end_ms))
                count += 1
    for oi, row in enumerate(coffee):
        order = _speech_piece(row["file"])
        pause = PAUSES_S[oi % len(PAUSES_S)]
        for wake in (alexas[count % len(alexas)], None):
            samples, end_ms, bed_name = compose(wake, pause, order, ("room", "noisy")[oi % 2], seed + count)
            said = f"alexa+{pause}s+" if wake is not None else ""
            trials.append(
                Trial(
                    f"{said}{Path(row['file']).stem}__{bed_name}",
                    "negative",
                    samples,
                    "nothing",
                    "(coffee order)",
                    "alexa" if wake is not None else None,
                    pause if wake is not None else None,
                    bed_name,
                    end_ms,
                )
            )
            count += 1
    return trials
