"""What the categorizer sees of an entry: blocks of features side by side, each row scaled to unit length.

1. the typed text, `notes || task column` (generic words like "Project work" left out of the task), as
   TF-IDF of character 2-5-grams within words and of word 1-2-grams, sublinear tf: spelling variants,
   typos and a firm's own abbreviations;
2. the notes' plain words (jargon folded, typos read as the word, see `text.py`), words and bigrams,
   TF-IDF: general knowledge of how time notes are written;
3. context tokens, term frequency without idf: `task=<task column>`, `role=<role>`, `person=<person>`,
   `title:<word>` of the task the entry references: a clear task column speaks, and a newcomer's role
   stands in for history they do not have;
4. general English word vectors (GloVe 6B 50d, SIF-weighted mean, see `tools.wordvectors`) of the notes
   without ticket ids and asides: notes phrased in words neither the history nor the catalogue uses
   still land near their meaning ("buzzed their GC" near "called the client's counsel").

The TF-IDF is computed here rather than with scikit-learn's vectorizers (the same formulas: smooth idf,
1 + log tf, l2 rows), in bulk with numpy, and with every word's n-grams read once: a draft only looks
features up and multiplies, and never imports scikit-learn (which only fitting needs).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from tools.categorize.row import Row
from tools.categorize.text import KnownWords, clean_for_meaning, plain_words, split
from tools.wordvectors import DIMENSIONS, word_vectors

__all__ = ["Features", "Row", "distinct"]

# How much each block counts against the others (measured on the drift eval: the context at twice the
# text's weight, word vectors at one; heavier vectors cost accuracy on every firm).
_TYPED_WEIGHT = math.sqrt(0.5)  # characters and words share block 1
_PLAIN_WEIGHT = 1.0
_CONTEXT_WEIGHT = 2.0
_MEANING_WEIGHT = 1.0
_WORD = re.compile(r"(?u)\b\w+\b")
_T = TypeVar("_T")


def _char_ngrams(word: str) -> list[str]:
    """Character 2-5-grams of one word padded with spaces, as scikit-learn's `char_wb` analyzer makes them."""
    padded = f" {word} "
    grams = []
    for n in range(2, 6):
        if n > len(padded):
            break
        grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


def _with_bigrams(words: list[str]) -> list[str]:
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class _Block:
    """One TF-IDF block: a vocabulary fitted once, then token lists -> unit-length sparse rows."""

    def __init__(self, docs: Sequence[list[str]], *, idf: bool) -> None:
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(set(doc))
        terms = sorted(df)
        self.index = {term: i for i, term in enumerate(terms)}
        n = len(docs)
        self.idf = (np.array([math.log((1 + n) / (1 + df[t])) + 1 for t in terms]) if idf
                    else np.ones(len(terms)))
        self.sublinear = idf

    def __len__(self) -> int:
        return len(self.index)

    def rows(self, docs: Iterable[list[int]]) -> sp.csr_matrix:
        """Rows from each document's known feature indices (repeats count), tf-idf, l2-normalized."""
        indptr, flat = [0], []
        for doc in docs:
            flat += doc
            indptr.append(len(flat))
        counts = sp.csr_matrix((np.ones(len(flat)), np.asarray(flat, dtype=np.int64), np.asarray(indptr)),
                               shape=(len(indptr) - 1, len(self)))
        counts.sum_duplicates()  # repeated features become counts, columns sorted per row
        values = counts.data
        if self.sublinear:
            values = 1.0 + np.log(values)
        values = values * self.idf[counts.indices]
        counts.data = values
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        counts = sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ counts)
        return counts.astype(np.float32)

    def known(self, tokens: Iterable[str]) -> list[int]:
        get = self.index.get
        return [i for i in map(get, tokens) if i is not None]


def distinct(values: list[_T]) -> tuple[list[_T], np.ndarray]:
    """The distinct values in first-seen order, and each input's position among them."""
    first: dict[_T, int] = {}
    at = np.fromiter((first.setdefault(v, len(first)) for v in values), dtype=np.int64, count=len(values))
    return list(first), at


class Features:
    """The fitted blocks; `matrix(rows)` gives the rows' features side by side."""

    def __init__(self, rows: Sequence[Row], known: KnownWords) -> None:
        self.known = known
        self._grams: dict[str, list[str]] = {}
        self._plains: dict[str, list[str]] = {}
        self._meanings: dict[str, np.ndarray] = {}
        typed = [row.typed for row in rows]
        self.chars = _Block([self._char_tokens(t) for t in typed], idf=True)
        self.words = _Block([_with_bigrams(_WORD.findall(t)) for t in typed], idf=True)
        self.plain = _Block([self._plain(row) for row in rows], idf=True)
        self.context = _Block([row.context() for row in rows], idf=False)
        self._seen = self.plain.rows(self.plain.known(self._plain(row)) for row in rows).T.tocsr()

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_grams": {}, "_plains": {}, "_meanings": {}}  # caches are rebuilt, not stored

    @property
    def width(self) -> int:
        return len(self.chars) + len(self.words) + len(self.plain) + len(self.context) + DIMENSIONS

    def _char_tokens(self, typed: str) -> list[str]:
        out: list[str] = []
        for word in typed.split():
            grams = self._grams.get(word)
            if grams is None:
                grams = self._grams[word] = _char_ngrams(word)
            out += grams
        return out

    def _plain(self, row: Row) -> list[str]:
        found = self._plains.get(row.notes)
        if found is None:
            found = self._plains[row.notes] = _with_bigrams(plain_words(row.notes, self.known))
        return found

    def matrix(self, rows: Sequence[Row]) -> sp.csr_matrix:
        # Each block reads one part of a row; entries repeat their notes and tasks, so each block is
        # built once per distinct part and spread back to the rows.
        typed, at_typed = distinct([row.typed for row in rows])
        notes, at_notes = distinct([row.notes for row in rows])
        contexts, at_context = distinct([(row.task, row.title, row.person, row.role) for row in rows])
        parts = [
            self.chars.rows(self.chars.known(self._char_tokens(t)) for t in typed)[at_typed] * _TYPED_WEIGHT,
            self.words.rows(self.words.known(_with_bigrams(_WORD.findall(t))) for t in typed)[at_typed]
            * _TYPED_WEIGHT,
            self.plain.rows(self.plain.known(self._plain(Row(n))) for n in notes)[at_notes] * _PLAIN_WEIGHT,
            self.context.rows(self.context.known(Row("", *c).context()) for c in contexts)[at_context]
            * _CONTEXT_WEIGHT,
            sp.csr_matrix(self.meanings([Row(n) for n in notes])[at_notes] * _MEANING_WEIGHT),
        ]
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def meanings(self, rows: Sequence[Row]) -> np.ndarray:
        """Each row's notes as one unit-length word-vector mean (zeros when no word is known); each notes
        text is embedded once (scoring, doubt and reasons all ask for the same notes)."""
        vectors = word_vectors()
        new = [notes for notes in dict.fromkeys(row.notes for row in rows) if notes not in self._meanings]
        words: list[list[str]] = []
        for notes in new:
            said: list[str] = []
            for token in split(clean_for_meaning(notes))[0]:
                # A word English knows as typed; else the plain words the firm's reading makes of it.
                said += [token] if token in vectors else [w for w in self.known.read(token) if w in vectors]
            words.append(said)
        self._meanings.update(zip(new, vectors.embed_many(words), strict=True))
        if not rows:
            return np.zeros((0, DIMENSIONS))
        return np.vstack([self._meanings[row.notes] for row in rows])

    def unlike(self, rows: Sequence[Row]) -> np.ndarray:
        """Per row, 1 - the cosine similarity of its notes' plain words to the closest training row's."""
        if not rows:
            return np.zeros(0)
        notes, at = distinct([row.notes for row in rows])
        closest = (self.plain.rows(self.plain.known(self._plain(Row(n))) for n in notes) @ self._seen).max(axis=1)
        return np.asarray(1.0 - closest.toarray().ravel()[at])

    def novelty(self, notes: str) -> float:
        """The share of the notes' plain words the training rows never used (1.0 for empty notes)."""
        words = plain_words(clean_for_meaning(notes), self.known)
        if not words:
            return 1.0
        return sum(word not in self.plain.index for word in words) / len(words)
