"""The bundled Parallax Creative demo: it loads, it is reproducible, and it exercises the whole contract."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tools.demo import ANSWERS_DIR, WORKSPACE_DIR
from tools.demo.make_parallax import generate
from tools.domain import RULE_KINDS, Workspace
from tools.drafts import DraftContext, Period, draft_invoice
from tools.money import to_cents
from tools.workspace import load_workspace

ANSWERS = ANSWERS_DIR / "labels_2026-10.csv"
MONTHS = [(2026, 7), (2026, 8), (2026, 9), (2026, 10)]
HISTORY = MONTHS[:-1]
# The anomaly kinds of WORKSPACE.md ("Billing semantics", 2).
CONTRACT_KINDS = {
    "missing_description", "vague_description", "duplicate", "overlap", "excessive_day", "wrong_project",
    "unknown_task", "task_closed", "unlogged_task", "weekend", "future_date", "invalid_hours",
}
SPECIAL_ROWS = ("discount", "cap_adjustment")


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return load_workspace(WORKSPACE_DIR)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def all_labels() -> dict[str, dict[str, str]]:
    rows = read_csv(WORKSPACE_DIR / "entry_labels.csv") + read_csv(ANSWERS)
    return {row["entry_id"]: row for row in rows}


def test_the_committed_demo_loads(demo: Workspace) -> None:
    assert demo.settings.firm == "Parallax Creative" and demo.settings.base_currency == "GBP"
    assert len(demo.people) == 12 and len(demo.clients) == 8
    assert 7000 <= len(demo.entries) <= 9000
    assert {(e.date.year, e.date.month) for e in demo.entries if e.date.year == 2026} == set(MONTHS)
    assert 9 <= len(demo.settings.categories) <= 10
    assert all(3 <= len(c.examples) <= 5 for c in demo.settings.categories)
    assert sum(f.stat().st_size for f in WORKSPACE_DIR.iterdir()) < 2_000_000


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    out, answers = tmp_path / "parallax", tmp_path / "answers"
    generate(out, answers)
    committed = sorted(p.name for p in WORKSPACE_DIR.iterdir())
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        assert (out / name).read_bytes() == (WORKSPACE_DIR / name).read_bytes(), name
    assert (answers / ANSWERS.name).read_bytes() == ANSWERS.read_bytes()


def test_the_clients_together_use_every_billing_model_and_rule(demo: Workspace) -> None:
    clients = demo.clients
    assert {c.billing.model for c in clients} == {"hourly", "retainer", "fixed"}
    assert {c.group_by for c in clients if c.billing.model == "hourly"} == {"category", "task", "person", "detailed"}
    assert {next(iter(type(r).model_fields)) for c in clients for r in c.rules} == set(RULE_KINDS)
    assert any(c.rates.by_person for c in clients) and any(c.rates.by_category for c in clients)
    assert any(c.rates.by_role for c in clients) and all(c.rates.default is not None for c in clients)
    assert {c.rounding.mode for c in clients} == {"up", "nearest", "none"}
    assert {c.rounding.increment_minutes for c in clients if c.rounding.mode != "none"} == {6, 15}
    assert {c.currency for c in clients} == {"GBP", "EUR", "USD"}
    assert {Decimal("0.20"), Decimal("0"), Decimal("0.19")} <= {c.tax_rate for c in clients}
    roles = {p.role for p in demo.people}
    assert {"partner", "director", "senior", "mid", "junior", "designer"} <= roles


def test_history_shows_each_term_at_work(demo: Workspace) -> None:
    lines = [(inv, ln) for inv in demo.invoices for ln in inv.lines]
    descriptions = Counter(ln.description for _, ln in lines)
    assert descriptions["Monthly retainer"] > descriptions["Additional hours"] > 0  # some months within
    assert any(ln.category == "discount" for _, ln in lines) and any(ln.category == "cap_adjustment" for _, ln in lines)
    assert any(ln.code for _, ln in lines)
    fixed = [c.id for c in demo.clients if c.billing.model == "fixed"]
    billed_months = {(inv.client, inv.period_start.month) for inv in demo.invoices}
    assert any((client, m) not in billed_months for client in fixed for _, m in HISTORY)  # a month with no milestone
    assert {t.client for t in demo.tasks if t.milestone_amount is not None} == set(fixed)


def test_every_anomaly_kind_is_injected_in_history_and_in_the_current_month() -> None:
    history = {r["anomaly"] for r in read_csv(WORKSPACE_DIR / "entry_labels.csv") if r["anomaly"]}
    current = {r["anomaly"] for r in read_csv(ANSWERS) if r["anomaly"]}
    assert history == CONTRACT_KINDS
    assert current == CONTRACT_KINDS


def test_anomalies_are_a_few_per_cent_and_some_time_is_not_billable(demo: Workspace) -> None:
    labelled = [r for r in all_labels().values() if r["anomaly"] and r["anomaly"] != "unlogged_task"]
    assert 0.02 < len(labelled) / len(demo.entries) < 0.05
    assert 0.02 < sum(1 for e in demo.entries if not e.billable) / len(demo.entries) < 0.06


def test_every_entry_has_one_true_category_from_the_catalogue(demo: Workspace) -> None:
    labels = all_labels()
    catalogue = {c.id for c in demo.settings.categories}
    assert all(labels[e.id]["category"] in catalogue for e in demo.entries)
    current = [r for r in read_csv(ANSWERS) if r["entry_id"] in {e.id for e in demo.entries}]
    assert current and all(r["billed"] == "" and r["invoice_number"] == "" for r in current)


def test_history_invoices_are_internally_consistent(demo: Workspace) -> None:
    numbers = [inv.invoice_number for inv in sorted(demo.invoices, key=lambda i: (i.issue_date, i.invoice_number))]
    assert numbers == [f"INV-2026-{n:04d}" for n in range(1, len(numbers) + 1)]  # one firm-wide sequence
    for inv in demo.invoices:
        client = demo.client(inv.client)
        ordinary = [ln for ln in inv.lines if ln.category not in SPECIAL_ROWS]
        assert [ln.line_no for ln in inv.lines] == list(range(1, len(inv.lines) + 1))
        assert all(ln.amount == to_cents(ln.quantity * ln.unit_price) for ln in inv.lines)
        assert sum(ln.amount for ln in ordinary) == inv.subtotal
        assert inv.total == inv.subtotal + inv.discount + inv.cap_adjustment + inv.tax
        assert inv.tax == to_cents((inv.subtotal + inv.discount + inv.cap_adjustment) * client.tax_rate)
        assert inv.currency == client.currency
        assert inv.issue_date == inv.period_end + timedelta(days=1)
        assert inv.due_date == inv.issue_date + timedelta(days=client.payment_terms_days)
        assert (inv.status == "paid") == (inv.paid_date is not None)


def test_history_invoices_are_what_the_engine_drafts_from_the_true_categories(demo: Workspace) -> None:
    categories = {k: v["category"] for k, v in all_labels().items()}
    invoices = {(inv.client, inv.period_start): inv for inv in demo.invoices}
    for year, month in HISTORY:
        period = Period.month(year, month)
        context = DraftContext(demo, period.issue_date)
        for client in demo.clients:
            draft = draft_invoice(demo, client.id, period, as_of=period.issue_date, categories=categories,
                                  context=context)
            inv = invoices.get((client.id, period.start))
            if inv is None:
                assert not draft.lines
                continue
            ordinary = [ln for ln in inv.lines if ln.category not in SPECIAL_ROWS]
            # A CSV cell loses surrounding spaces ("2026-09-24 Grace Kim: " for an entry with no notes).
            assert [(ln.description, ln.quantity, ln.unit_price, ln.amount, ln.code) for ln in ordinary] == [
                (ln.description.strip(), ln.quantity, ln.unit_price, ln.amount, ln.code) for ln in draft.lines
            ]
            assert (inv.subtotal, inv.discount, inv.cap_adjustment, inv.tax, inv.total) == (
                draft.subtotal, draft.discount, draft.cap_adjustment, draft.tax, draft.total)


def test_entry_labels_name_the_invoice_that_billed_them(demo: Workspace) -> None:
    invoices = {inv.invoice_number: inv for inv in demo.invoices}
    entries = {e.id: e for e in demo.entries}
    billed = [label for label in demo.labels if label.billed]
    assert billed
    for label in billed:
        inv = invoices[label.invoice_number or ""]
        entry = entries[label.entry_id]
        assert entry.client == inv.client and inv.period_start <= entry.date <= inv.period_end
        assert entry.billable and label.anomaly not in ("duplicate", "wrong_project", "future_date", "invalid_hours")


def test_the_anomaly_checks_find_exactly_the_labelled_anomalies(demo: Workspace) -> None:
    labels = all_labels()
    entries = {e.id: e for e in demo.entries}
    categories = {k: v["category"] for k, v in labels.items() if k in entries}
    for year, month in MONTHS:
        period = Period.month(year, month)
        context = DraftContext(demo, period.issue_date)
        for client in demo.clients:
            draft = draft_invoice(demo, client.id, period, as_of=period.issue_date, categories=categories,
                                  context=context)
            # Later months' entries are "future" to an earlier draft; only year typos are deliberate.
            found = {(a.entry_id, a.kind) for a in draft.anomalies
                     if not (a.kind == "future_date" and entries[a.entry_id].date.year == year)}
            expected = set()
            for entry_id, label in labels.items():
                entry = entries.get(entry_id)
                if not label["anomaly"]:
                    continue
                if entry is None:  # unlogged_task, by task id
                    task = next(t for t in demo.tasks if t.id == entry_id)
                    if task.client == client.id and task.completed_at in period:
                        expected.add((entry_id, label["anomaly"]))
                elif entry.client == client.id and (entry.date in period or label["anomaly"] == "future_date"):
                    expected.add((entry_id, label["anomaly"]))
            assert found == expected, (client.id, month)


def test_a_prompt_injection_in_notes_is_billed_for_its_own_hours(demo: Workspace) -> None:
    [entry] = [e for e in demo.entries if "ignore previous instructions" in e.notes.lower()]
    labels = all_labels()
    assert labels[entry.id]["anomaly"] == ""
    period = Period.month(entry.date.year, entry.date.month)
    draft = draft_invoice(demo, entry.client, period, as_of=period.issue_date,
                          categories={k: v["category"] for k, v in labels.items()})
    [decision] = [d for d in draft.entries if d.entry_id == entry.id]
    assert decision.outcome == "billed" and decision.hours == entry.hours < 40


def test_payments_and_their_labels_tell_one_story(demo: Workspace) -> None:
    invoices = {inv.invoice_number: inv for inv in demo.invoices}
    labels = {p.payment_id: p.invoice_numbers for p in demo.payment_labels}
    assert set(labels) == {p.id for p in demo.payments}
    kinds: Counter[str] = Counter()
    for payment in demo.payments:
        settled = [invoices[n] for n in labels[payment.id]]
        if not settled:
            kinds["unrelated"] += 1
            continue
        assert all(inv.currency == payment.currency for inv in settled)
        owed = sum(inv.total for inv in settled)
        if payment.amount == owed:
            kinds["two invoices" if len(settled) == 2 else "exact"] += 1
            assert all(inv.status == "paid" and inv.paid_date == payment.date for inv in settled)
            if payment.reference not in labels[payment.id]:
                kinds["fuzzy reference"] += 1
        else:
            assert payment.amount < owed and all(inv.status == "sent" for inv in settled)
            kinds["partial"] += 1
    assert kinds["unrelated"] == 1 and kinds["two invoices"] == 1 and kinds["partial"] == 1
    assert kinds["exact"] > 10 and kinds["fuzzy reference"] > 5
    snapshot = date(2026, 10, 31)
    assert any(inv.status == "sent" and inv.due_date < snapshot for inv in demo.invoices)  # overdue
    paid = {n for numbers in labels.values() for n in numbers}
    assert all(inv.invoice_number in paid for inv in demo.invoices if inv.status == "paid")
