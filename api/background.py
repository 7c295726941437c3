"""The server's engine room: one store, the run workers, decisions, and notices when a draft waits.

A run can take minutes (the model thinks, tools run), so POST /runs hands each run to a worker thread
and answers at once with the run's id; GET /runs/{id} then reads the run's status from the store. The
id is known the moment the graph records the run: the store tells the waiting request (see
`_RunRecordingStore`). At most `Settings.run_workers` runs draft at once; past that a request is
answered "busy" rather than queued, so an accepted run always starts now.

Each run and each decision gets its own `InvoiceRuns` (workspace read afresh, with the labels the store
learned from people merged in by `api.wiring.open_runs`; its own checkpointer connection) over the one
shared `Store`. Decisions are applied in the request: they are quick, and the
caller must learn at once whether it won (LangGraph has no cross-process lock: the approvals row is the
lock, see graph/runs.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from agent.model import Model
from agent.requests import Resolution, Target, understand
from agent.review import Review
from agent.select import choose_model
from api.notify import Delivery, Notifier, WaitingDraft
from api.settings import Settings
from api.wiring import open_runs
from graph.nodes import Decision
from graph.runs import InvoiceRuns, RunNotWaitingError, RunOutcome, with_work
from tools.clients import find_client
from tools.connectors.ledger import Ledger
from tools.domain import Workspace
from tools.errors import InvoiceAgentError
from tools.periods import Period
from tools.store import InvoiceRecord, RecordNotFoundError, RunRecord, Store
from tools.store.tokens import ApiTokens
from tools.workspace import load_workspace

__all__ = ["BusyError", "RunService"]

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
"""Seconds a request waits for its runs to be recorded (normally milliseconds)."""
INTERRUPT_WAIT = 10.0
"""Seconds a decision waits for a draft just put in the inbox to be ready for it (normally milliseconds)."""
RESUME_WAIT = 5.0
"""Seconds POST /runs/{id}/resume waits for the run to finish before answering that it goes on."""


class BusyError(InvoiceAgentError):
    """The server cannot start a run now: try again shortly."""


class _RunRecordingStore(Store):
    """The app's store: also tells the worker thread that started a run its id, as soon as it exists.

    Needed because `InvoiceRuns.start` makes up the run's id itself; if it took one (`run_id=`), the
    request could make the id and this class would go.
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


@dataclass(eq=False)
class _Ticket:
    """One run being started: the request waits on it until the run is recorded (or ends, or fails)."""

    target: Target
    run_id: str | None = None
    outcome: RunOutcome | None = None
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple[str, str]:
        return self.target.client, str(self.target.period)

    def recorded(self, run_id: str) -> None:
        self.run_id = run_id
        self.ready.set()

    def ended(self, outcome: RunOutcome) -> None:
        self.outcome = outcome
        self.ready.set()

    def failed(self, error: BaseException) -> None:
        self.error = error
        self.ready.set()

    def started(self, timeout: float) -> RunOutcome:
        """The run as the request reports it: running (most often), or how it ended if it already did."""
        if not self.ready.wait(timeout):
            raise BusyError(f"the run for {self.target.client} {self.target.period} did not start within "
                            f"{timeout:.0f} s; look for it in a minute")
        if self.run_id is not None:
            return RunOutcome(run_id=self.run_id, client=self.target.client, period=str(self.target.period),
                              status="running", message="drafting in the background; poll the run for its status")
        if self.outcome is not None:
            return self.outcome
        assert self.error is not None
        raise self.error


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
        self.store = _RunRecordingStore(settings.store_url())
        self.store.migrate()
        self.tokens = ApiTokens(self.store)
        self._workers = ThreadPoolExecutor(settings.run_workers, thread_name_prefix="invoice-run")
        self._slots = threading.BoundedSemaphore(settings.run_workers)
        self._notices = ThreadPoolExecutor(1, thread_name_prefix="invoice-notify")
        self._lock = threading.Lock()
        self._starting: dict[tuple[str, str], _Ticket] = {}
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
        """Let running runs and notices finish, then close the store."""
        self._workers.shutdown(wait=True)
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
            periods = ", ".join(sorted({str(t.period) for t in resolution.targets}))
            return resolution.model_copy(update={"targets": [], "question": (
                f"Nothing to bill in {periods} for any of the {len(resolution.targets)} clients asked for; "
                "which period do you mean?")})
        return resolution.model_copy(update={"targets": targets})

    def target(self, client: str, period: Period) -> Target:
        return Target(client=find_client(self.workspace(), client).id, period=period)

    def start(self, targets: list[Target], request: str, as_of: date) -> list[RunOutcome]:
        """Start a run per target in the background; return once each is recorded (or found already under way)."""
        tickets: list[_Ticket] = []
        new: list[_Ticket] = []
        with self._lock:
            for target in targets:
                ticket = self._starting.get((target.client, str(target.period)))
                if ticket is None:
                    ticket = _Ticket(target)
                    new.append(ticket)
                    self._starting[ticket.key] = ticket
                tickets.append(ticket)  # the same client and period asked twice at once: one run
            try:
                self._take_slots(len(new))
            except BusyError:
                for ticket in new:
                    del self._starting[ticket.key]
                raise
        for ticket in new:
            self._workers.submit(self._run, ticket, request, as_of)
        outcomes = []
        for ticket in tickets:
            outcome = ticket.started(START_TIMEOUT)
            if ticket not in new and outcome.status == "running":
                outcome = outcome.model_copy(update={
                    "status": "exists",
                    "message": f"run {outcome.run_id} is already drafting this; nothing new was started"})
            outcomes.append(outcome)
        return outcomes

    def _take_slots(self, wanted: int) -> None:
        """Reserve `wanted` workers, all or none: an accepted run starts now instead of queueing."""
        taken = 0
        while taken < wanted and self._slots.acquire(blocking=False):
            taken += 1
        if taken < wanted:
            for _ in range(taken):
                self._slots.release()
            raise BusyError(f"all {self.settings.run_workers} run workers are busy; try again in a minute "
                            "(or raise INVOICE_AGENT_RUN_WORKERS)")

    def _run(self, ticket: _Ticket, request: str, as_of: date) -> None:
        try:
            with self.store.reporting_runs_to(ticket.recorded), self.open_runs(as_of) as runs:
                outcome = runs.start(ticket.target.client, ticket.target.period, request,
                                     leave_out=ticket.target.leave_out)
            ticket.ended(outcome)
            self._after(outcome)
        except Exception as exc:
            log.exception("run for %s %s failed", ticket.target.client, ticket.target.period)
            if ticket.run_id is not None:
                self._fail(ticket.run_id, exc)
            ticket.failed(exc)
        finally:
            with self._lock:
                self._starting.pop(ticket.key, None)
            self._slots.release()

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
        future = self._workers.submit(self._resume, run_id)
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
