"""The collections run: one tick brings payments in, plans the day's reminders and sends them.

    START -> recover -> import_payments -> plan -> send -> END

- recover          reminders a crashed worker left `sending`: delivered after all (the outbox file is
                   there), retried (the outbox file is not), or, over SMTP, given up and reported,
                   because nobody can tell whether the client got it and a second email is worse
- import_payments  the workspace's payments.csv (dated up to the tick's day) and the ledger's payments,
                   each recorded once and matched; confirmed matches settle invoices at once
- plan             `tools.reminders.plan_reminders` over the invoices and what was paid, written to the
                   reminder ledger (one row per invoice and stage, UNIQUE)
- send             claim one pending reminder at a time (FOR UPDATE SKIP LOCKED), add a late fee if
                   its stage reaches it, deliver it (the client's email with the PDF, or the approver's
                   escalation notice), record it sent

The graph has no checkpointer: the database is its memory. Running a tick twice, or again after a
crash, repeats nothing that was done; two workers ticking at once share the work without doubling it.
`run_tick(settings, on_date)` does one tick end to end (the CLI's `tick`, the scheduler's job).
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field, SecretStr, ValidationError

from tools.domain import Workspace
from tools.invoices import InvoiceDocument, InvoiceLine
from tools.late_fees import LateFeePolicy, load_late_fees
from tools.payments import (
    IncomingPayment,
    MatchPolicy,
    PaymentLedger,
    from_ledger,
    from_workspace,
    load_match_policy,
)
from tools.receivables import Receivable
from tools.reminders import (
    EscalationNotice,
    Mailer,
    MailError,
    OutboxMailer,
    ReminderNotice,
    SmtpMailer,
    compose_escalation,
    compose_reminder,
    plan_reminders,
)
from tools.store import Store
from tools.store.collections import Claim, Collections
from tools.workspace import load_workspace

__all__ = [
    "CollectionsRuntime",
    "SentReminder",
    "TickReport",
    "TickSettings",
    "build_collections_graph",
    "invoice_document",
    "open_collections",
    "run_tick",
    "tick",
]

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
"""How long a reminder may stay `sending` before its worker is presumed dead (far above a send's time)."""
LEDGER_LOOKBACK_DAYS = 120
"""How far back each tick asks the ledger for payments (those already recorded are skipped by id)."""
ATTEMPTS = 3
"""Deliveries tried (one per tick) before a reminder that keeps failing is given up."""


class TickSettings(Protocol):
    """What a tick needs from `api.settings.Settings` (a protocol, so graph/ does not import api/)."""

    @property
    def workspace(self) -> Path: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def smtp_host(self) -> str | None: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_from(self) -> str: ...
    @property
    def smtp_to(self) -> Sequence[str]: ...
    @property
    def smtp_username(self) -> str | None: ...
    @property
    def smtp_password(self) -> SecretStr | None: ...
    @property
    def smtp_starttls(self) -> bool: ...
    @property
    def notify_timeout(self) -> float: ...
    def store_url(self) -> str: ...


class SentReminder(BaseModel):
    invoice_number: str
    stage: str
    kind: str
    recipient: str
    channel: str
    location: str
    balance: Decimal
    late_fee: Decimal | None = None


class TickReport(BaseModel):
    """What one tick did."""

    workspace: str
    date: date
    payments_imported: int = 0
    payments_matched: list[str] = Field(default_factory=list)
    payments_queued: list[str] = Field(default_factory=list)
    planned: dict[str, int] = Field(default_factory=dict)
    sent: list[SentReminder] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    recovered: list[str] = Field(default_factory=list)
    progress: list[str] = Field(default_factory=list)

    @property
    def reminders(self) -> list[SentReminder]:
        return [s for s in self.sent if s.kind == "reminder"]

    @property
    def escalations(self) -> list[SentReminder]:
        return [s for s in self.sent if s.kind == "escalation"]


class TickState(TypedDict, total=False):
    today: str
    payments_imported: int
    payments_matched: list[str]
    payments_queued: list[str]
    planned: dict[str, int]
    sent: Annotated[list[dict[str, Any]], operator.add]
    failed: Annotated[list[str], operator.add]
    recovered: Annotated[list[str], operator.add]
    progress: Annotated[list[str], operator.add]


@dataclass
class CollectionsRuntime:
    """What the nodes use but the state must not hold."""

    workspace: Workspace
    collections: Collections
    client_mailer: Mailer
    approver_mailer: Mailer
    sender: str = "invoices@localhost"
    approvers: list[str] = field(default_factory=list)
    policy: MatchPolicy = field(default_factory=MatchPolicy)
    late_fees: dict[str, LateFeePolicy] = field(default_factory=dict)
    payment_ledger: PaymentLedger | None = None
    lease: timedelta = LEASE
    _graph: Any = None
    _pdfs: dict[str, bytes | None] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return self.workspace.root

    def graph(self) -> Any:
        if self._graph is None:
            self._graph = build_collections_graph(self)
        return self._graph

    def mailer(self, kind: str) -> Mailer:
        return self.approver_mailer if kind == "escalation" else self.client_mailer

    def pdf(self, receivable: Receivable) -> bytes | None:
        if receivable.number not in self._pdfs:
            from tools.invoice_pdf import render_pdf

            document = invoice_document(self.workspace, receivable, self.collections.store)
            self._pdfs[receivable.number] = render_pdf(document) if document is not None else None
        return self._pdfs[receivable.number]


def invoice_document(workspace: Workspace, receivable: Receivable, store: Store) -> InvoiceDocument | None:
    """The invoice as the client received it, to attach to a reminder; None if it cannot be rebuilt."""
    client = workspace.client(receivable.client)
    try:
        if receivable.source == "store" and receivable.invoice_id:
            record = store.get_invoice(receivable.invoice_id)
            lines = [InvoiceLine(description=ln["description"], code=ln.get("code"), quantity=Decimal(ln["quantity"]),
                                 unit_price=Decimal(ln["unit_price"]), amount=Decimal(ln["amount"]))
                     for ln in record.lines]
            subtotal, discount, cap, tax = record.subtotal, record.discount, record.cap_adjustment, record.tax
        else:
            history = next(i for i in workspace.invoices if i.invoice_number == receivable.number)
            ordinary = [ln for ln in history.lines if ln.category not in ("discount", "cap_adjustment")]
            lines = [InvoiceLine(description=ln.description, code=ln.code, quantity=ln.quantity,
                                 unit_price=ln.unit_price, amount=ln.amount) for ln in ordinary]
            subtotal, discount, cap, tax = history.subtotal, history.discount, history.cap_adjustment, history.tax
        return InvoiceDocument(
            number=receivable.number, firm=workspace.settings.firm, client_id=client.id, client_name=client.name,
            client_email=client.contact_email, issue_date=receivable.issue_date, due_date=receivable.due_date,
            period_start=receivable.period_start,
            period_end=receivable.period_end,
            payment_terms_days=(receivable.due_date - receivable.issue_date).days, currency=receivable.currency,
            lines=lines, subtotal=subtotal, discount=discount, cap_adjustment=cap, tax_rate=client.tax_rate, tax=tax,
            total=receivable.total,
        )
    except (ValidationError, StopIteration, KeyError) as exc:
        log.warning("invoice %s cannot be rebuilt for its reminder (%s); sending without the PDF",
                    receivable.number, exc)
        return None


class CollectionsNodes:
    def __init__(self, runtime: CollectionsRuntime) -> None:
        self.rt = runtime

    def recover(self, state: TickState) -> dict[str, Any]:
        today = date.fromisoformat(state["today"])
        recovered, progress = [], []
        for reminder in self.rt.collections.stale(self.rt.root, self.rt.lease):
            key = _key(reminder.invoice_number, reminder.stage)
            delivered = self.rt.mailer(reminder.kind).delivered(key)
            status: Literal["sent", "pending", "failed"]
            if delivered:
                status, detail = "sent", "delivered before its worker stopped"
            elif delivered is False:
                status, detail = "pending", "not delivered before its worker stopped; sent again"
            else:
                status, detail = "failed", ("interrupted while sending through SMTP: not sent again, so nobody is "
                                            "emailed twice; check the mail server's log")
            if self.rt.collections.settle_stale(reminder.id, status, detail, today=today):
                recovered.append(f"{key}: {status}")
                progress.append(f"{key} was left sending: {detail}")
        return {"recovered": recovered, "progress": progress}

    def import_payments(self, state: TickState) -> dict[str, Any]:
        today = date.fromisoformat(state["today"])
        payments: list[IncomingPayment] = from_workspace(self.rt.workspace, until=today)
        if self.rt.payment_ledger is not None:
            since = today - timedelta(days=LEDGER_LOOKBACK_DAYS)
            payments += [p for p in from_ledger(self.rt.payment_ledger.payments_since(since)) if p.date <= today]
        report = self.rt.collections.import_payments(self.rt.workspace, payments, self.rt.policy)
        progress = [
            f"payment {p.payment_id} {p.amount} {p.currency}: "
            + (f"settles {', '.join(p.settled_invoices)}" if p.status == "matched" else "queued for a person")
            for p in report.new
        ]
        return {"payments_imported": len(report.new), "payments_matched": [p.payment_id for p in report.matched],
                "payments_queued": [p.payment_id for p in report.queued], "progress": progress}

    def plan(self, state: TickState) -> dict[str, Any]:
        today = date.fromisoformat(state["today"])
        book = self.rt.collections.book(self.rt.workspace)
        recorded = self.rt.collections.reminder_statuses(self.rt.root)
        plan = plan_reminders(book, self.rt.workspace.settings.reminders, today, recorded)
        counts = self.rt.collections.record_plan(self.rt.root, plan, today)
        progress = [f"{p.invoice_number} {p.stage}: {p.action} ({p.reason})" for p in plan if p.action != "send"]
        return {"planned": counts, "progress": progress}

    def send(self, state: TickState) -> dict[str, Any]:
        today = date.fromisoformat(state["today"])
        book = self.rt.collections.book(self.rt.workspace)
        sent: list[dict[str, Any]] = []
        failed: list[str] = []
        tried: set[int] = set()
        while (claim := self.rt.collections.claim_next(self.rt.root, today, book.receivables, self.rt.late_fees,
                                                       exclude=tried)) is not None:
            reminder = claim.reminder
            tried.add(reminder.id)
            key = _key(reminder.invoice_number, reminder.stage)
            receivable = book.receivables[reminder.invoice_number]
            client = self.rt.workspace.client(receivable.client)
            mailer = self.rt.mailer(reminder.kind)
            if reminder.kind == "escalation":
                recipient = ", ".join(self.rt.approvers) or "approver"
                earlier = [r.stage for r in self.rt.collections.reminders(self.rt.root,
                                                                          invoice_number=reminder.invoice_number)
                           if r.kind == "reminder" and r.status == "sent"]
                message = compose_escalation(EscalationNotice(
                    invoice_number=receivable.number, firm=self.rt.workspace.settings.firm, client_name=client.name,
                    client_email=client.contact_email, currency=receivable.currency, total=receivable.total,
                    balance=claim.balance, due_date=receivable.due_date, today=today, reminders_sent=earlier,
                ), sender=self.rt.sender, recipients=self.rt.approvers)
            else:
                recipient = client.contact_email
                if not recipient:
                    self.rt.collections.finish(reminder.id, "failed", today=today, channel=mailer.name,
                                               detail=f"client {client.id} has no contact_email in clients.yaml")
                    failed.append(f"{key}: no contact email")
                    continue
                message = compose_reminder(ReminderNotice(
                    invoice_number=receivable.number, stage=reminder.stage, firm=self.rt.workspace.settings.firm,
                    client_name=client.name, client_email=recipient, currency=receivable.currency,
                    total=receivable.total, balance=claim.balance, due_date=receivable.due_date, today=today,
                    late_fee=claim.late_fee, late_fee_total=claim.late_fees,
                ), sender=self.rt.sender, pdf=self.rt.pdf(receivable))
            try:
                location = mailer.deliver(key, message)
            except MailError as exc:
                retry = reminder.attempts < ATTEMPTS
                self.rt.collections.finish(reminder.id, "pending" if retry else "failed", today=today,
                                           channel=mailer.name, detail=str(exc))
                failed.append(f"{key}: {exc}" + (" (tried again next tick)" if retry else " (given up)"))
                continue
            self.rt.collections.finish(reminder.id, "sent", today=today, channel=mailer.name, recipient=recipient,
                                       location=location)
            sent.append(_sent(claim, recipient, mailer.name, location))
        progress = [f"{s['invoice_number']} {s['stage']}: sent to {s['recipient']}" for s in sent]
        return {"sent": sent, "failed": failed, "progress": progress + [f"failed: {f}" for f in failed]}


def _key(number: str, stage: str) -> str:
    return f"{number}.{stage}"


def _sent(claim: Claim, recipient: str, channel: str, location: str) -> dict[str, Any]:
    r = claim.reminder
    return SentReminder(invoice_number=r.invoice_number, stage=r.stage, kind=r.kind, recipient=recipient,
                        channel=channel, location=location, balance=claim.balance,
                        late_fee=claim.late_fee).model_dump(mode="json")


def build_collections_graph(runtime: CollectionsRuntime) -> Any:
    nodes = CollectionsNodes(runtime)
    g: StateGraph[TickState] = StateGraph(TickState)
    g.add_node("recover", nodes.recover)
    g.add_node("import_payments", nodes.import_payments)
    g.add_node("plan", nodes.plan)
    g.add_node("send", nodes.send)
    g.add_edge(START, "recover")
    g.add_edge("recover", "import_payments")
    g.add_edge("import_payments", "plan")
    g.add_edge("plan", "send")
    g.add_edge("send", END)
    return g.compile()


def tick(runtime: CollectionsRuntime, on_date: date) -> TickReport:
    """One tick on an open runtime (tests and the scheduler reuse one runtime across ticks)."""
    state = runtime.graph().invoke({"today": on_date.isoformat(), "sent": [], "failed": [], "recovered": [],
                                    "progress": []})
    return TickReport(
        workspace=runtime.root, date=on_date, payments_imported=state.get("payments_imported", 0),
        payments_matched=state.get("payments_matched", []), payments_queued=state.get("payments_queued", []),
        planned=state.get("planned", {}), sent=[SentReminder.model_validate(s) for s in state.get("sent", [])],
        failed=state.get("failed", []), recovered=state.get("recovered", []), progress=state.get("progress", []),
    )


def open_collections(
    settings: TickSettings,
    store: Store,
    *,
    workspace: Workspace | None = None,
    client_mailer: Mailer | None = None,
    approver_mailer: Mailer | None = None,
    payment_ledger: PaymentLedger | None = None,
    lease: timedelta = LEASE,
) -> CollectionsRuntime:
    """A runtime on `store` (migrated) with the mailers the settings configure.

    Reminders go to the client by SMTP when `smtp_host` is set, else to data_dir/outbox/reminders;
    escalations to `smtp_to` by SMTP when both are set, else to data_dir/outbox/escalations.
    """
    ws = workspace or load_workspace(settings.workspace)
    smtp = None
    if settings.smtp_host:
        smtp = SmtpMailer(settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout,
                          username=settings.smtp_username,
                          password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                          starttls=settings.smtp_starttls)
    outbox = Path(settings.data_dir) / "outbox"
    fees, issues = load_late_fees(ws.root)
    for issue in issues:
        log.warning("late fee ignored: %s", issue)
    return CollectionsRuntime(
        workspace=ws,
        collections=Collections(store),
        client_mailer=client_mailer or smtp or OutboxMailer(outbox / "reminders"),
        approver_mailer=approver_mailer or (smtp if smtp and settings.smtp_to else None)
        or OutboxMailer(outbox / "escalations"),
        sender=settings.smtp_from,
        approvers=list(settings.smtp_to),
        policy=load_match_policy(ws.root),
        late_fees=fees,
        payment_ledger=payment_ledger,
        lease=lease,
    )


def run_tick(
    settings: TickSettings,
    on_date: date | None = None,
    *,
    client_mailer: Mailer | None = None,
    approver_mailer: Mailer | None = None,
    payment_ledger: PaymentLedger | None = None,
    lease: timedelta = LEASE,
) -> TickReport:
    """One tick end to end on the configured workspace and store (default day: today)."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    store = Store(settings.store_url())
    try:
        store.migrate()
        runtime = open_collections(settings, store, client_mailer=client_mailer, approver_mailer=approver_mailer,
                                   payment_ledger=payment_ledger, lease=lease)
        return tick(runtime, on_date or date.today())
    finally:
        store.close()
