"""Draft an invoice for one client and period: candidates, anomalies, categories, the billing engine.

`draft_invoice` is deterministic: the same workspace, client, period and as-of date give the same draft.
A `DraftContext` holds what every client's draft of one run shares (the anomaly scan of the whole
workspace, entries by client, the trained categorizer), so drafting 200 clients costs one scan, not 200.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from tools.anomalies import detect_anomalies
from tools.billing import (
    Billable,
    Exclusion,
    Line,
    apply_codes,
    apply_entry_rules,
    compute_totals,
    hourly_lines,
    milestone_lines,
    price,
    retainer_lines,
)
from tools.domain import HELD_KINDS, Anomaly, Client, Task, TimeEntry, Workspace
from tools.money import ZERO, format_money, format_quantity
from tools.numbering import next_invoice_number
from tools.periods import Period
from tools.reconcile import TaskIndex, find_unlogged_tasks, logged_task_ids
from tools.stakes import stakes
from tools.vagueness import VagueNotes

if TYPE_CHECKING:
    from tools.categorize import Categorizer, Decision

__all__ = ["Draft", "DraftAnomaly", "DraftContext", "EntryDecision", "Period", "draft_invoice"]

FIXED_FEE_REASON = "fixed-fee client: time is not billed, only completed milestones"


class DraftAnomaly(BaseModel):
    entry_id: str
    kind: str
    held: bool
    message: str
    at_stake: Decimal | None = None
    """For `uncertain_category`: the most an alternative category would change the entry's amount."""


class EntryDecision(BaseModel):
    """What the draft did with one candidate entry, for the reviewer."""

    entry_id: str
    date: date
    person: str
    notes: str
    hours: Decimal
    billed_hours: Decimal | None = None
    rate: Decimal | None = None
    category: str | None = None
    confidence: float | None = None
    category_reason: str = ""
    alternatives: dict[str, float] = Field(default_factory=dict)
    """The categorizer's runners-up and their probabilities, most likely first."""
    outcome: Literal["billed", "excluded", "held"]


class Draft(BaseModel):
    client: str
    client_name: str
    period_start: date
    period_end: date
    currency: str
    issue_date: date
    due_date: date
    invoice_number: str
    billing_model: str
    lines: list[Line]
    subtotal: Decimal
    discount: Decimal
    cap_adjustment: Decimal
    tax: Decimal
    total: Decimal
    anomalies: list[DraftAnomaly]
    excluded: list[Exclusion]
    entries: list[EntryDecision]
    categories: dict[str, str] = Field(default_factory=dict)
    """The category used for every entry on a line or excluded by a client rule."""

    @property
    def held(self) -> list[DraftAnomaly]:
        return [a for a in self.anomalies if a.held]

    @property
    def is_empty(self) -> bool:
        """A fixed-fee month with no milestone (or a period with nothing to bill) gives no invoice."""
        return not self.lines

    def contract_json(self) -> dict[str, Any]:
        """The draft exactly as the workspace contract's JSON: money and quantities as decimal strings."""
        return {
            "client": self.client,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "currency": self.currency,
            "lines": [
                {
                    "description": ln.description,
                    "category": ln.category,
                    "quantity": format_quantity(ln.quantity),
                    "unit_price": format_quantity(ln.unit_price),
                    "amount": format_money(ln.amount),
                    "code": ln.code,
                    "entry_ids": ln.entry_ids,
                }
                for ln in self.lines
            ],
            "subtotal": format_money(self.subtotal),
            "discount": format_money(self.discount),
            "cap_adjustment": format_money(self.cap_adjustment),
            "tax": format_money(self.tax),
            "total": format_money(self.total),
            "anomalies": [a.model_dump(include={"entry_id", "kind", "held", "message"}) for a in self.anomalies],
            "excluded": [x.model_dump() for x in self.excluded],
            "categories": self.categories,
        }


class DraftContext:
    """What all drafts of one run share: computed once per workspace and as-of date."""

    def __init__(self, workspace: Workspace, as_of: date | None = None) -> None:
        self.workspace = workspace
        self.as_of = as_of or date.today()
        self.tasks = TaskIndex(workspace.tasks)
        self.anomalies = detect_anomalies(workspace.entries, self.tasks, self.as_of, vague=VagueNotes.learn(workspace))
        self.logged_tasks = logged_task_ids(workspace.entries, self.tasks)
        self.invoiced = already_invoiced(workspace, self.as_of)
        self.by_client: dict[str, list[TimeEntry]] = defaultdict(list)
        # What every draft of a client starts from, whatever its period: billable entries not yet invoiced,
        # and among them those dated after the as-of date (listed on every draft of their client).
        self.open_by_client: dict[str, list[TimeEntry]] = defaultdict(list)
        self.future_by_client: dict[str, list[TimeEntry]] = defaultdict(list)
        for entry in workspace.entries:
            self.by_client[entry.client].append(entry)
            if entry.billable and entry.id not in self.invoiced:
                self.open_by_client[entry.client].append(entry)
                if entry.date > self.as_of:
                    self.future_by_client[entry.client].append(entry)
        self.tasks_by_client: dict[str, list[Task]] = defaultdict(list)
        for task in workspace.tasks:
            self.tasks_by_client[task.client].append(task)
        self.roles = {p.person: p.role for p in workspace.people}
        self.category_order = {c.id: i for i, c in enumerate(workspace.settings.categories)}
        self._categorizers: dict[date, Categorizer] = {}

    def categorizer(self, before: date) -> Categorizer:
        """The offline categorizer trained on the catalogue and the labels of entries dated before `before`."""
        if before not in self._categorizers:
            from tools.categorize import Categorizer

            categorizer = self._categorizers[before] = Categorizer.train(self.workspace, before=before)
            # Every client's open entries in one batch: the feature blocks are built once per distinct
            # entry, not once per client (a draft of 200 clients then only looks decisions up).
            categorizer.decide_many(e for entries in self.open_by_client.values() for e in entries
                                    if e.date >= before)
        return self._categorizers[before]


def already_invoiced(workspace: Workspace, as_of: date) -> set[str]:
    """Entries billed on an invoice that was issued (sent or paid, not void) before the as-of date."""
    issued = {
        inv.invoice_number
        for inv in workspace.invoices
        if inv.status in ("sent", "paid") and inv.issue_date < as_of
    }
    return {
        label.entry_id
        for label in workspace.labels
        if label.billed and label.invoice_number and label.invoice_number in issued
    }


def draft_invoice(
    workspace: Workspace,
    client_id: str,
    period: Period,
    *,
    as_of: date | None = None,
    categories: Mapping[str, str] | None = None,
    dropped: Mapping[str, str] | None = None,
    context: DraftContext | None = None,
) -> Draft:
    """Draft one client's invoice for a period, exactly per the workspace contract.

    Args:
        workspace: the loaded workspace.
        client_id: the client's id in clients.yaml.
        period: the billing period (both ends included).
        as_of: the run's date; entries after it are held as `future_date` (default: today).
        categories: known categories by entry id (e.g. decided by a person); others are inferred.
        dropped: entries a reviewer took off this invoice, by id, with the reason; listed as excluded.
        context: a shared `DraftContext` when drafting many clients in one run.
    """
    ctx = context if context is not None else DraftContext(workspace, as_of)
    client = workspace.client(client_id)
    start, end = period.start, period.end
    entries = [e for e in ctx.open_by_client.get(client.id, []) if start <= e.date <= end]
    anomalies: list[DraftAnomaly] = []
    decisions: dict[str, EntryDecision] = {}
    billable: list[TimeEntry] = []
    for e in entries:
        found = ctx.anomalies.get(e.id)
        if not found:  # most entries
            billable.append(e)
            continue
        anomalies += [_shown(a) for a in found]
        if any(a.kind in HELD_KINDS for a in found):
            decisions[e.id] = _decision(e, "held")
        else:
            billable.append(e)

    excluded = []
    if dropped:
        excluded = [Exclusion(entry_id=e.id, reason=f"dropped by reviewer: {dropped[e.id]}")
                    for e in billable if e.id in dropped]
        billable = [e for e in billable if e.id not in dropped]
    chosen = _categorize(ctx, client, billable, period, categories)
    anomalies += _future_outside(ctx, client, period)
    tasks = ctx.tasks_by_client.get(client.id, [])
    anomalies += [_shown(a) for a in find_unlogged_tasks(client.id, period, tasks, ctx.logged_tasks)]

    items = [Billable(e, chosen[e.id].category) for e in billable]
    kept, by_rule = apply_entry_rules(client, items)
    excluded += by_rule
    if client.billing.model == "fixed":
        lines = milestone_lines(client, period, tasks)
        excluded += [Exclusion(entry_id=i.entry.id, reason=FIXED_FEE_REASON) for i in kept]
        priced: list[Billable] = []
    else:
        priced = price(client, kept, ctx.roles)
        if client.billing.model == "retainer":
            lines = retainer_lines(client, priced)
        else:
            lines = hourly_lines(client, priced, ctx.category_order, workspace.category_label)
    lines = apply_codes(client, lines)
    totals = compute_totals(client, lines)
    if client.billing.model != "fixed":
        anomalies += _doubts(client, items, priced, chosen, ctx.roles)

    by_id = {e.id: e for e in entries}
    for x in excluded:
        decisions[x.entry_id] = _decision(by_id[x.entry_id], "excluded", chosen.get(x.entry_id))
    for item in priced:
        decisions[item.entry.id] = _decision(item.entry, "billed", chosen[item.entry.id], item)
    # Every entry on a line or excluded by a client rule (a fixed fee bills no entry's time).
    ruled_out = {x.entry_id for x in by_rule}
    used = {i.entry.id: i.category for i in items if client.billing.model != "fixed" or i.entry.id in ruled_out}
    issue = period.issue_date
    return Draft(
        client=client.id,
        client_name=client.name,
        period_start=period.start,
        period_end=period.end,
        currency=client.currency,
        issue_date=issue,
        due_date=issue + timedelta(days=client.payment_terms_days),
        invoice_number=next_invoice_number(
            workspace.settings.invoice_number_format, (i.invoice_number for i in workspace.invoices), issue
        ),
        billing_model=client.billing.model,
        lines=lines,
        **totals.model_dump(),
        anomalies=anomalies,
        excluded=excluded,
        entries=[decisions[e.id] for e in entries],
        categories=used,
    )


def _shown(anomaly: Anomaly) -> DraftAnomaly:
    return DraftAnomaly(entry_id=anomaly.entry_id, kind=anomaly.kind, held=anomaly.held, message=anomaly.message)


def _decision(
    e: TimeEntry,
    outcome: Literal["billed", "excluded", "held"],
    cat: Decision | None = None,
    item: Billable | None = None,
) -> EntryDecision:
    return EntryDecision(
        entry_id=e.id, date=e.date, person=e.person, notes=e.notes, hours=e.hours,
        billed_hours=item.minutes / 60 if item else None, rate=item.rate if item else None,
        category=cat.category if cat else None, confidence=cat.confidence if cat else None,
        category_reason=cat.reason if cat else "", alternatives=dict(cat.alternatives) if cat else {},
        outcome=outcome,
    )


def _categorize(
    ctx: DraftContext,
    client: Client,
    entries: list[TimeEntry],
    period: Period,
    given: Mapping[str, str] | None,
) -> dict[str, Decision]:
    from tools.categorize import Decision

    given = given or {}
    chosen = {
        e.id: Decision(category=given[e.id], confidence=1.0, reason="category given", uncertain=False)
        for e in entries
        if e.id in given
    }
    rest = [e for e in entries if e.id not in given]
    if rest:
        chosen.update(ctx.categorizer(period.start).decide_many(rest))
    return chosen


def _doubts(client: Client, items: list[Billable], priced: list[Billable], chosen: Mapping[str, Decision],
            roles: dict[str, str]) -> list[DraftAnomaly]:
    """An `uncertain_category` flag per doubtful entry, naming what each alternative would change;
    the most money at stake first."""
    counted = sum((i.minutes for i in priced), ZERO)
    flags = []
    for item in items:
        cat = chosen[item.entry.id]
        if not cat.uncertain:
            continue
        at = stakes(client, item, [c for c, _ in cat.alternatives], roles, counted)
        ifs = at.describe(client.currency)
        flags.append(DraftAnomaly(
            entry_id=item.entry.id, kind="uncertain_category", held=False, at_stake=at.at_stake,
            message=f"category {cat.category} may be wrong ({cat.confidence:.0%} sure: {cat.doubt}); "
                    f"{ifs + '; ' if ifs else ''}{cat.reason}"))
    return sorted(flags, key=lambda a: -(a.at_stake or ZERO))


def _future_outside(ctx: DraftContext, client: Client, period: Period) -> list[DraftAnomaly]:
    """Future-dated entries outside the period: listed (held) on every draft of their client."""
    return [
        _shown(a)
        for e in ctx.future_by_client.get(client.id, [])
        if e.date not in period
        for a in ctx.anomalies.get(e.id, [])
        if a.kind == "future_date"
    ]
