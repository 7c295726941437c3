"""Score replayed drafts against what was really billed (invoices.csv, entry_labels.csv, payment_labels.csv).

Per invoice: total exact to the cent; tax exact where the taxable amount agrees; lines as a multiset of
(description, quantity, unit_price, amount) for precision/recall/F1; the category of every entry billed on
it; held entries and anomalies per kind, over every entry the draft should have accounted for (including
future-dated ones outside the period). Then, across the workspace, payment matching against
payment_labels.csv. Everything is JSON-plain.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from evals.replay import Replayed
from tools.domain import HELD_KINDS, Workspace
from tools.money import format_money
from tools.payments import from_workspace, match_payments
from tools.receivables import from_history

NOT_LINES = frozenset({"discount", "cap_adjustment"})
NOT_SCORED_KINDS = frozenset({"uncertain_category"})
"""Draft anomalies that are not a reviewer's finding (the categorizer's doubt) are not scored."""

LineKey = tuple[str, str, str, str]


@dataclass
class Counts:
    """True positives, false positives and false negatives, with precision, recall and F1."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, truth: Counter[Any], predicted: Counter[Any]) -> None:
        hit = sum((truth & predicted).values())
        self.tp += hit
        self.fp += sum(predicted.values()) - hit
        self.fn += sum(truth.values()) - hit

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def json(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


@dataclass
class Scores:
    invoices: int = 0
    totals_exact: int = 0
    tax_scored: int = 0
    tax_exact: int = 0
    lines: Counts = field(default_factory=Counts)
    categories_right: int = 0
    categories_scored: int = 0
    held: Counts = field(default_factory=Counts)
    anomalies: dict[str, Counts] = field(default_factory=dict)
    payments: int = 0
    payments_right: int = 0
    payments_proposed_right: int = 0
    per_invoice: list[dict[str, Any]] = field(default_factory=list)
    payment_misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def totals_exact_share(self) -> float:
        return self.totals_exact / self.invoices if self.invoices else 1.0

    @property
    def tax_exact_share(self) -> float:
        """Of the invoices whose drafted taxable amount is the billed one, the share whose tax is too."""
        return self.tax_exact / self.tax_scored if self.tax_scored else 1.0

    @property
    def category_accuracy(self) -> float:
        return self.categories_right / self.categories_scored if self.categories_scored else 1.0

    @property
    def payment_accuracy(self) -> float:
        return self.payments_right / self.payments if self.payments else 1.0

    @property
    def anomalies_all(self) -> Counts:
        total = Counts()
        for c in self.anomalies.values():
            total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
        return total

    def summary(self) -> dict[str, Any]:
        return {
            "invoices": self.invoices,
            "totals_exact": self.totals_exact,
            "totals_exact_share": round(self.totals_exact_share, 4),
            "tax_scored": self.tax_scored,
            "tax_exact_share": round(self.tax_exact_share, 4),
            "lines": self.lines.json(),
            "category_accuracy": round(self.category_accuracy, 4),
            "categories_scored": self.categories_scored,
            "held": self.held.json(),
            "anomalies": self.anomalies_all.json(),
            "anomalies_by_kind": {k: c.json() for k, c in sorted(self.anomalies.items())},
            "payments": self.payments,
            "payment_accuracy": round(self.payment_accuracy, 4),
            "payment_proposal_accuracy": round(self.payments_proposed_right / self.payments, 4)
            if self.payments else 1.0,
        }


def _line_key(description: str, quantity: Decimal, unit_price: Decimal, amount: Decimal) -> LineKey:
    return (description, f"{quantity.normalize():f}", f"{unit_price.normalize():f}", format_money(amount))


def should_list(r: Replayed, workspace: Workspace) -> set[str]:
    """The entries a replayed draft must account for, decided from the truth, not from the draft.

    The client's billable entries known at the replay and not billed on an invoice issued before it: those
    dated in the period (its candidates) and those dated after the run's as-of date (year typos, which
    every draft of the client lists as held `future_date`, whatever their date).
    """
    inv = r.invoice
    as_of = inv.period_end + timedelta(days=1)  # the replay's run date: the day after the period
    issued = {i.invoice_number for i in workspace.invoices if i.status in ("sent", "paid") and i.issue_date < as_of}
    billed_before = {lb.entry_id for lb in workspace.labels if lb.billed and lb.invoice_number in issued}
    return {
        e.id for e in r.known.entries
        if e.client == inv.client and e.billable and e.id not in billed_before
        and (inv.period_start <= e.date <= inv.period_end or e.date > as_of)
    }


def score_invoice(r: Replayed, workspace: Workspace, scores: Scores) -> None:
    """Add one replayed invoice to `scores` and record its details in `scores.per_invoice`."""
    inv, draft = r.invoice, r.draft
    labels = {lb.entry_id: lb for lb in workspace.labels}
    entries = {e.id: e for e in workspace.entries}
    scores.invoices += 1
    exact = draft.total == inv.total and draft.currency == inv.currency
    scores.totals_exact += exact
    # Tax and its rounding, apart from everything upstream: a wrong category or line changes the total
    # anyway, so an error in the tax alone would hide among the inexact totals.
    if draft.currency == inv.currency and \
            draft.subtotal + draft.discount + draft.cap_adjustment == inv.subtotal + inv.discount + inv.cap_adjustment:
        scores.tax_scored += 1
        scores.tax_exact += draft.tax == inv.tax

    truth_lines = Counter(_line_key(ln.description, ln.quantity, ln.unit_price, ln.amount)
                          for ln in inv.lines if ln.category not in NOT_LINES)
    drafted_lines = Counter(_line_key(ln.description, ln.quantity, ln.unit_price, ln.amount) for ln in draft.lines)
    scores.lines.add(truth_lines, drafted_lines)

    decisions = {d.entry_id: d for d in draft.entries}
    billed_truth = {eid for eid, lb in labels.items() if lb.billed and lb.invoice_number == inv.invoice_number}
    billed_draft = {d.entry_id for d in draft.entries if d.outcome == "billed"}
    wrong_categories = []
    for eid in sorted(billed_truth):
        decision = decisions.get(eid)
        if decision is None or decision.category is None:
            continue
        scores.categories_scored += 1
        if decision.category == labels[eid].category:
            scores.categories_right += 1
        else:
            wrong_categories.append({"entry_id": eid, "notes": entries[eid].notes, "task": entries[eid].task,
                                     "true": labels[eid].category, "drafted": decision.category,
                                     "why": decision.category_reason})

    # Scope of the anomaly truth: every entry the draft should have looked at (see `should_list`), what it
    # did look at or list, and the client's tasks completed in the period (`unlogged_task` rows carry a task
    # id). Taking the scope from the draft alone would hide exactly the entries it failed to list.
    scope = should_list(r, workspace) | set(decisions) | {a.entry_id for a in draft.anomalies}
    scope |= {t.id for t in workspace.tasks if t.client == inv.client and t.status == "done"
              and t.completed_at is not None and inv.period_start <= t.completed_at <= inv.period_end}
    truth_anomalies = {(eid, labels[eid].anomaly) for eid in scope if eid in labels and labels[eid].anomaly}
    drafted_anomalies = {(a.entry_id, a.kind) for a in draft.anomalies if a.kind not in NOT_SCORED_KINDS}
    for kind in {k for _, k in truth_anomalies} | {k for _, k in drafted_anomalies}:
        counts = scores.anomalies.setdefault(str(kind), Counts())
        counts.add(Counter(p for p in truth_anomalies if p[1] == kind),
                   Counter(p for p in drafted_anomalies if p[1] == kind))
    held_truth = Counter({eid for eid, kind in truth_anomalies if kind in HELD_KINDS})
    held_draft = Counter({a.entry_id for a in draft.anomalies if a.held})
    scores.held.add(held_truth, held_draft)

    reasons = {x.entry_id: x.reason for x in draft.excluded}
    anomaly_of = {a.entry_id: a.kind for a in draft.anomalies if a.kind not in NOT_SCORED_KINDS}

    def why_not_billed(eid: str) -> str:
        d = decisions.get(eid)
        if d is None:
            return "not a candidate of the draft (outside the period, not billable, or already invoiced)"
        if d.outcome == "held":
            return f"held as {anomaly_of.get(eid, '?')}"
        return f"excluded: {reasons.get(eid, '?')}"

    def why_billed(eid: str) -> str:
        lb = labels.get(eid)
        if lb is None:
            return "no label"
        if lb.anomaly in HELD_KINDS:
            return f"a reviewer held it as {lb.anomaly}; the draft did not"
        return f"really {'billed on ' + (lb.invoice_number or '?') if lb.billed else 'not billed'}"

    missing = [{"entry_id": eid, "notes": entries[eid].notes if eid in entries else "", "reason": why_not_billed(eid)}
               for eid in sorted(billed_truth - billed_draft)]
    extra = [{"entry_id": eid, "notes": entries[eid].notes if eid in entries else "", "reason": why_billed(eid)}
             for eid in sorted(billed_draft - billed_truth)]
    scores.per_invoice.append({
        "invoice_number": inv.invoice_number,
        "client": inv.client,
        "billing_model": draft.billing_model,
        "period": f"{inv.period_start}..{inv.period_end}",
        "currency": inv.currency,
        "total_billed": format_money(inv.total),
        "total_drafted": format_money(draft.total),
        "difference": format_money(draft.total - inv.total),
        "exact": exact,
        "lines_missing": [list(k) for k in sorted((truth_lines - drafted_lines).elements())],
        "lines_extra": [list(k) for k in sorted((drafted_lines - truth_lines).elements())],
        "entries_missing": missing,
        "entries_extra": extra,
        "wrong_categories": wrong_categories,
        "anomalies_missed": sorted([eid, kind] for eid, kind in truth_anomalies - drafted_anomalies),
        "anomalies_extra": sorted([eid, kind] for eid, kind in drafted_anomalies - truth_anomalies),
    })


def score_payments(workspace: Workspace, scores: Scores) -> None:
    """Match payments.csv against the issued invoices (paid dates unseen) and compare with the labels.

    Right means: the invoices auto-confirmed equal the labelled ones (a payment the matcher leaves in the
    queue counts as matching nothing). `payments_proposed_right` also counts the queue's proposals.
    """
    if not workspace.payments or not workspace.payment_labels:
        return
    truth = {lb.payment_id: sorted(lb.invoice_numbers) for lb in workspace.payment_labels}
    receivables = [r.model_copy(update={"settled_on": None}) for r in from_history(workspace)]
    matches = match_payments(from_workspace(workspace), receivables, clients=workspace.clients,
                             number_format=workspace.settings.invoice_number_format)
    for m in matches:
        expected = truth.get(m.payment.id, [])
        confirmed = m.invoice_numbers if m.auto else []
        scores.payments += 1
        scores.payments_right += confirmed == expected
        scores.payments_proposed_right += m.invoice_numbers == expected
        if confirmed != expected:
            scores.payment_misses.append({
                "payment_id": m.payment.id, "amount": format_money(m.payment.amount),
                "currency": m.payment.currency, "reference": m.payment.reference, "expected": expected,
                "proposed": m.invoice_numbers, "auto": m.auto, "confidence": m.confidence, "reason": m.reason,
            })


def score(workspace: Workspace, replayed: list[Replayed]) -> Scores:
    scores = Scores()
    for r in replayed:
        score_invoice(r, workspace, scores)
    score_payments(workspace, scores)
    return scores
