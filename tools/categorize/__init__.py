"""The offline categorizer: one catalogue category per time entry, by meaning, with a calibrated doubt.

What belongs here: turning an entry (notes as people type them, the tracker's task column, the task it
references, who logged it) into one category id of the firm's catalogue, the probability of each
alternative, how likely the choice is to be wrong and why, and a one-line reason a reviewer can check.
Nothing here bills or calls a model; the draft turns doubt into a flag with the money at stake.

How it decides (`features.py`, `model.py`): a multinomial logistic regression over TF-IDF of the typed
text, the notes' plain words, the context (task column, task title, role, person) and general English
word vectors, trained on the catalogue (labels and examples) and the firm's labelled history of entries
dated before the period (never the period's own labels). Its doubt is learned on held-out phrasings.

Training is cached (`cache.py`) by the content of what it learns from, so a draft never refits what an
earlier draft of the same history fitted. Notes are data: they are split into words and counted, never
read as instructions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from tools.categorize.cache import Fitted
from tools.categorize.row import Row, task_key
from tools.categorize.text import mentioned_task_ids
from tools.domain import Categorization, Task, TimeEntry, Workspace

if TYPE_CHECKING:
    import numpy as np

    from tools.categorize.model import Model

__all__ = ["UNCERTAIN_ABOVE", "Categorization", "Categorizer", "Decision"]

UNCERTAIN_ABOVE = 0.08
"""An entry whose category is wrong with a probability above this is flagged `uncertain_category`."""
REVIEWER_WEIGHT = 3.0
"""A label a person set counts like this many history rows: a correction should be heard at once."""
_ALTERNATIVES = 3
_ALTERNATIVE_MIN = 0.05
_QUOTE = 60


class Decision(NamedTuple):
    """One entry's category, calibrated confidence (1 - P(wrong)), reason, and the runners-up."""

    category: str
    confidence: float
    reason: str
    uncertain: bool
    alternatives: tuple[tuple[str, float], ...] = ()  # (category, probability), most likely first
    doubt: str = ""  # why it may be wrong, for the flag's message; "" when sure


_Key = tuple[str, str, str, str, str]  # notes, task column, task ref, person, project code


class Categorizer:
    """Chooses one catalogue category per entry. Build it with `Categorizer.train(workspace, before=...)`.

    `categories` are the catalogue ids in catalogue order; `history_size` is how many labelled past
    entries it learned from. The model is loaded (or fitted) only when a row was never decided before.
    """

    def __init__(self, fitted: Fitted, workspace: Workspace, history: list[tuple[Row, int]]) -> None:
        self._fitted = fitted
        self.categories = tuple(c.id for c in workspace.settings.categories)
        self.history_size = len(history)
        self._tasks = {t.id.lower(): t for t in workspace.tasks}
        self._roles = {p.person: p.role for p in workspace.people}
        self._labels = {c.id: c.label for c in workspace.settings.categories}
        self._history = history
        self._meanings: np.ndarray | None = None
        self._cache: dict[_Key, Decision] = {}

    @property
    def model(self) -> Model:
        return self._fitted.model

    # ------------------------------------------------------------------------------------------------
    # Training

    @classmethod
    def train(cls, workspace: Workspace, *, before: date | None = None) -> Categorizer:
        """Learn from the catalogue and from labels of entries dated strictly before `before` (all if None).

        Labels of entries on or after `before` are never read: they belong to the period being billed.
        Labels naming a category the catalogue does not have, or an entry the workspace does not hold,
        are skipped. A label whose `source` is "reviewer" (a person set it) weighs `REVIEWER_WEIGHT`.
        """
        categories = [c.id for c in workspace.settings.categories]
        position = {cid: i for i, cid in enumerate(categories)}
        rows: list[Row] = []
        labels: list[int] = []
        weights: list[float] = []
        for i, category in enumerate(workspace.settings.categories):
            named = (category.label, category.id.replace("_", " ").replace("-", " "))
            # The catalogue's texts as notes and as task titles, and its names as a task column ("Design").
            texts = (*named, *category.examples)
            for row in [Row(t) for t in texts] + [Row("", task=t) for t in named] + [Row("", title=t) for t in texts]:
                rows.append(row)
                labels.append(i)
                weights.append(1.0)
        tasks = {t.id.lower(): t for t in workspace.tasks}
        roles = {p.person: p.role for p in workspace.people}
        entries = {e.id: e for e in workspace.entries}
        history: list[tuple[Row, int]] = []
        for label in sorted(workspace.labels, key=lambda lb: lb.entry_id):
            entry = entries.get(label.entry_id)
            k = position.get(label.category)
            if entry is None or k is None or (before is not None and entry.date >= before):
                continue
            row = _row(entry, tasks, roles)
            rows.append(row)
            labels.append(k)
            weights.append(REVIEWER_WEIGHT if label.source == "reviewer" else 1.0)
            history.append((row, k))
        return cls(Fitted(categories, rows, labels, weights), workspace, history)

    # ------------------------------------------------------------------------------------------------
    # Categorizing

    def categorize(self, entry: TimeEntry) -> Categorization:
        """The most likely category for one entry, its calibrated confidence, and a reason."""
        return self.categorize_many([entry])[entry.id]

    def categorize_many(self, entries: Iterable[TimeEntry]) -> dict[str, Categorization]:
        """Categorize every entry; the result maps entry id to its categorization."""
        return {entry_id: Categorization(category=d.category, confidence=d.confidence, reason=d.reason,
                                         uncertain=d.uncertain)
                for entry_id, d in self.decide_many(entries).items()}

    def decide(self, entry: TimeEntry) -> Decision:
        """`categorize`, as a plain named tuple with the alternatives and the doubt."""
        return self.decide_many([entry])[entry.id]

    def decide_many(self, entries: Iterable[TimeEntry]) -> dict[str, Decision]:
        """Decide every entry: each distinct row once, and only rows this model never decided before."""
        entries = list(entries)
        keys = [_key(e) for e in entries]
        new = {key: e for key, e in zip(keys, entries, strict=True) if key not in self._cache}
        if new:
            rows = {key: _row(e, self._tasks, self._roles) for key, e in new.items()}
            known = self._fitted.decisions()
            todo = list(dict.fromkeys(row for row in rows.values() if row not in known))
            if todo:
                self._fitted.remember(dict(zip(todo, self._decide_rows(todo), strict=True)))
            self._cache.update((key, known[row]) for key, row in rows.items())
        cache = self._cache
        return {e.id: cache[key] for e, key in zip(entries, keys, strict=True)}

    def _decide_rows(self, rows: list[Row]) -> list[Decision]:
        import numpy as np

        model = self.model
        p = model.probabilities(rows)
        signals = model.signals(rows, p)
        p_wrong = model.p_wrong(signals)
        order = np.argsort(-p, axis=1, kind="stable")[:, : _ALTERNATIVES + 1]
        neighbours = self._neighbours(rows, order[:, 0])
        decisions = []
        for i, row in enumerate(rows):
            best, wrong = int(order[i, 0]), float(p_wrong[i])
            decisions.append(Decision(
                category=self.categories[best],
                confidence=round(1.0 - wrong, 4),
                reason=self._reason(row, best, neighbours[i]),
                uncertain=wrong > UNCERTAIN_ABOVE,
                alternatives=tuple((self.categories[j], round(float(p[i, j]), 4)) for j in order[i, 1:]
                                   if p[i, j] >= _ALTERNATIVE_MIN),
                doubt=_doubt(signals[i]) if wrong > UNCERTAIN_ABOVE else "",
            ))
        return decisions

    # ------------------------------------------------------------------------------------------------
    # Explaining

    def _neighbours(self, rows: Sequence[Row], best: np.ndarray) -> list[Row | None]:
        """For each row, the labelled past entry of its chosen category whose notes mean the most alike."""
        import numpy as np

        if not self._history:
            return [None] * len(rows)
        if self._meanings is None:
            self._meanings = self.model.features.meanings([row for row, _ in self._history])
        labels = np.asarray([k for _, k in self._history])
        similarity = self.model.features.meanings(rows) @ self._meanings.T
        out: list[Row | None] = []
        for i, row in enumerate(rows):
            mask = labels == best[i]
            if not row.notes.strip() or not mask.any():
                out.append(None)
                continue
            scores = np.where(mask, similarity[i], -np.inf)
            j = int(scores.argmax())
            out.append(self._history[j][0] if scores[j] > 0.5 else None)
        return out

    def _reason(self, row: Row, best: int, neighbour: Row | None) -> str:
        category = self.categories[best]
        parts = []
        if not row.notes.strip():
            parts.append("notes empty")
        elif neighbour is not None:
            same = " ".join(neighbour.notes.lower().split()) == " ".join(row.notes.lower().split())
            parts.append(f'notes "{_quote(row.notes)}" as labelled before' if same else
                         f'notes "{_quote(row.notes)}" resemble "{_quote(neighbour.notes)}" ({category} before)')
        else:
            parts.append(f'notes "{_quote(row.notes)}" read as {self._labels.get(category, category)}')
        vote = self.model.task_votes.get(task_key(row.task))
        if vote == best:
            parts.append(f'task column "{row.task}" is usually {category}')
        if row.title:
            parts.append(f'task "{_quote(row.title)}"')
        if row.person and self.model.people and row.person not in self.model.people:
            parts.append(f"{row.person} has no history yet")
        return "; ".join(parts)


def _doubt(signals: np.ndarray) -> str:
    said = []
    if signals[2] >= 0.5:
        said.append("notes unlike anything in the history or catalogue")
    if signals[3]:
        said.append("the task column points to another category")
    if signals[4]:
        said.append("a person with no history")
    if signals[5]:
        said.append("no notes to read")
    if signals[7] >= 0.5:
        said.append("past notes that mean much the same were another category")
    if not said:
        said.append("close call between categories" if signals[1] > 0.6 else "low confidence")
    return ", ".join(said)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE else text[: _QUOTE - 1] + "…"


def _key(e: TimeEntry) -> _Key:
    return (e.notes, e.task, e.task_ref or "", e.person, e.project_code)


def _row(e: TimeEntry, tasks: dict[str, Task], roles: dict[str, str]) -> Row:
    task = tasks.get((e.task_ref or "").lower())
    if task is None:
        task = next((tasks[t] for t in mentioned_task_ids(e.notes) if t in tasks), None)
    return Row(e.notes, e.task, task.title if task is not None else "", e.person, roles.get(e.person, ""))

