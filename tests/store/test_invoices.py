"""Invoices: numbered from one firm-wide sequence, each entry billed once, one invoice per run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from tests.store.builders import APRIL, FORMAT, MARCH, WORKSPACE, make_draft
from tools.billing import Line
from tools.drafts import Draft
from tools.periods import Period
from tools.store import (
    AlreadyBilledError,
    InvalidTransitionError,
    InvoiceRecord,
    NothingToInvoiceError,
    RecordNotFoundError,
    Store,
)


def issue(store: Store, draft: Draft, *, history: tuple[str, ...] = (), on: date | None = None,
          workspace: str = WORKSPACE) -> InvoiceRecord:
    run = store.create_run(workspace, f"invoice {draft.client}")
    return store.create_invoice(workspace, draft, run.id, FORMAT, issue_date=on, history_numbers=history)


# --- numbering ------------------------------------------------------------------------------------


def test_the_first_invoice_of_a_new_firm_is_number_one(store: Store) -> None:
    assert issue(store, make_draft("e1")).number == "INV-2026-0001"


def test_numbering_continues_the_history_sequence_across_years(store: Store) -> None:
    history = ("INV-2024-0007", "INV-2025-0041", "not-a-number", "INV-2025-0039")

    first = issue(store, make_draft("e1"), history=history, on=date(2026, 1, 5))
    second = issue(store, make_draft("e2"), history=history, on=date(2026, 2, 1))
    next_year = issue(store, make_draft("e3"), history=history, on=date(2027, 1, 4))

    # One firm-wide sequence: the year is printed, the sequence does not restart with it.
    assert [first.number, second.number, next_year.number] == ["INV-2026-0042", "INV-2026-0043", "INV-2027-0044"]


def test_the_history_is_only_a_floor_for_the_store_own_sequence(store: Store) -> None:
    issue(store, make_draft("e1"), history=("INV-2025-0041",))

    # A caller that passes an older or empty history cannot make a number repeat.
    assert issue(store, make_draft("e2")).number == "INV-2026-0043"


def test_each_workspace_has_its_own_sequence(store: Store) -> None:
    issue(store, make_draft("e1"), history=("INV-2025-0041",))

    assert issue(store, make_draft("e1"), workspace="other-firm").number == "INV-2026-0001"


def test_the_due_date_keeps_the_terms_when_the_issue_date_moves(store: Store) -> None:
    invoice = issue(store, make_draft("e1"), on=date(2026, 4, 10))

    assert (invoice.issue_date, invoice.due_date) == (date(2026, 4, 10), date(2026, 5, 10))


def test_invoices_created_at_once_get_distinct_consecutive_numbers(
    store: Store, make_store: Callable[[], Store]
) -> None:
    workers = [make_store() for _ in range(6)]
    runs = [store.create_run(WORKSPACE, f"run {i}").id for i in range(len(workers))]
    barrier = threading.Barrier(len(workers))
    numbers: list[str] = []
    lock = threading.Lock()

    def create(worker: Store, i: int) -> None:
        barrier.wait()
        invoice = worker.create_invoice(WORKSPACE, make_draft(f"e{i}"), runs[i], FORMAT)
        with lock:
            numbers.append(invoice.number)

    threads = [threading.Thread(target=create, args=(w, i)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(numbers) == [f"INV-2026-{n:04d}" for n in range(1, len(workers) + 1)]


# --- an entry is billed once ----------------------------------------------------------------------


def test_an_entry_cannot_be_on_two_live_invoices(store: Store) -> None:
    first = issue(store, make_draft("e1", "e2"))

    with pytest.raises(AlreadyBilledError) as raised:
        issue(store, make_draft("e2", "e3", period=APRIL))

    assert raised.value.entries == {"e2": first.number}
    assert "e2 (on INV-2026-0001)" in str(raised.value)
    assert store.billed_entry_ids(WORKSPACE) == {"e1", "e2"}
    assert len(store.list_invoices(WORKSPACE)) == 1  # nothing of the refused invoice was kept


def test_the_same_entry_id_in_another_workspace_is_another_entry(store: Store) -> None:
    issue(store, make_draft("e1"))

    issue(store, make_draft("e1"), workspace="other-firm")

    assert store.billed_entry_ids("other-firm") == {"e1"}


def test_two_runs_billing_the_same_entries_at_once_issue_one_invoice(
    store: Store, make_store: Callable[[], Store]
) -> None:
    workers = [make_store(), make_store()]
    runs = [store.create_run(WORKSPACE, f"run {i}").id for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(worker: Store, run_id: str) -> None:
        barrier.wait()
        try:
            worker.create_invoice(WORKSPACE, make_draft("e1", "e2"), run_id, FORMAT)
            outcomes.append("issued")
        except AlreadyBilledError:
            outcomes.append("refused")

    threads = [threading.Thread(target=create, args=(w, r)) for w, r in zip(workers, runs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["issued", "refused"]
    assert len(store.list_invoices(WORKSPACE)) == 1


def test_voiding_an_invoice_releases_its_entries_for_billing_again(store: Store) -> None:
    voided = issue(store, make_draft("e1", "e2"))

    after = store.void_invoice(voided.id, "billed at the wrong rate")

    assert (after.status, after.void_reason) == ("void", "billed at the wrong rate")
    assert all(not e.active for e in after.entries)
    assert store.billed_entry_ids(WORKSPACE) == set()
    rebilled = issue(store, make_draft("e1", "e2", rate="120.00"))
    assert rebilled.number == "INV-2026-0002"  # a voided number is never reused
    assert store.billed_entry_ids(WORKSPACE) == {"e1", "e2"}


def test_entries_named_only_by_a_line_are_bound_too(store: Store) -> None:
    # A retainer's "Monthly retainer" line lists every counted entry.
    draft = make_draft("e1")
    retainer = Line(description="Monthly retainer", category="", quantity=Decimal(1), unit_price=draft.subtotal,
                    amount=draft.subtotal, entry_ids=["e1", "e9"])
    invoice = issue(store, draft.model_copy(update={"lines": [retainer]}))

    assert {e.entry_id for e in invoice.entries} == {"e1", "e9"}


def test_entries_the_draft_did_not_bill_stay_free(store: Store) -> None:
    draft = make_draft("e1")
    excluded = draft.entries[0].model_copy(update={"entry_id": "e2", "outcome": "excluded", "billed_hours": None})
    issue(store, draft.model_copy(update={"entries": [*draft.entries, excluded]}))

    assert store.billed_entry_ids(WORKSPACE) == {"e1"}


# --- one invoice per run --------------------------------------------------------------------------


def test_creating_the_invoice_again_for_the_same_run_returns_the_first(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    first = store.create_invoice(WORKSPACE, make_draft("e1"), run.id, FORMAT)

    again = store.create_invoice(WORKSPACE, make_draft("e1"), run.id, FORMAT)

    assert again == first
    assert store.invoice_for_run(run.id) == first
    assert issue(store, make_draft("e2")).number == "INV-2026-0002"  # the retry used no number


def test_an_invoice_needs_lines_and_a_known_run(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    with pytest.raises(NothingToInvoiceError):
        store.create_invoice(WORKSPACE, make_draft("e1").model_copy(update={"lines": []}), run.id, FORMAT)
    with pytest.raises(RecordNotFoundError, match="no run 'missing'"):
        store.create_invoice(WORKSPACE, make_draft("e1"), "missing", FORMAT)


def test_every_invoice_has_its_own_idempotency_key_for_the_ledger(store: Store) -> None:
    keys = {issue(store, make_draft(f"e{i}")).idempotency_key for i in range(3)}

    assert len(keys) == 3


# --- after approval: pushed, sent, paid -----------------------------------------------------------


def test_an_invoice_is_pushed_then_sent(store: Store) -> None:
    invoice = issue(store, make_draft("e1"))
    assert invoice.status == "approved"

    pushed = store.mark_pushed(invoice.id, "local", "INV-2026-0001")
    sent = store.mark_sent(invoice.id)

    assert (pushed.status, pushed.ledger, pushed.ledger_ref) == ("pushed", "local", "INV-2026-0001")
    assert sent.status == "sent" and sent.sent_at is not None and sent.pushed_at == pushed.pushed_at
    assert store.find_invoice(WORKSPACE, "INV-2026-0001") == sent


def test_repeating_a_push_or_a_send_changes_nothing(store: Store) -> None:
    invoice = issue(store, make_draft("e1"))
    pushed = store.mark_pushed(invoice.id, "local", "ref-1")

    assert store.mark_pushed(invoice.id, "local", "ref-1") == pushed
    sent = store.mark_sent(invoice.id)
    assert store.mark_sent(invoice.id) == sent
    with pytest.raises(InvalidTransitionError):
        store.mark_pushed(invoice.id, "local", "ref-2")  # a second ledger copy would be a second bill


def test_an_invoice_is_not_sent_before_it_is_pushed(store: Store) -> None:
    invoice = issue(store, make_draft("e1"))

    with pytest.raises(InvalidTransitionError, match="is approved; it cannot become sent"):
        store.mark_sent(invoice.id)


def test_a_paid_invoice_cannot_be_voided(store: Store) -> None:
    invoice = issue(store, make_draft("e1"))
    store.mark_pushed(invoice.id, "local", "ref-1")
    store.mark_paid(invoice.id)

    with pytest.raises(InvalidTransitionError):
        store.void_invoice(invoice.id, "client disputes it")
    assert store.billed_entry_ids(WORKSPACE) == {"e1"}


def test_invoices_are_listed_by_status_and_client(store: Store) -> None:
    a = issue(store, make_draft("e1"))
    issue(store, make_draft("e2", client="beta"))
    store.void_invoice(a.id, "duplicate")

    assert [i.client for i in store.list_invoices(WORKSPACE, status="approved")] == ["beta"]
    assert [i.status for i in store.list_invoices(WORKSPACE, client="acme")] == ["void"]


# --- is this client+period already being billed? --------------------------------------------------


def test_nothing_is_active_for_a_new_client_and_period(store: Store) -> None:
    assert store.find_active(WORKSPACE, "acme", MARCH) is None


def test_a_draft_awaiting_approval_is_active_work(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    store.save_draft(run.id, make_draft("e1"))
    store.open_approval(run.id, 1)

    found = store.find_active(WORKSPACE, "acme", MARCH)

    assert found is not None
    assert (found.kind, found.run_id, found.status) == ("awaiting_approval", run.id, "pending")
    assert store.find_active(WORKSPACE, "acme", MARCH, exclude_run=run.id) is None
    assert store.find_active(WORKSPACE, "beta", MARCH) is None
    assert store.find_active(WORKSPACE, "acme", APRIL) is None


def test_a_live_invoice_is_active_work_for_any_overlapping_period(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    store.save_draft(run.id, make_draft("e1"))
    store.open_approval(run.id, 1)
    store.decide(run.id, "approved", "ann")
    invoice = store.create_invoice(WORKSPACE, make_draft("e1"), run.id, FORMAT)

    found = store.find_active(WORKSPACE, "acme", Period.parse("2026-03-15..2026-04-15"))

    assert found is not None
    assert (found.kind, found.invoice_number, found.invoice_id) == ("invoice", invoice.number, invoice.id)
    assert invoice.number in found.describe()


def test_rejected_drafts_and_void_invoices_are_not_active(store: Store) -> None:
    rejected = store.create_run(WORKSPACE, "invoice Acme for March")
    store.save_draft(rejected.id, make_draft("e1"))
    store.open_approval(rejected.id, 1)
    store.decide(rejected.id, "rejected", "ann")
    voided = issue(store, make_draft("e1"))
    store.void_invoice(voided.id, "wrong client")

    assert store.find_active(WORKSPACE, "acme", MARCH) is None
