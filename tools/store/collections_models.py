"""The collections tables, on the store's metadata (`tools.store.models.Base`); migration 0003 creates them.

    payments             every payment received (workspace payments.csv, bank exports, a ledger), once per
                         (workspace, payment id), with how it was matched: matched (automatically),
                         queued (waiting for a person), resolved (by a person), ignored
    payment_allocations  what each payment settled: paid on an invoice, a difference written off, a credit
    reminders            the reminder ledger: one row per (workspace, invoice, stage), UNIQUE, so a reminder
                         is planned once; its status (pending -> sending -> sent) is claimed row by row
                         with SELECT ... FOR UPDATE SKIP LOCKED so it is sent once, by one worker
    late_fees            at most one late fee per invoice (UNIQUE)
    collection_locks     one row per workspace, locked while payments are matched and reminders planned
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tools.store.models import Base, WorkspaceKey
from tools.store.types import Amount, JSONDocument, UTCDateTime

__all__ = [
    "ALLOCATION_KINDS",
    "PAYMENT_STATUSES",
    "REMINDER_KINDS",
    "REMINDER_STATUSES",
    "CollectionLockRow",
    "LateFeeRow",
    "PaymentAllocationRow",
    "PaymentRow",
    "ReminderRow",
]

PAYMENT_STATUSES = ("matched", "queued", "resolved", "ignored")
ALLOCATION_KINDS = ("payment", "write_off", "credit")
REMINDER_KINDS = ("reminder", "escalation")
REMINDER_STATUSES = ("pending", "sending", "sent", "skipped", "cancelled", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PaymentRow(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("workspace", "payment_id"),
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        Index(None, "workspace", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace: Mapped[str] = mapped_column(WorkspaceKey)
    payment_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = mapped_column(String(3))
    payer: Mapped[str] = mapped_column(String(500))
    reference: Mapped[str] = mapped_column(Text)
    linked_invoices: Mapped[list[str]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[Decimal] = mapped_column(Numeric(3, 2, asdecimal=True))
    reason: Mapped[str] = mapped_column(Text)
    proposal: Mapped[list[str]] = mapped_column(JSONDocument)
    """The invoice numbers the matcher proposed (confirmed when matched, a suggestion when queued)."""
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PaymentAllocationRow(Base):
    __tablename__ = "payment_allocations"
    __table_args__ = (
        CheckConstraint(_in("kind", ALLOCATION_KINDS), name="kind"),
        Index(None, "workspace", "invoice_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment: Mapped[str] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    workspace: Mapped[str] = mapped_column(WorkspaceKey)
    invoice_number: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = mapped_column(String(3))
    booked_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReminderRow(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("workspace", "invoice_number", "stage"),
        CheckConstraint(_in("kind", REMINDER_KINDS), name="kind"),
        CheckConstraint(_in("status", REMINDER_STATUSES), name="status"),
        Index(None, "workspace", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(WorkspaceKey)
    invoice_number: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    falls_on: Mapped[date] = mapped_column(Date)
    planned_on: Mapped[date] = mapped_column(Date)
    sent_on: Mapped[date | None] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(500))
    location: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    late_fee: Mapped[Decimal | None] = mapped_column(Amount())
    attempts: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LateFeeRow(Base):
    __tablename__ = "late_fees"
    __table_args__ = (UniqueConstraint("workspace", "invoice_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(WorkspaceKey)
    invoice_number: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = mapped_column(String(3))
    applied_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CollectionLockRow(Base):
    __tablename__ = "collection_locks"

    workspace: Mapped[str] = mapped_column(WorkspaceKey, primary_key=True)
    last_tick: Mapped[date | None] = mapped_column(Date)
    ticks: Mapped[int] = mapped_column(Integer)
