"""The fitted categorizer: a multinomial logistic regression over the feature blocks, and a doubt model.

What belongs here: fitting (training rows -> `Model`), predicting probabilities for distinct rows, and
estimating how likely each prediction is to be wrong. Nothing here knows about entries, drafts or money.

Doubt is learned the way drift happens: the history is split into folds by the notes' first two plain
words, so whole phrasings are held out, and each held-out row is predicted by a model that never saw its
phrasing. A small logistic regression then learns P(wrong) from what can be seen at decision time: how
sure the classifier is, its margin, how many of the notes' words are new, whether the task column points
elsewhere, whether the person has any history, whether the notes are empty. `1 - P(wrong)` is the
confidence a draft shows, and it means what it says on phrasings the history never had.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tools.categorize.features import Features, Row, distinct
from tools.categorize.row import task_key
from tools.categorize.text import KnownWords, clean_for_meaning, plain_words

__all__ = ["Doubt", "Model", "fit"]

C = 10.0
FOLDS = 4
MAX_ITER, TOL = 1000, 1e-4
# A task column votes for a category when history used it at least this often, nearly always for one.
_TASK_MIN, _TASK_PURITY = 5, 0.8
_MIN_ERRORS = 15


@dataclass(frozen=True)
class Doubt:
    """P(wrong) = sigmoid(intercept + coef . signals); see `Model.signals` for the signals' order."""

    intercept: float
    coef: tuple[float, ...]

    def p_wrong(self, signals: np.ndarray) -> np.ndarray:
        z: np.ndarray = self.intercept + signals @ np.asarray(self.coef)
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


# P(wrong) learned where phrasing really drifted: the held-out last month of two generated firms (an
# agency and a law firm, `evals/workspaces/drift_*`), a third of whose notes use phrasings their history
# never does. Fitted on one firm it carries to the other (see `evals.drift`); it is the floor under
# every firm's own doubt, which is learned from its history's held-out phrasings and never lowers it.
DRIFT_DOUBT = Doubt(-5.97, (2.44, 3.02, 0.21, 0.5, -0.02, -0.07, 0.69, 1.91))
SIGNALS = 8
_NEIGHBOURS = 5
NEWCOMER = 4  # the signal held-out history cannot teach (every held-out row's author has history)


class Model:
    """Features + classifier + doubt, and what the history says about task columns and people."""

    def __init__(self, categories: Sequence[str], features: Features, classes: list[int], coef: np.ndarray,
                 intercept: np.ndarray, task_votes: dict[str, int], people: frozenset[str]) -> None:
        self.categories = tuple(categories)
        self.features = features
        # The classifier as plain arrays, so a model loaded from the cache scores without scikit-learn.
        self.classes = np.asarray(classes)  # catalogue positions it was trained on
        self.coef = coef  # features x classes
        self.intercept = intercept
        self.task_votes = task_votes
        self.people = people
        self.meanings = np.zeros((0, 0), dtype=np.float32)  # distinct history notes by meaning ...
        self.meaning_labels = np.zeros((0, 0), dtype=np.float32)  # ... and their categories (one-hot)
        self.learned: Doubt | None = None  # the firm's own, from held-out phrasings of its history

    def probabilities(self, rows: Sequence[Row]) -> np.ndarray:
        """One row per input, one column per catalogue category (in catalogue order)."""
        out = np.zeros((len(rows), len(self.categories)))
        if not rows:
            return out
        if len(self.classes) == 1:
            out[:, self.classes[0]] = 1.0
            return out
        scores = np.asarray(self.features.matrix(rows) @ self.coef) + self.intercept
        odds = np.exp(scores - scores.max(axis=1, keepdims=True))
        out[:, self.classes] = odds / odds.sum(axis=1, keepdims=True)
        return out

    def p_wrong(self, signals: np.ndarray) -> np.ndarray:
        """How likely each prediction is wrong: the larger of the drift-learned and the firm's own doubt."""
        p = DRIFT_DOUBT.p_wrong(signals)
        return p if self.learned is None else np.maximum(p, self.learned.p_wrong(signals))

    def _meaning_disagrees(self, notes: list[str], best: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Per row, the share of its nearest past notes by meaning (word vectors) that are not of the
        chosen category: the words may be new, but what they mean can still point elsewhere."""
        if not len(self.meanings):
            return np.zeros(len(at))
        similarity = self.features.meanings([Row(n) for n in notes]) @ self.meanings.T
        k = min(_NEIGHBOURS, similarity.shape[1])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weights = np.clip(np.take_along_axis(similarity, nearest, axis=1), 0.0, None)
        votes = np.einsum("nk,nkc->nc", weights, self.meaning_labels[nearest])
        votes /= np.where(votes.sum(axis=1, keepdims=True) > 0, votes.sum(axis=1, keepdims=True), 1.0)
        return np.asarray(1.0 - votes[at, best])

    def signals(self, rows: Sequence[Row], probabilities: np.ndarray) -> np.ndarray:
        """Per row: 1 - p(best), 1 - margin to the runner-up, share of new words, task column disagrees,
        person without history, notes empty, unlike any training row (1 - closest cosine), nearest past
        notes by meaning of another category."""
        ordered = np.sort(probabilities, axis=1)
        best = probabilities.argmax(axis=1)
        out = np.zeros((len(rows), SIGNALS))
        out[:, 0] = 1.0 - ordered[:, -1]
        out[:, 1] = 1.0 - (ordered[:, -1] - ordered[:, -2]) if probabilities.shape[1] > 1 else 0.0
        notes, at = distinct([row.notes for row in rows])
        said = np.array([bool(clean_for_meaning(n).strip()) for n in notes], dtype=bool)[at]
        out[:, 2] = np.array([self.features.novelty(n) for n in notes])[at] * said
        votes = [self.task_votes.get(task_key(row.task)) for row in rows]
        out[:, 3] = [vote is not None and vote != b for vote, b in zip(votes, best, strict=True)]
        # With no history at all everyone is new: that says nothing about this entry.
        if self.people:
            out[:, 4] = [bool(row.person) and row.person not in self.people for row in rows]
        out[:, 5] = ~said
        out[:, 6] = self.features.unlike(rows) * said  # an empty note is its own signal
        out[:, 7] = self._meaning_disagrees(notes, best, at) * said
        return out


def _fit_once(categories: Sequence[str], rows: Sequence[Row], labels: Sequence[int],
              weights: Sequence[float]) -> Model:
    from sklearn.linear_model import LogisticRegression  # fitting only: a draft scores without it

    # Entries repeat (a standup a day): one row per distinct (row, label), its weight the sum, which is
    # the same objective, fitted in a fraction of the time.
    merged: dict[tuple[Row, int], float] = {}
    for row, label, weight in zip(rows, labels, weights, strict=True):
        merged[(row, label)] = merged.get((row, label), 0.0) + weight
    rows, labels, weights = [r for r, _ in merged], [k for _, k in merged], list(merged.values())
    known = KnownWords.counted((row.notes, w * 2 if not row.person else w) for row, w in zip(rows, weights,
                                                                                          strict=True))
    features = Features(rows, known)
    classes = sorted(set(labels))
    coef, intercept = np.zeros((features.width, 1), dtype=np.float32), np.zeros(1)
    if len(classes) > 1:
        classifier = LogisticRegression(C=C, max_iter=MAX_ITER, tol=TOL)
        classifier.fit(features.matrix(rows), np.asarray(labels), sample_weight=np.asarray(weights))
        coef, intercept = classifier.coef_, classifier.intercept_
        if len(classes) == 2:  # a binary fit scores only the second class: its softmax pair is (0, score)
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
        coef = coef.T.astype(np.float32)
    by_task: dict[str, Counter[int]] = defaultdict(Counter)
    for row, label in zip(rows, labels, strict=True):
        if row.person and row.task.strip():  # history rows only: the catalogue has no task column
            by_task[task_key(row.task)][label] += 1
    votes = {}
    for task, counts in by_task.items():
        (label, n), total = counts.most_common(1)[0], sum(counts.values())
        if total >= _TASK_MIN and n / total >= _TASK_PURITY:
            votes[task] = label
    people = frozenset(row.person for row in rows if row.person)
    model = Model(categories, features, classes, coef, intercept, votes, people)
    said: dict[str, int] = {}
    for row, label in zip(rows, labels, strict=True):
        if row.person and clean_for_meaning(row.notes).strip():
            said.setdefault(row.notes, label)
    if said:
        model.meanings = features.meanings([Row(n) for n in said]).astype(np.float32)
        model.meaning_labels = np.eye(len(categories), dtype=np.float32)[list(said.values())]
    return model


def _phrasing(row: Row) -> str:
    words = plain_words(row.notes)
    return " ".join(words[:2]) if words else f"(empty) {row.task.lower()}"


def fit(categories: Sequence[str], rows: Sequence[Row], labels: Sequence[int], weights: Sequence[float],
        *, folds: int = FOLDS) -> Model:
    """Fit on every row; learn doubt from held-out phrasings of the history rows (rows with a person)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    model = _fit_once(categories, rows, labels, weights)
    history = [i for i, row in enumerate(rows) if row.person]
    groups = [_phrasing(rows[i]) for i in history]
    if len(set(groups)) < folds or folds < 2:
        return model
    seeds = [i for i, row in enumerate(rows) if not row.person]
    signals, wrong = [], []
    for train, test in GroupKFold(n_splits=folds).split(history, groups=groups):
        keep = seeds + [history[j] for j in train]
        part = _fit_once(categories, [rows[i] for i in keep], [labels[i] for i in keep],
                         [weights[i] for i in keep])
        held = [rows[history[j]] for j in test]
        p = part.probabilities(held)
        signals.append(part.signals(held, p))
        wrong.append(p.argmax(axis=1) != np.asarray([labels[history[j]] for j in test]))
    x, y = np.vstack(signals), np.concatenate(wrong)
    if y.sum() >= _MIN_ERRORS and (~y).sum() >= _MIN_ERRORS:
        learnable = [j for j in range(SIGNALS) if j != NEWCOMER]
        calibrator = LogisticRegression(C=1.0, max_iter=1000).fit(x[:, learnable], y)
        coef = dict(zip(learnable, (float(c) for c in calibrator.coef_[0]), strict=True))
        coef[NEWCOMER] = DRIFT_DOUBT.coef[NEWCOMER]
        model.learned = Doubt(float(calibrator.intercept_[0]), tuple(coef[j] for j in range(SIGNALS)))
    return model


