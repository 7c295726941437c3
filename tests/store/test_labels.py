"""Learned labels: a reviewer's category wins over an approved invoice's, the latest reviewer wins, one row
per entry; every run merges them into the workspace's labels, and they export as entry_labels.csv."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import date, timedelta

from tests.store.builders import FORMAT, WORKSPACE, make_draft
from tools.domain import EntryLabel, FirmSettings, Workspace
from tools.drafts import Draft
from tools.store import InvoiceRecord, LearnedLabel, Store, with_learned_labels
from tools.store.labels import approved_categories, write_labels_csv


def issue(store: Store, draft: Draft, *, approver: str | None = "ann@firm",
          workspace: str = WORKSPACE) -> InvoiceRecord:
    """Issue the draft the way a run does: the approval is decided first, then the invoice is created."""
    run = store.create_run(workspace, f"invoice {draft.client}")
    if approver is not None:
        store.open_approval(run.id, 1)
        store.decide(run.id, status="approved", actor=approver)
    return store.create_invoice(workspace, draft, run.id, FORMAT)


def review(store: Store, categories: dict[str, str], who: str = "rita@firm",
           workspace: str = WORKSPACE) -> list[LearnedLabel]:
    run = store.create_run(workspace, "invoice Acme for March")
    return store.record_reviewer_labels(workspace, run.id, categories, who)


def learned(store: Store, workspace: str = WORKSPACE) -> dict[str, tuple[str, str, str | None, str | None]]:
    return {label.entry_id: (label.category, label.source, label.invoice_number, label.who)
            for label in store.learned_labels(workspace)}


def with_category(draft: Draft, entry_id: str, category: str, outcome: str = "billed") -> Draft:
    entries = [e.model_copy(update={"category": category, "outcome": outcome}) if e.entry_id == entry_id else e
               for e in draft.entries]
    return draft.model_copy(update={"entries": entries})


# --- one label per entry, by precedence -------------------------------------------------------------


def test_an_approved_invoice_labels_its_entries_with_the_categories_it_used(store: Store) -> None:
    invoice = issue(store, with_category(make_draft("e1", "e2"), "e2", "qa"))

    assert learned(store) == {"e1": ("development", "approved", invoice.number, "ann@firm"),
                              "e2": ("qa", "approved", invoice.number, "ann@firm")}


def test_a_reviewer_label_beats_the_approved_one_and_learns_the_invoice_number(store: Store) -> None:
    review(store, {"e1": "client_meeting"})

    invoice = issue(store, make_draft("e1", "e2"))

    assert learned(store) == {"e1": ("client_meeting", "reviewer", invoice.number, "rita@firm"),
                              "e2": ("development", "approved", invoice.number, "ann@firm")}


def test_a_reviewer_label_replaces_an_approved_one(store: Store) -> None:
    issue(store, make_draft("e1"))

    [label] = review(store, {"e1": "qa"})

    assert (label.category, label.source, label.invoice_number) == ("qa", "reviewer", None)
    assert learned(store)["e1"] == ("qa", "reviewer", None, "rita@firm")


def test_a_later_reviewer_label_replaces_an_earlier_one(store: Store) -> None:
    review(store, {"e1": "design", "e2": "qa"}, who="rita@firm")

    review(store, {"e1": "content"}, who="sam@firm")

    assert learned(store) == {"e1": ("content", "reviewer", None, "sam@firm"),
                              "e2": ("qa", "reviewer", None, "rita@firm")}


def test_a_later_approved_invoice_replaces_an_earlier_approved_label(store: Store) -> None:
    first = issue(store, make_draft("e1"))
    store.void_invoice(first.id, "issued in error")

    again = issue(store, with_category(make_draft("e1"), "e1", "qa"), approver="bo@firm")

    assert learned(store) == {"e1": ("qa", "approved", again.number, "bo@firm")}


def test_entries_excluded_by_a_rule_are_labelled_without_an_invoice_number(store: Store) -> None:
    draft = make_draft("e1")
    excluded = draft.entries[0].model_copy(update={"entry_id": "e2", "category": "internal_meeting",
                                                   "outcome": "excluded", "billed_hours": None})
    held = draft.entries[0].model_copy(update={"entry_id": "e3", "category": None, "outcome": "held"})
    dropped = draft.entries[0].model_copy(update={"entry_id": "e4", "category": None, "outcome": "excluded"})
    invoice = issue(store, draft.model_copy(update={"entries": [*draft.entries, excluded, held, dropped]}))

    assert learned(store) == {"e1": ("development", "approved", invoice.number, "ann@firm"),
                              "e2": ("internal_meeting", "approved", None, "ann@firm")}


def test_an_invoice_created_without_a_recorded_approver_still_labels_its_entries(store: Store) -> None:
    issue(store, make_draft("e1"), approver=None)

    assert learned(store)["e1"][:2] == ("development", "approved") and learned(store)["e1"][3] is None


def test_issuing_the_same_run_again_records_nothing_new(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    store.create_invoice(WORKSPACE, make_draft("e1"), run.id, FORMAT)
    before = store.learned_labels(WORKSPACE)

    store.create_invoice(WORKSPACE, make_draft("e1"), run.id, FORMAT)

    assert store.learned_labels(WORKSPACE) == before


def test_labels_belong_to_their_workspace(store: Store) -> None:
    review(store, {"e1": "qa"}, workspace="/firms/a")
    review(store, {"e1": "design"}, workspace="/firms/b")

    assert learned(store, "/firms/a") == {"e1": ("qa", "reviewer", None, "rita@firm")}
    assert learned(store, "/firms/b") == {"e1": ("design", "reviewer", None, "rita@firm")}


def test_approved_labels_can_be_recorded_on_their_own(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    review(store, {"e2": "qa"})

    store.record_approved_labels(WORKSPACE, run.id, make_draft("e1", "e2"), "INV-2026-0009", who="ann@firm")

    assert learned(store) == {"e1": ("development", "approved", "INV-2026-0009", "ann@firm"),
                              "e2": ("qa", "reviewer", "INV-2026-0009", "rita@firm")}


def test_a_reviewer_and_an_approval_at_once_leave_the_reviewer_label(
    store: Store, make_store: Callable[[], Store]
) -> None:
    entries = [f"e{i}" for i in range(200)]
    reviewer_run = store.create_run(WORKSPACE, "review")
    other = make_store()
    barrier = threading.Barrier(2)

    def approve() -> None:
        barrier.wait()
        issue(other, make_draft(*entries))

    def correct() -> None:
        barrier.wait()
        store.record_reviewer_labels(WORKSPACE, reviewer_run.id, dict.fromkeys(entries, "qa"), "rita@firm")

    threads = [threading.Thread(target=approve), threading.Thread(target=correct)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    labels = learned(store)
    assert len(labels) == 200
    assert {(category, source) for category, source, _, _ in labels.values()} == {("qa", "reviewer")}


# --- what runs learn from ------------------------------------------------------------------------------


def _workspace(*labels: EntryLabel) -> Workspace:
    return Workspace(root="/firm", settings=FirmSettings.model_validate(
        {"firm": "Firm", "base_currency": "GBP", "invoice_number_format": FORMAT,
         "categories": [{"id": "qa", "label": "QA"}]}),
        clients=[], people=[], entries=[], tasks=[], labels=list(labels))


def _label(entry_id: str, category: str, source: str, number: str | None = None) -> LearnedLabel:
    return LearnedLabel.model_validate({"entry_id": entry_id, "category": category, "source": source,
                                        "run_id": "r1", "invoice_number": number, "who": "ann",
                                        "at": "2026-10-02T09:00:00Z"})


def test_a_reviewer_label_overrides_the_file_label_and_keeps_its_history() -> None:
    file_label = EntryLabel(entry_id="e1", category="design", billed=True, invoice_number="INV-2026-0001",
                            anomaly="weekend", row=2)
    workspace = _workspace(file_label, EntryLabel(entry_id="e2", category="qa", row=3))

    merged = with_learned_labels(workspace, [_label("e1", "client_meeting", "reviewer")])

    assert merged.labels == [file_label.model_copy(update={"category": "client_meeting", "source": "reviewer"}),
                             workspace.labels[1]]
    assert workspace.labels[0].category == "design"  # the loaded workspace is not changed


def test_an_approved_label_never_overrides_the_file_but_adds_what_it_lacks() -> None:
    workspace = _workspace(EntryLabel(entry_id="e1", category="design"))

    merged = with_learned_labels(workspace, [_label("e1", "qa", "approved", "INV-2026-0030"),
                                             _label("e9", "qa", "approved", "INV-2026-0030"),
                                             _label("e8", "content", "reviewer")])

    assert [(lb.entry_id, lb.category, lb.billed, lb.invoice_number, lb.source) for lb in merged.labels] == [
        ("e1", "design", False, None, ""), ("e9", "qa", True, "INV-2026-0030", "approved"),
        ("e8", "content", False, None, "reviewer")]


def test_nothing_learned_leaves_the_workspace_as_it_is() -> None:
    workspace = _workspace(EntryLabel(entry_id="e1", category="design"))

    assert with_learned_labels(workspace, []) is workspace


def test_labels_export_as_entry_labels_csv() -> None:
    out = io.StringIO()

    count = write_labels_csv([_label("e1", "qa", "approved", "INV-2026-0030"), _label("e2", "content", "reviewer")],
                             out)

    assert count == 2
    assert out.getvalue() == ("entry_id,category,billed,invoice_number,anomaly\n"
                              "e1,qa,true,INV-2026-0030,\n"
                              "e2,content,false,,\n")


def test_approved_categories_are_those_of_billed_and_rule_excluded_entries() -> None:
    draft = with_category(make_draft("e1", "e2", "e3"), "e2", "internal_meeting", outcome="excluded")
    draft = with_category(draft, "e3", "qa", outcome="held")

    assert approved_categories(draft) == {"e1": ("development", True), "e2": ("internal_meeting", False)}


def test_labels_keep_who_and_when_in_utc(store: Store) -> None:
    [label] = review(store, {"e1": "qa"}, who="rita@firm")

    assert label.who == "rita@firm" and label.run_id
    assert label.at.utcoffset() == timedelta(0) and label.at.date() == date(2026, 4, 1)  # tests.databases.Clock
