"""Approvals: the reviewer's inbox, and the compare-and-set lock that lets exactly one process resume a run."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from tests.store.builders import WORKSPACE, make_draft
from tools.store import InvalidTransitionError, RecordNotFoundError, Store


def awaiting(store: Store, request: str = "invoice Acme for March", workspace: str = WORKSPACE) -> str:
    """A run with draft v1 in the inbox."""
    run = store.create_run(workspace, request)
    store.save_draft(run.id, make_draft())
    store.open_approval(run.id, 1)
    return run.id


def test_an_opened_approval_is_pending_in_the_inbox(store: Store) -> None:
    run_id = awaiting(store)

    approval = store.get_approval(run_id)

    assert (approval.status, approval.draft_version, approval.decided_by) == ("pending", 1, None)
    assert [a.run_id for a in store.list_pending()] == [run_id]


def test_the_inbox_lists_the_oldest_request_first_per_workspace(store: Store) -> None:
    older, newer = awaiting(store, "one"), awaiting(store, "two")
    elsewhere = awaiting(store, "three", workspace="other-firm")

    assert [a.run_id for a in store.list_pending(WORKSPACE)] == [older, newer]
    assert [a.run_id for a in store.list_pending()] == [older, newer, elsewhere]


def test_claim_is_a_compare_and_set(store: Store) -> None:
    run_id = awaiting(store)

    assert store.claim(run_id) is True  # pending -> resuming
    assert store.claim(run_id) is False  # no longer pending: a second resumer must stop
    assert store.get_approval(run_id).status == "resuming"
    assert store.list_pending() == []


def test_claim_of_an_unknown_run_changes_nothing(store: Store) -> None:
    assert store.claim("missing") is False


def test_a_failed_resume_hands_the_run_back_to_the_inbox(store: Store) -> None:
    run_id = awaiting(store)
    store.claim(run_id)

    assert store.claim(run_id, "resuming", "pending") is True

    assert [a.run_id for a in store.list_pending()] == [run_id]


def race(contenders: list[Store], run_id: str) -> list[bool]:
    """Every contender claims the run at the same moment, each from its own thread; who won?"""
    barrier = threading.Barrier(len(contenders))
    results: list[bool] = []
    lock = threading.Lock()

    def resume(contender: Store) -> None:
        barrier.wait()
        won = contender.claim(run_id)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=resume, args=(c,)) for c in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_of_many_racing_claims_exactly_one_wins(store: Store, make_store: Callable[[], Store]) -> None:
    # Each contender has its own Store (engine, connections), as separate processes would.
    contenders = [make_store() for _ in range(8)]
    for attempt in range(5):
        results = race(contenders, awaiting(store, f"race {attempt}"))

        assert sorted(results) == [False] * (len(contenders) - 1) + [True]


def test_a_decision_updates_the_approval_and_is_audited(store: Store) -> None:
    run_id = awaiting(store)
    store.claim(run_id)

    approval = store.decide(run_id, "approved", "ann@parallax.example", detail={"edited_lines": []})

    assert (approval.status, approval.decided_by) == ("approved", "ann@parallax.example")
    assert approval.decided_at is not None
    [decision] = store.decisions(run_id)
    assert (decision.action, decision.actor) == ("approved", "ann@parallax.example")
    assert decision.detail == {"draft_version": 1, "reason": None, "edited_lines": []}


def test_the_same_decision_recorded_twice_is_recorded_once(store: Store) -> None:
    run_id = awaiting(store)
    store.decide(run_id, "rejected", "ann", reason="wrong month")

    again = store.decide(run_id, "rejected", "ann", reason="wrong month")

    assert again.status == "rejected"
    assert len(store.decisions(run_id)) == 1


def test_a_decided_approval_cannot_be_decided_otherwise(store: Store) -> None:
    run_id = awaiting(store)
    store.decide(run_id, "rejected", "ann")

    with pytest.raises(InvalidTransitionError, match="is rejected; it cannot become approved"):
        store.decide(run_id, "approved", "bob")
    with pytest.raises(RecordNotFoundError):
        store.decide("missing", "approved", "bob")


def test_requested_changes_reopen_the_approval_for_the_next_version(store: Store) -> None:
    run_id = awaiting(store)
    store.claim(run_id)
    store.decide(run_id, "changes_requested", "ann", reason="drop e3")
    store.save_draft(run_id, make_draft("e1", "e2"))

    reopened = store.open_approval(run_id, 2)

    assert (reopened.status, reopened.draft_version, reopened.decided_by, reopened.reason) == ("pending", 2, None, None)
    assert [d.action for d in store.decisions(run_id)] == ["changes_requested"]


def test_opening_the_same_version_again_changes_nothing(store: Store) -> None:
    run_id = awaiting(store)
    store.claim(run_id)

    again = store.open_approval(run_id, 1)  # e.g. a graph node that re-ran on resume

    assert again.status == "resuming"


def test_an_approved_run_cannot_be_reopened(store: Store) -> None:
    run_id = awaiting(store)
    store.decide(run_id, "approved", "ann")

    with pytest.raises(InvalidTransitionError):
        store.open_approval(run_id, 2)


def test_other_actions_are_appended_to_the_audit_log_in_order(store: Store) -> None:
    run_id = awaiting(store)

    store.record_decision(run_id, "edit_line", "ann", {"line": 2, "quantity": {"from": "3.00", "to": "2.50"}})
    store.decide(run_id, "approved", "ann")

    log = store.decisions(run_id)
    assert [d.action for d in log] == ["edit_line", "approved"]
    assert log[0].detail == {"line": 2, "quantity": {"from": "3.00", "to": "2.50"}}
