"""Replay a workspace's history: draft every past invoice again with only what was known before its period.

For an invoice of period P (start S, end E) the replayed workspace holds:
- the time entries dated up to E (later ones did not exist yet), plus the entries dated after the run's
  date whose same month and day in an earlier year falls in P (year typos, logged during P: they are
  what `future_date` is about);
- the entry labels of entries dated before S and the invoices whose period ended before S (so earlier
  billing is known and the categorizer learns only from the past; this invoice's own labels are unseen);
- the run's as-of date is E + 1 day (the day the invoice is issued).

`drafter` decides how a draft is made: `engine_drafter` is exactly what the offline agent's
`draft_invoice` tool computes (`tools.drafts.draft_invoice` with a shared `DraftContext`);
`agent_drafter` (evals/agent_path.py) drives the real graph with any `Model`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from tools.domain import HistoricalInvoice, TimeEntry, Workspace
from tools.drafts import Draft, DraftContext, draft_invoice
from tools.periods import Period

Drafter = Callable[[Workspace, DraftContext, str, Period], Draft]
"""(replayed workspace, its shared context, client id, period) -> the draft."""


@dataclass
class Replayed:
    invoice: HistoricalInvoice
    draft: Draft
    known: Workspace
    """The workspace as it was known when the invoice was drafted."""


def _logged_during(entry: TimeEntry, period: Period, as_of: date) -> bool:
    if entry.date <= period.end:
        return True
    if entry.date <= as_of:
        return False
    for back in range(1, 4):  # a year typo: the same day, one to three years earlier
        try:
            day = entry.date.replace(year=entry.date.year - back)
        except ValueError:  # 29 February
            continue
        if day in period:
            return True
    return False


def known_before(workspace: Workspace, period: Period) -> Workspace:
    """The workspace as it stood when `period` was invoiced (see the module docstring)."""
    as_of = period.issue_date
    entries = [e for e in workspace.entries if _logged_during(e, period, as_of)]
    dated = {e.id: e.date for e in workspace.entries}
    labels = [lb for lb in workspace.labels if lb.entry_id in dated and dated[lb.entry_id] < period.start]
    invoices = [inv for inv in workspace.invoices if inv.period_end < period.start]
    return workspace.model_copy(update={
        "entries": entries, "labels": labels, "invoices": invoices, "payments": [], "payment_labels": [],
    })


def engine_drafter(known: Workspace, context: DraftContext, client_id: str, period: Period) -> Draft:
    """What the offline agent's `draft_invoice` tool computes: the engine with the shared context."""
    return draft_invoice(known, client_id, period, context=context)


def replay(workspace: Workspace, drafter: Drafter = engine_drafter) -> list[Replayed]:
    """Draft every historical (not void) invoice again, in invoice-number order."""
    by_period: dict[Period, list[HistoricalInvoice]] = defaultdict(list)
    for invoice in workspace.invoices:
        if invoice.status != "void":
            by_period[Period(start=invoice.period_start, end=invoice.period_end)].append(invoice)
    out: list[Replayed] = []
    for period in sorted(by_period, key=lambda p: (p.start, p.end)):
        known = known_before(workspace, period)
        context = DraftContext(known, period.end + timedelta(days=1))
        for invoice in by_period[period]:
            out.append(Replayed(invoice, drafter(known, context, invoice.client, period), known))
    return sorted(out, key=lambda r: r.invoice.invoice_number)
