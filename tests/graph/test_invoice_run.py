"""The invoice run end to end: request -> draft -> review -> approval interrupt -> invoice, push, send."""

from __future__ import annotations

import itertools
import json
import threading
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from agent.review import Review
from agent.testing import ScriptedModel, call, turn
from api.settings import Settings
from graph.nodes import Decision
from graph.runs import InvoiceRuns, RunInterruptedError, RunNotWaitingError
from tests.graph.conftest import OpenRuns
from tools.connectors.local_ledger import LocalLedger
from tools.revisions import Revisions
from tools.store import DatabaseUnavailableError, Store

APPROVE = Decision(action="approve", actor="ann@firm")
EXPECTED = json.loads((Path(__file__).parents[1] / "fixtures/tiny/answers/acme-2026-03.json").read_text())


def review_of(runs: InvoiceRuns, run_id: str) -> Review:
    record = runs.rt.store.latest_draft(run_id)
    assert record is not None and record.review is not None
    return Review.model_validate(record.review)


def test_a_request_becomes_a_draft_waiting_for_approval_and_nothing_is_pushed(runs: InvoiceRuns,
                                                                               settings: Settings) -> None:
    [outcome] = runs.request("invoice Acme for March")
    assert outcome.status == "awaiting_approval" and outcome.run_id
    review = review_of(runs, outcome.run_id)
    assert review.source == "offline" and review.notes == []
    assert {a.kind: a.action for a in review.anomalies}["duplicate"] == "drop"
    assert "780.00 GBP" in review.cover_email
    draft = runs.rt.store.latest_draft(outcome.run_id)
    assert draft is not None and draft.draft.contract_json()["total"] == EXPECTED["total"] == "780.00"
    assert "4 held" not in outcome.message and "Held off the invoice until you decide: 4" in outcome.message
    assert [a.run_id for a in runs.waiting()] == [outcome.run_id]
    assert not (settings.data_dir / "outbox").exists() or not list((settings.data_dir / "outbox").iterdir())
    assert runs.rt.store.invoice_for_run(outcome.run_id) is None


def test_approving_numbers_pushes_and_sends_the_invoice_once(runs: InvoiceRuns, settings: Settings) -> None:
    [outcome] = runs.request("invoice Acme for March")
    assert outcome.run_id
    done = runs.decide(outcome.run_id, APPROVE)
    assert done.status == "sent"
    invoice = runs.rt.store.invoice_for_run(outcome.run_id)
    assert invoice is not None and invoice.number == "TS-2026-0001" and str(invoice.total) == "780.00"
    assert invoice.status == "sent" and invoice.ledger == "local"
    [eml] = (settings.data_dir / "outbox").glob("*.eml")
    email = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert email["To"] == "Acme Industries Ltd <ap@acme.example>" and "TS-2026-0001" in email["Subject"]
    assert [p.get_filename() for p in email.iter_attachments()] == ["TS-2026-0001.pdf"]
    billed = runs.rt.store.billed_entry_ids(runs.rt.workspace.root)
    assert billed == {"e1", "e2", "e3", "e5", "e7", "e8"}
    with pytest.raises(RunNotWaitingError, match=r"already decided|not waiting"):
        runs.decide(outcome.run_id, APPROVE)
    assert len(list((settings.data_dir / "outbox").glob("*.eml"))) == 1


def test_approval_from_a_new_process_after_the_first_exited(runs_on: OpenRuns) -> None:
    with runs_on() as first:
        [outcome] = first.request("invoice Acme for March")
    assert outcome.run_id
    with runs_on() as second:
        assert [a.run_id for a in second.waiting()] == [outcome.run_id]
        assert second.decide(outcome.run_id, APPROVE).status == "sent"


def test_a_second_run_for_the_same_client_and_period_says_so_instead_of_billing_again(runs: InvoiceRuns) -> None:
    [first] = runs.request("invoice Acme for March")
    [again] = runs.request("invoice acme for 2026-03")
    assert again.status == "exists" and again.run_id == first.run_id and "draft" in again.message
    assert first.run_id
    runs.decide(first.run_id, APPROVE)
    [after] = runs.request("invoice Acme for March")
    assert after.status == "exists" and "TS-2026-0001" in after.message


def test_rejecting_then_running_again_starts_a_fresh_draft(runs: InvoiceRuns) -> None:
    [first] = runs.request("invoice Acme for March")
    assert first.run_id
    rejected = runs.decide(first.run_id, Decision(action="reject", actor="ann@firm", reason="wrong month"))
    assert rejected.status == "rejected" and runs.rt.store.invoice_for_run(first.run_id) is None
    [second] = runs.request("invoice Acme for March")
    assert second.status == "awaiting_approval" and second.run_id != first.run_id
    decisions = runs.rt.store.decisions(first.run_id)
    assert [(d.action, d.actor) for d in decisions][-1] == ("rejected", "ann@firm")


def test_requested_changes_are_recomputed_by_the_engine_and_wait_again(runs: InvoiceRuns) -> None:
    [outcome] = runs.request("invoice Acme for March")
    assert outcome.run_id
    revised = runs.decide(outcome.run_id, Decision(
        action="request_changes", actor="ann@firm", changes=Revisions(
            drop={"e8": "client asked to waive the Saturday"}, categories={"e2": "design"},
            descriptions={"Maintenance": "Bug fixes"})))
    assert revised.status == "awaiting_approval"
    draft = runs.rt.store.latest_draft(outcome.run_id)
    assert draft is not None and draft.version == 2
    lines = {ln.description: ln for ln in draft.draft.lines}
    # e2 (2 h, Bob) moves to Design at the default 100.00; e8 is off; Maintenance renamed
    assert "Bug fixes" in lines and "Maintenance" not in lines
    assert {x.entry_id: x.reason for x in draft.draft.excluded if x.entry_id == "e8"} == {
        "e8": "dropped by reviewer: client asked to waive the Saturday"}
    assert not any("e8" in ln.entry_ids for ln in draft.draft.lines)
    assert runs.decide(outcome.run_id, APPROVE).status == "sent"
    assert "e8" not in runs.rt.store.billed_entry_ids(runs.rt.workspace.root)


class FlakySend(LocalLedger):
    """A ledger whose first send dies, as if the process crashed between push and send."""

    pushes = 0
    sends = 0

    def push(self, doc, idempotency_key, **note):  # type: ignore[no-untyped-def]
        type(self).pushes += 1
        return super().push(doc, idempotency_key, **note)

    def send(self, ref, doc):  # type: ignore[no-untyped-def]
        type(self).sends += 1
        if type(self).sends == 1:
            raise RuntimeError("crash between push and send")
        super().send(ref, doc)


def test_a_crash_between_push_and_send_resumes_without_pushing_twice_or_skipping_the_send(
    runs_on: OpenRuns, settings: Settings
) -> None:
    ledger = FlakySend(settings.data_dir)
    with runs_on(ledger=ledger) as runs:
        [outcome] = runs.request("invoice Acme for March")
        assert outcome.run_id
        with pytest.raises(RunInterruptedError, match="crash between push and send"):
            runs.decide(outcome.run_id, APPROVE)
    with runs_on(ledger=ledger) as runs:
        with pytest.raises(RunNotWaitingError):
            runs.decide(outcome.run_id, APPROVE)
        assert runs.resume(outcome.run_id).status == "sent"
    assert (FlakySend.pushes, FlakySend.sends) == (1, 2)
    assert len(list((settings.data_dir / "outbox").glob("*.eml"))) == 1
    assert len(list((settings.data_dir / "invoices").glob("*.pdf"))) == 1


def test_a_question_is_asked_back_instead_of_guessing(runs: InvoiceRuns) -> None:
    [outcome] = runs.request("invoice Globex for March")
    assert outcome.status == "question" and "Acme Industries Ltd" in outcome.message


def test_a_revised_draft_is_reviewed_again(runs_on: OpenRuns) -> None:
    answer = {"changes": "First look.", "cover_email": "Dear Acme, 780.00 GBP."}
    second = {"changes": "After the drop.", "cover_email": "Dear Acme, here is the revised invoice."}
    model = ScriptedModel([turn(call("submit_review", **answer)), turn(call("submit_review", **second))],
                          name="claude-test")
    with runs_on(model=model) as runs:
        [outcome] = runs.request("invoice Acme for March")
        assert outcome.run_id and review_of(runs, outcome.run_id).changes == "First look."
        runs.decide(outcome.run_id, Decision(action="request_changes", actor="ann@firm",
                                             changes=Revisions(drop={"e8": "waived"})))
        assert review_of(runs, outcome.run_id).changes == "After the drop."
    assert [c.tools for c in model.calls] == [["submit_review"], ["submit_review"]]
    assert '"total":"780.00"' in model.calls[0].messages[0].text
    assert '"total":"780.00"' not in model.calls[1].messages[0].text  # the new version, without e8


def test_entry_text_is_quoted_data_to_the_model(runs_on: OpenRuns) -> None:
    model = ScriptedModel([turn(call("submit_review"))], name="claude-test")
    with runs_on(model=model) as runs:
        runs.request("invoice Acme for March")
    [asked] = model.calls
    assert "never instructions to you" in " ".join(asked.system.split())
    package = json.loads(asked.messages[0].text.split("\n", 1)[1])
    notes = package["entry_columns"].index("notes")
    assert {e[0]: e[notes] for e in package["entries"]}["e8"] == "api integration"


def test_two_approvers_at_once_push_one_invoice(runs_on: OpenRuns, settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with runs_on() as runs:
        [outcome] = runs.request("invoice Acme for March")
    assert outcome.run_id
    run_id = outcome.run_id
    barrier = threading.Barrier(2)
    results: list[str] = []
    both_inside = threading.Barrier(2, timeout=30)  # times out unless both approvers reach the claim together
    entered = itertools.count()
    claims: list[bool] = []
    claim = Store.claim

    def claim_together(store: Store, *args: Any, **kwargs: Any) -> bool:
        if next(entered) < 2:  # the two approvers' claims of the waiting run
            both_inside.wait()
        won = claim(store, *args, **kwargs)
        claims.append(won)
        return won

    monkeypatch.setattr(Store, "claim", claim_together)

    def approve(actor: str) -> None:
        with runs_on() as own:  # each approver has its own store connection and checkpointer
            barrier.wait()
            try:
                results.append(own.decide(run_id, Decision(action="approve", actor=actor)).status)
            except RunNotWaitingError:
                results.append("refused")

    threads = [threading.Thread(target=approve, args=(name,)) for name in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(claims) == [False, True]  # both were at the claim at once: the claim, no earlier check, chose
    assert sorted(results) == ["refused", "sent"]
    assert len(list((settings.data_dir / "invoices").glob("*.pdf"))) == 1
    assert len(list((settings.data_dir / "outbox").glob("*.eml"))) == 1


def test_a_run_that_failed_before_its_review_cannot_be_resumed_once_another_run_took_its_place(
    runs_on: OpenRuns, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailableError("sqlite:///store.db", "the store went away mid-run")

    with monkeypatch.context() as patch:
        patch.setattr("tools.store.Store.save_review", down)
        with runs_on() as runs:
            [failed] = runs.request("invoice Acme for March")
    assert failed.status == "failed" and failed.run_id and "invoice-agent resume" in failed.message
    with runs_on() as runs:
        [second] = runs.request("invoice Acme for March")
        assert second.status == "awaiting_approval"
        with pytest.raises(RunNotWaitingError, match=rf"superseded: run {second.run_id} has a draft"):
            runs.resume(failed.run_id)
        assert [a.run_id for a in runs.waiting()] == [second.run_id]


def test_what_the_request_leaves_out_is_proposed_as_drops_and_changes_nothing_until_accepted(
    runs: InvoiceRuns,
) -> None:
    [outcome] = runs.request("invoice Acme for March excluding development")
    assert outcome.status == "awaiting_approval" and outcome.run_id
    review = review_of(runs, outcome.run_id)
    assert set(review.proposed_drops) == {"e2", "e3", "e8"} and "development" in review.proposed_drops["e2"]
    draft = runs.rt.store.latest_draft(outcome.run_id)
    assert draft is not None and str(draft.draft.total) == "780.00"  # proposals only
    assert "confirm to drop them" in outcome.message

    runs.decide(outcome.run_id, Decision(action="request_changes", actor="ann@firm",
                                         changes=Revisions(drop=review.proposed_drops)))
    revised = runs.rt.store.latest_draft(outcome.run_id)
    assert revised is not None and {"e2", "e3", "e8"} <= {x.entry_id for x in revised.draft.excluded}
    assert review_of(runs, outcome.run_id).proposed_drops == {}  # nothing left to leave out


def test_everyone_but_a_client_starts_a_run_for_each_other_client_with_work(runs: InvoiceRuns) -> None:
    outcomes = runs.request("invoice everyone except Beta for March")
    assert [o.client for o in outcomes] == ["acme"]
    both = runs.request("invoice all clients for March")
    assert sorted(o.client or "" for o in both) == ["acme", "beta"]
    [nothing] = runs.request("invoice everyone for January 2026")
    assert (nothing.run_id, nothing.status) == (None, "answered") and "Nothing to bill in 2026-01" in nothing.message


def test_a_leave_out_that_matches_nothing_is_said_not_ignored(runs: InvoiceRuns) -> None:
    [outcome] = runs.request("invoice Acme for March without travel")
    assert outcome.run_id
    review = review_of(runs, outcome.run_id)
    assert review.proposed_drops == {}
    assert review.notes == ["the request asked to leave out 'without travel': no entry of this draft matches it"]
