"""What the store hands back: immutable, JSON-safe views of its rows (never live ORM objects)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tools.drafts import Draft

__all__ = [
    "ActiveWork",
    "ApprovalRecord",
    "ApprovalStatus",
    "DecisionRecord",
    "DraftRecord",
    "InvoiceEntryRecord",
    "InvoiceRecord",
    "InvoiceRecordStatus",
    "RunRecord",
]

ApprovalStatus = Literal["pending", "resuming", "approved", "changes_requested", "rejected"]
InvoiceRecordStatus = Literal["approved", "pushed", "sent", "paid", "void"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class RunRecord(_Record):
    id: str
    workspace: str
    request: str
    client: str | None
    period_start: date | None
    period_end: date | None
    status: str
    error: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    created_at: datetime
    updated_at: datetime


class DraftRecord(_Record):
    run_id: str
    version: int
    created_at: datetime
    draft: Draft
    review: dict[str, Any] | None = None
    """The draft's review as stored (parse it with agent.review.Review); None until it is reviewed."""


class ApprovalRecord(_Record):
    run_id: str
    draft_version: int
    status: ApprovalStatus
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    claimed_by: str | None = None
    """While resuming: the process acting on the decision ("host:pid", see tools.store.leases)."""
    claimed_at: datetime | None = None
    claimed_decision: dict[str, Any] | None = None
    """While resuming: the decision being applied (what a process taking over a stale claim finishes)."""


class DecisionRecord(_Record):
    run_id: str
    action: str
    actor: str
    at: datetime
    detail: dict[str, Any]


class InvoiceEntryRecord(_Record):
    entry_id: str
    actual_hours: Decimal | None
    billed_hours: Decimal | None
    active: bool


class InvoiceRecord(_Record):
    id: str
    workspace: str
    number: str
    client: str
    period_start: date
    period_end: date
    currency: str
    subtotal: Decimal
    discount: Decimal
    cap_adjustment: Decimal
    tax: Decimal
    total: Decimal
    lines: list[dict[str, Any]]
    issue_date: date
    due_date: date
    status: InvoiceRecordStatus
    ledger: str | None
    ledger_ref: str | None
    pushed_at: datetime | None
    sent_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    run_id: str
    idempotency_key: str
    created_at: datetime
    entries: list[InvoiceEntryRecord]


class ActiveWork(BaseModel):
    """Work already under way for a client and period: a run still drafting, a draft awaiting a decision,
    or a live invoice."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["running", "awaiting_approval", "invoice"]
    run_id: str
    status: str
    period_start: date
    period_end: date
    invoice_number: str | None = None
    invoice_id: str | None = None

    def describe(self) -> str:
        period = f"{self.period_start}..{self.period_end}"
        if self.kind == "invoice":
            return f"invoice {self.invoice_number} ({self.status}) already bills {period} (run {self.run_id})"
        if self.kind == "running":
            return f"run {self.run_id} is already drafting {period} (status {self.status})"
        return f"run {self.run_id} has a draft for {period} that is {self.status.replace('_', ' ')}"
