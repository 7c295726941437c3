"""Fitted categorizers, and their decisions, kept by the content of what they learned from.

The key is a SHA-256 of the fitting code's own source, the catalogue, and every training row with its
label and weight (history rows carry their notes, task column, task title, person and role). The same
catalogue and labels give the same key whatever else changed in the workspace; a new label, a
reviewer's correction or an edited example gives a new key and one fit, so a draft never refits what an
earlier draft fitted.

A model is a deterministic function of its key, so what it decided is kept too, by `Row` (everything a
decision depends on): a draft of entries decided before (a revision, a resumed run, the inbox, the next
client of the same month) looks decisions up without loading the model; only new rows are scored.

Kept in this process and on disk under `$INVOICE_AGENT_CACHE_DIR` (default `~/.cache/invoice-agent`),
in `categorizer/<key>.pickle` and `categorizer/<key>.decisions.pickle`, written atomically. The files
are the product's own: one that does not load (another library version, a partial write) is ignored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.categorize.row import Row
from tools.files import write_atomic

if TYPE_CHECKING:
    from tools.categorize.model import Model

__all__ = ["Fitted", "cache_dir"]

_models: dict[str, Model] = {}
_decisions: dict[str, dict[Row, Any]] = {}
_lock = threading.Lock()  # the server drafts in threads: one writer of the shared dicts at a time


def cache_dir() -> Path:
    root = os.environ.get("INVOICE_AGENT_CACHE_DIR")
    if not root:
        try:
            root = str(Path.home() / ".cache" / "invoice-agent")
        except (KeyError, RuntimeError):  # no home (a bare container user): the machine's temp folder
            root = str(Path(tempfile.gettempdir()) / "invoice-agent-cache")
    return Path(root) / "categorizer"


@functools.cache
def model_version() -> str:
    """The fitting code itself: a pickle made by other code (a class changed shape) is never reused."""
    from importlib.metadata import version

    here = Path(__file__).parent
    digest = hashlib.sha256(version("scikit-learn").encode())
    for name in ("features.py", "model.py", "row.py", "text.py", "__init__.py", "../wordvectors.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


class Fitted:
    """One training set's model, loaded (or fitted) on first use, and the decisions it made."""

    def __init__(self, categories: Sequence[str], rows: Sequence[Row], labels: Sequence[int],
                 weights: Sequence[float]) -> None:
        self._args = (list(categories), list(rows), list(labels), list(weights))
        payload = [model_version(), list(categories),
                   [[r.notes, r.task, r.title, r.person, r.role, k, w] for r, k, w in zip(rows, labels, weights,
                                                                                          strict=True)]]
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        self.key = hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def model(self) -> Model:
        """The model: from this process, from disk, or fitted now (and kept)."""
        from tools.categorize.model import Model, fit

        with _lock:
            model = _models.get(self.key)
            if model is None:
                loaded = _load(cache_dir() / f"{self.key}.pickle")
                model = loaded if isinstance(loaded, Model) else fit(*self._args)
                if not isinstance(loaded, Model):
                    _save(cache_dir() / f"{self.key}.pickle", model)
                _models[self.key] = model
            return model

    def decisions(self) -> dict[Row, Any]:
        """What this model decided before, by row (shared by every `Categorizer` of the same key)."""
        with _lock:
            found = _decisions.get(self.key)
            if found is None:
                loaded = _load(cache_dir() / f"{self.key}.decisions.pickle")
                found = _decisions[self.key] = loaded if isinstance(loaded, dict) else {}
            return found

    def remember(self, new: Mapping[Row, Any]) -> None:
        """Add decisions and keep them on disk."""
        known = self.decisions()
        with _lock:
            known.update(new)
            _save(cache_dir() / f"{self.key}.decisions.pickle", known)


def _load(path: Path) -> object:
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # written by this module, under the user's own cache folder
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None


def _save(path: Path, value: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only home: kept for this process only
