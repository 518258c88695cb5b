"""Real people through the real pipeline: the dev set in ../shared/eval/audio, replayed as ``edge replay`` does.

    python -m bench.real_speech [--config FILE] [--quick] [--trials]

Prints JSON: right action / no action / wrong action, by pause, by noise bed and by wake engine, for (a) the
wake+command clips as recorded and (b) the concatenation protocol of eval/README.md (bench/real_trials.py),
plus the negatives (real coffee orders, with and without "alexa"), which must switch nothing. Each trial is
one WAV file fed through ``edge.commands.replay.replay`` on a runtime from ``build_runtime``: the same code as
``edge replay --json``. Scores come from the final device states, never from the transcript.
Skips (prints a reason, exits 0) where ../shared/eval is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import real_trials
from bench.real_trials import Trial
from edge.commands.replay import replay
from edge.config import Config, load_config
from edge.events import ActionResult, Detection, Event, Intent, Transcript
from edge.runtime.assembly import Runtime, build_runtime
from edge.speech.asr.recognizers import find_vosk_model
from edge.speech.audio import SAMPLE_RATE_HZ

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = REPO / "edge.yaml"
States = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Expectation:
    """What a command must do to the devices, from a known start; ``turn_on`` falls back to any light."""

    start: str  # "all_off" | "lights_on" | "mixed"
    turn_on: str | None = None  # this device must end on (if the config has it; else any one light)
    lights_off: bool = False  # every light must end off
    intent: str | None = None  # for commands that switch nothing: this intent must be recognized


# The one table to update when the shipped devices or the intents change. Keys are the manifest's command
# (or transcript) text; "nothing" is every negative: no device may change.
EXPECTATIONS: dict[str, Expectation] = {
    "turn on the living room lamp": Expectation("all_off", turn_on="living_room_light"),
    "turn the lights off": Expectation("lights_on", lights_off=True),
    "stop": Expectation("mixed", intent="stop_cancel"),
    "nothing": Expectation("mixed"),
}


# Intents that answer or cancel without switching anything.
HARMLESS = ("status_query", "stop_cancel")


def start_states(runtime: Runtime, start: str) -> None:
    """Put the devices in the trial's start state (safe state first)."""
    runtime.bank.to_safe_state()
    for index, name in enumerate(sorted(runtime.bank)):
        device = runtime.bank[name]
        if (start == "lights_on" and device.kind == "light") or (start == "mixed" and index % 2 == 0):
            device.set_on()


def score(expect: Expectation, lights: list[str], before: States, after: States, events: list[Event]) -> str:
    """ "right", "no_action" or "wrong" from the device states before and after the trial."""
    changed = {name for name in after if after[name] != before[name]}
    if expect.turn_on is not None:
        targets = [expect.turn_on] if expect.turn_on in after else lights
        right = any(after[t]["on"] and t in changed for t in targets) and changed <= set(targets)
        right = right and len(changed) == 1
    elif expect.lights_off:
        right = bool(changed) and all(not after[name]["on"] for name in lights) and changed <= set(lights)
    elif expect.intent is not None:
        right = not changed and any(isinstance(e, Intent) and e.name == expect.intent for e in events)
    else:
        # A negative: an action applied to a device is wrong even where it left the state as it was
        # ("turn on" a light that was already on).
        acted = any(isinstance(e, ActionResult) and e.device and e.intent not in HARMLESS for e in events)
        return "wrong" if changed or acted else "no_action"
    if right:
        return "right"
    return "wrong" if changed else "no_action"


def _paths(
    runtime: Runtime, trials: list[Trial], folder: Path, done: Callable[[Trial, States, States], None]
) -> Iterator[Path]:
    """Each trial's WAV in turn; between files (replay asks for the next one) the outcome is read off."""
    for index, trial in enumerate(trials):
        path = folder / f"{index:03d}.wav"
        write_wav(path, trial.samples)
        runtime.pipeline.reset()
        start_states(runtime, EXPECTATIONS[trial.expect].start)
        before = runtime.bank.states()
        yield path
        done(trial, before, runtime.bank.states())


def write_wav(path: Path, samples: np.ndarray) -> None:
    """16 kHz mono 16-bit."""
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.astype("<i2").tobytes())


def run_trials(config: Config, trials: list[Trial], engine_label: str) -> list[dict[str, Any]]:
    """Replay the trials one after another as one stream (as ``edge replay a.wav b.wav`` does); outcomes."""
    runtime = build_runtime(config, mock_gpio=True, sounds=False)
    lights = [name for name in runtime.bank if runtime.bank[name].kind == "light"]
    events: dict[Path, list[Event]] = defaultdict(list)
    outcomes: list[dict[str, Any]] = []

    stream_ms = [0]

    def done(trial: Trial, before: States, after: States) -> None:
        heard = events.pop(folder / f"{len(outcomes):03d}.wav", [])
        result = score(EXPECTATIONS[trial.expect], lights, before, after, heard)
        row = outcome(trial, engine_label, result, heard, stream_ms[0])
        row["changed"] = {name: after[name] for name in after if after[name] != before[name]}
        outcomes.append(row)
        stream_ms[0] += replayed_ms(runtime.config, len(trial.samples))

    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            # replay's signature says list; it only iterates, so a generator lets each outcome be read
            # off between files without a second copy of the replay loop.
            for path, event in replay(runtime, _paths(runtime, trials, folder, done)):  # type: ignore[arg-type]
                events[path].append(event)
    finally:
        runtime.close()
    return outcomes


def replayed_ms(config: Config, n_samples: int) -> int:
    """Stream time ``replay`` spends on one file: its chunks, then the quiet it appends."""
    chunk_ms = config.audio.chunk_ms
    chunks = -(-n_samples * 1000 // (SAMPLE_RATE_HZ * chunk_ms))
    tail = -(-(config.endpoint.no_speech_timeout_ms + 200) // chunk_ms)
    return (chunks + tail) * chunk_ms


def outcome(trial: Trial, engine: str, result: str, events: list[Event], start_ms: int) -> dict[str, Any]:
    """One trial's row in the report; ``start_ms`` is where the trial began in the replayed stream."""
    woke = [e for e in events if isinstance(e, Detection)]
    texts = [e for e in events if isinstance(e, Transcript)]
    intents = [e.name for e in events if isinstance(e, Intent)]
    delay = texts[0].timestamp_ms - start_ms - trial.speech_end_ms if texts and trial.speech_end_ms else None
    return {
        "trial": trial.name,
        "kind": trial.kind,
        "wake_engine": engine,
        "pause_s": trial.pause_s,
        "bed": trial.bed,
        "expect": trial.expect,
        "result": result,
        "woke": bool(woke),
        "heard": [t.text for t in texts],
        # How sure Whisper was of each transcript (None for other recognizers): the refusal's inputs.
        "word_probability": [t.word_probability for t in texts],
        "avg_logprob": [t.avg_logprob for t in texts],
        "intents": intents,
        # Audio time from the end of the command's speech to the transcript: the endpointer's delay.
        "endpoint_after_speech_ms": delay,
    }


def with_wake(config: Config, engine: str, phrase: str) -> Config:
    """The config with its wake engine and phrase replaced (``phrases`` where the config has a wake list)."""
    names = {f.name for f in dataclasses.fields(config.wake)}
    words: dict[str, Any] = {"phrases": (phrase,)} if "phrases" in names else {"phrase": phrase}
    return dataclasses.replace(config, wake=dataclasses.replace(config.wake, engine=engine, **words))


def wakes_on(config: Config, phrase: str) -> bool:
    """True if the config's wake section already listens for ``phrase``."""
    phrases = getattr(config.wake, "phrases", None) or [config.wake.phrase]
    return phrase in phrases


POCKETSPHINX_PHRASES = ("porcupine", "hey jane", "alexa")  # the dev set's wake words in its dictionary
MICRO_PHRASES = ("alexa", "hey mycroft")


def wake_setups(config: Config, phrase: str, quick: bool) -> list[tuple[str, Config]]:
    """(label, config) for every wake engine that knows ``phrase``: the config as given first."""
    setups: list[tuple[str, Config]] = []
    if wakes_on(config, phrase):
        setups.append((f"config:{config.wake.engine}", config))
    elif phrase in MICRO_PHRASES and config.wake.engine == "micro":
        setups.append(("micro", with_wake(config, "micro", phrase)))
    if quick and setups:
        return setups
    engines = [label.rsplit(":", 1)[-1] for label, _ in setups]
    if phrase in MICRO_PHRASES and "micro" not in engines:
        setups.append(("micro", with_wake(config, "micro", phrase)))
    if phrase in POCKETSPHINX_PHRASES and "pocketsphinx" not in engines:
        setups.append(("pocketsphinx", with_wake(config, "pocketsphinx", phrase)))
    # Vosk spots any phrase, where an English model is installed (`edge models fetch vosk-small-en`).
    if "vosk" not in engines and find_vosk_model(config.wake.vosk_model) is not None:
        setups.append(("vosk", with_wake(config, "vosk", phrase)))
    return setups[:1] if quick else setups


def rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and rates of right / no action / wrong."""
    n = len(rows)
    counts = {key: sum(row["result"] == key for row in rows) for key in ("right", "no_action", "wrong")}
    return {
        "n": n,
        **counts,
        **{f"{key}_rate": round(value / n, 4) if n else None for key, value in counts.items()},
    }


def by(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """rates() per value of ``key``."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row[key])].append(row)
    return {name: rates(group) for name, group in sorted(groups.items())}


def percentile(values: list[int], q: float) -> float | None:
    """The q-th percentile, or None for no values."""
    return float(np.percentile(values, q)) if values else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The report for one wake engine's rows."""
    positives = [r for r in rows if r["kind"] == "protocol"]
    negatives = [r for r in rows if r["kind"] == "negative"]
    delays = [r["endpoint_after_speech_ms"] for r in positives if r["result"] == "right"]
    return {
        "protocol": rates(positives),
        "protocol_by_pause_s": by(positives, "pause_s"),
        "protocol_by_bed": by(positives, "bed"),
        "protocol_by_command": by(positives, "expect"),
        "protocol_woke_rate": round(sum(r["woke"] for r in positives) / len(positives), 4)
        if positives
        else None,
        "negatives": {
            "n": len(negatives),
            "switched_something": sum(r["result"] == "wrong" for r in negatives),
            "woke": sum(r["woke"] for r in negatives),
            "by_kind": by(negatives, "pause_s"),
        },
        "endpoint_after_speech_ms_p50": percentile(delays, 50),
        "endpoint_after_speech_ms_p90": percentile(delays, 90),
    }


def evaluate(config: Config, *, quick: bool = False, every: int = 1) -> dict[str, Any]:
    """Every trial on every wake engine that knows its phrase; the report and every trial's row.

    ``every`` > 1 keeps every n-th protocol trial and skips the clips as recorded: a smoke run for the
    bench's quick mode, which the test suite runs (tests/test_real_speech.py covers the real thing).
    """
    rows = real_trials.manifest()
    trial_rows: list[dict[str, Any]] = []
    as_is: dict[str, list[Trial]] = defaultdict(list)
    for trial in real_trials.as_is_trials(rows) if every == 1 else []:
        as_is[str(trial.wake_phrase)].append(trial)
    for phrase, trials in sorted(as_is.items()):
        setups = wake_setups(config, phrase, quick)
        if not setups:
            trial_rows += [
                {
                    "trial": t.name,
                    "kind": "as_is",
                    "wake_engine": None,
                    "result": "no_wake_engine",
                    "wake": phrase,
                }
                for t in trials
            ]
        for label, setup in setups:
            trial_rows += run_trials(setup, trials, f"{label}:{phrase}")
    protocol = real_trials.protocol_trials(rows, quick=quick)[::every]
    engines: dict[str, Any] = {}
    for label, setup in wake_setups(config, "alexa", quick):
        results = run_trials(setup, protocol, f"{label}:alexa")
        trial_rows += results
        engines[f"{label}:alexa"] = summarize(results)
    as_is_rows = [r for r in trial_rows if r["kind"] == "as_is"]
    return {
        "protocol_by_wake_engine": engines,
        "as_is": [
            {key: r.get(key) for key in ("trial", "wake_engine", "result", "heard")} for r in as_is_rows
        ],
        "as_is_commands_scored": rates(
            [r for r in as_is_rows if r["result"] != "no_wake_engine" and r.get("expect") != "nothing"]
        ),
        "trials": trial_rows,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the harness and print its JSON report."""
    parser = argparse.ArgumentParser(prog="python -m bench.real_speech", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=SHIPPED_CONFIG, help="edge.yaml to test (default: shipped)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="one noise bed per trial, the config's engine only"
    )
    parser.add_argument("--trials", action="store_true", help="include every trial's row in the output")
    args = parser.parse_args(argv)
    if not real_trials.available():
        print(json.dumps({"skipped": real_trials.SKIP_REASON}))
        return 0
    config = load_config(args.config, board_override="sim")
    started = time.process_time()
    report = evaluate(config, quick=args.quick)
    if not args.trials:
        report.pop("trials")
    output = {
        "dev_set": str(real_trials.AUDIO_DIR),
        "attribution": "real recordings from rhasspy-test (MIT), openWakeWord (Apache-2.0), Picovoice "
        "wake-word-benchmark and speech-to-intent-benchmark (Apache-2.0), mycroft-core (Apache-2.0); see "
        "../shared/eval/README.md",
        "config": str(args.config),
        "quick": args.quick,
        **report,
        "cpu_seconds": round(time.process_time() - started, 1),
    }
    print(json.dumps(output, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run(quick: bool) -> dict[str, Any]:
    """The bench section: the shipped config's rows (a skip message where ../shared/eval is absent)."""
    if not real_trials.available():
        return {"skipped": real_trials.SKIP_REASON}
    # Quick: a tenth of the quick trials, to check the rows are produced; the figures come from the full run.
    report = evaluate(
        load_config(SHIPPED_CONFIG, board_override="sim"), quick=quick, every=10 if quick else 1
    )
    report.pop("trials")
    command = (
        "python -m bench.real_speech" if not quick else "python -m bench --quick (every 10th quick trial)"
    )
    return {"command": command, **report}
