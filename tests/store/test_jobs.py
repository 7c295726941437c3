"""Run jobs: a queue in the store that several workers share, each job leased to one worker at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta

from tests.databases import Clock
from tools.store import Store
from tools.store.jobs import Jobs

WORKSPACE = "/firms/tiny"
LEASE = timedelta(seconds=60)
AS_OF = date(2026, 4, 1)


def queue(jobs: Jobs, client: str = "acme", period: str = "2026-03") -> str:
    job, new = jobs.enqueue(WORKSPACE, client, period, f"invoice {client} for {period}", as_of=AS_OF,
                            leave_out=[{"kind": "category", "value": "travel", "said": "travel"}],
                            requested_by="ann@firm")
    assert new
    return job.id


def test_a_queued_job_keeps_what_the_run_needs(store: Store) -> None:
    jobs = Jobs(store)
    job = jobs.get(queue(jobs))

    assert (job.status, job.attempts, job.run_id, job.leased_by) == ("queued", 0, None, None)
    assert (job.client, job.period, job.as_of, job.requested_by) == ("acme", "2026-03", AS_OF, "ann@firm")
    assert job.leave_out == [{"kind": "category", "value": "travel", "said": "travel"}]


def test_asking_again_while_a_job_is_queued_or_running_answers_that_job(store: Store) -> None:
    jobs = Jobs(store)
    first = queue(jobs)

    again, new = jobs.enqueue(WORKSPACE, "acme", "2026-03", "bill acme for March", as_of=AS_OF)
    assert (again.id, new) == (first, False)
    jobs.claim(WORKSPACE, "w1", LEASE)
    assert jobs.enqueue(WORKSPACE, "acme", "2026-03", "again", as_of=AS_OF)[0].id == first

    jobs.finish(first, "w1", "done", run_id="r1", outcome="awaiting_approval")
    later, new = jobs.enqueue(WORKSPACE, "acme", "2026-03", "once more", as_of=AS_OF)
    assert new and later.id != first  # the run layer answers "exists" for that one
    assert jobs.enqueue(WORKSPACE, "beta", "2026-03", "beta", as_of=AS_OF)[1]
    assert jobs.enqueue("/firms/other", "acme", "2026-03", "elsewhere", as_of=AS_OF)[1]


def test_a_claim_leases_the_oldest_queued_job_of_the_workspace(store: Store) -> None:
    jobs = Jobs(store)
    jobs.enqueue("/firms/other", "acme", "2026-01", "elsewhere", as_of=AS_OF)
    older, newer = queue(jobs, period="2026-01"), queue(jobs, period="2026-02")

    claimed = jobs.claim(WORKSPACE, "w1", LEASE)

    assert claimed is not None and claimed.id == older
    assert (claimed.status, claimed.attempts, claimed.leased_by) == ("running", 1, "w1")
    assert claimed.lease_until is not None and claimed.lease_until > claimed.updated_at
    assert jobs.claim(WORKSPACE, "w2", LEASE).id == newer  # type: ignore[union-attr]
    assert jobs.claim(WORKSPACE, "w3", LEASE) is None


def test_only_the_worker_holding_the_lease_renews_records_and_finishes(store: Store) -> None:
    jobs = Jobs(store)
    job_id = queue(jobs)
    jobs.claim(WORKSPACE, "w1", LEASE)

    assert jobs.renew(job_id, "w1", LEASE) and not jobs.renew(job_id, "w2", LEASE)
    assert jobs.record_run(job_id, "w1", "run-1") and not jobs.record_run(job_id, "w2", "run-2")
    assert not jobs.finish(job_id, "w2", "failed", error="not mine")
    assert jobs.finish(job_id, "w1", "done", outcome="awaiting_approval", message="780.00 GBP waits")

    done = jobs.get(job_id)
    assert (done.status, done.run_id, done.outcome, done.error) == ("done", "run-1", "awaiting_approval", None)
    assert done.finished_at is not None and done.lease_until is None
    assert not jobs.renew(job_id, "w1", LEASE)  # a finished job has no lease left to renew


def test_a_job_whose_worker_died_is_taken_over_when_its_lease_runs_out(store: Store, clock: Clock) -> None:
    jobs = Jobs(store)
    job_id = queue(jobs)
    jobs.claim(WORKSPACE, "dead", LEASE)
    jobs.record_run(job_id, "dead", "run-1")
    assert jobs.claim(WORKSPACE, "w2", LEASE) is None  # still leased

    clock.advance(LEASE)
    taken = jobs.claim(WORKSPACE, "w2", LEASE)

    assert taken is not None and (taken.id, taken.leased_by, taken.attempts, taken.run_id) == (
        job_id, "w2", 2, "run-1")
    assert not jobs.finish(job_id, "dead", "done")  # the first worker, if it comes back, changes nothing
    assert jobs.renew(job_id, "w2", LEASE)


def test_a_job_abandoned_on_every_attempt_fails_with_the_reason(store: Store, clock: Clock) -> None:
    jobs = Jobs(store)
    job_id = queue(jobs)
    for attempt in range(1, 3):
        assert jobs.claim(WORKSPACE, f"w{attempt}", LEASE, max_attempts=2) is not None
        clock.advance(LEASE)
    assert jobs.claim(WORKSPACE, "w3", LEASE, max_attempts=2) is None  # no attempts left

    [failed] = jobs.fail_abandoned(WORKSPACE, max_attempts=2)

    assert failed.id == job_id and failed.status == "failed" and failed.attempts == 2
    assert "w2" in (failed.error or "") and "2 attempts" in (failed.error or "")
    assert jobs.get(job_id).status == "failed" and jobs.fail_abandoned(WORKSPACE, max_attempts=2) == []


def test_workers_claiming_at_once_each_get_a_different_job(make_store: Callable[[], Store]) -> None:
    first = make_store()
    first.migrate()
    jobs = Jobs(first)
    queued = {queue(jobs, period=f"2026-{month:02d}") for month in range(1, 13)}
    workers = [Jobs(make_store()) for _ in range(6)]  # an engine each, like processes
    claimed: list[str] = []
    lock, ready = threading.Lock(), threading.Barrier(len(workers))

    def work(index: int, repository: Jobs) -> None:
        ready.wait()
        while (job := repository.claim(WORKSPACE, f"w{index}", LEASE)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=work, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(claimed) == sorted(queued)  # each job once, none left behind
    assert {job.status for job in jobs.in_workspace(WORKSPACE)} == {"running"}
