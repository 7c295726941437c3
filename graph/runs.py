"""Starting and deciding invoice runs: what the CLI and the API call.

One run drafts one client's invoice for one period (a request naming several clients starts several
runs). The approvals table in the store is both the inbox and the lock: a decision first wins a
compare-and-set on the run's approval row, then resumes the graph, so two people (or processes) deciding
at once cannot both push.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

from langgraph.types import Command
from pydantic import BaseModel

from agent.requests import LeaveOut, Target, understand
from agent.structured import Meter
from graph.nodes import Decision, Runtime
from graph.state import InvoiceRunState
from tools.domain import Workspace
from tools.drafts import Draft, already_invoiced
from tools.errors import DomainError, InvoiceAgentError
from tools.periods import Period
from tools.revisions import Revisions
from tools.store import RecordNotFoundError

Progress = Callable[[str], None]


class RunNotWaitingError(DomainError):
    """The run is not waiting for a decision (already decided, unknown, or still running)."""


class RunInterruptedError(DomainError):
    """A decided run stopped half-way (a ledger or mail failure); `resume` finishes it without repeating."""


class InvalidChangesError(DomainError):
    """Requested changes that do not fit the waiting draft (an unknown entry, category or line)."""


class RunOutcome(BaseModel):
    run_id: str | None
    client: str | None = None
    period: str | None = None
    status: str
    message: str = ""


class InvoiceRuns:
    def __init__(self, runtime: Runtime, graph: Any, *, as_of: date | None = None) -> None:
        self.rt = runtime
        self.graph = graph
        self.as_of = as_of or date.today()

    @staticmethod
    def _config(run_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": run_id}}

    def _drive(self, run_id: str, payload: Any, progress: Progress | None) -> InvoiceRunState:
        for update in self.graph.stream(payload, self._config(run_id), stream_mode="updates", durability="sync"):
            for node, change in update.items():
                if node == "__interrupt__" or not isinstance(change, dict):
                    continue
                for line in change.get("progress", []):
                    if progress:
                        progress(line)
        state: InvoiceRunState = self.graph.get_state(self._config(run_id)).values
        return state

    def request(self, text: str, *, progress: Progress | None = None) -> list[RunOutcome]:
        """Understand a request and start one run per client it names (or return the question to ask).

        "Everyone" starts a run only for the clients with something to bill in the period."""
        resolution = understand(text, self.rt.workspace, self.as_of, self.rt.model,
                                Meter(self.rt.budget_usd, self.rt.budget_tokens))
        if resolution.question:
            return [RunOutcome(run_id=None, status="question", message=resolution.question)]
        targets = with_work(self.rt.workspace, resolution.targets, self.as_of)
        for note in [*resolution.assumptions, *resolution.notes,
                     *(f"nothing to bill for {t.client} in {t.period}" for t in resolution.targets
                       if t not in targets)]:
            if progress:
                progress(f"note: {note}")
        if not targets:
            periods = ", ".join(sorted({str(t.period) for t in resolution.targets}))
            return [RunOutcome(run_id=None, status="answered",
                               message=f"Nothing to bill in {periods} for any of the {len(resolution.targets)} "
                                       "clients asked for; no run was started.")]
        return [self.start(t.client, t.period, text, leave_out=t.leave_out, progress=progress) for t in targets]

    def start(self, client_id: str, period: Period, request: str, *, leave_out: list[LeaveOut] | None = None,
              progress: Progress | None = None) -> RunOutcome:
        """Start one run, unless this client and period already have a draft waiting or an invoice.

        `leave_out` (what the request asked to leave out) becomes proposed drops in the review."""
        client = self.rt.workspace.client(client_id)
        existing = self.rt.store.find_active(self.rt.workspace.root, client.id, period)
        if existing is not None:
            return RunOutcome(run_id=existing.run_id, client=client.id, period=str(period), status="exists",
                              message=f"{client.name}, {period}: {existing.describe()}; nothing new was started")
        run_id = uuid.uuid4().hex[:12]
        self.rt.store.create_run(self.rt.workspace.root, request, run_id=run_id, client=client.id, period=period)
        if progress:
            progress(f"run {run_id}: {client.name}, {period}")
        first = {
            "run_id": run_id, "workspace": self.rt.workspace.root, "client": client.id, "period": str(period),
            "as_of": self.as_of.isoformat(), "request": request, "progress": [],
            "leave_out": [x.model_dump(mode="json") for x in leave_out or []],
        }
        try:
            state = self._drive(run_id, first, progress)
        except InvoiceAgentError as exc:  # e.g. Claude unavailable: the run keeps its checkpoint for `resume`
            self.rt.store.update_run(run_id, status="failed", error=str(exc))
            return RunOutcome(run_id=run_id, client=client.id, period=str(period), status="failed",
                              message=f"{exc} (retry with: invoice-agent resume {run_id})")
        return RunOutcome(run_id=run_id, client=client.id, period=str(period), status=state.get("status", "?"),
                          message=state.get("outcome") or state.get("summary", ""))

    def decide(self, run_id: str, decision: Decision, *, progress: Progress | None = None) -> RunOutcome:
        """Apply a person's decision to a run waiting for approval; exactly one decision wins."""
        snapshot = self.graph.get_state(self._config(run_id))
        interrupts = list(getattr(snapshot, "interrupts", ()) or ())
        if not interrupts:
            raise RunNotWaitingError(f"run {run_id} is not waiting for approval ({self._status(run_id)})")
        if decision.action == "request_changes":
            self._check_changes(run_id, decision.changes)
        if not self.rt.store.claim(run_id, expected_status="pending", new_status="resuming"):
            raise RunNotWaitingError(f"run {run_id} was already decided ({self._status(run_id)})")
        try:
            state = self._drive(run_id, Command(resume={interrupts[0].id: decision.model_dump(mode="json")}), progress)
        except InvoiceAgentError as exc:
            self.rt.store.update_run(run_id, status="failed", error=str(exc))
            raise RunInterruptedError(
                f"{exc}. The decision is recorded; finish the run with: invoice-agent resume {run_id}"
            ) from exc
        return RunOutcome(run_id=run_id, client=state.get("client"), period=state.get("period"),
                          status=state.get("status", "?"), message=state.get("outcome") or state.get("summary", ""))

    def resume(self, run_id: str, *, progress: Progress | None = None) -> RunOutcome:
        """Continue a run that stopped mid-way (a crash after approval): finished steps are not repeated."""
        snapshot = self.graph.get_state(self._config(run_id))
        if not snapshot.next or getattr(snapshot, "interrupts", None):
            raise RunNotWaitingError(f"run {run_id} has nothing to resume ({self._status(run_id)})")
        if set(snapshot.next) & {"draft", "review"}:  # not yet waiting: another run may have taken its place
            values = snapshot.values
            other = self.rt.store.find_active(self.rt.workspace.root, values["client"],
                                              Period.parse(values["period"]), exclude_run=run_id)
            if other is not None:
                raise RunNotWaitingError(f"run {run_id} was superseded: {other.describe()}")
        self.rt.store.update_run(run_id, status="running", error="")
        state = self._drive(run_id, None, progress)
        return RunOutcome(run_id=run_id, client=state.get("client"), period=state.get("period"),
                          status=state.get("status", "?"), message=state.get("outcome") or "")

    def _check_changes(self, run_id: str, changes: Revisions) -> None:
        """Refuse, before anything is claimed or recorded, changes naming what the waiting draft does not have:
        a reviewer's categories become labels later runs learn from, so a typo must not pass silently."""
        approval = self.rt.store.get_approval(run_id)
        draft = self.rt.store.get_draft(run_id, approval.draft_version).draft
        problems = change_problems(draft, [c.id for c in self.rt.workspace.settings.categories], changes)
        if problems:
            raise InvalidChangesError(f"run {run_id}: nothing was changed: {'; '.join(problems)}")

    def _status(self, run_id: str) -> str:
        try:
            return f"status {self.rt.store.get_run(run_id).status}"
        except RecordNotFoundError:
            return "no such run"

    def waiting(self) -> Iterator[Any]:
        yield from self.rt.store.list_pending()


def with_work(workspace: Workspace, targets: list[Target], as_of: date) -> list[Target]:
    """The targets with something to bill, when there are several ("everyone for October"): a billable
    entry in the period not yet invoiced, or a milestone completed in it. One target is kept as it is
    (its run says "nothing to invoice" itself)."""
    if len(targets) < 2:
        return targets
    invoiced = already_invoiced(workspace, as_of)
    busy = {(e.client, e.date) for e in workspace.entries if e.billable and e.id not in invoiced}
    done = {(t.client, t.completed_at) for t in workspace.tasks
            if t.status == "done" and t.completed_at and t.milestone_amount is not None}
    return [t for t in targets if any(c == t.client and d in t.period for c, d in busy | done)]


def change_problems(draft: Draft, catalogue: Iterable[str], changes: Revisions) -> list[str]:
    """What in `changes` does not fit the draft: entries it does not list, categories not in the catalogue,
    line descriptions it does not show. Empty when every change names something real."""
    entries = {e.entry_id for e in draft.entries}
    known = set(catalogue)
    lines = {line.description for line in draft.lines}
    problems = [f"{e}: not an entry of this draft" for e in [*changes.drop, *changes.categories] if e not in entries]
    problems += [f"{e}: unknown category {c!r} (known: {', '.join(sorted(known))})"
                 for e, c in changes.categories.items() if c not in known]
    problems += [f"no line is described {d!r}" for d in changes.descriptions if d not in lines]
    return list(dict.fromkeys(problems))
