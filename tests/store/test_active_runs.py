"""One active run per client and period, enforced by the database; and claims that go stale when their process dies.

Every test runs on a fresh SQLite file and on a fresh PostgreSQL schema. "Another process" is another
`Store` (its own engine and connections) with its own `holder`; a process that is gone is the pid of a
child that already exited.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.databases import Clock
from tests.store.builders import APRIL, MARCH, WORKSPACE, make_draft
from tools.periods import Period
from tools.store import InvalidTransitionError, RunAlreadyActiveError, Store, StoreError
from tools.store.leases import LEASE_ENV
from tools.store.models import ActiveRunRow

LEASE = timedelta(minutes=5)
APPROVE = {"action": "approve", "actor": "ann@firm", "reason": ""}
Another = Callable[..., Store]


def dead_holder() -> str:
    """A holder whose process ran on this host and is gone."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}"


@pytest.fixture
def another(database_url: str, clock: Clock) -> Iterator[Another]:
    """Open the test's database as another process would: `another(holder="host:pid")`."""
    opened: list[Store] = []

    def make(**options: Any) -> Store:
        opened.append(Store(database_url, clock=clock, lease=LEASE, **options))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def start(store: Store, period: Period = MARCH, client: str = "acme") -> str:
    return store.create_run(WORKSPACE, f"invoice {client} for {period}", client=client, period=period).id


def in_the_inbox(store: Store, run_id: str) -> None:
    store.save_draft(run_id, make_draft())
    store.open_approval(run_id, 1)


# --- one active run per client and period ----------------------------------------------------------------


def test_a_second_run_for_a_client_and_period_is_refused_naming_the_first(store: Store) -> None:
    first = start(store)

    with pytest.raises(RunAlreadyActiveError) as refused:
        start(store)

    assert refused.value.active.run_id == first and refused.value.active.kind == "running"
    assert str(refused.value) == (f"run {first} is already drafting 2026-03-01..2026-03-31 (status running); "
                                  "nothing new was started")
    assert [r.id for r in store.list_runs()] == [first]  # nothing of the second run was recorded


def test_an_overlapping_period_of_the_same_client_is_refused_but_another_client_or_period_is_not(
    store: Store,
) -> None:
    first = start(store)

    with pytest.raises(RunAlreadyActiveError, match=first):
        start(store, Period.parse("2026-03-15..2026-04-15"))
    start(store, APRIL)
    start(store, MARCH, client="beta")
    store.create_run(WORKSPACE, "a request not yet resolved")  # no client and period: holds nothing


@pytest.mark.parametrize("ending", ["answered", "rejected", "sent"])
def test_a_run_that_ends_frees_its_client_and_period(store: Store, ending: str) -> None:
    first = start(store)
    with pytest.raises(RunAlreadyActiveError):
        start(store)

    store.update_run(first, status=ending)

    assert start(store) != first


def test_a_run_that_failed_before_the_inbox_frees_its_period_and_gets_it_back_only_if_still_free(
    store: Store,
) -> None:
    failed = start(store)
    store.update_run(failed, status="failed", error="the model was unavailable")

    second = start(store)

    taken = store.hold(failed)
    assert taken is not None and taken.run_id == second  # it stays failed; resuming it says who took its place
    assert store.get_run(failed).status == "failed"
    store.update_run(second, status="rejected")
    assert store.hold(failed) is None  # free again: the resumed run holds it
    with pytest.raises(RunAlreadyActiveError, match=failed):
        start(store)


def test_a_run_that_failed_after_its_draft_reached_the_inbox_keeps_its_period(store: Store) -> None:
    first = start(store)
    in_the_inbox(store, first)

    store.update_run(first, status="failed", error="the ledger was down")

    with pytest.raises(RunAlreadyActiveError, match=f"run {first} has a draft") as refused:
        start(store)
    assert refused.value.active.kind == "awaiting_approval"


def test_the_database_itself_refuses_a_second_active_row_for_one_client_and_period(store: Store) -> None:
    first = start(store)
    other = store.create_run(WORKSPACE, "a run inserted behind the store's back").id

    with pytest.raises(IntegrityError), Session(store.engine) as s, s.begin():
        s.add(ActiveRunRow(workspace=WORKSPACE, client="acme", period_start=MARCH.start, period_end=MARCH.end,
                           run_id=other, holder="elsewhere:1", since=store.get_run(first).created_at))


def race(stores: list[Store], monkeypatch: pytest.MonkeyPatch, *, slow: str, locked: bool = True) -> dict[str, Any]:
    """Each store starts a run for Acme, March, at once; `slow` (a Store method run inside the transaction)
    takes 0.2 s, so all the racers are in flight together. What each got, and when each started and ended."""
    original = getattr(Store, slow)

    def slowly(self: Store, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs) if locked or slow != "_lock_client" else None
        time.sleep(0.2)
        return result

    monkeypatch.setattr(Store, slow, slowly)
    barrier = threading.Barrier(len(stores))
    started: list[float] = []
    ended: list[float] = []
    won: list[str] = []
    refused: list[str] = []

    def racer(store: Store) -> None:
        barrier.wait()
        started.append(time.monotonic())
        try:
            won.append(start(store))
        except RunAlreadyActiveError as exc:
            refused.append(exc.active.run_id)
        finally:
            ended.append(time.monotonic())

    threads = [threading.Thread(target=racer, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return {"won": won, "refused": refused, "overlapped": max(started) < min(ended)}


def test_runs_racing_for_one_client_and_period_record_exactly_one(
    store: Store, another: Another, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = [another() for _ in range(6)]

    result = race(stores, monkeypatch, slow="_lock_client")

    assert result["overlapped"]  # every racer started before any finished
    [winner] = result["won"]
    assert result["refused"] == [winner] * 5
    assert [r.id for r in store.list_runs()] == [winner]


def test_even_racers_that_all_passed_the_check_record_one_run_the_primary_key_refuses_the_rest(
    store: Store, another: Another, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Store, "_lock_client", lambda self, s, workspace, client: None)
    stores = [another() for _ in range(6)]

    result = race(stores, monkeypatch, slow="_active_work")  # each checks, waits, then inserts

    assert result["overlapped"]
    [winner] = result["won"]
    assert result["refused"] == [winner] * 5
    assert [r.id for r in store.list_runs()] == [winner]


def test_a_run_drafting_in_a_process_that_is_gone_gives_way_to_a_new_run(store: Store, another: Another) -> None:
    abandoned = start(another(holder=dead_holder()))

    new = start(store)

    run = store.get_run(abandoned)
    assert new != abandoned and run.status == "failed" and "stopped while drafting" in (run.error or "")


def test_a_run_drafting_on_another_host_holds_its_period_until_the_lease_runs_out(
    store: Store, another: Another, clock: Clock
) -> None:
    elsewhere = start(another(holder="another-host:4242"))

    with pytest.raises(RunAlreadyActiveError, match=elsewhere):
        start(another())
    clock.advance(LEASE)

    assert start(another()) != elsewhere


def test_a_live_process_of_this_host_keeps_its_drafting_run_however_long_it_takes(
    store: Store, clock: Clock
) -> None:
    slow = start(store)
    clock.advance(timedelta(hours=2))

    with pytest.raises(RunAlreadyActiveError, match=slow):
        start(store)


def test_resuming_a_run_left_by_a_dead_process_makes_its_hold_this_processs(store: Store, another: Another) -> None:
    left = start(another(holder=dead_holder()))

    assert store.hold(left) is None

    with pytest.raises(RunAlreadyActiveError, match=left):
        start(another())


def test_a_run_that_was_replaced_while_its_process_was_away_cannot_put_a_draft_in_the_inbox(
    store: Store, another: Another
) -> None:
    away = another(holder=dead_holder())
    replaced = start(away)
    new = start(store)
    away.save_draft(replaced, make_draft())

    with pytest.raises(InvalidTransitionError, match=f"superseded by run {new}"):
        away.open_approval(replaced, 1)
    assert store.list_pending() == []


def test_upgrading_makes_each_draft_already_in_the_inbox_the_active_run_of_its_period(
    make_store: Callable[[], Store],
) -> None:
    store = make_store()
    store.migrate("0005_draft_reviews")
    old = store.create_run(WORKSPACE, "invoice Acme for March").id
    store.update_run(old, client="acme", period=MARCH)
    store.save_draft(old, make_draft())
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO approvals (run_id, draft_version, status, requested_at) "
                          "VALUES (:run, 1, 'pending', :at)"), {"run": old, "at": store.get_run(old).created_at})

    store.migrate()

    with pytest.raises(RunAlreadyActiveError, match=f"run {old} has a draft"):
        start(store)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT run_id FROM active_runs")).scalars().all() == [old]


# --- claims on an approval: who, when, and what; stale when the process is gone ---------------------------


def claimed(store: Store, client: str = "acme") -> str:
    run_id = start(store, client=client)
    in_the_inbox(store, run_id)
    assert store.claim(run_id, "pending", "resuming", decision=APPROVE)
    return run_id


def test_a_claim_records_who_holds_it_when_and_the_decision_it_applies(store: Store) -> None:
    run_id = claimed(store)

    approval = store.get_approval(run_id)

    assert (approval.status, approval.claimed_by, approval.claimed_decision) == ("resuming", store.holder, APPROVE)
    assert approval.claimed_at is not None
    assert store.holder == f"{socket.gethostname()}:{__import__('os').getpid()}"


def test_a_live_claim_is_not_taken_over(store: Store, another: Another) -> None:
    run_id = claimed(another(holder="another-host:4242"))

    assert store.take_over(run_id) is None
    assert another().take_over(claimed(store, client="beta")) is None  # this host, this live process
    assert store.get_approval(run_id).claimed_by == "another-host:4242"


def test_a_claim_whose_process_is_gone_is_taken_over_with_its_decision(store: Store, another: Another) -> None:
    run_id = claimed(another(holder=dead_holder()))

    taken = store.take_over(run_id)

    assert taken is not None and taken.claimed_by == store.holder and taken.claimed_decision == APPROVE
    assert another(holder="another-host:1").take_over(run_id) is None  # now held by a live process


def test_a_claim_older_than_the_lease_is_taken_over(store: Store, another: Another, clock: Clock) -> None:
    run_id = claimed(another(holder="another-host:4242"))
    clock.advance(LEASE - timedelta(seconds=10))
    assert store.take_over(run_id) is None

    clock.advance(timedelta(seconds=10))

    assert store.take_over(run_id) is not None


def test_of_processes_taking_over_one_stale_claim_at_once_exactly_one_gets_it(
    store: Store, another: Another
) -> None:
    run_id = claimed(another(holder=dead_holder()))
    stores = [another(holder=f"host-{i}:1") for i in range(6)]
    barrier = threading.Barrier(len(stores))
    got: list[str] = []

    def take(s: Store) -> None:
        barrier.wait()
        if s.take_over(run_id) is not None:
            got.append(s.holder)

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(got) == 1 and store.get_approval(run_id).claimed_by == got[0]


def test_a_released_claim_is_taken_over_at_once_keeping_its_decision(store: Store, another: Another) -> None:
    elsewhere = another(holder="another-host:4242")
    run_id = claimed(elsewhere)

    assert elsewhere.release_claim(run_id) is True

    taken = store.take_over(run_id)
    assert taken is not None and taken.claimed_decision == APPROVE


def test_handing_a_claim_back_to_the_inbox_forgets_it(store: Store) -> None:
    run_id = claimed(store)

    assert store.claim(run_id, "resuming", "pending")

    approval = store.get_approval(run_id)
    assert (approval.status, approval.claimed_by, approval.claimed_at, approval.claimed_decision) == (
        "pending", None, None, None)


def test_the_lease_is_a_setting(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEASE_ENV, "90")
    with Store(database_url) as configured:
        assert configured.lease == timedelta(seconds=90)
    monkeypatch.setenv(LEASE_ENV, "soon")
    with pytest.raises(StoreError, match=f"{LEASE_ENV}='soon' is not a positive number of seconds; set it to e.g. 300"):
        Store(database_url)
