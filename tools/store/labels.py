"""Learned labels: the categories people confirmed, kept so that later runs learn from them.

Two sources, one row per (workspace, entry):
- "reviewer": a person set the entry's category while reviewing a draft (CLI, API, review page);
- "approved": the entry was billed, or excluded by a rule, on a draft that was approved as an invoice,
  with the category that draft used.
A reviewer's label always wins over an "approved" one, and a later reviewer's label replaces an earlier
one; an "approved" label replaces only an earlier "approved" one (a voided invoice billed again). When an
entry a reviewer labelled is billed, its row keeps the reviewer's category and gains the invoice number.

    store.record_reviewer_labels(workspace.root, run_id, {"te-07001": "client_meeting"}, who="ann@firm")
    workspace = with_learned_labels(workspace, store.learned_labels(workspace.root))   # what runs train on

The rows are written by `Store` (the approved ones inside `create_invoice`'s transaction); this module
holds the table, the records, the upserts and the merge into a workspace's labels.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import CheckConstraint, String, case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from tools.domain import EntryLabel, Workspace
from tools.drafts import Draft
from tools.store.models import Base, WorkspaceKey
from tools.store.types import UTCDateTime

__all__ = [
    "LABELS_CSV_HEADER",
    "LABEL_SOURCES",
    "LabelSource",
    "LearnedLabel",
    "LearnedLabelRow",
    "approved_categories",
    "with_learned_labels",
    "write_labels_csv",
]

LabelSource = Literal["reviewer", "approved"]
LABEL_SOURCES: tuple[LabelSource, ...] = ("reviewer", "approved")
LABELS_CSV_HEADER = ("entry_id", "category", "billed", "invoice_number", "anomaly")
"""The columns of the workspace contract's entry_labels.csv."""

_CHUNK = 500  # rows per INSERT: well under SQLite's limit on bound parameters


class LearnedLabelRow(Base):
    __tablename__ = "learned_labels"
    __table_args__ = (CheckConstraint("source IN ('reviewer', 'approved')", name="source"),)

    workspace: Mapped[str] = mapped_column(WorkspaceKey, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    category: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str] = mapped_column(String(64))
    """The run whose draft the label was given on."""
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    """The invoice that bills the entry, once one does (an entry excluded by a rule has none)."""
    who: Mapped[str | None] = mapped_column(String(200))
    """The reviewer, or the approver of the invoice (None if the store never recorded one)."""
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class LearnedLabel(BaseModel):
    """One learned label as the store hands it back."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    entry_id: str
    category: str
    source: LabelSource
    run_id: str
    invoice_number: str | None
    who: str | None
    at: datetime

    @property
    def billed(self) -> bool:
        return self.invoice_number is not None

    def entry_label(self) -> EntryLabel:
        """The label as a row of entry_labels.csv would give it."""
        return EntryLabel(entry_id=self.entry_id, category=self.category, billed=self.billed,
                          invoice_number=self.invoice_number, source=self.source)


def approved_categories(draft: Draft) -> dict[str, tuple[str, bool]]:
    """Entry id -> (the category the draft used, billed?) for each entry billed or excluded by a rule.

    Held entries were not decided, and an entry a reviewer dropped was never categorized (no category).
    """
    return {
        e.entry_id: (e.category, e.outcome == "billed")
        for e in draft.entries
        if e.outcome in ("billed", "excluded") and e.category
    }


def with_learned_labels(workspace: Workspace, learned: Iterable[LearnedLabel]) -> Workspace:
    """The workspace with the store's learned labels merged into `labels` (what the categorizer learns from).

    A reviewer's label sets the category of the file's label for that entry (the file's billed, invoice
    and anomaly columns stay: they are history); an "approved" label only adds an entry the file does not
    label. The file's other labels are kept as they are. The workspace itself is not changed.
    """
    labels = list(workspace.labels)
    position = {label.entry_id: i for i, label in enumerate(labels)}
    changed = False
    for item in learned:
        i = position.get(item.entry_id)
        if i is None:
            position[item.entry_id] = len(labels)
            labels.append(item.entry_label())
            changed = True
        elif item.source == "reviewer" and labels[i].category != item.category:
            labels[i] = labels[i].model_copy(update={"category": item.category, "source": "reviewer"})
            changed = True
    return workspace.model_copy(update={"labels": labels}) if changed else workspace


def write_labels_csv(learned: Iterable[LearnedLabel], out: IO[str]) -> int:
    """Write the labels as entry_labels.csv (the workspace contract's columns); returns the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LABELS_CSV_HEADER)
    count = 0
    for item in learned:
        writer.writerow([item.entry_id, item.category, "true" if item.billed else "false",
                         item.invoice_number or "", ""])
        count += 1
    return count


# ----------------------------------------------------------------------------------------------------
# The upserts (called by Store inside its transactions): one statement per chunk, so two writers at once
# cannot both insert the same entry; the database decides who wins with the rules above.


def upsert_reviewer_labels(
    s: Session, workspace: str, run_id: str, categories: Mapping[str, str], who: str, at: datetime
) -> None:
    rows = [{"workspace": workspace, "entry_id": entry_id, "category": category, "source": "reviewer",
             "run_id": run_id, "invoice_number": None, "who": who, "at": at}
            for entry_id, category in categories.items()]
    for chunk in _chunks(rows):
        stmt = _insert(s).values(chunk)
        new = stmt.excluded
        s.execute(stmt.on_conflict_do_update(
            index_elements=["workspace", "entry_id"],
            set_={"category": new.category, "source": new.source, "run_id": new.run_id,
                  "invoice_number": new.invoice_number, "who": new.who, "at": new.at},
        ))


def upsert_approved_labels(
    s: Session, workspace: str, run_id: str, decided: Mapping[str, tuple[str, bool]], invoice_number: str,
    who: str | None, at: datetime,
) -> None:
    rows = [{"workspace": workspace, "entry_id": entry_id, "category": category, "source": "approved",
             "run_id": run_id, "invoice_number": invoice_number if billed else None, "who": who, "at": at}
            for entry_id, (category, billed) in decided.items()]
    kept = LearnedLabelRow.__table__.c
    reviewed = kept.source == "reviewer"
    for chunk in _chunks(rows):
        stmt = _insert(s).values(chunk)
        new = stmt.excluded
        # A reviewer's row keeps its category, source, run, who and when; it only learns the invoice.
        unless_reviewed = {column: case((reviewed, kept[column]), else_=new[column])
                           for column in ("category", "source", "run_id", "who", "at")}
        s.execute(stmt.on_conflict_do_update(
            index_elements=["workspace", "entry_id"],
            set_={**unless_reviewed, "invoice_number": new.invoice_number},
        ))


def select_learned(s: Session, workspace: str, entry_ids: Iterable[str] | None = None) -> list[LearnedLabel]:
    query = select(LearnedLabelRow).where(LearnedLabelRow.workspace == workspace)
    if entry_ids is not None:
        query = query.where(LearnedLabelRow.entry_id.in_(sorted(entry_ids)))
    return [LearnedLabel.model_validate(row) for row in s.scalars(query.order_by(LearnedLabelRow.entry_id))]


def _insert(s: Session) -> Any:
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(LearnedLabelRow)


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]
