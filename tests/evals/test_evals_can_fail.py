"""Evals that can fail: a bug planted in the product must take the eval's figures below their floors, and
an entry a draft should have listed but did not is counted as missed, not left out of the count."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

import tools.anomalies
import tools.billing
from evals.metrics import score
from evals.replay import Replayed, replay
from evals.report import evaluate
from tests.evals.test_evals import FLOORS
from tools.demo import WORKSPACE_DIR
from tools.domain import Anomaly, Client, TimeEntry, Workspace
from tools.money import to_cents
from tools.workspace import load_workspace


@pytest.fixture(scope="module")
def demo_ws() -> Workspace:
    return load_workspace(WORKSPACE_DIR)


@pytest.fixture(scope="module")
def replayed(demo_ws: Workspace) -> list[Replayed]:
    return replay(demo_ws)


def below_floors(summary: dict[str, Any]) -> dict[str, tuple[float, float]]:
    measured = {"totals_exact_share": summary["totals_exact_share"], "tax_exact_share": summary["tax_exact_share"],
                "lines_f1": summary["lines"]["f1"], "category_accuracy": summary["category_accuracy"],
                "held_precision": summary["held"]["precision"], "held_recall": summary["held"]["recall"],
                "anomaly_precision": summary["anomalies"]["precision"],
                "anomaly_recall": summary["anomalies"]["recall"], "payment_accuracy": summary["payment_accuracy"]}
    return {k: (v, FLOORS[k]) for k, v in measured.items() if k in FLOORS and v < FLOORS[k]}


def test_a_future_dated_entry_a_draft_failed_to_list_is_a_missed_held_entry(
    demo_ws: Workspace, replayed: list[Replayed]
) -> None:
    listed = [(r, a) for r in replayed for a in r.draft.anomalies
              if a.kind == "future_date" and not r.invoice.period_start <= _date(r, a.entry_id) <= r.invoice.period_end]
    assert listed, "the demo has year-typo entries outside the period"
    r, future = listed[0]
    forgetful = r.draft.model_copy(update={"anomalies": [a for a in r.draft.anomalies if a is not future]})
    before = score(demo_ws, [r]).summary()
    after = score(demo_ws, [Replayed(r.invoice, forgetful, r.known)]).summary()
    assert (after["held"]["tp"], after["held"]["fn"]) == (before["held"]["tp"] - 1, before["held"]["fn"] + 1)
    assert after["anomalies_by_kind"]["future_date"]["fn"] == before["anomalies_by_kind"]["future_date"]["fn"] + 1


def _date(r: Replayed, entry_id: str) -> date:
    return next(e.date for e in r.known.entries if e.id == entry_id)


def test_dropping_the_future_date_check_takes_held_and_anomaly_recall_below_their_floors(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_future_dates(entries: Sequence[TimeEntry], as_of: date) -> list[Anomaly]:
        return []

    monkeypatch.setattr(tools.anomalies, "check_future_date", no_future_dates)
    below = below_floors(evaluate(demo_ws)["summary"])
    assert {"held_recall", "anomaly_recall"} <= set(below), below


def test_rounding_tax_down_instead_of_half_up_takes_tax_below_its_floor(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    right = tools.billing.compute_totals
    calls = []

    def tax_rounded_down(client: Client, lines: Sequence[tools.billing.Line]) -> tools.billing.Totals:
        calls.append(client.id)
        totals = right(client, lines)
        taxable = totals.subtotal + totals.discount + totals.cap_adjustment
        tax = (taxable * client.tax_rate).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return totals.model_copy(update={"tax": tax, "total": to_cents(taxable + tax)})

    # Wherever the engine holds a reference to it (drafts imports it by name).
    for module in [m for name, m in sys.modules.items() if name.startswith(("tools.", "evals.", "agent."))]:
        if getattr(module, "compute_totals", None) is right:
            monkeypatch.setattr(module, "compute_totals", tax_rounded_down)
    below = below_floors(evaluate(demo_ws)["summary"])
    assert calls, "the planted bug was not reached"
    # Only one demo invoice has a tax with half a cent (EUR 21487.50 x 0.19 = 4082.625): both the tax figure
    # and the share of exact totals (its floor within one invoice of the measured figure) catch it.
    assert {"tax_exact_share", "totals_exact_share"} <= set(below), below
