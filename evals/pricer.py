"""An independent pricer of WORKSPACE.md "Billing semantics": what an invoice must come to, from true categories.

What belongs here: turning a client's entries to bill (the caller has already taken out what a reviewer
held) and their true categories into the invoice the contract prescribes, line by line and to the cent,
in the form of invoices.csv. It is written from the contract alone and shares no code with the product's
engine (`tools.billing`, `tools.drafts`), so that the two can check each other: generators price their
history with it, and tests compare it with the engine on every bundled workspace.

Arithmetic is exact: hours become `Fraction`s (from the typed `Decimal`), are rounded per entry to the
client's increment, summed per line, and only a line's amount (quantity x unit price), the discount and the
tax are rounded, each to 0.01 half up, as the contract says.

Line order (the engine's documented order; the contract leaves it free):
- group_by category: catalogue order; task and person: alphabetical; detailed: by date, then file order;
- lines of one group at two rates: by their first entry in file order;
- rollup lines after all others, in rule order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tools.domain import (
    HELD_KINDS,
    CapRule,
    Client,
    CodeRule,
    DiscountRule,
    ExcludeRule,
    RollupRule,
    TimeEntry,
    Workspace,
)
from tools.money import CENT, ZERO, format_money, format_quantity
from tools.periods import Period

__all__ = [
    "FIXED_FEE",
    "INVOICE_LINE_COLUMNS",
    "PricedInvoice",
    "PricedLine",
    "candidates",
    "held_by_labels",
    "issue_and_due",
    "price_invoice",
    "price_months",
    "rounded_hours",
]

RETAINER = "Monthly retainer"
OVERAGE = "Additional hours"
NO_DESCRIPTION = "(no description)"
FIXED_FEE = "fixed-fee client: time is not billed"

INVOICE_LINE_COLUMNS = ("line_no", "description", "category", "quantity", "unit_price", "amount", "code",
                        "subtotal", "tax", "total")
"""The invoices.csv columns a priced invoice fills; the caller adds number, dates, currency and status."""


@dataclass(frozen=True)
class PricedLine:
    description: str
    category: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    code: str | None
    entry_ids: tuple[str, ...]


@dataclass(frozen=True)
class PricedInvoice:
    """One client's invoice for one period, as the contract prescribes it."""

    client: str
    currency: str
    period: Period
    lines: tuple[PricedLine, ...]
    subtotal: Decimal
    discount: Decimal
    cap_adjustment: Decimal
    tax: Decimal
    total: Decimal
    excluded: tuple[str, ...] = ()
    """Entries a client rule (or a fixed fee) kept off the lines, in file order."""
    discount_percents: tuple[Decimal, ...] = ()
    cap: Decimal | None = None

    @property
    def billed(self) -> tuple[str, ...]:
        """Every entry id on a line (a retainer's counted entries included)."""
        return tuple(i for line in self.lines for i in line.entry_ids)

    @property
    def is_empty(self) -> bool:
        """A period with nothing to bill (e.g. a fixed-fee month with no milestone) gives no invoice."""
        return not self.lines

    def rows(
        self,
        discount_description: Callable[[PricedInvoice], str] | None = None,
        cap_description: Callable[[PricedInvoice], str] | None = None,
    ) -> list[dict[str, str]]:
        """The invoice's rows in invoices.csv form: its lines, then a discount row and a cap row if any."""
        subtotal, tax, total = format_money(self.subtotal), format_money(self.tax), format_money(self.total)
        rows = [(ln.description, ln.category, format_quantity(ln.quantity), format_money(ln.unit_price),
                 format_money(ln.amount), ln.code or "") for ln in self.lines]
        if self.discount:
            text = (discount_description or _discount_text)(self)
            rows.append((text, "discount", "1.00", format_money(self.discount), format_money(self.discount), ""))
        if self.cap_adjustment:
            text = (cap_description or _cap_text)(self)
            rows.append((text, "cap_adjustment", "1.00", format_money(self.cap_adjustment),
                         format_money(self.cap_adjustment), ""))
        return [dict(zip(INVOICE_LINE_COLUMNS, (str(n), *row, subtotal, tax, total), strict=True))
                for n, row in enumerate(rows, 1)]


def _discount_text(invoice: PricedInvoice) -> str:
    return "Discount " + " + ".join(f"{p}%" for p in invoice.discount_percents)


def _cap_text(invoice: PricedInvoice) -> str:
    return f"Adjustment to the agreed cap of {invoice.cap} {invoice.currency}"


# ----------------------------------------------------------------------------------------------------
# Which entries


def candidates(workspace: Workspace, client_id: str, period: Period, held: Iterable[str] = ()) -> list[TimeEntry]:
    """The client's billable entries dated in the period, in file order, less the `held` ones (point 1-2)."""
    skip = set(held)
    return [e for e in workspace.entries
            if e.client == client_id and e.billable and e.date in period and e.id not in skip]


def held_by_labels(workspace: Workspace) -> set[str]:
    """Entries whose labelled anomaly is one the contract holds out of a draft."""
    return {lb.entry_id for lb in workspace.labels if lb.anomaly in HELD_KINDS}


# ----------------------------------------------------------------------------------------------------
# Per entry


def rounded_hours(hours: Decimal, increment_minutes: int, mode: str) -> Fraction:
    """Hours to bill for one entry (point 4): units = hours x 60 / increment, ceiling or half up, or as typed."""
    exact = Fraction(hours)
    if mode == "none":
        return exact
    units = exact * 60 / increment_minutes
    whole = -((-units.numerator) // units.denominator) if mode == "up" else _half_up(units)
    return Fraction(whole * increment_minutes, 60)


def _half_up(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    return floor + 1 if value - floor >= Fraction(1, 2) else floor


def _rate(client: Client, role: str | None, entry: TimeEntry, category: str) -> Decimal:
    rates = client.rates
    if entry.person in rates.by_person:
        return rates.by_person[entry.person]
    if category in rates.by_category:
        return rates.by_category[category]
    if role is not None and role in rates.by_role:
        return rates.by_role[role]
    if rates.default is None:
        raise ValueError(f"{client.id}: no rate for {entry.person} ({role}) on {category} and no default")
    return rates.default


@dataclass
class _Item:
    entry: TimeEntry
    category: str
    hours: Fraction
    rate: Decimal
    rollup: str | None = None


def _excludes(rule: ExcludeRule, item: _Item) -> bool:
    sel, e = rule.exclude, item.entry
    checks = ((sel.category, item.category), (sel.person, e.person), (sel.project_code, e.project_code),
              (sel.task, e.task))
    if any(want is not None and want != have for want, have in checks):
        return False
    return sel.pattern is None or re.search(sel.pattern, e.notes + " " + e.task) is not None


# ----------------------------------------------------------------------------------------------------
# The invoice


def price_invoice(
    workspace: Workspace,
    client_id: str,
    period: Period,
    entries: Sequence[TimeEntry],
    categories: Mapping[str, str],
) -> PricedInvoice:
    """Price one client's period from the entries to bill and their true categories.

    Args:
        workspace: the loaded workspace (clients, people, catalogue, tasks).
        client_id: the client billed.
        period: the billing period; milestones completed in it are billed for a fixed fee.
        entries: the entries to bill: the client's billable entries of the period, less the held ones
            (see `candidates`); in file order.
        categories: every entry's true category, by entry id.
    """
    client = workspace.client(client_id)
    for e in entries:
        if e.client != client.id or not e.billable or e.date not in period:
            raise ValueError(f"entry {e.id} is not a billable entry of {client.id} in {period}")
    roles = {p.person: p.role for p in workspace.people}
    inc, mode = client.rounding.increment_minutes, client.rounding.mode
    items = [_Item(e, categories[e.id], rounded_hours(e.hours, inc, mode),
                   _rate(client, roles.get(e.person), e, categories[e.id])) for e in entries]

    excluded: list[str] = []
    rollups: list[str] = []
    for rule in client.rules:
        if isinstance(rule, ExcludeRule):
            out = {i.entry.id for i in items if _excludes(rule, i)}
            excluded += out
            items = [i for i in items if i.entry.id not in out]
        elif isinstance(rule, RollupRule):
            rollups.append(rule.rollup.into)
            for i in items:
                if i.rollup is None and re.search(rule.rollup.pattern, i.entry.notes + " " + i.entry.task):
                    i.rollup = rule.rollup.into

    model = client.billing.model
    if model == "fixed":
        excluded += [i.entry.id for i in items]
        lines = _milestones(workspace, client, period)
    elif model == "retainer":
        lines = _retainer(client, items)
    else:
        lines = _hourly(workspace, client, items, rollups)
    lines = _coded(client, lines)
    order = {e.id: n for n, e in enumerate(entries)}
    return _totals(client, period, lines, tuple(sorted(excluded, key=order.__getitem__)))


def _line(description: str, category: str, hours: Fraction, rate: Decimal, ids: Iterable[str]) -> PricedLine:
    return PricedLine(description, category, _decimal(hours), rate, _cents(hours * Fraction(rate)), None,
                      tuple(ids))


@dataclass
class _Group:
    first: int
    sort: tuple[object, ...]
    description: str
    category: str
    rate: Decimal
    items: list[_Item] = field(default_factory=list)


def _hourly(workspace: Workspace, client: Client, items: list[_Item], rollups: list[str]) -> list[PricedLine]:
    """One line per (group, rate) in the documented order; rollup lines last, in rule order (point 5)."""
    catalogue = {c.id: n for n, c in enumerate(workspace.settings.categories)}
    groups: dict[tuple[object, ...], _Group] = {}
    for n, item in enumerate(items):
        e = item.entry
        if item.rollup is not None:
            key: tuple[object, ...] = ("rollup", item.rollup, item.rate)
            sort: tuple[object, ...] = (1, rollups.index(item.rollup))
            description, category = item.rollup, ""
        elif client.group_by == "category":
            key = ("category", item.category, item.rate)
            sort = (0, catalogue.get(item.category, len(catalogue)), item.category)
            description, category = workspace.category_label(item.category), item.category
        elif client.group_by == "task":
            key, sort, description, category = ("task", e.task, item.rate), (0, e.task), e.task, ""
        elif client.group_by == "person":
            key, sort, description, category = ("person", e.person, item.rate), (0, e.person), e.person, ""
        else:
            key, sort = ("entry", e.id), (0, e.date.isoformat())
            notes = e.notes.strip() or NO_DESCRIPTION
            description, category = f"{e.date.isoformat()} {e.person}: {notes}", item.category
        group = groups.setdefault(key, _Group(n, sort, description, category, item.rate))
        group.items.append(item)
    ordered = sorted(groups.values(), key=lambda g: (g.sort, g.first))
    return [_line(g.description, g.category, sum((i.hours for i in g.items), Fraction(0)), g.rate,
                  (i.entry.id for i in g.items)) for g in ordered]


def _retainer(client: Client, items: list[_Item]) -> list[PricedLine]:
    """The retainer line (always) and the rounded hours beyond the included ones at the overage rate (point 6)."""
    terms = client.billing.retainer
    if terms is None:
        raise ValueError(f"{client.id} is billed by retainer but has no retainer terms")
    lines = [PricedLine(RETAINER, "", Decimal("1"), terms.amount, _cents(Fraction(terms.amount)), None,
                        tuple(i.entry.id for i in items))]
    excess = sum((i.hours for i in items), Fraction(0)) - Fraction(terms.included_hours)
    if excess > 0:
        lines.append(_line(OVERAGE, "", excess, terms.overage_rate, ()))
    return lines


def _milestones(workspace: Workspace, client: Client, period: Period) -> list[PricedLine]:
    """One line per milestone task of the client completed in the period, by completion date (point 6)."""
    done = [(t.completed_at, n, t) for n, t in enumerate(workspace.tasks)
            if t.client == client.id and t.milestone_amount is not None and t.status == "done"
            and t.completed_at is not None and t.completed_at in period]
    lines = []
    for _, _, t in sorted(done, key=lambda x: (x[0], x[1])):
        amount = t.milestone_amount if t.milestone_amount is not None else ZERO
        lines.append(PricedLine(t.title or t.id, "", Decimal("1"), amount, _cents(Fraction(amount)), None, ()))
    return lines


def _coded(client: Client, lines: list[PricedLine]) -> list[PricedLine]:
    codes: dict[str, str] = {}
    for rule in client.rules:
        if isinstance(rule, CodeRule) and rule.code.category not in codes:
            codes[rule.code.category] = rule.code.code
    return [PricedLine(ln.description, ln.category, ln.quantity, ln.unit_price, ln.amount,
                       codes.get(ln.category) if ln.category else None, ln.entry_ids) for ln in lines]


def _totals(client: Client, period: Period, lines: list[PricedLine], excluded: tuple[str, ...]) -> PricedInvoice:
    """Subtotal, discount, cap, tax and total (point 7)."""
    subtotal = sum((ln.amount for ln in lines), ZERO)
    percents = tuple(r.discount.percent for r in client.rules if isinstance(r, DiscountRule))
    discount = -sum((_cents(Fraction(subtotal) * Fraction(p) / 100) for p in percents), ZERO)
    caps = [r.cap.amount for r in client.rules if isinstance(r, CapRule)]
    cap = min(caps) if caps else None
    cap_adjustment = cap - (subtotal + discount) if cap is not None and subtotal + discount > cap else ZERO
    taxable = subtotal + discount + cap_adjustment
    tax = _cents(Fraction(taxable) * Fraction(client.tax_rate))
    return PricedInvoice(client.id, client.currency, period, tuple(lines), subtotal, discount + ZERO,
                         cap_adjustment + ZERO, tax, taxable + tax, excluded, percents, cap)


# ----------------------------------------------------------------------------------------------------
# Exact numbers to decimals


def _cents(value: Fraction) -> Decimal:
    """Round an exact amount to 0.01, half up (away from zero on a tie, as `ROUND_HALF_UP` does)."""
    sign = -1 if value < 0 else 1
    hundredths = abs(value) * 100
    whole = _half_up(hundredths)
    return (Decimal(sign * whole) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value: Fraction) -> Decimal:
    """An exact quantity as a Decimal (exact when it has a finite decimal expansion, else to 28 digits)."""
    return Decimal(value.numerator) / Decimal(value.denominator)


def price_months(
    workspace: Workspace, months: Iterable[tuple[int, int]], categories: Mapping[str, str], held: Iterable[str],
) -> list[PricedInvoice]:
    """Every client's invoice for each month, in month then clients.yaml order, leaving out empty ones.

    What the generators of the bundled workspaces bill their history with: `categories` are the true ones,
    `held` the entries a reviewer holds (the generator's own duplicate, wrong-project, future-date and
    invalid-hours entries).
    """
    skip = set(held)
    out = []
    for year, month in months:
        period = Period.month(year, month)
        for client in workspace.clients:
            priced = price_invoice(workspace, client.id, period, candidates(workspace, client.id, period, skip),
                                   categories)
            if not priced.is_empty:
                out.append(priced)
    return out


def issue_and_due(client: Client, period: Period) -> tuple[date, date]:
    """Point 8: issued the day after the period ends, due after the client's terms."""
    issue = period.end + timedelta(days=1)
    return issue, issue + timedelta(days=client.payment_terms_days)
