"""The billing engine: client terms applied to categorized entries, exactly per the workspace contract.

Order of work (WORKSPACE.md, "Billing semantics"): client rules `exclude`/`rollup` in file order; hours
rounded per entry to the client's increment; a rate per entry (person, category, role, default: first
match wins); lines per (group, rate); then the billing model (hourly lines, a retainer with overage, or
fixed-fee milestones); then `code`, discount, cap and tax. Nothing here knows about LLMs or storage.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import NamedTuple

from pydantic import BaseModel

from tools.domain import (
    CapRule,
    Client,
    CodeRule,
    DiscountRule,
    EntrySelector,
    ExcludeRule,
    RollupRule,
    Task,
    TimeEntry,
)
from tools.errors import BillingError
from tools.money import ZERO, to_cents
from tools.periods import Period

SIXTY = Decimal(60)
HUNDRED = Decimal(100)
RETAINER_LINE = "Monthly retainer"
OVERAGE_LINE = "Additional hours"
NO_DESCRIPTION = "(no description)"


class Line(BaseModel):
    """One invoice line: quantity x unit price, quantized to 0.01 half up."""

    description: str
    category: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    code: str | None = None
    entry_ids: list[str]


class Exclusion(BaseModel):
    entry_id: str
    reason: str


class Totals(BaseModel):
    subtotal: Decimal
    discount: Decimal
    cap_adjustment: Decimal
    tax: Decimal
    total: Decimal


class Billable(NamedTuple):
    """An entry on its way to a line: its category, its rolled-up line (if any), rounded minutes, rate.

    Immutable; a named tuple rather than a frozen dataclass since one is built per entry at each step.
    """

    entry: TimeEntry
    category: str
    rollup: str | None = None
    minutes: Decimal = ZERO
    rate: Decimal = ZERO


# ----------------------------------------------------------------------------------------------------
# Per entry


def billed_minutes(hours: Decimal, increment_minutes: int, mode: str) -> Decimal:
    """Minutes to bill for one entry: units = hours x 60 / increment, rounded up, half up, or not at all."""
    minutes = hours * SIXTY
    if mode == "none":
        return minutes
    units = minutes / Decimal(increment_minutes)
    rounding = ROUND_CEILING if mode == "up" else ROUND_HALF_UP
    return units.quantize(Decimal(1), rounding=rounding) * increment_minutes


def rate_for(client: Client, person: str, role: str | None, category: str) -> Decimal:
    """The entry's hourly rate: by_person, then by_category, then by_role, then default."""
    rates = client.rates
    for table, key in ((rates.by_person, person), (rates.by_category, category), (rates.by_role, role)):
        if key is not None and key in table:
            return table[key]
    if rates.default is None:
        raise BillingError(
            f"client {client.id} has no rate for {person} (role {role or 'unknown'}, category {category}) "
            "and no default rate: add rates.default or a matching by_person/by_category/by_role rate"
        )
    return rates.default


# ----------------------------------------------------------------------------------------------------
# Client rules


def _selects(selector: EntrySelector, item: Billable) -> bool:
    e = item.entry
    return (
        (selector.category is None or selector.category == item.category)
        and (selector.person is None or selector.person == e.person)
        and (selector.project_code is None or selector.project_code == e.project_code)
        and (selector.task is None or selector.task == e.task)
        and (selector.pattern is None or re.search(selector.pattern, f"{e.notes} {e.task}") is not None)
    )


def is_excluded(client: Client, item: Billable) -> bool:
    """Whether one of the client's `exclude` rules takes this entry off the invoice."""
    return any(isinstance(rule, ExcludeRule) and _selects(rule.exclude, item) for rule in client.rules)


def apply_entry_rules(client: Client, items: Sequence[Billable]) -> tuple[list[Billable], list[Exclusion]]:
    """Run `exclude` and `rollup` rules in file order; the first matching rollup wins."""
    kept = list(items)
    excluded: list[Exclusion] = []
    for rule in client.rules:
        if isinstance(rule, ExcludeRule):
            reason = f"excluded by client rule: {rule.exclude.describe()}"
            remaining = []
            for item in kept:
                if _selects(rule.exclude, item):
                    excluded.append(Exclusion(entry_id=item.entry.id, reason=reason))
                else:
                    remaining.append(item)
            kept = remaining
        elif isinstance(rule, RollupRule):
            matches = _searcher(rule.rollup.pattern)
            kept = [
                Billable(item.entry, item.category, rule.rollup.into)
                if item.rollup is None and matches(item.entry.notes, item.entry.task)
                else item
                for item in kept
            ]
    return kept, excluded


def _searcher(pattern: str) -> Callable[[str, str], bool]:
    """Whether `pattern` is found in `notes + " " + task`, searched once per distinct pair (they repeat)."""
    compiled = re.compile(pattern)
    found: dict[tuple[str, str], bool] = {}

    def matches(notes: str, task: str) -> bool:
        hit = found.get((notes, task))
        if hit is None:
            hit = found[(notes, task)] = compiled.search(f"{notes} {task}") is not None
        return hit

    return matches


def price(client: Client, items: Iterable[Billable], roles: dict[str, str]) -> list[Billable]:
    """Round each entry's hours and find its rate (a rolled-up entry keeps its own category's rate)."""
    inc, mode = client.rounding.increment_minutes, client.rounding.mode
    # Entries repeat a few hours values, people and categories: each is rounded or rated once. Hours are
    # keyed by their text, since 1.5 and 1.50 are equal but round to differently written minutes.
    minutes: dict[str, Decimal] = {}
    rates: dict[tuple[str, str], Decimal] = {}
    priced = []
    for item in items:
        e = item.entry
        hours = str(e.hours)
        if hours not in minutes:
            minutes[hours] = billed_minutes(e.hours, inc, mode)
        key = (e.person, item.category)
        if key not in rates:
            rates[key] = rate_for(client, e.person, roles.get(e.person), item.category)
        priced.append(Billable(e, item.category, item.rollup, minutes[hours], rates[key]))
    return priced


# ----------------------------------------------------------------------------------------------------
# Lines per billing model


def _line(description: str, category: str, minutes: Decimal, rate: Decimal, ids: list[str]) -> Line:
    return Line(
        description=description,
        category=category,
        quantity=minutes / SIXTY,
        unit_price=rate,
        amount=to_cents(minutes * rate / SIXTY),
        entry_ids=ids,
    )


# Sort keys, in C rather than a lambda per entry.
_row = operator.attrgetter("entry.row")
_date_and_row = operator.attrgetter("entry.date", "entry.row")


def hourly_lines(
    client: Client, items: Sequence[Billable], category_order: dict[str, int], label: Callable[[str], str]
) -> list[Line]:
    """One line per (group, rate); a rollup line per (`into`, rate) after the grouped lines."""
    groups: dict[tuple[object, ...], list[Billable]] = {}
    group_by = client.group_by
    for item in sorted(items, key=_date_and_row):
        e = item.entry
        key: tuple[object, ...]
        if item.rollup is not None:
            key = (2, item.rollup, item.rate)
        elif group_by == "category":
            key = (1, category_order.get(item.category, len(category_order)), item.category, item.rate)
        elif group_by == "task":
            key = (1, e.task, item.rate)
        elif group_by == "person":
            key = (1, e.person, item.rate)
        else:
            key = (1, e.date, e.row)
        groups.setdefault(key, []).append(item)
    rollup_order = [r.rollup.into for r in client.rules if isinstance(r, RollupRule)]

    def order(key: tuple[object, ...]) -> tuple[object, ...]:
        if key[0] == 2:
            return (2, rollup_order.index(str(key[1])), 0, "")
        if client.group_by in ("task", "person"):
            return (1, 0, str(key[1]), "")
        if client.group_by == "category":
            return (*key[:3], "")  # catalogue order; lines of one category at two rates by first entry
        return key

    lines = []
    for key in sorted(groups, key=lambda k: (order(k), min(i.entry.row for i in groups[k]))):
        members = groups[key]
        first = members[0]
        if key[0] == 2:
            description, category = first.rollup or "", ""
        elif client.group_by == "category":
            description, category = label(first.category), first.category
        elif client.group_by == "task":
            description, category = first.entry.task, ""
        elif client.group_by == "person":
            description, category = first.entry.person, ""
        else:  # detailed: the entry keeps its category, so `code` rules (UTBMS-style) reach its line
            description = f"{first.entry.date} {first.entry.person}: {first.entry.notes.strip() or NO_DESCRIPTION}"
            category = first.category
        minutes = sum((i.minutes for i in members), ZERO)
        ids = [i.entry.id for i in sorted(members, key=_row)]
        lines.append(_line(description, category, minutes, first.rate, ids))
    return lines


def retainer_lines(client: Client, items: Sequence[Billable]) -> list[Line]:
    """A "Monthly retainer" line (always, even with no hours) and "Additional hours" past the included."""
    terms = client.billing.retainer
    if terms is None:  # validated away; kept for the type checker
        raise BillingError(f"client {client.id} is billed by retainer but has no retainer terms")
    ids = [i.entry.id for i in sorted(items, key=_row)]
    lines = [Line(description=RETAINER_LINE, category="", quantity=Decimal(1), unit_price=terms.amount,
                  amount=to_cents(terms.amount), entry_ids=ids)]
    minutes = sum((i.minutes for i in items), ZERO)
    excess = minutes - terms.included_hours * SIXTY
    if excess > 0:
        lines.append(_line(OVERAGE_LINE, "", excess, terms.overage_rate, []))
    return lines


def milestone_lines(client: Client, period: Period, tasks: Iterable[Task]) -> list[Line]:
    """One line per milestone task of the client completed inside the period; time is not billed."""
    done = [
        t for t in tasks
        if t.client == client.id and t.milestone_amount is not None and t.status == "done"
        and t.completed_at in period
    ]
    done.sort(key=lambda t: (t.completed_at, t.row))
    return [
        Line(description=t.title or t.id, category="", quantity=Decimal(1), unit_price=t.milestone_amount,
             amount=to_cents(t.milestone_amount), entry_ids=[])
        for t in done
        if t.milestone_amount is not None
    ]


def apply_codes(client: Client, lines: list[Line]) -> list[Line]:
    """Put each `code` rule's code on the lines whose category equals the rule's (first rule wins)."""
    codes: dict[str, str] = {}
    for rule in client.rules:
        if isinstance(rule, CodeRule):
            codes.setdefault(rule.code.category, rule.code.code)
    return [
        line.model_copy(update={"code": codes[line.category]}) if line.category in codes else line
        for line in lines
    ]


def compute_totals(client: Client, lines: Sequence[Line]) -> Totals:
    """Subtotal, then discount, then the cap on the discounted subtotal, then tax on what remains."""
    subtotal = sum((line.amount for line in lines), ZERO)
    discount = ZERO
    for rule in client.rules:
        if isinstance(rule, DiscountRule):
            discount -= to_cents(subtotal * rule.discount.percent / HUNDRED)
    caps = [rule.cap.amount for rule in client.rules if isinstance(rule, CapRule)]
    cap_adjustment = ZERO
    if caps and subtotal + discount > min(caps):
        cap_adjustment = min(caps) - (subtotal + discount)
    taxable = subtotal + discount + cap_adjustment
    tax = to_cents(taxable * client.tax_rate)
    return Totals(
        subtotal=to_cents(subtotal),
        discount=to_cents(discount),
        cap_adjustment=to_cents(cap_adjustment),
        tax=tax,
        total=to_cents(taxable + tax),
    )
