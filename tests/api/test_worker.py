"""Workers: each queued job is claimed by one worker, drafted through the run layer, and ended done or failed;
a job whose worker died is taken over where its run stopped. The run layer is a stand-in here (what it does
is tested in tests/graph); the scale-out test drives the real thing across processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.requests import LeaveOut
from api.worker import JobPolicy, RecordingStore, Workers
from graph.runs import RunNotWaitingError, RunOutcome
from tools.periods import Period
from tools.store.jobs import JobRecord, Jobs

WORKSPACE = "/firms/tiny"
AS_OF = date(2026, 4, 1)
MARCH = Period.parse("2026-03")


@dataclass
class StandIn:
    """The run layer as the worker sees it: `start` records a run (as InvoiceRuns does) unless told to answer
    `exists`; `resume` answers what it is told. Every call is kept."""

    store: RecordingStore
    ending: str = "awaiting_approval"
    exists: str | None = None
    broken: Exception | None = None
    resumable: bool = True
    drafting: float = 0.0
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def start(self, client: str, period: Period, request: str, *, leave_out: list[LeaveOut] | None = None,
              progress: object = None) -> RunOutcome:
        self.calls.append(("start", client, period, request, leave_out))
        if self.exists is not None:
            return RunOutcome(run_id=self.exists, client=client, period=str(period), status="exists",
                              message=f"run {self.exists} has a draft; nothing new was started")
        run = self.store.create_run(WORKSPACE, request, client=client, period=period)
        time.sleep(self.drafting)
        if self.broken is not None:
            raise self.broken
        self.store.update_run(run.id, status=self.ending)
        return RunOutcome(run_id=run.id, client=client, period=str(period), status=self.ending, message="drafted")

    def resume(self, run_id: str, *, progress: object = None) -> RunOutcome:
        self.calls.append(("resume", run_id))
        if not self.resumable:
            raise RunNotWaitingError(f"run {run_id} has nothing to resume")
        return RunOutcome(run_id=run_id, status="awaiting_approval", message="finished where it stopped")


@dataclass
class Setup:
    store: RecordingStore
    jobs: Jobs
    runs: StandIn

    def workers(self, **policy: Any) -> Workers:
        @contextmanager
        def open_runs(as_of: date) -> Iterator[Any]:
            assert as_of == AS_OF
            yield self.runs

        return Workers(self.store, WORKSPACE, open_runs, concurrency=2, policy=JobPolicy(**policy))

    def queue(self, client: str = "acme", period: str = "2026-03") -> str:
        job, _ = self.jobs.enqueue(WORKSPACE, client, period, f"invoice {client} for {period}", as_of=AS_OF,
                                   leave_out=[{"kind": "person", "value": "Sam", "said": "without Sam's time"}],
                                   requested_by="ann@firm")
        return job.id

    def abandoned(self, run_status: str = "running") -> tuple[JobRecord, str]:
        """A job whose worker recorded its run, then died (its lease is already over)."""
        job_id = self.queue()
        assert self.jobs.claim(WORKSPACE, "dead:1", timedelta(0)) is not None
        run = self.store.create_run(WORKSPACE, "invoice acme for 2026-03", client="acme", period=MARCH)
        self.store.update_run(run.id, status=run_status)
        self.jobs.record_run(job_id, "dead:1", run.id)
        return self.jobs.get(job_id), run.id


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    store = RecordingStore(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.migrate()
    yield Setup(store, Jobs(store), StandIn(store))
    store.close()


def test_a_queued_job_is_drafted_and_done_with_its_run(setup: Setup) -> None:
    job_id = setup.queue()

    assert setup.workers().drain() == 1

    job = setup.jobs.get(job_id)
    assert (job.status, job.outcome, job.message, job.attempts) == ("done", "awaiting_approval", "drafted", 1)
    [call] = setup.runs.calls
    assert call == ("start", "acme", MARCH, "invoice acme for 2026-03",
                    [LeaveOut(kind="person", value="Sam", said="without Sam's time")])
    assert job.run_id is not None and setup.store.get_run(job.run_id).status == "awaiting_approval"
    [requested] = setup.store.decisions(job.run_id)
    assert (requested.action, requested.actor, requested.detail["job"]) == ("requested", "ann@firm", job_id)


def test_a_client_and_period_already_drafted_end_the_job_done_with_that_run(setup: Setup) -> None:
    setup.runs.exists = "earlier"
    job_id = setup.queue()

    setup.workers().drain()

    job = setup.jobs.get(job_id)
    assert (job.status, job.run_id, job.outcome) == ("done", "earlier", "exists")


def test_a_run_that_raises_fails_its_job_and_its_run_with_the_reason(setup: Setup) -> None:
    setup.runs.broken = RuntimeError("the model adapter has a bug")
    job_id = setup.queue()

    setup.workers().drain()

    job = setup.jobs.get(job_id)
    assert (job.status, job.outcome, job.error) == ("failed", "failed", "RuntimeError: the model adapter has a bug")
    assert job.run_id is not None
    run = setup.store.get_run(job.run_id)
    assert (run.status, run.error) == ("failed", "RuntimeError: the model adapter has a bug")


def test_the_lease_is_renewed_while_a_run_drafts_so_nobody_takes_the_job_over(setup: Setup) -> None:
    setup.runs.drafting = 1.5  # five times the lease
    job_id = setup.queue()
    workers = setup.workers(lease=timedelta(seconds=0.3), poll=0.05)
    rival: list[JobRecord | None] = []
    drained = threading.Thread(target=workers.drain)

    drained.start()
    while setup.jobs.get(job_id).status == "queued":
        time.sleep(0.01)
    while drained.is_alive():
        rival.append(setup.jobs.claim(WORKSPACE, "rival", timedelta(seconds=10)))
        time.sleep(0.05)

    assert len(rival) > 10 and set(rival) == {None}
    job = setup.jobs.get(job_id)
    assert (job.status, job.attempts) == ("done", 1)


def test_a_job_whose_worker_died_mid_draft_is_finished_where_its_run_stopped(setup: Setup) -> None:
    job, run_id = setup.abandoned()

    setup.workers().drain()

    assert setup.runs.calls == [("resume", run_id)]  # no second run
    taken = setup.jobs.get(job.id)
    assert (taken.status, taken.run_id, taken.attempts, taken.outcome) == ("done", run_id, 2, "awaiting_approval")
    assert setup.store.get_run(run_id).status == "awaiting_approval"


def test_a_run_its_dead_worker_never_checkpointed_is_superseded_by_a_new_one(setup: Setup) -> None:
    setup.runs.resumable = False
    job, old = setup.abandoned()

    setup.workers().drain()

    assert [call[0] for call in setup.runs.calls] == ["resume", "start"]
    taken = setup.jobs.get(job.id)
    assert taken.status == "done" and taken.run_id not in (None, old)
    superseded = setup.store.get_run(old)
    assert superseded.status == "failed" and "superseded" in (superseded.error or "")


def test_a_run_its_dead_worker_brought_to_the_inbox_ends_the_job_with_it(setup: Setup) -> None:
    setup.runs.resumable = False  # it waits at the approval interrupt: nothing to resume
    job, run_id = setup.abandoned(run_status="awaiting_approval")

    setup.workers().drain()

    assert [call[0] for call in setup.runs.calls] == ["resume"]
    taken = setup.jobs.get(job.id)
    assert (taken.status, taken.run_id, taken.outcome) == ("done", run_id, "awaiting_approval")


def test_a_job_whose_workers_keep_dying_is_failed_and_so_is_its_run(setup: Setup) -> None:
    job, run_id = setup.abandoned()

    setup.workers(max_attempts=1).drain()

    assert setup.runs.calls == []
    failed = setup.jobs.get(job.id)
    assert failed.status == "failed" and "dead:1" in (failed.error or "")
    run = setup.store.get_run(run_id)
    assert run.status == "failed" and "abandoned" in (run.error or "")


def test_started_workers_wake_for_a_new_job_and_stop_after_finishing_their_runs(setup: Setup) -> None:
    setup.runs.drafting = 0.3
    workers = setup.workers(poll=30.0)  # a poll that never comes: only the wake-up can start the run
    workers.start()
    job_id = setup.queue()

    workers.wake()
    deadline = time.monotonic() + 5
    while setup.jobs.get(job_id).status == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    workers.stop()

    assert setup.jobs.get(job_id).status == "done"  # stopping let the run drafting finish


def test_idle_workers_claim_nothing_of_another_workspace(setup: Setup) -> None:
    other, _ = setup.jobs.enqueue("/firms/other", "acme", "2026-03", "invoice acme", as_of=AS_OF)

    assert setup.workers().drain() == 0
    assert setup.jobs.get(other.id).status == "queued"


