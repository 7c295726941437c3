"""The tables, as SQLAlchemy 2.0 typed declarative models. The migrations in `migrations/` create them.

    runs              one invoice run of the agent: the request, what it resolved to, where it is
    drafts            every draft a run produced (version 1, 2, ... after requested changes)
    approvals         one per run: the reviewer's inbox *and* the lock that lets one process resume it
    decisions         the audit log: who did what to a run, when, and what changed
    invoices          the invoices issued, with their number, totals and where they were pushed/sent
    invoice_entries   which time entries each invoice bills; a partial unique index keeps an entry
                      on at most one live invoice
    invoice_sequences the firm-wide invoice number sequence, one row per workspace
    active_runs       the one run billing each client and period (its primary key stops a second)

Rows never leave the store: `tools.store.records` holds the immutable views the repository returns.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tools.store.types import Amount, Hours, JSONDocument, UTCDateTime

__all__ = [
    "APPROVAL_STATUSES",
    "INVOICE_STATUSES",
    "ActiveRunRow",
    "ApprovalRow",
    "Base",
    "DecisionRow",
    "DraftRow",
    "InvoiceEntryRow",
    "InvoiceRow",
    "InvoiceSequenceRow",
    "RunRow",
]

APPROVAL_STATUSES = ("pending", "resuming", "approved", "changes_requested", "rejected")
INVOICE_STATUSES = ("approved", "pushed", "sent", "paid", "void")

# Stable constraint names, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A workspace is named by its key: a slug, or the folder's path (which can be long).
WorkspaceKey = String(1000)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace: Mapped[str] = mapped_column(WorkspaceKey, index=True)
    request: Mapped[str] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(100))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    # What the model calls cost, in US dollars (the provider's currency), to the millionth.
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6, asdecimal=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DraftRow(Base):
    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("run_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    client: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Amount())
    discount: Mapped[Decimal] = mapped_column(Amount())
    cap_adjustment: Mapped[Decimal] = mapped_column(Amount())
    tax: Mapped[Decimal] = mapped_column(Amount())
    total: Mapped[Decimal] = mapped_column(Amount())
    draft: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    review: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    """The draft's one review (agent.review.Review as JSON): a model's suggestions, or the offline review."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApprovalRow(Base):
    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(_in("status", APPROVAL_STATUSES), name="status"),
        Index(None, "status", "requested_at"),
    )

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    draft_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    """Who claimed the approval to act on it ("host:pid", `tools.store.leases`), while it is resuming."""
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_decision: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    """The decision being applied: what a process taking over a stale claim finishes."""


class ActiveRunRow(Base):
    """The one run billing a client and period: its primary key is what stops a second run starting.

    Inserted with the run (`Store.create_run`); deleted when the run ends (answered, rejected, sent) or
    fails before its draft reached the inbox."""

    __tablename__ = "active_runs"

    workspace: Mapped[str] = mapped_column(WorkspaceKey, primary_key=True)
    client: Mapped[str] = mapped_column(String(100), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    holder: Mapped[str] = mapped_column(String(200))
    """The process that started the run ("host:pid"): a holder that is gone, still drafting, is stale."""
    since: Mapped[datetime] = mapped_column(UTCDateTime())


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class InvoiceRow(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("workspace", "number"),
        CheckConstraint(_in("status", INVOICE_STATUSES), name="status"),
        Index(None, "workspace", "client", "period_start"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace: Mapped[str] = mapped_column(WorkspaceKey)
    number: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Amount())
    discount: Mapped[Decimal] = mapped_column(Amount())
    cap_adjustment: Mapped[Decimal] = mapped_column(Amount())
    tax: Mapped[Decimal] = mapped_column(Amount())
    total: Mapped[Decimal] = mapped_column(Amount())
    # The approved lines as decimal strings, so an invoice can be re-rendered without its run.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    ledger: Mapped[str | None] = mapped_column(String(64))
    ledger_ref: Mapped[str | None] = mapped_column(String(200))
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InvoiceEntryRow(Base):
    __tablename__ = "invoice_entries"
    __table_args__ = (
        # The guarantee that an entry is billed once: at most one *live* row per entry. Voiding an
        # invoice sets active = false, which releases its entries. SQLite and PostgreSQL both index
        # partially; the predicate is the bare column so it reads the same on both.
        Index(
            "uq_invoice_entries_live",
            "workspace",
            "entry_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    workspace: Mapped[str] = mapped_column(WorkspaceKey)
    entry_id: Mapped[str] = mapped_column(String(100))
    actual_hours: Mapped[Decimal | None] = mapped_column(Hours())
    billed_hours: Mapped[Decimal | None] = mapped_column(Hours())
    active: Mapped[bool] = mapped_column(Boolean)


class InvoiceSequenceRow(Base):
    __tablename__ = "invoice_sequences"

    workspace: Mapped[str] = mapped_column(WorkspaceKey, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
