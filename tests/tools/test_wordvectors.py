"""General English word vectors: the installed build is the one the vocabulary was made for, common words weigh
little, and notes that mean the same land close together however they are phrased."""

from __future__ import annotations

import numpy as np

from tools.wordvectors import word_vectors


def test_the_vocabulary_is_the_installed_matrix_s_and_ranks_follow_frequency() -> None:
    vectors = word_vectors()  # checks the matrix's size and digest against the vocabulary's
    assert vectors.rank("the") == 0
    rank = vectors.rank("deposition")
    assert rank is not None and rank > 10_000
    assert vectors.rank("qwxzblorp") is None


def test_frequent_words_weigh_almost_nothing_and_rare_ones_almost_one() -> None:
    vectors = word_vectors()
    assert vectors.weight("the") < 0.2 < 0.9 < vectors.weight("deposition") <= 1.0
    assert vectors.weight("qwxzblorp") == 0.0


def test_notes_that_mean_the_same_are_closer_than_notes_that_do_not() -> None:
    vectors = word_vectors()
    buzzed, phoned, css = vectors.embed_many([
        "buzzed their general counsel about disclosure".split(),
        "phoned the client lawyer about documents".split(),
        "fixed the css bug on checkout".split(),
    ])
    assert buzzed @ phoned > buzzed @ css + 0.2
    assert np.allclose(buzzed, vectors.embed("buzzed their general counsel about disclosure".split()))


def test_text_with_no_known_word_is_the_zero_vector() -> None:
    assert not word_vectors().embed_many([["qwxzblorp"], []]).any()
