"""openWakeWord's speech embeddings, one per 80 ms of audio, computed cheaply enough to run all day.

pyopen-wakeword ships the two feature models (a melspectrogram and a speech embedding network trained by
Google on a large speech corpus). The numbers are those of pyopen-wakeword's ``OpenWakeWordFeatures`` fed
hop by hop (1760 samples per mel frame set, 1280-sample hop, mels scaled by ``x / 10 + 2``, 76 mel frames
per embedding), but computed in batches: the mels with numpy's FFT from the mel model's own constants, and
the embeddings by the real TFLite interpreter (ai-edge-litert, one thread) running the embedding model with
int8 convolutions (``edge.speech.wake.embedding_int8``), cut into stages that keep their context
(``edge.speech.wake.embedding_stages``), several hops per call. Training and detection share this one code path,
so the head is trained on the very numbers it sees at run time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from edge.errors import BackendMissingError, ModelError
from edge.speech.wake.embedding_graph import EMBEDDING_MEL_FRAMES, MEL_BINS, MELS_PER_HOP
from edge.speech.wake.embedding_stages import StagedEmbedding
from edge.speech.wake.head_file import EMBEDDING_SIZE, Precision

log = logging.getLogger(__name__)

HOP_SAMPLES = 1280  # one embedding per 80 ms
MEL_SAMPLES = 1760  # what the mel model sees per call: the hop plus 480 samples of history
FFT_SIZE, FFT_BINS, STFT_HOP = 512, 257, 160  # the mel model's STFT: 32 ms windows every 10 ms
BATCH_HOPS = 64  # hops per embedding call when a whole recording is embedded (training, benchmarks)
MEL_CALL_HOPS = 8  # hops per FFT batch: enough to amortize numpy's overhead, small enough to stay in cache
FLOOR_HOPS = 64  # the noise floor is the quietest hop of the last 5 s
LOUD_OVER_FLOOR_DB = 6.0  # a hop this far over the floor is sound worth embedding
SILENCE_DBFS = -60.0  # below this a hop is quiet whatever the floor
QUIET_HOPS_BEFORE_SKIP = 24  # ~1.9 s: longer than a head window (8 hops) plus an embedding's 775 ms


def feature_models_dir() -> Path:
    """Folder of pyopen-wakeword's bundled melspectrogram and embedding models."""
    try:
        import pyopen_wakeword
    except ImportError:
        raise BackendMissingError("the custom wake word engine needs: pip install pyopen-wakeword") from None
    return Path(pyopen_wakeword.__file__).resolve().parent / "models"


def feature_models_version() -> str:
    """The pyopen-wakeword version whose feature models a head was trained on."""
    from importlib.metadata import version

    return version("pyopen-wakeword")


class MelFrontend:
    """openWakeWord's melspectrogram model, computed with numpy's FFT from the model's own constants.

    The model computes its STFT as two 512-tap convolutions (a DFT written out as weights): numpy's FFT
    gives the same numbers (to ~1e-5 dB) for about a third of the cost of hop-by-hop model calls. Its
    last step floors every value 80 dB under the loudest of the call; that floor is applied here per
    1760-sample hop, as in a hop-by-hop stream, so batching never changes a frame. The constants are read
    from the bundled model and the result is checked against the model itself when the frontend is made.
    """

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [1, MEL_SAMPLES])
        interpreter.allocate_tensors()
        kernels, mel_matrix = [], None
        for tensor in interpreter.get_tensor_details():
            shape = tuple(int(n) for n in tensor["shape"])
            if shape == (FFT_BINS, 1, FFT_SIZE, 1):
                kernels.append(interpreter.get_tensor(tensor["index"]).reshape(FFT_BINS, FFT_SIZE))
            elif shape == (FFT_BINS, MEL_BINS):
                mel_matrix = interpreter.get_tensor(tensor["index"])
        cosine = [k for k in kernels if np.abs(k[0]).sum() > 0]  # the real part: its 0 Hz row is the window
        if len(cosine) != 1 or mel_matrix is None:
            raise ModelError(f"{path}: not the melspectrogram model edge knows (pyopen-wakeword changed?)")
        self._window = cosine[0][0].astype(np.float32)
        self._mel_matrix = mel_matrix.astype(np.float32)
        probe = np.sin(np.arange(MEL_SAMPLES, dtype=np.float32) * 0.05) * 3000
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], probe.reshape(1, -1))
        interpreter.invoke()
        expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).reshape(-1, MEL_BINS)
        if not np.allclose(self(probe), expected, atol=1e-2):
            raise ModelError(f"{path}: numpy melspectrogram differs from the model; edge needs an update")

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """dB mels (8 per hop) of 480 + 1280*k samples, floored 80 dB under each hop's loudest value."""
        frames = np.lib.stride_tricks.sliding_window_view(audio, FFT_SIZE)[::STFT_HOP]
        frames = frames[: (len(audio) - (MEL_SAMPLES - HOP_SAMPLES)) // STFT_HOP]
        spectrum = np.fft.rfft(frames * self._window, axis=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        decibels = 10.0 * np.log10(np.maximum(power @ self._mel_matrix, 1e-10))
        per_hop = decibels.reshape(-1, MELS_PER_HOP * MEL_BINS)
        floor = per_hop.max(axis=1, keepdims=True) - 80.0
        return np.maximum(per_hop, floor).reshape(-1, MEL_BINS)


class EmbeddingStream:
    """Streaming 16 kHz int16 audio in, one 96-d embedding out per 1280 samples, ``hops_per_step`` at a time.

    Both models are convolutional in time: the mel model turns 480 + 1280*k samples into 8*k mel frames and
    the embedding model turns 76 + 8*(k-1) mel frames into k embeddings, the same numbers k separate calls
    give. The embedding network runs in stages that keep the rows the next hops need (StagedEmbedding), so a
    hop costs only its own rows; the stream still waits for ``hops_per_step`` hops and computes them together,
    since each model call has a fixed cost and a few rows of context to recompute.
    Mels are those of a hop-by-hop stream however many hops are batched (see MelFrontend). ``precision``
    picks the embedding network: "int8" (edge's heads; ``edge.speech.wake.embedding_int8``) or "float" (the bundled
    model as it is, for openWakeWord's pretrained heads and heads trained before int8).

    With ``lookback`` > 0 the stream also skips the embedding model while the room is quiet: after
    QUIET_HOPS_BEFORE_SKIP hops with no hop 6 dB over the recent noise floor, hops are only turned into mels.
    When sound returns, the embeddings of up to ``lookback`` skipped hops are computed from the kept mels and
    yielded first, so a caller that looks back that far sees the same numbers as without skipping.
    """

    def __init__(self, hops_per_step: int = 1, lookback: int = 0, precision: Precision = "int8") -> None:
        models = feature_models_dir()
        self.hops_per_step = hops_per_step
        self.lookback = lookback
        self.skipped_hops = 0  # hops whose embedding was never needed, since construction
        self._mel = MelFrontend(models / "melspectrogram.tflite")
        self._network = StagedEmbedding(models / "embedding_model.tflite", precision)
        self.reset()

    def reset(self) -> None:
        """Forget all audio: the history becomes silence."""
        self._audio_tail = np.zeros(MEL_SAMPLES - HOP_SAMPLES, dtype=np.float32)
        self._pending: list[np.ndarray] = []  # samples short of a step, kept as chunks until one is whole
        self._pending_samples = 0
        silence = self._mels(np.zeros(MEL_SAMPLES, dtype=np.float32))[-1]
        frames = EMBEDDING_MEL_FRAMES - MELS_PER_HOP + MELS_PER_HOP * self.lookback
        self._mel_history = np.tile(silence, (frames, 1)).astype(np.float32)
        self._levels_db = np.zeros(0)  # dBFS of the last FLOOR_HOPS hops
        self._quiet_hops = 0
        self._network.forget()
        self._skipping = 0  # hops skipped since the last embedding
        self.samples_seen = 0  # int16 samples fed since the reset
        self.hops_done = 0  # whole hops turned into mels since the reset
        self.last_hop = -1  # the hop of the last embedding yielded; its audio ends at (last_hop + 1) * HOP

    def _mels(self, audio: np.ndarray) -> np.ndarray:
        mels = self._mel(audio)
        return mels / 10.0 + 2.0

    def _step(self, hops: np.ndarray, embeddings: int) -> np.ndarray:
        """Mels of k whole hops that follow the audio seen; the embeddings of the last ``embeddings`` hops.

        When the network's stages hold the context of the hops just before (the usual step), only these
        hops are computed. Otherwise (the first step, or after a quiet skip) the stages start over on a
        window of at least ``hops_per_step + lookback`` hops from the kept mels, so that every such restart
        has one shape and needs one interpreter.
        """
        new_mels = []
        for start in range(0, len(hops), MEL_CALL_HOPS * HOP_SAMPLES):
            audio = np.concatenate([self._audio_tail, hops[start : start + MEL_CALL_HOPS * HOP_SAMPLES]])
            self._audio_tail = audio[-(MEL_SAMPLES - HOP_SAMPLES) :]
            new_mels.append(self._mels(audio))
        mels = np.concatenate([self._mel_history, *new_mels]).astype(np.float32)
        self._mel_history = mels[-len(self._mel_history) :]
        if embeddings == 0:
            self._network.forget()  # the hops skipped are not computed: the next step starts over
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        new_hops = len(hops) // HOP_SAMPLES
        if self._network.started and embeddings == new_hops:
            return self._network.advance(mels[-MELS_PER_HOP * new_hops :].reshape(1, -1, MEL_BINS, 1))
        window = max(embeddings, self.hops_per_step + self.lookback)
        frames = EMBEDDING_MEL_FRAMES + MELS_PER_HOP * (window - 1)
        return self._network.start(mels[-frames:].reshape(1, frames, MEL_BINS, 1))[-embeddings:]

    def _quiet(self, hops: np.ndarray) -> bool:
        """True when no hop is 6 dB over the floor of the last few seconds (or all are under -60 dBFS)."""
        levels = 10 * np.log10(np.mean(hops.reshape(-1, HOP_SAMPLES) ** 2, axis=1) + 1.0) - 90.3  # dBFS
        self._levels_db = np.concatenate([self._levels_db, levels])[-FLOOR_HOPS:]
        return bool(np.all(levels < max(float(self._levels_db.min()) + LOUD_OVER_FLOOR_DB, SILENCE_DBFS)))

    def process(self, pcm: np.ndarray) -> Iterator[np.ndarray]:
        """Feed int16 samples; yield embeddings every ``hops_per_step`` hops (none while skipping quiet)."""
        self._pending.append(pcm)
        self._pending_samples += len(pcm)
        self.samples_seen += len(pcm)
        step = self.hops_per_step * HOP_SAMPLES
        if self._pending_samples < step:
            return
        pending = np.concatenate(self._pending).astype(np.float32)
        whole = len(pending) // step * step
        self._pending = [pending[whole:]]
        self._pending_samples = len(pending) - whole
        for start in range(0, whole, step):
            hops = pending[start : start + step]
            self.hops_done += self.hops_per_step
            count = self.hops_per_step
            if self.lookback:
                self._quiet_hops = self._quiet_hops + count if self._quiet(hops) else 0
                if self._quiet_hops > QUIET_HOPS_BEFORE_SKIP:
                    self._step(hops, 0)
                    self._skipping += count
                    self.skipped_hops += count
                    continue
                count += min(self._skipping, self.lookback)
                self._skipping = 0
            for index, embedding in enumerate(self._step(hops, count)):
                self.last_hop = self.hops_done - count + index
                yield embedding

    def embed(self, samples: np.ndarray, frames: Iterable[int] | None = None) -> np.ndarray:
        """Embeddings (frames x 96) of a whole int16 recording from silence; only ``frames`` if given.

        Computed BATCH_HOPS hops per call: the numbers are those of the stream, at a fraction of the cost.
        """
        self.reset()
        hops = len(samples) // HOP_SAMPLES
        pieces = []
        for start in range(0, hops, BATCH_HOPS):
            count = min(BATCH_HOPS, hops - start)
            # Pad a short last block to a power of two: a handful of model shapes serve every length, and
            # trailing padding never changes the embeddings before it.
            size = 1 << (count - 1).bit_length()
            block = np.zeros(size * HOP_SAMPLES, dtype=np.float32)
            block[: count * HOP_SAMPLES] = samples[start * HOP_SAMPLES : (start + count) * HOP_SAMPLES]
            pieces.append(self._step(block, size)[:count])
        self.reset()
        out = np.concatenate(pieces) if pieces else np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        return out if frames is None else out[[f for f in frames if f < len(out)]]
