"""Do a user's own recordings help `edge wake train`? The same seed trained with and without them, on real people.

Run from the repository root:

    python -m bench.wake_recordings [--phrase snowboy "smart mirror"] [--k 5 10] [--trials 2] [--hours 0.25]

For each trial, ``k`` real clips of the phrase are drawn from ``../shared/eval/audio`` by a fixed seeded rule
(the trial number and ``k``) and read as the user's recordings, exactly as ``edge wake train PHRASE
--recordings DIR`` reads them; the same seed (the trial number) is trained without them. Every head is
measured as the detector runs it: misses on the phrase's OTHER real clips (the drawn ones are held out), with
a Wilson 95 % interval, and false wakes on every other real clip plus ``bench/negative_stream.py``'s speech
stream, per hour; head alone at its trained trigger frames, and behind Whisper's check at the checked
trigger frames. The clips are third-party (see their README); nothing derived from them is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.negative_stream import negative_stream
from bench.wake_compare import REFRACTORY_FRAMES
from bench.wake_real import EVAL, Clip, dev_clips, poisson_upper
from edge.runtime.assembly import one_blas_thread
from edge.speech.audio import SAMPLE_RATE_HZ
from edge.speech.wake.custom import CHECKED_TRIGGER_FRAMES, VERIFY_TAIL_HOPS, CustomWakeDetector
from edge.speech.wake.evaluation import wilson
from edge.speech.wake.features import HOP_SAMPLES, EmbeddingStream
from edge.speech.wake.training import TrainSettings, load_recordings, train_wake_word, with_seed
from edge.speech.wake.verify import VERIFY_SECONDS, PhraseVerifier, Verdict

SKIPPED = f"{EVAL} is absent (the real eval clips live outside the repository)"

Embedded = tuple[np.ndarray, list[np.ndarray]]  # the stream's and each clip's embeddings


def draw(clips: list[Clip], phrase: str, k: int, trial: int) -> list[int]:
    """Indexes of ``k`` benchmark clips of ``phrase``, a fixed rule of (trial, k): the recordings."""
    own = [i for i, clip in enumerate(clips) if clip.phrase == phrase and clip.category == "wake_word"]
    if len(own) < k:
        raise ValueError(f"{EVAL}: {len(own)} clips of {phrase!r}, fewer than --k {k}")
    rng = np.random.default_rng([trial, k, 2026])
    return sorted(own[int(j)] for j in rng.choice(len(own), k, replace=False))


class Checked(PhraseVerifier):
    """Whisper's check for one phrase, each stretch of audio asked once for every head measured."""

    def __init__(self, phrase: str) -> None:
        super().__init__(phrase)
        self.verdicts: dict[bytes, Verdict] = {}
        self.cpu_s = 0.0

    def check(self, samples: np.ndarray, phrase: str | None = None) -> Verdict:
        """Whisper's verdict on ``samples``, from the cache when this audio was heard before."""
        key = hashlib.sha1(samples.tobytes()).digest()
        if key not in self.verdicts:
            started = time.process_time()
            self.verdicts[key] = super().check(samples, phrase)
            self.cpu_s += time.process_time() - started
        return self.verdicts[key]


def wakes(head: CustomWakeDetector, embeddings: np.ndarray, audio: np.ndarray) -> int:
    """Wakes over one embedded clip, as ``bench.wake_compare.CustomHead`` counts them with the head's verifier."""
    keep = int(VERIFY_SECONDS * SAMPLE_RATE_HZ)
    head.reset()
    count, skip_until = 0, -1
    for index, score in enumerate(head.scores(list(embeddings))):
        if index < skip_until or score is None or not head.candidate(score):
            continue
        end = min((index + 1 + VERIFY_TAIL_HOPS) * HOP_SAMPLES, len(audio))
        if head.verify(audio[max(end - keep, 0) : end]).accepted:
            count += 1
            skip_until = index + REFRACTORY_FRAMES
    return count


def score(
    head: CustomWakeDetector,
    embedded: Embedded,
    clips: list[Clip],
    stream: np.ndarray,
    held_out: set[int],
) -> dict[str, Any]:
    """Misses on the phrase's clips not drawn, false wakes on the other clips and the stream."""
    stream_embeddings, clip_embeddings = embedded
    missed = own = false_wakes = other_samples = 0
    for index, (embeddings, clip) in enumerate(zip(clip_embeddings, clips, strict=True)):
        if index in held_out:
            continue
        count = wakes(head, embeddings, clip.audio)
        if clip.phrase == head.phrase:
            own += 1
            missed += count == 0
        else:
            false_wakes += count
            other_samples += len(clip.audio)
    false_wakes += wakes(head, stream_embeddings, stream)
    hours = (other_samples + len(stream)) / SAMPLE_RATE_HZ / 3600
    low, high = wilson(missed, own)
    return {
        "missed": missed,
        "clips": own,
        "miss_rate": round(missed / own, 4) if own else None,
        "miss_rate_95": [round(low, 4), round(high, 4)],
        "false_wakes": false_wakes,
        "false_wakes_per_hour": round(false_wakes / hours, 3),
        "false_wakes_per_hour_upper_95": round(poisson_upper(false_wakes, hours), 3),
    }


def copied(files: list[str], folder: Path) -> Path:
    """The drawn clips copied into ``folder``, a recordings folder as a user gives one."""
    folder.mkdir()
    for name in files:
        shutil.copy(EVAL / name, folder / Path(name).name)
    return folder


def trained(
    phrase: str, seed: int, recordings: list[np.ndarray], folder: Path
) -> tuple[Path, dict[str, float]]:
    """A head written into ``folder``; its training's wall seconds and CPU seconds (this process, synthesizers)."""
    started, cpu, children = time.monotonic(), time.process_time(), _children_cpu_s()
    model = train_wake_word(phrase, with_seed(TrainSettings(), seed), recordings).model
    path = folder / f"{phrase.replace(' ', '_')}_{seed}_{len(recordings)}.tflite"
    path.write_bytes(model)
    return path, {
        "train_wall_s": round(time.monotonic() - started, 1),
        "train_cpu_s": round(time.process_time() - cpu, 1),
        "train_synthesizer_cpu_s": round(_children_cpu_s() - children, 1),
    }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # flite and espeak-ng run as child processes
    return usage.ru_utime + usage.ru_stime


def measure(
    path: Path, check: Checked, embedded: Embedded, clips: list[Clip], stream: np.ndarray, held_out: set[int]
) -> dict[str, Any]:
    """The head alone at its trained trigger frames, and behind Whisper's check at the checked ones."""
    head = CustomWakeDetector(path)
    alone = score(head, embedded, clips, stream, held_out)
    head.trigger_frames = min(head.trigger_frames, CHECKED_TRIGGER_FRAMES)
    head.verifier = (
        check  # as CustomWakeDetector(path, verify=True) has, with its verdicts shared by every head
    )
    return {"head_alone": alone, "with_check": score(head, embedded, clips, stream, held_out)}


def phrase_rows(
    phrase: str,
    ks: list[int],
    trials: int,
    clips: list[Clip],
    embedded: Embedded,
    stream: np.ndarray,
    folder: Path,
) -> list[dict[str, Any]]:
    """For each trial: the head without recordings, then with each ``k`` drawn clips, on the same seed."""
    check = Checked(phrase)
    rows = []
    for trial in range(trials):
        path, cost = trained(phrase, trial, [], folder)
        for k in ks:
            drawn = draw(clips, phrase, k, trial)
            recordings = load_recordings(
                copied([clips[i].file for i in drawn], folder / f"{phrase}_{trial}_{k}")
            )
            with_path, with_cost = trained(phrase, trial, recordings, folder)
            row: dict[str, Any] = {
                "phrase": phrase,
                "k": k,
                "trial": trial,
                "recordings": [clips[i].file for i in drawn],
            }
            row["without_recordings"] = measure(path, check, embedded, clips, stream, set(drawn)) | cost
            row["with_recordings"] = (
                measure(with_path, check, embedded, clips, stream, set(drawn)) | with_cost
            )
            rows.append(row)
    return rows


def pooled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Misses and false wakes summed over trials, per phrase, k and mode."""
    groups: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault((row["phrase"], row["k"]), {"phrase": row["phrase"], "k": row["k"]})
        for label in ("without_recordings", "with_recordings"):
            for mode in ("head_alone", "with_check"):
                total = group.setdefault(f"{label}.{mode}", {"missed": 0, "clips": 0, "false_wakes": 0})
                for field in ("missed", "clips", "false_wakes"):
                    total[field] += row[label][mode][field]
    for group in groups.values():
        for total in group.values():
            if isinstance(total, dict):
                low, high = wilson(total["missed"], total["clips"])
                total["miss_rate"] = round(total["missed"] / total["clips"], 4)
                total["miss_rate_95"] = [round(low, 4), round(high, 4)]
    return list(groups.values())


def run(
    phrases: list[str],
    ks: list[int],
    trials: int,
    hours: float,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Every trial of every phrase, and the pooled table."""
    one_blas_thread()  # as the daemon runs, so Whisper's checks cost what they cost there
    clips = dev_clips()
    stream = np.concatenate(list(negative_stream(hours * 3600, chunk_ms=30)))
    extractor = EmbeddingStream(precision="int8")  # what trained heads run on
    embedded = extractor.embed(stream), [extractor.embed(clip.audio) for clip in clips]
    progress(f"{len(clips)} clips and {hours} h of stream embedded")
    rows = []
    with tempfile.TemporaryDirectory(prefix="edge-wake-recordings-") as tmp:
        for phrase in phrases:
            rows += phrase_rows(phrase, ks, trials, clips, embedded, stream, Path(tmp))
            progress(f"{phrase} done")
    return {
        "recordings_per_trial": ks,
        "trials": trials,
        "draw": "k benchmark clips of the phrase, numpy default_rng([trial, k, 2026]) over manifest order",
        "training_seed": "the trial number, the same with and without recordings",
        "held_out": "the drawn clips count neither as misses nor as false wakes",
        "padding": "1 s of quiet room noise (about -60 dBFS) before and after each measured clip",
        "stream_hours": hours,
        "pooled": pooled(rows),
        "trials_detail": rows,
        "attribution": "../shared/eval/audio (Picovoice wake-word-benchmark and others; see its README)",
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.wake_recordings", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--phrase", nargs="+", default=["snowboy", "smart mirror"], help="phrases of the dev set"
    )
    parser.add_argument(
        "--k", type=int, nargs="+", default=[5, 10], help="recordings per trial, 3-10 (default: 5 10)"
    )
    parser.add_argument(
        "--trials", type=int, default=2, help="draws (and training seeds) per phrase (default: 2)"
    )
    parser.add_argument("--hours", type=float, default=0.25, help="negative speech stream (default: 0.25)")
    args = parser.parse_args(argv)
    if not EVAL.is_dir():
        print(f"skipped: {SKIPPED}", file=sys.stderr)
        return 0
    if not all(3 <= k <= 10 for k in args.k):
        parser.error(f"--k {args.k}: give 3-10, as `edge wake train --recordings` takes")
    result = run(
        args.phrase, args.k, args.trials, args.hours, lambda t: print(t, file=sys.stderr, flush=True)
    )
    print(json.dumps(result, indent=1))  # progress goes to stderr: `> FILE` keeps the JSON alone
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
