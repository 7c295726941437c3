"""What changed since the client's last invoices: this draft against the average of the last three.

The reviewer's first question about a draft is "why is it different?". `change_table` answers it with
figures computed here, by code, so that a model explaining the change (or answering a question about it)
can only quote numbers this table holds. Rows compare the draft with the mean of up to three earlier
invoices of the same client and currency, issued before the draft's period ends:

- `total`: the invoice total;
- `category`: amount per line category, and hours per entry category (the labels of the entries each
  earlier invoice billed);
- `rate`: hours billed per unit price (hourly clients only: a retainer's or a milestone's line is not
  hours at a rate);
- `person`: hours per person (the labelled entries of the earlier invoices).

Hours are as logged on earlier invoices (their labels do not keep the rounded hours) and as billed on the
draft, so a small difference can be rounding.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel

from tools.domain import HistoricalInvoice, Workspace
from tools.drafts import Draft
from tools.money import ZERO, format_money, format_quantity

__all__ = ["ChangeRow", "ChangeTable", "change_table"]

HISTORY = 3
_CENT = Decimal("0.01")
_ADJUSTMENTS = frozenset({"discount", "cap_adjustment"})

Dimension = Literal["total", "category", "rate", "person"]


class ChangeRow(BaseModel):
    dimension: Dimension
    key: str
    hours: Decimal | None = None
    """This draft's hours (None for the total row)."""
    amount: Decimal | None = None
    """This draft's amount (None for person rows: a person's share of a line is not an invoice figure)."""
    before_hours: Decimal | None = None
    before_amount: Decimal | None = None
    """Mean over the earlier invoices (a category or person absent from one counts as 0 there)."""

    @property
    def change_percent(self) -> Decimal | None:
        now, before = (self.amount, self.before_amount) if self.amount is not None else (self.hours,
                                                                                          self.before_hours)
        if now is None or not before:
            return None
        return ((now - before) / before * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)

    def describe(self, currency: str) -> str:
        def side(hours: Decimal | None, amount: Decimal | None) -> str:
            parts = ([f"{format_quantity(hours)} h"] if hours is not None else []) + (
                [f"{format_money(amount)} {currency}"] if amount is not None else [])
            return ", ".join(parts) or "none"

        pct = self.change_percent
        trend = f" ({'+' if pct and pct > 0 else ''}{pct} %)" if pct is not None else ""
        name = "total" if self.dimension == "total" else f"{self.dimension} {self.key or '(none)'}"
        return (f"{name}: {side(self.hours, self.amount)} against "
                f"{side(self.before_hours, self.before_amount)} before{trend}")


class ChangeTable(BaseModel):
    currency: str
    compared_with: list[str]
    """The earlier invoices' numbers, newest first (empty: nothing to compare with)."""
    rows: list[ChangeRow]

    def biggest(self, n: int = 3) -> list[ChangeRow]:
        """The rows that moved most in money (or hours), the total first."""
        def moved(row: ChangeRow) -> Decimal:
            if row.amount is not None:
                return abs(row.amount - (row.before_amount or ZERO))
            return abs((row.hours or ZERO) - (row.before_hours or ZERO))

        movers = sorted((r for r in self.rows if r.dimension != "total"), key=moved, reverse=True)
        return [r for r in self.rows if r.dimension == "total"] + [r for r in movers[:n] if moved(r)]

    def figures(self) -> set[Decimal]:
        """Every figure the table states, as a reader would quote it (percentages included)."""
        out: set[Decimal] = set()
        for r in self.rows:
            for value in (r.hours, r.amount, r.before_hours, r.before_amount, r.change_percent):
                if value is not None:
                    out |= {value, value.quantize(_CENT, rounding=ROUND_HALF_UP), abs(value)}
            if r.amount is not None and r.before_amount is not None:
                out.add(abs(r.amount - r.before_amount).quantize(_CENT, rounding=ROUND_HALF_UP))
            if r.hours is not None and r.before_hours is not None:
                out.add(abs(r.hours - r.before_hours))
            if r.dimension == "rate":
                out.add(Decimal(r.key))
        return out


def earlier_invoices(workspace: Workspace, draft: Draft, n: int = HISTORY) -> list[HistoricalInvoice]:
    """The client's last `n` real invoices in the draft's currency that ended before the draft's period."""
    past = [i for i in workspace.invoices if i.client == draft.client and i.currency == draft.currency
            and i.status != "void" and i.period_end < draft.period_start]
    return sorted(past, key=lambda i: (i.period_end, i.invoice_number), reverse=True)[:n]


def change_table(workspace: Workspace, draft: Draft) -> ChangeTable:
    before = earlier_invoices(workspace, draft)
    hourly = draft.billing_model == "hourly"  # a retainer's or a milestone's line is not hours x rate
    now_hours: dict[tuple[Dimension, str], Decimal] = defaultdict(Decimal)
    now_amount: dict[tuple[Dimension, str], Decimal] = defaultdict(Decimal)
    for now in draft.lines:
        now_amount["category", now.category] += now.amount
        if hourly and now.entry_ids:
            now_hours["rate", format_money(now.unit_price)] += now.quantity
    for entry in draft.entries:
        if entry.outcome == "billed":
            hours = entry.billed_hours or entry.hours
            now_hours["person", entry.person] += hours
            now_hours["category", entry.category or ""] += hours

    past_hours: dict[tuple[Dimension, str], Decimal] = defaultdict(Decimal)
    past_amount: dict[tuple[Dimension, str], Decimal] = defaultdict(Decimal)
    people = {e.id: (e.person, e.hours) for e in workspace.entries if e.client == draft.client}
    numbers = {i.invoice_number for i in before}
    for inv in before:
        for line in inv.lines:
            if line.category in _ADJUSTMENTS:
                continue  # the invoice's discount and cap, written as lines: they are in the total row
            past_amount["category", line.category] += line.amount
            if hourly and line.unit_price:
                past_hours["rate", format_money(line.unit_price)] += line.quantity
    for label in workspace.labels:
        if label.billed and label.invoice_number in numbers and label.entry_id in people:
            person, hours = people[label.entry_id]
            past_hours["person", person] += hours
            past_hours["category", label.category] += hours

    n = Decimal(len(before))

    def mean(value: Decimal) -> Decimal:
        return (value / n).quantize(_CENT, rounding=ROUND_HALF_UP)

    rows = [ChangeRow(dimension="total", key="total", amount=draft.total,
                      before_amount=mean(sum((i.total for i in before), ZERO)) if before else None)]
    keys = sorted(set(now_hours) | set(now_amount) | set(past_hours) | set(past_amount),
                  key=lambda k: ("category", "rate", "person").index(k[0]))
    for key in keys:
        dim, name = key
        rows.append(ChangeRow(
            dimension=dim, key=name,
            hours=now_hours.get(key) if key in now_hours or key in past_hours else None,
            amount=now_amount.get(key, ZERO) if dim == "category" else None,
            before_hours=mean(past_hours[key]) if before and (key in past_hours or key in now_hours) else None,
            before_amount=mean(past_amount[key]) if before and dim == "category" else None,
        ))
    return ChangeTable(currency=draft.currency, compared_with=[i.invoice_number for i in before], rows=rows)
