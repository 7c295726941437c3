"""Evals of the review's decisions: its category suggestions against the firm's labels, its figures against the draft.

Each past invoice is drafted again with only what was known before it (`evals.replay`), then reviewed by
the model under test (`agent.review.review_draft`). Scored:

- suggestions: how many name the category the firm really billed (precision over the suggestions whose
  entry has a label), how many would *fix* a category the draft got wrong, and how many would *break*
  one it got right; and how many of the draft's wrong categories the review listed as uncertain at all;
- figures: how many sentences the checks removed for quoting a figure the draft does not have, and that
  no figure outside the draft survives in the text a person reads (a check of the check);
- where the answers came from: the model, or the offline review standing in (with the reasons).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from agent.figures import numbers_in
from agent.model import Model
from agent.review import Review, review_draft, review_figures, review_package
from evals.replay import replay
from tools.changes import change_table
from tools.domain import Workspace
from tools.workspace import load_workspace

__all__ = ["evaluate_reviews", "render_reviews"]


def evaluate_reviews(workspace: Workspace | str | Path, model: Model | None) -> dict[str, Any]:
    ws = workspace if isinstance(workspace, Workspace) else load_workspace(workspace)
    truth = {label.entry_id: label.category for label in ws.labels if label.category}
    counts: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    notes: list[str] = []
    for r in replay(ws):
        review = review_draft(model, r.known, r.draft)
        sources[review.source] += 1
        notes += [f"{r.invoice.invoice_number}: {n}" for n in review.notes]
        used = {e.entry_id: e.category for e in r.draft.entries}
        for s in review.suggestions:
            right = truth.get(s.entry_id)
            counts["suggestions"] += 1
            if right is None:
                continue
            counts["scored"] += 1
            counts["correct"] += s.category == right
            counts["fixes"] += s.category == right != used.get(s.entry_id)
            counts["breaks"] += used.get(s.entry_id) == right != s.category
        wrong = {e for e, c in used.items() if c is not None and truth.get(e) not in (None, c)}
        uncertain = {a.entry_id for a in r.draft.anomalies if a.kind == "uncertain_category"}
        counts["wrong_categories"] += len(wrong)
        counts["wrong_flagged"] += len(wrong & uncertain)
        counts["figures_removed"] += sum(n.startswith("removed from the model's") for n in review.notes)
        counts["figures_surviving"] += len(_unchecked(r.known, r.draft, review))
    return {"workspace": ws.settings.firm, "invoices": sum(sources.values()), "sources": dict(sources),
            "counts": dict(counts),
            "suggestion_precision": counts["correct"] / counts["scored"] if counts["scored"] else None,
            "notes": notes[:20]}


def _unchecked(known: Workspace, draft: Any, review: Review) -> list[str]:
    """Figures in the review's text that the draft does not have (0 when the checks did their job; the
    offline review's templates are held to the same rule)."""
    allowed = review_figures(review_package(known, draft, change_table(known, draft)), review.change_table)
    texts = [review.changes, review.cover_email, *(s.reason for s in review.suggestions),
             *(a.explanation for a in review.anomalies)]
    if review.by_model:
        return [raw for text in texts for raw, value in numbers_in(text) if value not in allowed]
    return []


def render_reviews(result: dict[str, Any]) -> str:
    c = result["counts"]
    precision = result["suggestion_precision"]
    lines = [
        f"Reviews ({', '.join(f'{n} by {s}' for s, n in result['sources'].items())}):",
        f"  category suggestions       {c.get('suggestions', 0)} ({c.get('scored', 0)} with a label), "
        f"right {c.get('correct', 0)}" + (f" ({precision * 100:.1f} %)" if precision is not None else ""),
        f"  would fix a wrong category {c.get('fixes', 0)}; would break a right one {c.get('breaks', 0)}",
        f"  wrong categories flagged   {c.get('wrong_flagged', 0)} of {c.get('wrong_categories', 0)}",
        f"  figures removed by checks  {c.get('figures_removed', 0)}; figures not in the draft left "
        f"{c.get('figures_surviving', 0)}",
    ]
    lines += [f"  note: {n}" for n in result["notes"][:5]]
    return "\n".join(lines)
