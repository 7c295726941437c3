"""Starting and deciding invoice runs: what the CLI and the API call.

One run drafts one client's invoice for one period (a request naming several clients starts several
runs), and only one: the store records a run as the one active run of its client and period in the same
transaction that creates it, so runs racing for one client and period start once and the others answer
"exists" with the winner's id. The approvals table in the store is both the inbox and the lock: a decision
first wins a compare-and-set on the run's approval row (recording who claimed it, when, and the decision),
then resumes the graph, so two people (or processes) deciding at once cannot both push. A claim whose
process died before the decision was recorded goes stale (`tools.store.leases`) and the next `approve` or
`resume` finishes it, once.

Whatever goes wrong inside a run (a model, a ledger, a bug) ends the same way: the run is recorded
`failed` with what happened and `invoice-agent resume RUN`, and one of our errors says the same.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
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
from tools.store import ApprovalRecord, RecordNotFoundError, RunAlreadyActiveError

Progress = Callable[[str], None]

log = logging.getLogger(__name__)


class RunNotWaitingError(DomainError):
    """The run is not waiting for a decision (already decided, unknown, or still running)."""


class RunInterruptedError(DomainError):
    """A run stopped half-way (a model, ledger, mail or unexpected failure, or Ctrl-C); it is recorded
    `failed`, and `invoice-agent resume RUN` finishes it without repeating what was done."""


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
            return [RunOutcome(run_id=None, status="answered",
                               message=f"{nothing_to_bill(resolution.targets)}; no run was started.")]
        return [self.start(t.client, t.period, text, leave_out=t.leave_out, progress=progress) for t in targets]

    def start(self, client_id: str, period: Period, request: str, *, leave_out: list[LeaveOut] | None = None,
              progress: Progress | None = None) -> RunOutcome:
        """Start one run, unless this client and period already have a draft waiting or an invoice.

        `leave_out` (what the request asked to leave out) becomes proposed drops in the review."""
        client = self.rt.workspace.client(client_id)
        run_id = uuid.uuid4().hex[:12]
        try:  # the check and the insert are one transaction: of runs racing for this period, one is recorded
            self.rt.store.create_run(self.rt.workspace.root, request, run_id=run_id, client=client.id,
                                     period=period)
        except RunAlreadyActiveError as exc:
            existing = exc.active
            return RunOutcome(run_id=existing.run_id, client=client.id, period=str(period), status="exists",
                              message=f"{client.name}, {period}: {existing.describe()}; nothing new was started")
        if progress:
            progress(f"run {run_id}: {client.name}, {period}")
        first = {
            "run_id": run_id, "workspace": self.rt.workspace.root, "client": client.id, "period": str(period),
            "as_of": self.as_of.isoformat(), "request": request, "progress": [],
            "leave_out": [x.model_dump(mode="json") for x in leave_out or []],
        }
        try:
            state = self._drive(run_id, first, progress)
        except Exception as exc:  # e.g. Claude unavailable: the run keeps its checkpoint for `resume`
            return RunOutcome(run_id=run_id, client=client.id, period=str(period), status="failed",
                              message=self._failed(run_id, exc))
        except KeyboardInterrupt as exc:  # stop here (no further targets), saying how to finish this one
            raise RunInterruptedError(self._failed(run_id, exc)) from exc
        return RunOutcome(run_id=run_id, client=client.id, period=str(period), status=state.get("status", "?"),
                          message=state.get("outcome") or state.get("summary", ""))

    def decide(self, run_id: str, decision: Decision, *, progress: Progress | None = None) -> RunOutcome:
        """Apply a person's decision to a run waiting for approval; exactly one decision wins.

        A decision of the same kind whose process died before recording it (a stale claim) is finished
        instead, once."""
        snapshot = self.graph.get_state(self._config(run_id))
        interrupts = list(getattr(snapshot, "interrupts", ()) or ())
        if not interrupts:
            approval = self._approval(run_id)
            if snapshot.next and approval is not None and approval.status == "resuming":
                # the graph took a decision whose process died before `decide` recorded it: finish that one
                self._take_over_for(run_id, decision, replace=False)
                return self._continue(run_id, progress)
            raise RunNotWaitingError(f"run {run_id} is not waiting for approval ({self._status(run_id)})")
        if decision.action == "request_changes":
            self._check_changes(run_id, decision.changes)
        payload = decision.model_dump(mode="json")
        if not self.rt.store.claim(run_id, expected_status="pending", new_status="resuming", decision=payload):
            self._take_over_for(run_id, decision)
        return self._apply(run_id, interrupts[0].id, payload, progress)

    def _take_over_for(self, run_id: str, decision: Decision, *, replace: bool = True) -> None:
        """The approval is not pending: take over its claim if a process died holding it, before recording
        its decision (the same kind of decision only; another kind must be finished by `resume` first).
        With `replace`, `decision` becomes the claimed one (it is the one about to be applied)."""
        approval = self._approval(run_id)
        if approval is None or approval.status != "resuming":
            raise RunNotWaitingError(f"run {run_id} was already decided ({self._status(run_id)})")
        earlier = approval.claimed_decision or {}
        if earlier.get("action", decision.action) != decision.action:
            raise RunNotWaitingError(
                f"run {run_id} is being decided already: {earlier.get('actor')} chose {earlier.get('action')} "
                f"and it is not finished; finish that with: invoice-agent resume {run_id}")
        if self.rt.store.take_over(run_id, decision=decision.model_dump(mode="json") if replace else None) is None:
            raise RunNotWaitingError(
                f"run {run_id} was already decided and is being carried out by {approval.claimed_by} "
                f"({self._status(run_id)}); if that process stopped, try again in {_spoken(self.rt.store.lease)} "
                f"or run: invoice-agent resume {run_id}")

    def _apply(self, run_id: str, interrupt_id: str, payload: dict[str, Any], progress: Progress | None) -> RunOutcome:
        """Resume the graph at the approval interrupt with a claimed decision; any failure ends the run clean."""
        try:
            state = self._drive(run_id, Command(resume={interrupt_id: payload}), progress)
        except (Exception, KeyboardInterrupt) as exc:
            if self._still_waiting(run_id):  # the decision never took: back to the inbox, nothing recorded
                self.rt.store.claim(run_id, expected_status="resuming", new_status="pending")
                raise RunInterruptedError(f"{_what(exc, 'approval')}; nothing was decided and the draft waits "
                                          f"for approval again: invoice-agent approve {run_id}") from exc
            raise RunInterruptedError(self._failed(run_id, exc, done="The decision is recorded")) from exc
        return RunOutcome(run_id=run_id, client=state.get("client"), period=state.get("period"),
                          status=state.get("status", "?"), message=state.get("outcome") or state.get("summary", ""))

    def resume(self, run_id: str, *, progress: Progress | None = None) -> RunOutcome:
        """Continue a run that stopped mid-way (the model or a ledger failed, a process died): finished steps
        are not repeated. A decision whose process died before it was recorded is finished as claimed."""
        snapshot = self.graph.get_state(self._config(run_id))
        interrupts = list(getattr(snapshot, "interrupts", ()) or ())
        approval = self._approval(run_id)
        if approval is not None and approval.status == "resuming":
            claimed = self.rt.store.take_over(run_id)
            if claimed is None:
                raise RunNotWaitingError(f"run {run_id} is being carried out by {approval.claimed_by} right now "
                                         f"({self._status(run_id)}); nothing to resume")
            if interrupts:  # the decision was claimed, never recorded: apply it now
                if claimed.claimed_decision is None:
                    self.rt.store.claim(run_id, expected_status="resuming", new_status="pending")
                    raise RunNotWaitingError(f"run {run_id} waits for approval again (the decision being made "
                                             f"was lost): invoice-agent approve {run_id}")
                if progress:
                    progress(f"finishing {claimed.claimed_decision.get('actor')}'s decision "
                             f"({claimed.claimed_decision.get('action')}): its process stopped before recording it")
                return self._apply(run_id, interrupts[0].id, claimed.claimed_decision, progress)
        if not snapshot.next or interrupts:
            raise RunNotWaitingError(f"run {run_id} has nothing to resume ({self._status(run_id)})")
        if set(snapshot.next) & {"draft", "review"}:  # not yet waiting: another run may have taken its place
            other = self.rt.store.hold(run_id)
            if other is not None:
                raise RunNotWaitingError(f"run {run_id} was superseded: {other.describe()}")
        return self._continue(run_id, progress)

    def _continue(self, run_id: str, progress: Progress | None) -> RunOutcome:
        """Run the graph on from its checkpoint; any failure ends the run clean (`failed`, how to finish)."""
        self.rt.store.update_run(run_id, status="running", error="")
        try:
            state = self._drive(run_id, None, progress)
        except (Exception, KeyboardInterrupt) as exc:
            raise RunInterruptedError(self._failed(run_id, exc)) from exc
        return RunOutcome(run_id=run_id, client=state.get("client"), period=state.get("period"),
                          status=state.get("status", "?"), message=state.get("outcome") or state.get("summary", ""))

    def _failed(self, run_id: str, exc: BaseException, *, done: str = "") -> str:
        """Record the run `failed` with what happened and how to finish it; that sentence, to show."""
        step = self._stopped_at(run_id)
        if not isinstance(exc, InvoiceAgentError | KeyboardInterrupt):
            log.info("run %s failed at %s", run_id, step, exc_info=exc)
        what = _what(exc, step)
        message = (f"{what}. {done}; finish the run with: invoice-agent resume {run_id}" if done
                   else f"{what}; finish with: invoice-agent resume {run_id}")
        try:
            self.rt.store.update_run(run_id, status="failed", error=message)
            self.rt.store.release_claim(run_id)  # a decision claimed but not recorded: `resume` takes it at once
        except InvoiceAgentError:  # the store itself is down: say so, the run's row will say "running"
            log.warning("run %s failed and that could not be recorded", run_id, exc_info=True)
        return message

    def _stopped_at(self, run_id: str) -> str | None:
        """The step the run stopped at (the next node its checkpoint would run), if it can be read."""
        try:
            return ", ".join(self.graph.get_state(self._config(run_id)).next) or None
        except Exception:  # the checkpointer is what failed: the message says what happened without the step
            return None

    def _still_waiting(self, run_id: str) -> bool:
        """True when the run's checkpoint still waits at the approval interrupt (the decision never took)."""
        try:
            return bool(getattr(self.graph.get_state(self._config(run_id)), "interrupts", ()))
        except Exception:
            return False

    def _approval(self, run_id: str) -> ApprovalRecord | None:
        try:
            return self.rt.store.get_approval(run_id)
        except RecordNotFoundError:
            return None

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


def _spoken(span: timedelta) -> str:
    """A lease as a person says it: "5 minutes", "90 seconds"."""
    seconds = round(span.total_seconds())
    return f"{seconds // 60} minutes" if seconds >= 120 and seconds % 60 == 0 else f"{seconds} seconds"


def _what(exc: BaseException, step: str | None) -> str:
    """What happened, in one line: our errors say it themselves; anything else names the step and the error."""
    if isinstance(exc, InvoiceAgentError):
        return str(exc)
    where = f"step {step}" if step else "the run"
    if isinstance(exc, KeyboardInterrupt):
        return f"{where} was stopped (Ctrl-C)"
    return f"{where} failed unexpectedly: {type(exc).__name__}: {exc}"


def nothing_to_bill(targets: list[Target]) -> str:
    """What to say when none of `targets` has anything to bill (see `with_work`)."""
    periods = ", ".join(sorted({str(t.period) for t in targets}))
    return f"Nothing to bill in {periods} for any of the {len(targets)} clients asked for"


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
