"""The server's engine room: one store, the run queue and its workers, decisions, and notices when a draft waits.

A run can take minutes (the model thinks, tools run), so POST /runs queues a job per run in the store
(`tools.store.jobs`) and answers at once: with the run's id when a worker takes the job within
`start_wait` seconds (normally well under one), else with the job, queued (GET /jobs/{id} then gives its
run). Workers claim jobs with a lease: this server's own (`Settings.run_workers` threads, `api.worker`)
and any `invoice-agent worker` process on the same database; a worker that dies loses its jobs to
another when their leases run out. So a request is never refused for want of a worker, and a run
survives the process that accepted it.

Each run and each decision gets its own `InvoiceRuns` (workspace read afresh, with the labels the store
learned from people merged in by `api.wiring.open_runs`; its own checkpointer connection) over the one
shared `Store`. Decisions are applied in the request: they are quick, and the caller must learn at once
whether it won (LangGraph has no cross-process lock: the approvals row is the lock, see graph/runs.py).
Resuming a stopped run (POST /runs/{id}/resume) happens on this server, at most `run_workers` at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from agent.model import Model
from agent.requests import Resolution, Target, understand
from agent.review import Review
from agent.select import choose_model
from api.notify import Delivery, Notifier, WaitingDraft
from api.settings import Settings
from api.wiring import open_runs
from api.worker import JobPolicy, RecordingStore, Workers
from graph.checkpoints import prepare_checkpoints
from graph.nodes import Decision
from graph.runs import InvoiceRuns, RunNotWaitingError, RunOutcome, nothing_to_bill, with_work
from tools.clients import find_client
from tools.connectors.ledger import Ledger
from tools.domain import Workspace
from tools.errors import InvoiceAgentError
from tools.periods import Period
from tools.store import InvoiceRecord, RecordNotFoundError, RunRecord
from tools.store.jobs import JobRecord, Jobs
from tools.store.tokens import ApiTokens
from tools.workspace import load_workspace

__all__ = ["BusyError", "QueuedRun", "RunService"]

log = logging.getLogger(__name__)

START_WAIT = 5.0
"""Seconds POST /runs waits for a worker to record each run it queued (normally well under one)."""
INTERRUPT_WAIT = 10.0
"""Seconds a decision waits for a draft just put in the inbox to be ready for it (normally milliseconds)."""
RESUME_WAIT = 5.0
"""Seconds POST /runs/{id}/resume waits for the run to finish before answering that it goes on."""


class BusyError(InvoiceAgentError):
    """The server cannot resume a run now: try again shortly."""


@dataclass(frozen=True)
class QueuedRun:
    """One run asked for: its job in the queue, and the run as the request reports it."""

    job: JobRecord
    outcome: RunOutcome


def _reported(job: JobRecord, new: bool) -> RunOutcome:
    """The run of a job as the request that queued it (new) or found it already queued reports it."""
    run, status, message = job.run_id, job.outcome or job.status, job.message or job.error or ""
    if not new and run is not None:
        status = "exists"
        message = (f"run {run} is already drafting this; nothing new was started" if not job.ended else
                   f"run {run} drafted this ({job.outcome}); nothing new was started")
    elif not job.ended and run is not None:
        status, message = "running", "drafting in the background; poll the run for its status"
    elif not job.ended:
        status = "queued"
        message = (f"queued as job {job.id}: a worker drafts it as soon as one is free; GET /jobs/{job.id} "
                   "gives its run" if new else f"already queued as job {job.id}; nothing new was queued")
    return RunOutcome(run_id=run, client=job.client, period=job.period, status=status, message=message)


class RunService:
    """Runs, decisions and notices for the HTTP API, over one store.

    Args:
        settings: where the workspace, the data and the database are; the notification channels.
        model: the model every run uses (default: Claude with an API key configured, else offline).
        ledger: where approved invoices go (default: the local ledger in the data folder).
        notifier: who is told that a draft waits (default: the channels the settings configure).
    """

    def __init__(self, settings: Settings, *, model: Model | None = None, ledger: Ledger | None = None,
                 notifier: Notifier | None = None) -> None:
        self.settings = settings
        self._model = model
        self._chosen: Model | None = None
        self._ledger = ledger
        self.notifier = notifier if notifier is not None else Notifier.from_settings(settings)
        self.workspace_root = load_workspace(settings.workspace).root  # a malformed workspace stops the start
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = RecordingStore(settings.store_url())
        self.store.migrate()
        prepare_checkpoints(settings.database_url, settings.data_dir)  # once, under a lock, before any run
        self.tokens = ApiTokens(self.store)
        self.jobs = Jobs(self.store)
        self.workers = Workers(self.store, self.workspace_root, self.open_runs, concurrency=settings.run_workers,
                               policy=JobPolicy.of(settings), after=self._after, changed=self._job_changed)
        self.start_wait = START_WAIT
        self._resumes = ThreadPoolExecutor(max(1, settings.run_workers), thread_name_prefix="invoice-resume")
        self._slots = threading.BoundedSemaphore(max(1, settings.run_workers))
        self._notices = ThreadPoolExecutor(1, thread_name_prefix="invoice-notify")
        self._changes = threading.Condition()
        self._messages: dict[str, str] = {}

    @property
    def model(self) -> Model:
        """The model runs and questions use: the one the service was made with, else the configured one."""
        if self._model is not None:
            return self._model
        if self._chosen is None:
            self._chosen = choose_model(self.settings.anthropic_api_key, self.settings.claude_model)
        return self._chosen

    def close(self) -> None:
        """Claim no more jobs; let running runs, resumes and notices finish; then close the store."""
        self.workers.stop()
        self._resumes.shutdown(wait=True)
        self._notices.shutdown(wait=True)
        self.store.close()

    # --- reading ------------------------------------------------------------------------------------

    def workspace(self) -> Workspace:
        """The workspace as it is now on disk (entries are added while the server runs)."""
        return load_workspace(self.settings.workspace)

    def run(self, run_id: str) -> RunRecord:
        """The run, if it is one of this server's workspace (a shared database may hold other firms' runs)."""
        run = self.store.get_run(run_id)
        if run.workspace != self.workspace_root:
            raise RecordNotFoundError("run", run_id)
        return run

    def invoice(self, invoice_id: str) -> InvoiceRecord:
        invoice = self.store.get_invoice(invoice_id)
        if invoice.workspace != self.workspace_root:
            raise RecordNotFoundError("invoice", invoice_id)
        return invoice

    def message(self, run_id: str) -> str | None:
        """What the run's last step said, if this process ran it (the store keeps errors, not messages)."""
        return self._messages.get(run_id)

    @contextmanager
    def open_runs(self, as_of: date | None = None) -> Iterator[InvoiceRuns]:
        with open_runs(self.settings, workspace=self.workspace(), as_of=as_of, model=self.model,
                       ledger=self._ledger, store=self.store) as runs:
            yield runs

    # --- starting runs ------------------------------------------------------------------------------

    def resolve(self, text: str, as_of: date) -> Resolution:
        """Which clients and period a request means, or the question to ask back (nothing is started).

        "Everyone" keeps only the clients with something to bill in the period."""
        workspace = self.workspace()
        resolution = understand(text, workspace, as_of, self.model, self.settings.meter())
        targets = with_work(workspace, resolution.targets, as_of)
        if resolution.targets and not targets:
            return resolution.model_copy(update={"targets": [], "question": (
                f"{nothing_to_bill(resolution.targets)}; which period do you mean?")})
        return resolution.model_copy(update={"targets": targets})

    def target(self, client: str, period: Period) -> Target:
        return Target(client=find_client(self.workspace(), client).id, period=period)

    def queue(self, targets: list[Target], request: str, as_of: date, *,
              requested_by: str | None = None) -> list[QueuedRun]:
        """Queue a run per target (a client and period already queued or drafting is not queued twice); return
        once a worker has recorded each run, or ended its job, or after `start_wait` seconds."""
        asked = [self.jobs.enqueue(self.workspace_root, t.client, str(t.period), request, as_of=as_of,
                                   leave_out=[x.model_dump(mode="json") for x in t.leave_out],
                                   requested_by=requested_by)
                 for t in targets]
        self.workers.start()
        self.workers.wake()
        jobs = self._wait_recorded([job.id for job, _ in asked])
        return [QueuedRun(job, _reported(job, new)) for job, (_, new) in zip(jobs, asked, strict=True)]

    def start(self, targets: list[Target], request: str, as_of: date) -> list[RunOutcome]:
        """`queue`, reporting only each run (what webhooks start)."""
        return [queued.outcome for queued in self.queue(targets, request, as_of)]

    def job(self, job_id: str) -> JobRecord:
        """The job, if it is one of this server's workspace."""
        job = self.jobs.get(job_id)
        if job.workspace != self.workspace_root:
            raise RecordNotFoundError("job", job_id)
        return job

    def _wait_recorded(self, job_ids: list[str]) -> list[JobRecord]:
        deadline = time.monotonic() + self.start_wait
        while True:
            jobs = self.jobs.get_many(job_ids)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or all(job.run_id is not None or job.ended for job in jobs):
                return jobs
            with self._changes:  # this process's workers say when; another process's are polled
                self._changes.wait(min(remaining, 0.25))

    def _job_changed(self) -> None:
        with self._changes:
            self._changes.notify_all()

    def _take_slots(self, wanted: int) -> None:
        """Reserve `wanted` resume slots, all or none."""
        taken = 0
        while taken < wanted and self._slots.acquire(blocking=False):
            taken += 1
        if taken < wanted:
            for _ in range(taken):
                self._slots.release()
            raise BusyError(f"all {max(1, self.settings.run_workers)} resume slots are busy; try again in a minute "
                            "(or raise INVOICE_AGENT_RUN_WORKERS)")

    def _fail(self, run_id: str, exc: Exception) -> None:
        try:
            self.store.update_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        except InvoiceAgentError:
            log.exception("could not record that run %s failed", run_id)

    # --- deciding -----------------------------------------------------------------------------------

    def decide(self, run_id: str, decision: Decision) -> RunOutcome:
        """Apply a person's decision now; raises RunNotWaitingError when the run is not waiting for one."""
        self.run(run_id)  # an unknown run is "not found", not "not waiting"
        deadline = time.monotonic() + INTERRUPT_WAIT
        with self.open_runs() as runs:
            while True:
                try:
                    outcome = runs.decide(run_id, decision)
                    break
                except RunNotWaitingError:
                    # The draft enters the inbox (approval pending) a moment before the graph pauses for the
                    # decision; until it has, `decide` refuses before claiming anything, so trying again is safe.
                    if not self._pending(run_id) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        self._after(outcome)
        return outcome

    def _pending(self, run_id: str) -> bool:
        try:
            return self.store.get_approval(run_id).status == "pending"
        except RecordNotFoundError:
            return False

    def resume(self, run_id: str, wait: float = RESUME_WAIT) -> RunOutcome | None:
        """Finish a run that stopped half-way (nothing done is repeated), on a worker: the outcome if it ends
        within `wait` seconds, else None while it goes on. A run with nothing to resume raises at once."""
        self.run(run_id)
        self._take_slots(1)
        future = self._resumes.submit(self._resume, run_id)
        try:
            return future.result(timeout=wait)
        except TimeoutError:
            return None

    def _resume(self, run_id: str) -> RunOutcome:
        try:
            with self.open_runs() as runs:
                outcome = runs.resume(run_id)
            self._after(outcome)
            return outcome
        except RunNotWaitingError:
            raise
        except Exception as exc:  # it may fail after the request stopped waiting: the run must say so
            self._fail(run_id, exc)
            raise
        finally:
            self._slots.release()

    def _after(self, outcome: RunOutcome) -> None:
        if outcome.run_id is None:
            return
        if outcome.message:
            self._messages[outcome.run_id] = outcome.message
        if outcome.status == "awaiting_approval":
            try:
                self._notices.submit(self.notify, outcome.run_id)
            except RuntimeError:  # the server is shutting down; the draft still waits in the inbox
                log.warning("run %s: no notice sent, the server is stopping", outcome.run_id)

    # --- telling approvers --------------------------------------------------------------------------

    def notify(self, run_id: str) -> list[Delivery]:
        """Tell the approvers that the run's draft waits; record how each channel went in its audit log."""
        if not self.notifier.channels:
            return []
        try:
            record = self.store.latest_draft(run_id)
            if record is None:
                raise RecordNotFoundError("draft", run_id)
            notice = WaitingDraft.of(run_id, record.draft, self.settings.review_url(run_id),
                                     Review.model_validate(record.review) if record.review else None)
            deliveries = self.notifier.draft_waiting(notice)
            for delivery in deliveries:
                self.store.record_decision(
                    run_id, "notified" if delivery.ok else "notification_failed", "notifier",
                    {"channel": delivery.channel, "draft_version": record.version, "attempts": delivery.attempts,
                     "detail": delivery.detail},
                )
            return deliveries
        except Exception:
            log.exception("could not notify approvers of run %s; the draft still waits in the inbox", run_id)
            return []
