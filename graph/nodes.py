"""The invoice run's nodes: each reads state, calls one capability, and returns a partial update.

`draft` is code (the billing engine); `review` is the one place a model's judgment enters, and what it
says is stored as suggestions beside the draft, never applied. `interrupt()` sits alone in `approval`:
LangGraph re-runs an interrupted node from its first line on resume, so nothing with a side effect may
precede it there. Everything irreversible (the invoice number, the push, the send) lives in later nodes,
each idempotent so a re-run after a crash repeats nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, Field

from agent.model import Model
from agent.requests import LeaveOut, proposed_drops
from agent.review import approval_summary, review_draft
from agent.structured import Meter
from graph.state import InvoiceRunState
from tools.connectors.ledger import Ledger, LedgerRef
from tools.domain import Workspace
from tools.drafts import Draft, DraftContext
from tools.invoices import InvoiceDocument
from tools.money import format_money
from tools.periods import Period
from tools.revisions import Revisions, build_draft
from tools.store import Store


class Decision(BaseModel):
    """What a person answers at the approval interrupt."""

    action: Literal["approve", "request_changes", "reject"]
    actor: str = Field(min_length=1)
    reason: str = ""
    changes: Revisions = Field(default_factory=Revisions)
    """With request_changes: entries to drop, categories to set, lines to rename."""


@dataclass
class Runtime:
    """What the nodes use but the state must not hold: the workspace, the model, the store, the ledger."""

    workspace: Workspace
    model: Model
    store: Store
    ledger: Ledger
    review_url: Callable[[str], str] | None = None
    """The page where a person reviews a run (its link goes into the ledger's private note)."""
    budget_usd: Decimal = Decimal("0.02")
    budget_tokens: int = 20_000
    """What one run's model calls may spend; past it the offline review stands in, with a note."""
    _contexts: dict[date, DraftContext] = field(default_factory=dict)

    def context(self, as_of: date) -> DraftContext:
        if as_of not in self._contexts:
            self._contexts[as_of] = DraftContext(self.workspace, as_of)
        return self._contexts[as_of]

    def build(self, state: InvoiceRunState, revisions: Revisions) -> Draft:
        return build_draft(self.workspace, state["client"], Period.parse(state["period"]),
                           self.context(date.fromisoformat(state["as_of"])), revisions)


class InvoiceRunNodes:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # --- the draft and its review ---------------------------------------------------------------

    def draft(self, state: InvoiceRunState) -> dict[str, Any]:
        """The billing engine's draft: candidates, anomalies, categories, the client's rules, exact money."""
        draft = self.rt.build(state, Revisions.model_validate(state.get("revisions") or {}))
        said = [f"{len(draft.entries)} entries, {len(draft.held)} held, "
                f"{len(draft.anomalies) - len(draft.held)} flagged, {len(draft.excluded)} excluded"]
        if draft.is_empty:
            outcome = self._nothing_to_invoice(state, draft)
            self.rt.store.update_run(state["run_id"], status="answered")
            return {"status": "answered", "outcome": outcome, "progress": [*said, outcome]}
        version = self.rt.store.save_draft(state["run_id"], draft).version
        said.append(f"draft v{version}: {len(draft.lines)} lines, total {format_money(draft.total)} {draft.currency}")
        return {"draft_version": version, "progress": said}

    def _nothing_to_invoice(self, state: InvoiceRunState, draft: Draft) -> str:
        period = Period.parse(state["period"])
        milestones = [t for t in self.rt.workspace.tasks if t.client == state["client"] and t.status == "done"
                      and t.completed_at in period and t.milestone_amount is not None]
        why = ("no milestone was completed in the period" if draft.billing_model == "fixed" and not milestones
               else "nothing billable was found")
        return f"Nothing to invoice for {draft.client_name} in {period}: {why}. No draft was sent for approval."

    def review(self, state: InvoiceRunState) -> dict[str, Any]:
        """The draft's one review (the model's suggestions, checked; or the offline review), then the inbox."""
        run_id, version = state["run_id"], state["draft_version"]
        record = self.rt.store.get_draft(run_id, version)
        run = self.rt.store.get_run(run_id)  # what earlier reviews of this run spent counts against its budget
        meter = Meter(max_usd=self.rt.budget_usd - run.cost_usd,
                      max_tokens=self.rt.budget_tokens - run.input_tokens - run.output_tokens)
        leave_out = [LeaveOut.model_validate(x) for x in state.get("leave_out") or []]
        proposed = proposed_drops(leave_out, record.draft, self.rt.workspace) if leave_out else {}
        review = review_draft(self.rt.model, self.rt.workspace, record.draft, meter=meter, proposed_drops=proposed)
        review.notes += [f"the request asked to leave out {x.said!r}: no entry of this draft matches it"
                         for x in leave_out if not proposed_drops([x], record.draft, self.rt.workspace)]
        if meter.tokens:
            u = meter.usage
            self.rt.store.add_usage(run_id, output_tokens=u.output_tokens, cost_usd=meter.cost_usd,
                                    input_tokens=u.input_tokens + u.cache_read_input_tokens
                                    + u.cache_creation_input_tokens)
        self.rt.store.save_review(run_id, version, review.model_dump(mode="json"))
        self.rt.store.open_approval(run_id, version)
        self.rt.store.update_run(run_id, status="awaiting_approval")
        by = "offline review" if not review.by_model else f"review by {review.source}"
        said = [f"{by}: {len(review.suggestions)} category suggestion(s), {len(review.anomalies)} kind(s) of "
                f"anomaly explained", *(f"note: {note}" for note in review.notes)]
        if proposed:
            said.append(f"the request asked to leave out {len(proposed)} entries: proposed for you to confirm")
        return {"status": "awaiting_approval", "summary": approval_summary(record.draft, review), "progress": said}

    # --- the person -----------------------------------------------------------------------------

    def approval(self, state: InvoiceRunState) -> dict[str, Any]:
        # Alone in its node: on resume this line runs again and returns the person's answer.
        answer = interrupt({"run_id": state["run_id"], "draft_version": state["draft_version"],
                            "summary": state.get("summary", "")})
        return {"decision": Decision.model_validate(answer).model_dump(mode="json")}

    def decide(self, state: InvoiceRunState) -> dict[str, Any]:
        decision = Decision.model_validate(state["decision"])
        status: Literal["approved", "changes_requested", "rejected"] = (
            "approved" if decision.action == "approve"
            else "changes_requested" if decision.action == "request_changes" else "rejected"
        )
        self.rt.store.decide(state["run_id"], status=status, actor=decision.actor, reason=decision.reason,
                             detail=decision.model_dump(mode="json", exclude={"action", "actor", "reason"}))
        return {"progress": [f"{decision.actor} {status.replace('_', ' ')}"]}

    def revise(self, state: InvoiceRunState) -> dict[str, Any]:
        """The person's changes on top of earlier ones; the engine drafts a new version, reviewed again."""
        decision = Decision.model_validate(state["decision"])
        revisions = Revisions.model_validate(state.get("revisions") or {}).merged(decision.changes)
        draft = self.rt.build(state, revisions)
        self._learn(state, decision)
        version = self.rt.store.save_draft(state["run_id"], draft).version
        return {"revisions": revisions.model_dump(mode="json"), "draft_version": version,
                "progress": [f"{decision.actor}'s changes ({decision.changes.describe()}): draft v{version}, "
                             f"total {format_money(draft.total)} {draft.currency}"]}

    def _learn(self, state: InvoiceRunState, decision: Decision) -> None:
        """The categories the person set become labels later runs learn from (only ones naming a catalogue
        category and an entry of the draft they reviewed: `InvoiceRuns.decide` refuses others up front)."""
        if not decision.changes.categories:
            return
        reviewed = {e.entry_id for e in self.rt.store.get_draft(state["run_id"], state["draft_version"]).draft.entries}
        catalogue = {c.id for c in self.rt.workspace.settings.categories}
        categories = {entry: category for entry, category in decision.changes.categories.items()
                      if entry in reviewed and category in catalogue}
        self.rt.store.record_reviewer_labels(self.rt.workspace.root, state["run_id"], categories, decision.actor)

    def reject(self, state: InvoiceRunState) -> dict[str, Any]:
        reason = state["decision"].get("reason", "")
        self.rt.store.update_run(state["run_id"], status="rejected", error=reason or None)
        return {"status": "rejected", "outcome": f"rejected: {reason}"}

    # --- after approval: each step idempotent ------------------------------------------------------

    def _approved_draft(self, state: InvoiceRunState) -> Draft:
        return self.rt.store.get_draft(state["run_id"], state["draft_version"]).draft

    def create_invoice(self, state: InvoiceRunState) -> dict[str, Any]:
        draft = self._approved_draft(state)
        invoice = self.rt.store.create_invoice(
            workspace=self.rt.workspace.root,
            draft=draft,
            run_id=state["run_id"],
            number_format=self.rt.workspace.settings.invoice_number_format,
            issue_date=draft.issue_date,
            history_numbers=[i.invoice_number for i in self.rt.workspace.invoices],
        )
        return {"invoice_id": invoice.id, "invoice_number": invoice.number, "status": "approved",
                "progress": [f"invoice {invoice.number} created"]}

    def _document(self, state: InvoiceRunState) -> InvoiceDocument:
        return InvoiceDocument.from_draft(self._approved_draft(state), state["invoice_number"], self.rt.workspace)

    def push(self, state: InvoiceRunState) -> dict[str, Any]:
        invoice = self.rt.store.get_invoice(state["invoice_id"])
        if invoice.ledger_ref:
            return {"ledger_ref": invoice.ledger_ref, "progress": [f"already pushed as {invoice.ledger_ref}"]}
        run_id = state["run_id"]
        ref = self.rt.ledger.push(self._document(state), idempotency_key=invoice.idempotency_key, run_id=run_id,
                                  review_url=self.rt.review_url(run_id) if self.rt.review_url else None)
        self.rt.store.mark_pushed(state["invoice_id"], ledger=ref.ledger, ref=ref.id)
        return {"ledger_ref": ref.id, "status": "pushed", "progress": [f"pushed to the {ref.ledger} ledger"]}

    def send(self, state: InvoiceRunState) -> dict[str, Any]:
        invoice = self.rt.store.get_invoice(state["invoice_id"])
        if invoice.sent_at is None:
            ref = LedgerRef(ledger=invoice.ledger or self.rt.ledger.name, id=invoice.ledger_ref or "",
                            number=invoice.number)
            self.rt.ledger.send(ref, self._document(state))
            self.rt.store.mark_sent(state["invoice_id"])
        client = self.rt.workspace.client(state["client"])
        return {"status": "sent", "progress": [f"sent to {client.contact_email or client.name}"]}

    def schedule_reminders(self, state: InvoiceRunState) -> dict[str, Any]:
        invoice = self.rt.store.get_invoice(state["invoice_id"])
        policy = self.rt.workspace.settings.reminders
        due = invoice.due_date
        days = [due - timedelta(days=d) for d in policy.before_due_days]
        days += [due] if policy.on_due else []
        days += [due + timedelta(days=d) for d in policy.after_due_days]
        reminders = [d.isoformat() for d in sorted(days)]
        self.rt.store.update_run(state["run_id"], status="sent")
        return {"reminders": reminders, "status": "sent", "outcome": f"invoice {invoice.number} sent",
                "progress": [f"reminders scheduled: {', '.join(reminders)}; escalation after "
                             f"{policy.escalate_after_days} days overdue"]}

