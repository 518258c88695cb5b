"""Text features for the intent classifier: hashed word unigrams/bigrams plus character n-grams.

Before hashing, configured device names become their kind (``lamp`` -> ``light``), rooms become ``room``,
fan level names ``level`` and numbers ``num``, so one model serves any device configuration and a
renamed device needs no retraining. Character n-grams keep a misrecognized word (``lite``, ``dimmer``
heard as ``dinner``) close to the right one.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edge.devices.settings import DeviceConfig
from edge.understanding.numbers import parse_number
from edge.understanding.utterance import tokens

# Bump when the features below change in any way: models trained with another version are refused.
FEATURE_VERSION = 2
# Common rooms and places, read as ``room`` like the configured ones: "the garage light" is a light wherever
# it is, so the intent never depends on which rooms edge.yaml has. Door names become ``door``.
_PLACE_LIST = (
    "garage, hallway, hall, office, study, basement, attic, porch, patio, garden, backyard, yard, "
    "driveway, balcony, terrace, bathroom, toilet, washroom, nursery, den, lounge, closet, entrance, "
    "entryway, foyer, pantry, loft, workshop, shed, stairs, staircase, landing, corridor, upstairs, "
    "downstairs, cellar, playroom, sunroom, mudroom, kitchen, bedroom, dining room, kids room, "
    "guest room, master bedroom, laundry room, first floor, ground floor, second floor, third floor, "
    "top floor, main floor, game room, family room, tv room, utility room, living room, front yard, "
    "back yard, front porch, back porch, guest bedroom"
)
_PLACES = tuple(place.strip() for place in _PLACE_LIST.split(","))
_DOORS = ("front door", "back door", "garage door", "side door")


@dataclass(frozen=True)
class FeatureSettings:
    """How text becomes a vector; stored in the model manifest."""

    version: int = FEATURE_VERSION
    dims: int = 8192  # hashed buckets: 1024 and 4096 measured lower on the development sets (issue 18)
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 4)
    char_weight: float = 0.5  # character n-grams are many; this keeps words the stronger signal

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSettings:
        """Rebuild settings from a manifest (KeyError/TypeError/ValueError on a malformed one)."""
        word = [int(v) for v in data["word_ngrams"]]
        char = [int(v) for v in data["char_ngrams"]]
        return cls(
            version=int(data["version"]),
            dims=int(data["dims"]),
            word_ngrams=(word[0], word[1]),
            char_ngrams=(char[0], char[1]),
            char_weight=float(data["char_weight"]),
        )


@dataclass(frozen=True)
class Lexicon:
    """Configured phrases and what the classifier sees instead (``kitchen light`` -> ``light``)."""

    phrases: dict[tuple[str, ...], str]

    @classmethod
    def from_devices(cls, devices: Sequence[DeviceConfig]) -> Lexicon:
        """Device names and aliases -> kind, rooms (configured or common) -> ``room``, levels -> ``level``."""
        phrases: dict[tuple[str, ...], str] = {tuple(place.split()): "room" for place in _PLACES}
        phrases.update({tuple(door.split()): "door" for door in _DOORS})
        for device in devices:
            for level in device.levels:
                phrases[tuple(level.split())] = "level"
            if device.room:
                phrases[tuple(device.room.split())] = "room"
        for device in devices:
            for name in device.spoken_names:
                phrases[tuple(name.split())] = device.kind
        return cls(phrases)


def normalize(text: str, lexicon: Lexicon) -> list[str]:
    """Tokens with configured names, rooms, levels and numbers replaced by placeholders."""
    return normalize_words(tokens(text), lexicon)


def normalize_words(words: Sequence[str], lexicon: Lexicon) -> list[str]:
    """``normalize`` of words already tokenised (an Utterance's)."""
    words = list(words)
    longest = max((len(p) for p in lexicon.phrases), default=0)
    result: list[str] = []
    i = 0
    while i < len(words):
        for length in range(min(longest, len(words) - i), 0, -1):
            replacement = lexicon.phrases.get(tuple(words[i : i + length]))
            if replacement:
                result.append(replacement)
                i += length
                break
        else:
            number = parse_number(words, i)
            if number:
                result.append("num")
                i += number[1]
            else:
                result.append(words[i])
                i += 1
    return result


def _grams(words: list[str], settings: FeatureSettings) -> list[tuple[str, float]]:
    grams: list[tuple[str, float]] = []
    padded = ["<s>", *words, "</s>"]
    low, high = settings.word_ngrams
    for n in range(low, high + 1):
        source = words if n == 1 else padded
        grams += [("w" + " ".join(source[i : i + n]), 1.0) for i in range(len(source) - n + 1)]
    low, high = settings.char_ngrams
    for word in words:
        marked = f"<{word}>"
        for n in range(low, high + 1):
            grams += [("c" + marked[i : i + n], settings.char_weight) for i in range(len(marked) - n + 1)]
    return grams


def featurize(words: list[str], settings: FeatureSettings) -> np.ndarray:
    """Hash the n-grams of ``words`` into an L2-normalized float32 vector of ``settings.dims``."""
    vector = np.zeros(settings.dims, dtype=np.float32)
    indices, values = sparse_features(words, settings)
    vector[indices] = values
    return vector


def sparse_features(words: list[str], settings: FeatureSettings) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero entries of ``featurize(words)``: (sorted int32 indices, float32 values)."""
    counts: dict[int, float] = {}
    for gram, weight in _grams(words, settings):
        index = zlib.crc32(gram.encode()) % settings.dims
        counts[index] = counts.get(index, 0.0) + weight
    order = sorted(counts)
    # The norm in Python floats, in index order: BLAS's dot on a small array can round differently with
    # the array's memory alignment, and training must give the same bytes every time.
    norm = math.sqrt(sum(counts[i] * counts[i] for i in order)) or 1.0
    indices = np.array(order, dtype=np.int32)
    return indices, np.array([counts[i] / norm for i in order], dtype=np.float32)


def featurize_many(texts: Sequence[str], lexicon: Lexicon, settings: FeatureSettings) -> np.ndarray:
    """Feature matrix (len(texts) x dims) for many texts."""
    matrix = np.zeros((len(texts), settings.dims), dtype=np.float32)
    for row, text in enumerate(texts):
        matrix[row] = featurize(normalize(text, lexicon), settings)
    return matrix


@dataclass(frozen=True)
class SparseRows:
    """Many texts' features kept as padded (index, value) rows: a dense matrix would not fit a small board."""

    indices: np.ndarray  # int32, rows x longest; ``dims`` where padded
    values: np.ndarray  # float32, rows x longest; 0 where padded
    dims: int

    @classmethod
    def build(cls, texts: Sequence[str], lexicon: Lexicon, settings: FeatureSettings) -> SparseRows:
        """Features of ``texts``."""
        rows = [sparse_features(normalize(text, lexicon), settings) for text in texts]
        longest = max((len(i) for i, _ in rows), default=1)
        indices = np.full((len(rows), longest), settings.dims, dtype=np.int32)
        values = np.zeros((len(rows), longest), dtype=np.float32)
        for row, (index, value) in enumerate(rows):
            indices[row, : len(index)] = index
            values[row, : len(value)] = value
        return cls(indices, values, settings.dims)

    def __len__(self) -> int:
        return len(self.indices)

    def dense(self, rows: np.ndarray | slice) -> np.ndarray:
        """The dense feature matrix of the chosen rows."""
        indices, values = self.indices[rows], self.values[rows]
        # One spare column takes the padding; a row's real indices are distinct, so assignment is exact.
        matrix = np.zeros((len(indices), self.dims + 1), dtype=np.float32)
        matrix[np.arange(len(indices))[:, None], indices] = values
        return np.ascontiguousarray(matrix[:, : self.dims])
