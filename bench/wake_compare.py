"""Wake engines side by side on real people: pretrained openWakeWord and micro models, and custom heads.

Run from the repository root:

    python -m bench.wake_compare [--hours 1] [--custom alexa=alexa.tflite ...] [--out FILE]

For each model: the miss rate on the real clips of its phrase in ``../shared/eval/audio`` (each padded with a
second of quiet noise), how many of the other real clips (other wake words, coffee orders, commands) wake it,
and false wakes per hour on ``bench/negative_stream.py``'s stream, all at the engine's default threshold.
openWakeWord models fire on one frame over 0.5 (their documented default); micro models use their own
cutoff; custom heads their manifest's threshold and trigger frames. The openWakeWord heads and the custom
heads share one pass of the embedding models over the stream (as they would share it in a daemon); after a
wake, 2 s of frames are skipped and the head's window restarts, as the pipeline's refractory period does.
Prints one JSON document. The eval clips are third-party (see ../shared/eval/README.md); never train on them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.negative_stream import negative_stream
from edge.runtime.assembly import one_blas_thread
from edge.speech.audio import chunk_samples, read_wav
from edge.speech.wake.custom import VERIFY_TAIL_HOPS, CustomWakeDetector
from edge.speech.wake.engines import MicroWakeDetector
from edge.speech.wake.evaluation import pad
from edge.speech.wake.features import HOP_SAMPLES, EmbeddingStream
from edge.speech.wake.head_file import Precision
from edge.speech.wake.verify import VERIFY_SECONDS

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "audio"
OWW_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy", "okay_nabu")
MICRO_MODELS = ("alexa", "hey jarvis", "hey mycroft", "okay nabu")
REFRACTORY_FRAMES = 25  # 2 s of 80 ms frames


def eval_clips() -> list[tuple[str, np.ndarray]]:
    """(wake word or '', padded int16 audio) for every eval clip."""
    rows = [json.loads(line) for line in (EVAL / "manifest.jsonl").read_text().splitlines() if line.strip()]
    rng = np.random.default_rng(0)
    return [(row.get("wake_word") or "", pad(read_wav(EVAL / row["file"]), rng)) for row in rows]


class OwwHead:
    """A pretrained openWakeWord head on shared embeddings: probability of the last 16 (or so) frames."""

    def __init__(self, name: str) -> None:
        from pyopen_wakeword import Model, OpenWakeWord

        self.name = name
        self.phrase = name.replace("_", " ")
        self._model = OpenWakeWord.from_builtin(Model(name))
        self.threshold = 0.5

    def fires(self, embeddings: np.ndarray) -> list[int]:
        """Frame indexes of wakes over an embedding sequence (frames x 96)."""
        self._model.reset()
        wakes, skip_until = [], -1
        for index, embedding in enumerate(embeddings):
            if index < skip_until:
                continue
            for probability in self._model.process_streaming(embedding.reshape(1, 1, 1, 96)):
                if probability > self.threshold:
                    wakes.append(index)
                    skip_until = index + REFRACTORY_FRAMES
                    self._model.reset()
        return wakes


class CustomHead:
    """A custom head on shared embeddings, with its detector's threshold, trigger frames and verifier.

    With ``verify``, a head wake counts only when Whisper hears the phrase in the 2.2 s of audio that end
    at that frame, as in the detector; the time those checks take is kept in ``verify_cpu_s``.
    """

    def __init__(self, path: Path, verify: bool) -> None:
        self.detector = CustomWakeDetector(path, verify=verify)
        self.name = f"custom:{path.name}" + (" +whisper" if verify else " head only")
        self.phrase = self.detector.phrase
        self.precision: Precision = self.detector.precision
        self.verify_cpu_s = 0.0

    def fires(self, embeddings: np.ndarray, audio: np.ndarray) -> list[int]:
        """Frame indexes of wakes over an embedding sequence of ``audio`` (int16)."""
        detector = self.detector
        detector.reset()
        keep = int(VERIFY_SECONDS * 16000)
        # Every window scored in one pass; the 2 s skipped after a wake outlasts the head's window, so the
        # window restart the detector's reset() causes changes nothing here.
        scores = detector.scores(list(embeddings))
        wakes, skip_until = [], -1
        for index, score in enumerate(scores):
            if index < skip_until:
                continue
            if score is None or not detector.candidate(score):
                continue
            # Embedding ``index`` has heard the audio up to its hop's end; Whisper gets the detector's tail too.
            end = min((index + 1 + VERIFY_TAIL_HOPS) * HOP_SAMPLES, len(audio))
            started = time.process_time()
            accepted = detector.verify(audio[max(end - keep, 0) : end]).accepted
            self.verify_cpu_s += time.process_time() - started
            if accepted:
                wakes.append(index)
                skip_until = index + REFRACTORY_FRAMES
        return wakes


def _micro_wakes(phrase: str, audio: np.ndarray) -> int:
    detector = MicroWakeDetector(phrase)
    count, skip_until = 0, -1
    for chunk in chunk_samples(audio, 30):
        if chunk.timestamp_ms >= skip_until and detector.process(chunk) is not None:
            count += 1
            detector.reset()
            skip_until = chunk.timestamp_ms + 2000
    return count


def _row(
    name: str, phrase: str, clip_wakes: list[bool], clips: list[tuple[str, np.ndarray]]
) -> dict[str, Any]:
    own = [w for w, (word, _) in zip(clip_wakes, clips, strict=True) if word == phrase]
    others = [w for w, (word, _) in zip(clip_wakes, clips, strict=True) if word != phrase]
    return {
        "model": name,
        "phrase": phrase,
        "real_clips": len(own),
        "real_miss_rate": round(1 - sum(own) / len(own), 4) if own else None,
        "other_real_clips_woken": f"{sum(others)}/{len(others)}",
    }


def run(hours: float, customs: list[Path], cache: Path | None = None) -> dict[str, Any]:
    """Measure every model; the negative stream is embedded once for all embedding heads."""
    one_blas_thread()  # Whisper's checks cost what they cost in the daemon
    clips = eval_clips()
    stream = np.concatenate(list(negative_stream(hours * 3600, chunk_ms=30)))
    embed_cpu_s: dict[str, float] = {}
    embedded: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}

    def embeddings(precision: Precision) -> tuple[np.ndarray, list[np.ndarray]]:
        """(stream, clips) embeddings at one precision, computed once."""
        if precision not in embedded:
            extractor = EmbeddingStream(precision=precision)
            started = time.process_time()
            cached = cache.with_suffix(f".{precision}.npy") if cache is not None else None
            if cached is not None and cached.is_file():
                stream_embeddings = np.load(cached)
            else:
                stream_embeddings = extractor.embed(stream)
                if cached is not None:
                    np.save(cached, stream_embeddings)
            embed_cpu_s[precision] = time.process_time() - started
            embedded[precision] = stream_embeddings, [extractor.embed(audio) for _, audio in clips]
        return embedded[precision]

    rows = []
    # openWakeWord's heads were trained on the float network's embeddings.
    stream_embeddings, clip_embeddings = embeddings("float")
    for oww in [OwwHead(name) for name in OWW_MODELS]:
        row = _row(oww.name, oww.phrase, [bool(oww.fires(e)) for e in clip_embeddings], clips)
        row["false_wakes_per_hour"] = round(len(oww.fires(stream_embeddings)) / hours, 2)
        rows.append(row)
    for custom in [CustomHead(path, verify) for path in customs for verify in (False, True)]:
        stream_embeddings, clip_embeddings = embeddings(custom.precision)
        wakes = [bool(custom.fires(e, audio)) for e, (_, audio) in zip(clip_embeddings, clips, strict=True)]
        row = _row(custom.name, custom.phrase, wakes, clips)
        custom.detector.candidates = custom.detector.refused = 0
        custom.verify_cpu_s = 0.0
        row["false_wakes_per_hour"] = round(len(custom.fires(stream_embeddings, stream)) / hours, 2)
        row["stream_head_wakes"] = custom.detector.candidates
        row["stream_refused_by_whisper"] = custom.detector.refused
        row["verify_cpu_ms_per_audio_second"] = round(custom.verify_cpu_s * 1000 / (len(stream) / 16000), 3)
        rows.append(row)
    for phrase in MICRO_MODELS:
        wakes = []
        for _, audio in clips:
            wakes.append(_micro_wakes(phrase, audio) > 0)
        row = _row(f"micro:{phrase.replace(' ', '_')}", phrase, wakes, clips)
        row["false_wakes_per_hour"] = round(_micro_wakes(phrase, stream) / hours, 2)
        rows.append(row)
    return {
        "negative_stream_hours": hours,
        "embedding_cpu_ms_per_audio_second": {
            precision: round(cpu_s * 1000 / (len(stream) / 16000), 2)
            for precision, cpu_s in embed_cpu_s.items()
        },
        "eval_clips": len(clips),
        "attribution": "../shared/eval/audio (Picovoice wake-word-benchmark, rhasspy-test, mycroft-core, "
        "openWakeWord, speech-to-intent-benchmark; see its README)",
        "models": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.wake_compare", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="negative stream length (default: 1)")
    parser.add_argument("--custom", type=Path, nargs="*", default=[], help="custom .tflite heads to add")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep the stream's embeddings between runs, in FILE.float.npy and FILE.int8.npy",
    )
    args = parser.parse_args(argv)
    if not EVAL.is_dir():
        print(f"skipped: {EVAL} is absent (the real eval clips live outside the repository)", file=sys.stderr)
        return 0
    result = run(args.hours, args.custom, args.cache)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
