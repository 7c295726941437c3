"""Fitted categorizers kept by the content of what they learned from, so a draft never refits.

The key is a SHA-256 of the fitting code's own source, the catalogue, and every training row with its label
and weight (history rows carry their notes, task column, task title, person and role). The same
catalogue and labels give the same key whatever else changed in the workspace; a new label, a
reviewer's correction or an edited example gives a new key and one fit.

Kept in this process and on disk under `$INVOICE_AGENT_CACHE_DIR` (default `~/.cache/invoice-agent`),
in `categorizer/<key>.pickle`, written atomically. The files are the product's own: a file that does
not load (another library version, a partial write) is ignored and fitted again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

from tools.categorize.features import Row
from tools.categorize.model import Model, fit
from tools.files import write_atomic

__all__ = ["cache_dir", "cached_fit"]

_memory: dict[str, Model] = {}


@functools.cache
def model_version() -> str:
    """The fitting code itself: a pickle made by other code (a class changed shape) is never reused."""
    from importlib.metadata import version

    here = Path(__file__).parent
    digest = hashlib.sha256(version("scikit-learn").encode())
    for name in ("features.py", "model.py", "text.py", "__init__.py", "../wordvectors.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def cache_dir() -> Path:
    root = os.environ.get("INVOICE_AGENT_CACHE_DIR") or Path.home() / ".cache" / "invoice-agent"
    return Path(root) / "categorizer"


def _key(categories: Sequence[str], rows: Sequence[Row], labels: Sequence[int], weights: Sequence[float]) -> str:
    payload = [model_version(), list(categories),
               [[r.notes, r.task, r.title, r.person, r.role, k, w] for r, k, w in zip(rows, labels, weights,
                                                                                      strict=True)]]
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_fit(categories: Sequence[str], rows: Sequence[Row], labels: Sequence[int],
               weights: Sequence[float]) -> Model:
    """`model.fit`, or the model an identical fit made before (in this process or on disk)."""
    key = _key(categories, rows, labels, weights)
    model = _memory.get(key)
    if model is not None:
        return model
    path = cache_dir() / f"{key}.pickle"
    try:
        with path.open("rb") as f:
            loaded = pickle.load(f)
        if isinstance(loaded, Model):
            _memory[key] = loaded
            return loaded
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        pass
    model = fit(categories, rows, labels, weights)
    _memory[key] = model
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only home: the fit is kept for this process only
    return model
