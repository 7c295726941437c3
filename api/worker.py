"""Workers: draft the runs queued in the store (`tools.store.jobs`), in a server (`RunService`) or in a
process of their own (`invoice-agent worker`); any number of them can share one database.

One dispatcher thread per process claims a job whenever one of its `concurrency` slots is free (woken at
once by a request of the same process, else polling every `JobPolicy.poll` seconds) and hands it to a
slot's thread; one heartbeat thread renews the lease of every job the process holds, every third of a
lease, so only a job whose process died (or froze for most of a lease) is taken over by another.

Running a job:
- `InvoiceRuns.start(client, period, request, leave_out=...)`. The run's id is written to the job, after
  the "requested" line of its audit log, the moment the run is recorded (`RecordingStore`), so whoever
  asked can follow it. A client and period already drafted or invoiced answers "exists": the job is done
  with that run. A run that fails (or raises) fails the job with the reason; the run can be resumed.
- A job taken over from a process that died after recording its run: the run is finished where it
  stopped (`InvoiceRuns.resume`: nothing done is repeated); if it waits for approval or has ended, the job
  is done with it; if nothing of it was checkpointed, it is failed as superseded and a new run starts.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

from agent.requests import LeaveOut
from api.settings import Settings
from graph.runs import InvoiceRuns, RunNotWaitingError, RunOutcome
from tools.periods import Period
from tools.store import RecordNotFoundError, RunRecord, Store
from tools.store.jobs import JobRecord, Jobs

__all__ = ["JobPolicy", "RecordingStore", "RunsOpener", "Workers"]

log = logging.getLogger(__name__)

RunsOpener = Callable[[date], AbstractContextManager[InvoiceRuns]]
"""Opens an `InvoiceRuns` for a run's as-of date (the caller's workspace, model, ledger and store)."""


@dataclass(frozen=True)
class JobPolicy:
    """How long a lease lasts, how often an idle process looks for work, how many claims a job gets."""

    lease: timedelta = timedelta(seconds=60)
    poll: float = 1.0
    max_attempts: int = 3

    @classmethod
    def of(cls, settings: Settings) -> JobPolicy:
        return cls(lease=timedelta(seconds=settings.job_lease_seconds), poll=settings.job_poll_seconds,
                   max_attempts=settings.job_attempts)


class RecordingStore(Store):
    """A store that also tells the thread that started a run its id, as soon as the run is recorded.

    Needed because `InvoiceRuns.start` makes up the run's id itself; if it took one (`run_id=`), the worker
    could make the id and this class would go.
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._local = threading.local()

    @contextmanager
    def reporting_runs_to(self, report: Callable[[str], None]) -> Iterator[None]:
        self._local.report = report
        try:
            yield
        finally:
            self._local.report = None

    def create_run(
        self,
        workspace: str,
        request: str,
        *,
        run_id: str | None = None,
        client: str | None = None,
        period: Period | None = None,
        status: str = "running",
    ) -> RunRecord:
        record = super().create_run(workspace, request, run_id=run_id, client=client, period=period, status=status)
        report: Callable[[str], None] | None = getattr(self._local, "report", None)
        if report is not None:
            report(record.id)
        return record


def _nothing(*_: object) -> None:
    return None


class Workers:
    """Up to `concurrency` queued runs of one workspace drafting at once in this process.

    Args:
        store: the process's store (its runs report their ids through it).
        workspace: the workspace's key in the store (`Workspace.root`): only its jobs are claimed.
        open_runs: opens the runs a job drafts with, for the job's as-of date.
        concurrency: runs drafting at once (0: this process drafts nothing).
        policy: lease, polling and attempts.
        after: called with each run's outcome once its job is finished (the server notifies approvers).
        changed: called whenever a job of this process records its run or ends (waiting requests look again).
    """

    def __init__(self, store: RecordingStore, workspace: str, open_runs: RunsOpener, *, concurrency: int,
                 policy: JobPolicy | None = None, after: Callable[[RunOutcome], None] = _nothing,
                 changed: Callable[[], None] = _nothing) -> None:
        self.store = store
        self.jobs = Jobs(store)
        self.workspace = workspace
        self.concurrency = concurrency
        self.policy = policy or JobPolicy()
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"
        self._open_runs = open_runs
        self._after = after
        self._changed = changed
        self._claims = itertools.count(1)
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}  # job id -> the claim (leased_by) it is held under
        self._slots = threading.Semaphore(concurrency)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._beating = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._threads: list[threading.Thread] = []
        self.finished = 0
        """Jobs this process has finished (done or failed)."""

    # --- running ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start claiming jobs in the background (again: nothing). With no concurrency, nothing starts."""
        with self._lock:
            if self._threads or self.concurrency == 0 or self._stopping.is_set():
                return
            self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="invoice-run")
            self._threads = [threading.Thread(target=self._dispatch, name="invoice-jobs", daemon=True),
                             threading.Thread(target=self._heartbeat, name="invoice-lease", daemon=True)]
        for thread in self._threads:
            thread.start()

    def drain(self) -> int:
        """Run jobs until none is left to claim and none is drafting (`invoice-agent worker --once`);
        returns how many jobs were finished."""
        if self.concurrency == 0:
            return 0
        with self._lock:
            self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="invoice-run")
            beat = threading.Thread(target=self._heartbeat, name="invoice-lease", daemon=True)
        beat.start()
        try:
            self._dispatch(once=True)
        finally:
            self._executor.shutdown(wait=True)
            self._beating.set()
            beat.join()
        return self.finished

    def wake(self) -> None:
        """Look for work now (a job was just queued), not at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Claim nothing more; let the runs drafting now finish, holding their leases until they do."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            threads, executor = list(self._threads), self._executor
        if threads:
            threads[0].join()
        if executor is not None:
            executor.shutdown(wait=True)
        self._beating.set()
        for thread in threads[1:]:
            thread.join()

    @property
    def busy(self) -> int:
        """Jobs this process is running now."""
        with self._lock:
            return len(self._held)

    # --- claiming -----------------------------------------------------------------------------------

    def _dispatch(self, once: bool = False) -> None:
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=self.policy.poll):
                continue
            job = self._claim()
            if job is None:
                self._slots.release()
                if once and self.busy == 0:
                    return
                self._wake.wait(self.policy.poll * random.uniform(0.75, 1.25))
                self._wake.clear()
                continue
            assert self._executor is not None
            self._executor.submit(self._work, job)

    def _claim(self) -> JobRecord | None:
        """The next job this process runs, held under a claim name of its own; None when there is none."""
        try:
            for lost in self.jobs.fail_abandoned(self.workspace, max_attempts=self.policy.max_attempts):
                log.warning("job %s (%s %s) failed: %s", lost.id, lost.client, lost.period, lost.error)
                if lost.run_id is not None:
                    self._fail_run(lost.run_id, lost.error or "abandoned", only_running=True)
                self._changed()
            claim = f"{self.name}/{next(self._claims)}"
            job = self.jobs.claim(self.workspace, claim, self.policy.lease, max_attempts=self.policy.max_attempts)
        except Exception:  # the database is down: try again at the next poll
            log.exception("could not claim a run job")
            return None
        if job is not None:
            with self._lock:
                self._held[job.id] = claim
            if job.attempts > 1:
                log.warning("job %s (%s %s): taken over, attempt %d", job.id, job.client, job.period, job.attempts)
        return job

    def _heartbeat(self) -> None:
        interval = self.policy.lease.total_seconds() / 3
        while not self._beating.wait(interval):
            with self._lock:
                held = dict(self._held)
            for job_id, claim in held.items():
                try:
                    renewed = self.jobs.renew(job_id, claim, self.policy.lease)
                    with self._lock:
                        lost = not renewed and self._held.get(job_id) == claim  # not merely finished meanwhile
                    if lost:
                        log.warning("job %s: the lease of %s ran out and another worker took the job over",
                                    job_id, claim)
                except Exception:
                    log.exception("could not renew the lease of job %s", job_id)

    # --- working ------------------------------------------------------------------------------------

    def _work(self, job: JobRecord) -> None:
        try:
            self._run(job)
        finally:
            with self._lock:
                self._held.pop(job.id, None)
                self.finished += 1
            self._slots.release()
            self._wake.set()

    def _run(self, job: JobRecord) -> None:
        claim = job.leased_by or ""
        recorded: list[str] = []

        def record(run_id: str) -> None:
            if job.requested_by:
                self.store.record_decision(run_id, "requested", job.requested_by,
                                           {"request": job.request, "as_of": job.as_of.isoformat(), "job": job.id})
            self.jobs.record_run(job.id, claim, run_id)
            recorded.append(run_id)
            self._changed()

        try:
            with self._open_runs(job.as_of) as runs, self.store.reporting_runs_to(record):
                outcome = self._take_over(runs, job) if job.run_id is not None else None
                if outcome is None:
                    outcome = runs.start(job.client, Period.parse(job.period), job.request,
                                         leave_out=[LeaveOut.model_validate(x) for x in job.leave_out])
        except Exception as exc:
            log.exception("run job %s (%s %s) failed", job.id, job.client, job.period)
            error = f"{type(exc).__name__}: {exc}"
            run_id = recorded[-1] if recorded else job.run_id
            if run_id is not None:
                self._fail_run(run_id, error)
            self._finish(job, claim, "failed", run_id=run_id, outcome="failed", error=error)
            return
        failed = outcome.status == "failed"
        self._finish(job, claim, "failed" if failed else "done", run_id=outcome.run_id, outcome=outcome.status,
                     message=outcome.message, error=outcome.message if failed else None)
        self._after(outcome)

    def _finish(self, job: JobRecord, claim: str, status: str, **values: str | None) -> None:
        try:
            if not self.jobs.finish(job.id, claim, "failed" if status == "failed" else "done", **values):
                log.warning("job %s was taken over before %s finished it; its new worker finishes it", job.id, claim)
        except Exception:  # the lease runs out and another worker takes the job over
            log.exception("could not record how job %s ended", job.id)
        self._changed()

    def _take_over(self, runs: InvoiceRuns, job: JobRecord) -> RunOutcome | None:
        """Finish the run a dead worker started for `job`; None when a new run must start instead."""
        assert job.run_id is not None
        try:
            run = self.store.get_run(job.run_id)
        except RecordNotFoundError:
            return None
        try:
            outcome = runs.resume(run.id)
        except RunNotWaitingError:  # it waits for approval, it ended, or nothing of it was checkpointed
            run = self.store.get_run(run.id)
            if run.status in ("running", "failed"):
                self._fail_run(run.id, f"superseded: its worker stopped before anything was checkpointed; job "
                                       f"{job.id} started it again")
                return None
            return RunOutcome(run_id=run.id, client=run.client, period=job.period, status=run.status,
                              message=f"taken over from a worker that stopped: the run is {run.status}")
        if self.store.get_run(run.id).status == "running" and outcome.status not in ("running", "?"):
            self.store.update_run(run.id, status=outcome.status)  # resumed into the approval pause
        return outcome

    def _fail_run(self, run_id: str, error: str, *, only_running: bool = False) -> None:
        try:
            if only_running and self.store.get_run(run_id).status != "running":
                return
            self.store.update_run(run_id, status="failed", error=error)
        except Exception:
            log.exception("could not record that run %s failed", run_id)
