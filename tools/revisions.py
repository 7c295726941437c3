"""A reviewer's changes to a draft (`Revisions`) and the draft with them applied (`build_draft`).

A person may drop entries, set categories and rename lines; the billing engine recomputes the draft
from them, so no amount is ever typed by hand (or by a model).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.domain import Workspace
from tools.drafts import Draft, DraftContext, draft_invoice
from tools.periods import Period


class Revisions(BaseModel):
    """A reviewer's changes to what the engine decided; the engine recomputes the draft."""

    drop: dict[str, str] = Field(default_factory=dict)
    """entry id -> reason: entries taken off this invoice."""
    categories: dict[str, str] = Field(default_factory=dict)
    """entry id -> category id."""
    descriptions: dict[str, str] = Field(default_factory=dict)
    """line description as the engine wrote it -> the description to show."""

    def merged(self, later: Revisions) -> Revisions:
        """These revisions with `later` ones on top (a later word on the same entry or line wins)."""
        return Revisions(drop=self.drop | later.drop, categories=self.categories | later.categories,
                         descriptions=self.descriptions | later.descriptions)

    def describe(self) -> str:
        parts = [f"dropped {', '.join(self.drop)}" if self.drop else "",
                 f"re-categorized {', '.join(self.categories)}" if self.categories else "",
                 f"renamed {', '.join(self.descriptions)}" if self.descriptions else ""]
        return "; ".join(p for p in parts if p) or "no changes"


def build_draft(
    workspace: Workspace, client_id: str, period: Period, context: DraftContext, revisions: Revisions
) -> Draft:
    """The engine's draft with revisions applied: categories before pricing, drops before rules."""
    draft = draft_invoice(workspace, client_id, period, context=context, categories=revisions.categories,
                          dropped=revisions.drop)
    if revisions.descriptions:
        draft.lines = [
            ln.model_copy(update={"description": revisions.descriptions.get(ln.description, ln.description)})
            for ln in draft.lines
        ]
    return draft
