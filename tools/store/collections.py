"""The collections repository: payments and their matches, the reminder ledger, late fees.

    collections = Collections(store)                  # on a Store migrated to 0003 or later
    book = collections.book(workspace)                # invoices (history + store) with what was paid
    report = collections.import_payments(workspace, payments, policy)
    claim = collections.claim_next(workspace.root, today, receivables)   # one reminder, one worker

Like the Store, every method is one short transaction and returns immutable records. Two things must
not race, and each takes a lock:
- matching payments and planning reminders lock the workspace's `collection_locks` row
  (SELECT ... FOR UPDATE; on SQLite the write transaction's BEGIN IMMEDIATE), so two ticks, or a tick
  and a person resolving the queue, never allocate the same payment twice;
- sending claims one reminder row with SELECT ... FOR UPDATE SKIP LOCKED and moves it from pending to
  sending in that transaction: two workers never claim the same row, and a row that is sending is never
  claimed again until `release_stale` decides what happened to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tools.domain import Workspace
from tools.errors import CurrencyMismatchError, DomainError
from tools.late_fees import LateFeePolicy
from tools.money import ZERO
from tools.payments import (
    Candidate,
    IncomingPayment,
    MatchPolicy,
    PaymentMatch,
    allocate,
    match_payments,
)
from tools.receivables import Book, Charge, Receivable, Settlement, from_history, merge_receivables
from tools.reminders import PlannedReminder
from tools.store.collections_models import (
    CollectionLockRow,
    LateFeeRow,
    PaymentAllocationRow,
    PaymentRow,
    ReminderRow,
)
from tools.store.errors import InvalidTransitionError, RecordNotFoundError
from tools.store.models import InvoiceRow
from tools.store.store import Store

__all__ = [
    "AllocationRecord",
    "Claim",
    "Collections",
    "ImportReport",
    "PaymentRecord",
    "ReminderRecord",
    "UnknownInvoiceError",
]

PaymentStatus = Literal["matched", "queued", "resolved", "ignored"]
ReminderStatus = Literal["pending", "sending", "sent", "skipped", "cancelled", "failed"]


class UnknownInvoiceError(DomainError):
    def __init__(self, number: str) -> None:
        super().__init__(f"no issued invoice {number!r} in this workspace (history or store)")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class AllocationRecord(_Record):
    invoice_number: str
    kind: Literal["payment", "write_off", "credit"]
    amount: Decimal
    currency: str
    booked_on: date


class PaymentRecord(_Record):
    payment_id: str
    source: str
    date: date
    amount: Decimal
    currency: str
    payer: str
    reference: str
    status: PaymentStatus
    confidence: Decimal
    reason: str
    proposal: list[str]
    candidates: list[Candidate]
    allocations: list[AllocationRecord]
    imported_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    @property
    def settled_invoices(self) -> list[str]:
        """The invoices this payment settled (empty while it waits in the queue, or when ignored)."""
        return sorted({a.invoice_number for a in self.allocations if a.kind == "payment"})


class ReminderRecord(_Record):
    id: int
    invoice_number: str
    stage: str
    kind: Literal["reminder", "escalation"]
    status: ReminderStatus
    falls_on: date
    planned_on: date
    sent_on: date | None
    channel: str | None
    recipient: str | None
    location: str | None
    detail: str | None
    late_fee: Decimal | None
    attempts: int
    claimed_at: datetime | None
    sent_at: datetime | None


class Claim(BaseModel):
    """A reminder this worker now owns (status sending), with the invoice's balance at claim time."""

    model_config = ConfigDict(frozen=True)

    reminder: ReminderRecord
    balance: Decimal
    late_fee: Decimal | None
    """A late fee added by this claim (shown on the reminder); None if none was added now."""
    late_fees: Decimal
    """All late fees on the invoice, this one included."""


class ImportReport(BaseModel):
    """What one import recorded: new payments and what became of each, and how many were already known."""

    model_config = ConfigDict(frozen=True)

    new: list[PaymentRecord]
    known: int

    @property
    def matched(self) -> list[PaymentRecord]:
        return [p for p in self.new if p.status == "matched"]

    @property
    def queued(self) -> list[PaymentRecord]:
        return [p for p in self.new if p.status == "queued"]


class Collections:
    """Collections state in the tables of `tools.store.collections_models` (Store migrated to 0003+)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def store(self) -> Store:
        return self._store

    # ------------------------------------------------------------------------------------------------
    # The book: invoices, settlements, charges

    def book(self, workspace: Workspace) -> Book:
        """Every issued invoice of the workspace (invoices.csv and the store) with what was paid and charged."""
        with self._read() as s:
            return self._book(s, workspace)

    def _book(self, s: Session, workspace: Workspace) -> Book:
        allocations = s.execute(
            select(PaymentAllocationRow, PaymentRow.payment_id)
            .join(PaymentRow, PaymentRow.id == PaymentAllocationRow.payment)
            .where(PaymentAllocationRow.workspace == workspace.root)
            .order_by(PaymentAllocationRow.id)
        )
        settlements = [
            Settlement(invoice_number=a.invoice_number, on=a.booked_on, amount=a.amount,
                       kind=a.kind, payment_id=payment_id)
            for a, payment_id in allocations
        ]
        charges = [
            Charge(invoice_number=f.invoice_number, on=f.applied_on, amount=f.amount, stage=f.stage)
            for f in s.scalars(select(LateFeeRow).where(LateFeeRow.workspace == workspace.root))
        ]
        settled: dict[str, Decimal] = {}
        for item in settlements:
            if item.kind != "credit":
                settled[item.invoice_number] = settled.get(item.invoice_number, ZERO) + item.amount
        store_invoices = [_receivable(row, settled.get(row.number, ZERO)) for row in s.scalars(
            select(InvoiceRow).where(InvoiceRow.workspace == workspace.root, InvoiceRow.status != "void"))]
        return Book(merge_receivables(from_history(workspace), store_invoices), settlements, charges)

    # ------------------------------------------------------------------------------------------------
    # Payments

    def import_payments(
        self, workspace: Workspace, payments: Sequence[IncomingPayment], policy: MatchPolicy
    ) -> ImportReport:
        """Record the payments not seen before and match them: confirmed ones settle their invoices at once
        (a store invoice paid in full becomes `paid`), the rest wait in the queue. Payments already
        recorded are left as they are, so importing the same file again changes nothing."""
        if not payments:
            return ImportReport(new=[], known=0)
        unique = {p.id: p for p in payments}
        with self._write() as s:
            self._lock(s, workspace.root)
            known = set(s.scalars(select(PaymentRow.payment_id).where(
                PaymentRow.workspace == workspace.root, PaymentRow.payment_id.in_(sorted(unique)))))
            fresh = [p for p in unique.values() if p.id not in known]
            if not fresh:
                return ImportReport(new=[], known=len(known))
            book = self._book(s, workspace)
            matches = match_payments(
                fresh, list(book.receivables.values()), clients=workspace.clients,
                number_format=workspace.settings.invoice_number_format, book=book, policy=policy,
            )
            now = self._now()
            rows = []
            for match in sorted(matches, key=lambda m: (m.payment.date, m.payment.id)):
                row = self._add_payment(s, workspace.root, match, now)
                if match.auto:
                    self._allocate(s, workspace.root, row, match.allocations, now)
                rows.append(row)
            s.flush()
            self._mark_paid(s, workspace)
            return ImportReport(new=[self._payment_record(s, row) for row in rows], known=len(known))

    def payments(self, workspace: str, *, status: PaymentStatus | None = None) -> list[PaymentRecord]:
        """The workspace's payments by date (only those in `status`, when given)."""
        query = select(PaymentRow).where(PaymentRow.workspace == workspace)
        if status is not None:
            query = query.where(PaymentRow.status == status)
        with self._read() as s:
            rows = s.scalars(query.order_by(PaymentRow.date, PaymentRow.payment_id))
            return [self._payment_record(s, row) for row in rows]

    def queue(self, workspace: str) -> list[PaymentRecord]:
        """Payments waiting for a person: ambiguous or unmatched, with their candidates."""
        return self.payments(workspace, status="queued")

    def get_payment(self, workspace: str, payment_id: str) -> PaymentRecord:
        with self._read() as s:
            return self._payment_record(s, self._payment(s, workspace, payment_id))

    def resolve(
        self, workspace: Workspace, payment_id: str, invoice_numbers: Sequence[str], actor: str, policy: MatchPolicy
    ) -> PaymentRecord:
        """A person says which invoices a queued payment settles; it is allocated like a match would be
        (earliest due first; a difference within tolerance written off; an excess kept as a credit).

        Raises:
            RecordNotFoundError: no such payment.
            InvalidTransitionError: the payment is not waiting in the queue.
            UnknownInvoiceError: an invoice number that is not an issued invoice of the workspace.
            CurrencyMismatchError: an invoice in another currency than the payment.
        """
        if not invoice_numbers:
            raise DomainError("name at least one invoice, or ignore the payment")
        with self._write() as s:
            self._lock(s, workspace.root)
            row = self._payment(s, workspace.root, payment_id, lock=True)
            if row.status != "queued":
                raise InvalidTransitionError("payment", payment_id, row.status, "resolved")
            book = self._book(s, workspace)
            invoices = []
            for number in dict.fromkeys(invoice_numbers):
                invoice = book.get(number)
                if invoice is None:
                    raise UnknownInvoiceError(number)
                if invoice.currency != row.currency:
                    raise CurrencyMismatchError(row.currency, invoice.currency)
                invoices.append(invoice)
            balances = {r.number: max(book.owed(r.number), ZERO) for r in invoices}
            allocations, how = allocate(row.amount, invoices, balances, policy.tolerance)
            now = self._now()
            self._allocate(s, workspace.root, row, allocations, now)
            row.status, row.decided_by, row.decided_at = "resolved", actor, now
            row.proposal = sorted(r.number for r in invoices)
            row.reason = f"{row.reason} | resolved by {actor}: {how}"
            s.flush()
            self._mark_paid(s, workspace)
            return self._payment_record(s, row)

    def ignore(self, workspace: str, payment_id: str, actor: str, reason: str) -> PaymentRecord:
        """A person says a queued payment settles no invoice (a refund, a tax repayment, ...)."""
        with self._write() as s:
            row = self._payment(s, workspace, payment_id, lock=True)
            if row.status != "queued":
                raise InvalidTransitionError("payment", payment_id, row.status, "ignored")
            row.status, row.decided_by, row.decided_at = "ignored", actor, self._now()
            row.reason = f"{row.reason} | ignored by {actor}: {reason}"
            return self._payment_record(s, row)

    # ------------------------------------------------------------------------------------------------
    # Reminders

    def reminder_statuses(self, workspace: str) -> dict[tuple[str, str], str]:
        query = select(ReminderRow.invoice_number, ReminderRow.stage, ReminderRow.status).where(
            ReminderRow.workspace == workspace)
        with self._read() as s:
            return {(number, stage): status for number, stage, status in s.execute(query)}

    def record_plan(self, workspace: str, plan: Sequence[PlannedReminder], today: date) -> dict[str, int]:
        """Write the day's plan to the reminder ledger; what was already recorded stays (UNIQUE per stage).

        send/escalate insert a pending row; skip inserts a skipped row or turns a pending one skipped;
        cancel turns a pending row cancelled. Returns how many rows each action changed.
        """
        counts = {"send": 0, "escalate": 0, "skip": 0, "cancel": 0}
        if not plan:
            return counts
        with self._write() as s:
            self._lock(s, workspace)
            now = self._now()
            insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            for item in plan:
                if item.action in ("send", "escalate", "skip"):
                    status = "skipped" if item.action == "skip" else "pending"
                    result = s.execute(insert(ReminderRow).values(
                        workspace=workspace, invoice_number=item.invoice_number, stage=item.stage, kind=item.kind,
                        status=status, falls_on=item.falls_on, planned_on=today,
                        detail=item.reason if item.action == "skip" else None, attempts=0,
                        created_at=now, updated_at=now,
                    ).on_conflict_do_nothing())
                    changed = _rowcount(result)
                    if not changed and item.action == "skip":
                        changed = self._change_pending(s, workspace, item, "skipped", now)
                    counts[item.action] += changed
                else:
                    counts["cancel"] += self._change_pending(s, workspace, item, "cancelled", now)
            lock = s.get(CollectionLockRow, workspace)
            if lock is not None:
                lock.last_tick, lock.ticks = today, lock.ticks + 1
        return counts

    def _change_pending(self, s: Session, workspace: str, item: PlannedReminder, status: str, now: datetime) -> int:
        return _rowcount(s.execute(
            update(ReminderRow)
            .where(ReminderRow.workspace == workspace, ReminderRow.invoice_number == item.invoice_number,
                   ReminderRow.stage == item.stage, ReminderRow.status == "pending")
            .values(status=status, detail=item.reason, updated_at=now)
            .execution_options(synchronize_session=False)
        ))

    def claim_next(
        self,
        workspace: str,
        today: date,
        receivables: Mapping[str, Receivable],
        late_fees: Mapping[str, LateFeePolicy] | None = None,
        *,
        exclude: Collection[int] = (),
    ) -> Claim | None:
        """Take the next pending reminder of the workspace for this worker, or None when none is left.

        One transaction: SELECT the first pending row FOR UPDATE SKIP LOCKED (rows another worker holds
        are passed over, not waited for); re-check that its invoice is still owed (a payment recorded
        since the plan cancels it); add the client's late fee if this stage reaches it and none was
        added yet; mark the row sending. The caller delivers it, then calls `finish`. `exclude` passes
        over reminders this worker already tried in this tick (a failed delivery waits for the next).
        """
        fees = late_fees or {}
        while True:
            with self._write() as s:
                row = s.scalars(
                    select(ReminderRow)
                    .where(ReminderRow.workspace == workspace, ReminderRow.status == "pending",
                           ReminderRow.id.not_in(sorted(exclude)))
                    .order_by(ReminderRow.falls_on, ReminderRow.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                now = self._now()
                invoice = receivables.get(row.invoice_number)
                if invoice is None:
                    row.status, row.detail, row.updated_at = "cancelled", "the invoice is no longer issued", now
                    continue
                charged = self._late_fees(s, workspace, row.invoice_number)
                balance = invoice.total + charged - self._settled(s, workspace, row.invoice_number)
                if balance <= ZERO or (invoice.settled_on is not None and invoice.settled_on <= today):
                    row.status, row.detail, row.updated_at = "cancelled", f"paid by {today}", now
                    continue
                added: Decimal | None = None
                policy = fees.get(invoice.client)
                if row.kind == "reminder" and policy is not None and policy.applies_at(row.stage):
                    fee = policy.amount(balance)
                    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
                    # UNIQUE (workspace, invoice): the fee is added once, whoever gets there first.
                    if _rowcount(s.execute(insert(LateFeeRow).values(
                            workspace=workspace, invoice_number=row.invoice_number, stage=row.stage, amount=fee,
                            currency=invoice.currency, applied_on=today, created_at=now).on_conflict_do_nothing())):
                        added = fee
                        charged += fee
                        balance += fee
                        row.late_fee = fee
                row.status, row.claimed_at, row.attempts, row.updated_at = "sending", now, row.attempts + 1, now
                s.flush()
                return Claim(reminder=ReminderRecord.model_validate(row), balance=balance, late_fee=added,
                             late_fees=charged)

    def finish(
        self,
        reminder_id: int,
        status: Literal["sent", "failed", "pending"],
        *,
        today: date,
        channel: str | None = None,
        recipient: str | None = None,
        location: str | None = None,
        detail: str | None = None,
    ) -> ReminderRecord:
        """Record how a claimed reminder's delivery went (pending: try again on a later tick)."""
        with self._write() as s:
            row = s.get(ReminderRow, reminder_id, with_for_update=True)
            if row is None:
                raise RecordNotFoundError("reminder", str(reminder_id))
            if row.status != "sending":
                raise InvalidTransitionError("reminder", f"{row.invoice_number} {row.stage}", row.status, status)
            now = self._now()
            row.status, row.channel, row.recipient, row.detail, row.updated_at = status, channel, recipient, detail, now
            if status == "sent":
                row.location, row.sent_at, row.sent_on = location, now, today
            return ReminderRecord.model_validate(row)

    def stale(self, workspace: str, lease: timedelta) -> list[ReminderRecord]:
        """Reminders left `sending` for longer than `lease`: their worker died (or is very slow)."""
        cutoff = self._now() - lease
        query = select(ReminderRow).where(ReminderRow.workspace == workspace, ReminderRow.status == "sending",
                                          ReminderRow.claimed_at <= cutoff)
        with self._read() as s:
            return [ReminderRecord.model_validate(row) for row in s.scalars(query.order_by(ReminderRow.id))]

    def settle_stale(
        self, reminder_id: int, status: Literal["sent", "pending", "failed"], detail: str, *, today: date
    ) -> bool:
        """Decide a stale reminder (only if it is still sending): delivered after all, retry, or give up."""
        with self._write() as s:
            row = s.get(ReminderRow, reminder_id, with_for_update=True)
            if row is None or row.status != "sending":
                return False
            now = self._now()
            row.status, row.detail, row.updated_at = status, detail, now
            if status == "sent":
                row.sent_at, row.sent_on = now, today
            return True

    def reminders(
        self,
        workspace: str,
        *,
        invoice_number: str | None = None,
        kind: Literal["reminder", "escalation"] | None = None,
    ) -> list[ReminderRecord]:
        """The reminder ledger, by the day each fell due."""
        query = select(ReminderRow).where(ReminderRow.workspace == workspace)
        if invoice_number is not None:
            query = query.where(ReminderRow.invoice_number == invoice_number)
        if kind is not None:
            query = query.where(ReminderRow.kind == kind)
        with self._read() as s:
            return [ReminderRecord.model_validate(row) for row in s.scalars(
                query.order_by(ReminderRow.falls_on, ReminderRow.invoice_number, ReminderRow.id))]

    def escalations(self, workspace: str) -> list[ReminderRecord]:
        """Invoices escalated to the approver, oldest first."""
        return self.reminders(workspace, kind="escalation")

    # ------------------------------------------------------------------------------------------------
    # Internals

    def _now(self) -> datetime:
        return self._store._clock()  # the store's clock, so tests that move time move it here too

    def _read(self) -> AbstractContextManager[Session]:
        return self._store._read()  # one transaction on the store's engine (same package)

    def _write(self) -> AbstractContextManager[Session]:
        return self._store._write()  # BEGIN IMMEDIATE on SQLite, like every store write

    def _lock(self, s: Session, workspace: str) -> CollectionLockRow:
        """The workspace's lock row, created if needed and locked until the transaction ends."""
        insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        s.execute(insert(CollectionLockRow).values(workspace=workspace, ticks=0).on_conflict_do_nothing())
        row = s.scalar(select(CollectionLockRow).where(CollectionLockRow.workspace == workspace)
                       .with_for_update().execution_options(populate_existing=True))
        if row is None:  # the insert above guarantees it
            raise RecordNotFoundError("collection lock", workspace)
        return row

    def _payment(self, s: Session, workspace: str, payment_id: str, *, lock: bool = False) -> PaymentRow:
        query = select(PaymentRow).where(PaymentRow.workspace == workspace, PaymentRow.payment_id == payment_id)
        row = s.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise RecordNotFoundError("payment", payment_id)
        return row

    def _add_payment(self, s: Session, workspace: str, match: PaymentMatch, now: datetime) -> PaymentRow:
        p = match.payment
        row = PaymentRow(
            id=uuid.uuid4().hex, workspace=workspace, payment_id=p.id, source=p.source, date=p.date,
            amount=p.amount, currency=p.currency, payer=p.payer, reference=p.reference,
            linked_invoices=list(p.linked_invoices), status=match.status,
            confidence=Decimal(str(match.confidence)).quantize(Decimal("0.01")), reason=match.reason,
            proposal=match.invoice_numbers, candidates=[c.model_dump(mode="json") for c in match.candidates],
            imported_at=now, decided_by="auto" if match.auto else None, decided_at=now if match.auto else None,
        )
        s.add(row)
        s.flush()
        return row

    @staticmethod
    def _allocate(s: Session, workspace: str, row: PaymentRow, allocations: Sequence[Any], now: datetime) -> None:
        s.add_all(
            PaymentAllocationRow(payment=row.id, workspace=workspace, invoice_number=a.invoice_number, kind=a.kind,
                                 amount=a.amount, currency=row.currency, booked_on=row.date, created_at=now)
            for a in allocations
        )

    def _mark_paid(self, s: Session, workspace: Workspace) -> None:
        """Store invoices whose balance reached zero become paid (sent or pushed ones only)."""
        book = self._book(s, workspace)
        now = self._now()
        for row in s.scalars(select(InvoiceRow).where(InvoiceRow.workspace == workspace.root,
                                                      InvoiceRow.status.in_(("pushed", "sent"))).with_for_update()):
            if book.get(row.number) is not None and book.owed(row.number) <= ZERO:
                row.status, row.updated_at = "paid", now

    @staticmethod
    def _settled(s: Session, workspace: str, number: str) -> Decimal:
        total = s.scalar(select(func.coalesce(func.sum(PaymentAllocationRow.amount), 0)).where(
            PaymentAllocationRow.workspace == workspace, PaymentAllocationRow.invoice_number == number,
            PaymentAllocationRow.kind.in_(("payment", "write_off"))))
        return Decimal(total or 0)

    @staticmethod
    def _late_fees(s: Session, workspace: str, number: str) -> Decimal:
        total = s.scalar(select(func.coalesce(func.sum(LateFeeRow.amount), 0)).where(
            LateFeeRow.workspace == workspace, LateFeeRow.invoice_number == number))
        return Decimal(total or 0)

    @staticmethod
    def _payment_record(s: Session, row: PaymentRow) -> PaymentRecord:
        allocations = s.scalars(select(PaymentAllocationRow).where(PaymentAllocationRow.payment == row.id)
                                .order_by(PaymentAllocationRow.id))
        return PaymentRecord(
            payment_id=row.payment_id, source=row.source, date=row.date, amount=row.amount, currency=row.currency,
            payer=row.payer, reference=row.reference, status=row.status,
            confidence=row.confidence, reason=row.reason, proposal=list(row.proposal),
            candidates=[Candidate.model_validate(c) for c in row.candidates],
            allocations=[AllocationRecord.model_validate(a) for a in allocations],
            imported_at=row.imported_at, decided_by=row.decided_by, decided_at=row.decided_at,
        )


def _receivable(row: InvoiceRow, settled_here: Decimal) -> Receivable:
    # Paid in the store but not (fully) through collections: paid outside, on the day it was marked.
    settled = row.updated_at.date() if row.status == "paid" and settled_here < row.total else None
    return Receivable(
        number=row.number, client=row.client, currency=row.currency, total=row.total, period_start=row.period_start,
        period_end=row.period_end,
        issue_date=row.issue_date, due_date=row.due_date,
        sent_on=row.sent_at.date() if row.sent_at is not None else None, source="store", invoice_id=row.id,
        settled_on=settled,
    )


def _rowcount(result: Any) -> int:
    count = getattr(result, "rowcount", 0)
    return int(count) if count and count > 0 else 0
