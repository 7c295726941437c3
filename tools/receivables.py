"""Receivables: what each issued invoice still owes on any date, and the metrics over all of them.

Pure and deterministic: every function takes the invoices (`Receivable`), what was paid against them
(`Settlement`) and what was added to them (`Charge`, a late fee), and an as-of date. Nothing here reads
a file or a database (`tools.store.collections` and the workspace loader build the inputs).

    balance(invoice, as_of)  = total + charges - payments - write-offs   (dated on or before as_of)

An invoice is paid on the first day its balance reaches zero, or on the day the source says it was
paid in full outside collections (`Receivable.settled_on`: invoices.csv `paid_date`, a store invoice
marked paid), whichever is first. Money stays `Decimal` and a currency never meets another: totals,
aging and DSO are reported per currency.

Metrics (`ar_report`):
    DSO              open balance at as_of / invoiced in the `window` days up to as_of x window, per currency
    sent on time     invoices sent within `send_within_days` of their period's end / invoices sent
    paid on time     invoices paid on or before their due date / invoices due by as_of or already paid
    aging            open balances by days past due: current, 1-30, 31-60, 61-90, over 90
    usual days       each client's median days from issue to payment, over the invoices it paid
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.domain import HistoricalInvoice, Workspace
from tools.money import ZERO

__all__ = [
    "BUCKETS",
    "ArReport",
    "Book",
    "Charge",
    "ClientAr",
    "CurrencyAr",
    "InvoiceAr",
    "Receivable",
    "Settlement",
    "Share",
    "aging_bucket",
    "ar_report",
    "from_history",
    "merge_receivables",
    "render_aging_png",
]

BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "over_90")
"""Aging buckets by days past due: not yet due (or due today), then 1-30 days late, and so on."""

SettlementKind = Literal["payment", "write_off", "credit"]


class Receivable(BaseModel):
    """An issued invoice as collections sees it, from invoices.csv (history) or from the store."""

    model_config = ConfigDict(frozen=True)

    number: str
    client: str
    currency: str
    total: Decimal
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    sent_on: date | None
    """When it reached the client; None while it is approved or pushed but not yet sent."""
    source: Literal["history", "store"]
    invoice_id: str | None = None
    """The store's id (store invoices only)."""
    settled_on: date | None = None
    """Paid in full outside collections on this day (invoices.csv paid_date, a store invoice marked paid)."""


class Settlement(BaseModel):
    """Money set against an invoice: a payment, a written-off difference, or a credit beyond the balance.

    A payment or write-off lowers the balance (a negative write-off, for a small overpayment kept,
    raises it back to zero); a credit is money the client paid beyond the balance, held for it.
    """

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    on: date
    amount: Decimal
    kind: SettlementKind = "payment"
    payment_id: str | None = None


class Charge(BaseModel):
    """Something added to an invoice's balance after it was issued: a late fee."""

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    on: date
    amount: Decimal
    kind: Literal["late_fee"] = "late_fee"
    stage: str = ""


def from_history(workspace: Workspace) -> list[Receivable]:
    """The workspace's past invoices (invoices.csv) that were issued: drafts and voided ones are left out."""
    return [_historical(invoice) for invoice in workspace.invoices if invoice.status in ("sent", "paid")]


def _historical(invoice: HistoricalInvoice) -> Receivable:
    settled = invoice.paid_date if invoice.status == "paid" else None
    if invoice.status == "paid" and settled is None:
        settled = invoice.due_date  # paid, date unknown: assume on time rather than invent a late payment
    return Receivable(
        number=invoice.invoice_number, client=invoice.client, currency=invoice.currency, total=invoice.total,
        period_start=invoice.period_start, period_end=invoice.period_end, issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        sent_on=invoice.issue_date, source="history", settled_on=settled,
    )


def merge_receivables(history: Iterable[Receivable], store: Iterable[Receivable]) -> list[Receivable]:
    """History and store invoices in one list, by issue date then number; the store's copy wins a clash."""
    merged = {r.number: r for r in history}
    merged.update({r.number: r for r in store})
    return sorted(merged.values(), key=lambda r: (r.issue_date, r.number))


class Book:
    """The receivables with their settlements and charges: balances and payment dates on any day."""

    def __init__(
        self,
        receivables: Iterable[Receivable],
        settlements: Iterable[Settlement] = (),
        charges: Iterable[Charge] = (),
    ) -> None:
        self.receivables = {r.number: r for r in receivables}
        self._settlements: dict[str, list[Settlement]] = defaultdict(list)
        for s in sorted(settlements, key=lambda s: (s.on, s.payment_id or "")):
            self._settlements[s.invoice_number].append(s)
        self._charges: dict[str, list[Charge]] = defaultdict(list)
        for c in sorted(charges, key=lambda c: c.on):
            self._charges[c.invoice_number].append(c)

    def get(self, number: str) -> Receivable | None:
        return self.receivables.get(number)

    def settlements(self, number: str) -> list[Settlement]:
        return list(self._settlements.get(number, ()))

    def charges(self, number: str) -> list[Charge]:
        return list(self._charges.get(number, ()))

    def owed(self, number: str, as_of: date | None = None) -> Decimal:
        """Total plus charges minus payments and write-offs dated on or before `as_of` (default: all)."""
        r = self.receivables[number]
        amount = r.total
        for charge in self._charges.get(number, ()):
            if as_of is None or charge.on <= as_of:
                amount += charge.amount
        for s in self._settlements.get(number, ()):
            if s.kind != "credit" and (as_of is None or s.on <= as_of):
                amount -= s.amount
        return amount

    def balance(self, number: str, as_of: date | None = None) -> Decimal:
        """What the client still owes on `as_of` (default: everything recorded); never below zero."""
        r = self.receivables[number]
        if r.settled_on is not None and (as_of is None or r.settled_on <= as_of):
            return ZERO
        return max(self.owed(number, as_of), ZERO)

    def paid_on(self, number: str) -> date | None:
        """The day the invoice was paid in full, if it was."""
        r = self.receivables[number]
        changes: dict[date, Decimal] = defaultdict(Decimal)
        for c in self._charges.get(number, ()):
            changes[c.on] += c.amount
        for s in self._settlements.get(number, ()):
            if s.kind != "credit":
                changes[s.on] -= s.amount
        running, paid = r.total, None
        for day in sorted(changes):
            running += changes[day]
            if running <= ZERO:
                paid = day
                break
        if r.settled_on is not None and (paid is None or r.settled_on < paid):
            return r.settled_on
        return paid

    def is_open(self, number: str, as_of: date) -> bool:
        """Issued by `as_of` and not yet paid in full on that day."""
        r = self.receivables[number]
        return r.issue_date <= as_of and self.balance(number, as_of) > ZERO

    def credits(self, number: str) -> Decimal:
        return sum((s.amount for s in self._settlements.get(number, ()) if s.kind == "credit"), ZERO)


# ----------------------------------------------------------------------------------------------------
# Metrics


class Share(BaseModel):
    """How many of `total` were on time, and the share (None when there is nothing to count)."""

    on_time: int
    total: int
    share: float | None

    @classmethod
    def of(cls, on_time: int, total: int) -> Share:
        return cls(on_time=on_time, total=total, share=round(on_time / total, 4) if total else None)


class InvoiceAr(BaseModel):
    number: str
    client: str
    currency: str
    total: Decimal
    balance: Decimal
    issue_date: date
    due_date: date
    sent_on: date | None
    paid_on: date | None
    days_past_due: int
    bucket: str | None
    """The aging bucket of an open balance; None when nothing is owed."""


class ClientAr(BaseModel):
    client: str
    currency: str
    open_balance: Decimal
    aging: dict[str, Decimal]
    open_invoices: int
    paid_invoices: int
    usual_days_to_pay: float | None
    """Median days from issue to payment over the invoices this client paid by the as-of date."""
    paid_on_time: Share


class CurrencyAr(BaseModel):
    currency: str
    open_balance: Decimal
    aging: dict[str, Decimal]
    invoiced_in_window: Decimal
    dso_days: Decimal | None
    """Days sales outstanding: None when nothing was invoiced in the window."""


class ArReport(BaseModel):
    as_of: date
    window_days: int
    send_within_days: int
    totals: list[CurrencyAr]
    clients: list[ClientAr]
    sent_on_time: Share
    paid_on_time: Share
    invoices: list[InvoiceAr] = Field(default_factory=list)


def aging_bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "over_90"


def _empty_aging() -> dict[str, Decimal]:
    return {bucket: ZERO for bucket in BUCKETS}


def ar_report(book: Book, as_of: date, *, window_days: int = 90, send_within_days: int = 3) -> ArReport:
    """The receivables metrics as of a day (see the module docstring for each definition).

    Args:
        book: the invoices, their settlements and charges.
        as_of: the day to measure on; invoices issued later and money dated later are ignored.
        window_days: DSO's window of invoicing, ending on `as_of`.
        send_within_days: an invoice is sent on time when sent at most this many days after its period ends.
    """
    window_start = as_of - timedelta(days=window_days)
    issued = [r for r in book.receivables.values() if r.issue_date <= as_of]
    rows: list[InvoiceAr] = []
    for r in sorted(issued, key=lambda r: (r.issue_date, r.number)):
        balance = book.balance(r.number, as_of)
        paid = book.paid_on(r.number)
        paid = paid if paid is not None and paid <= as_of else None
        late = (as_of - r.due_date).days
        rows.append(InvoiceAr(
            number=r.number, client=r.client, currency=r.currency, total=r.total, balance=balance,
            issue_date=r.issue_date, due_date=r.due_date, sent_on=r.sent_on if r.sent_on and r.sent_on <= as_of
            else None, paid_on=paid, days_past_due=late, bucket=aging_bucket(late) if balance > ZERO else None,
        ))

    totals: dict[str, CurrencyAr] = {}
    for currency in sorted({row.currency for row in rows}):
        mine = [row for row in rows if row.currency == currency]
        aging = _empty_aging()
        for row in mine:
            if row.bucket is not None:
                aging[row.bucket] += row.balance
        open_balance = sum(aging.values(), ZERO)
        invoiced = sum((row.total for row in mine if row.issue_date > window_start), ZERO)
        dso = (open_balance / invoiced * window_days).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) \
            if invoiced > ZERO else None
        totals[currency] = CurrencyAr(currency=currency, open_balance=open_balance, aging=aging,
                                      invoiced_in_window=invoiced, dso_days=dso)

    clients: list[ClientAr] = []
    for client, currency in sorted({(row.client, row.currency) for row in rows}):
        mine = [row for row in rows if row.client == client and row.currency == currency]
        aging = _empty_aging()
        for row in mine:
            if row.bucket is not None:
                aging[row.bucket] += row.balance
        settled = [row for row in mine if row.paid_on is not None]
        days = [(row.paid_on - row.issue_date).days for row in settled if row.paid_on is not None]
        clients.append(ClientAr(
            client=client, currency=currency, open_balance=sum(aging.values(), ZERO), aging=aging,
            open_invoices=sum(1 for row in mine if row.bucket is not None), paid_invoices=len(settled),
            usual_days_to_pay=float(statistics.median(days)) if days else None,
            paid_on_time=_paid_on_time(mine, as_of),
        ))

    sent = [row for row in rows if row.sent_on is not None]
    period_ends = {r.number: r.period_end for r in issued}
    sent_on_time = sum(
        1 for row in sent
        if row.sent_on is not None and (row.sent_on - period_ends[row.number]).days <= send_within_days
    )
    return ArReport(
        as_of=as_of, window_days=window_days, send_within_days=send_within_days,
        totals=list(totals.values()), clients=clients, sent_on_time=Share.of(sent_on_time, len(sent)),
        paid_on_time=_paid_on_time(rows, as_of), invoices=rows,
    )


def _paid_on_time(rows: Sequence[InvoiceAr], as_of: date) -> Share:
    """Of the invoices whose outcome is known on `as_of` (due by then, or already paid), those paid by the due date."""
    known = [row for row in rows if row.due_date < as_of or row.paid_on is not None]
    on_time = sum(1 for row in known if row.paid_on is not None and row.paid_on <= row.due_date)
    return Share.of(on_time, len(known))


def render_aging_png(report: ArReport, path: str | Path, *, names: Mapping[str, str] | None = None) -> Path:
    """Draw the open balances by aging bucket, one stacked bar per client, one panel per currency.

    Matplotlib runs on its Agg backend (no display needed). Amounts are converted to float only here,
    to draw them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    currencies = [t.currency for t in report.totals] or ["-"]
    figure, axes = plt.subplots(len(currencies), 1, figsize=(9, 2.8 * len(currencies) + 0.8), squeeze=False)
    colours = ("#2b8a3e", "#f08c00", "#e8590c", "#c92a2a", "#862e9c")
    try:
        for axis, currency in zip(axes[:, 0], currencies, strict=True):
            rows = [c for c in report.clients if c.currency == currency and c.open_balance > ZERO]
            axis.set_title(f"Open receivables in {currency} by days past due, as of {report.as_of}", fontsize=10)
            if not rows:
                axis.text(0.5, 0.5, "nothing open", ha="center", va="center", transform=axis.transAxes)
                axis.set_axis_off()
                continue
            labels = [(names or {}).get(c.client, c.client) for c in rows]
            left = [0.0] * len(rows)
            for bucket, colour in zip(BUCKETS, colours, strict=True):
                values = [float(c.aging[bucket]) for c in rows]
                axis.barh(labels, values, left=left, color=colour, label=bucket.replace("_", " "))
                left = [a + b for a, b in zip(left, values, strict=True)]
            axis.set_xlim(0, max(left) * 1.05)
            axis.invert_yaxis()
            axis.set_xlabel(currency)
            axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        figure.tight_layout()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(target, format="png", dpi=110)
    finally:
        plt.close(figure)
    return target
