"""The invoice run's nodes: each reads state, calls one capability, and returns a partial update.

`interrupt()` sits alone in `approval`: LangGraph re-runs an interrupted node from its first line on
resume, so nothing with a side effect may precede it there. Everything irreversible (the invoice number,
the push, the send) lives in later nodes, each idempotent so a re-run after a crash repeats nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, Field

from agent.model import Message, Model, ToolResult, ToolSpec
from agent.prompts import SYSTEM_PROMPT
from graph.state import InvoiceRunState
from tools.connectors.ledger import Ledger, LedgerRef
from tools.domain import Workspace
from tools.drafts import Draft, DraftContext
from tools.errors import TerminalToolError
from tools.invoices import InvoiceDocument
from tools.money import format_money
from tools.periods import Period
from tools.store import Store
from tools.toolbox import INVOICE_TOOLS, InvoiceRunDeps, Revisions, build_draft


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
    max_steps: int = 24
    _contexts: dict[date, DraftContext] = field(default_factory=dict)

    def context(self, as_of: date) -> DraftContext:
        if as_of not in self._contexts:
            self._contexts[as_of] = DraftContext(self.workspace, as_of)
        return self._contexts[as_of]

    def deps(self, state: InvoiceRunState) -> InvoiceRunDeps:
        deps = InvoiceRunDeps(
            workspace=self.workspace,
            context=self.context(date.fromisoformat(state["as_of"])),
            client_id=state["client"],
            period=Period.parse(state["period"]),
            revisions=Revisions.model_validate(state.get("revisions") or {}),
        )
        if _has_drafted(state):
            deps.make_draft()
        return deps


def _has_drafted(state: InvoiceRunState) -> bool:
    names = {c["id"]: c["name"] for m in state.get("messages", []) if m["role"] == "assistant" for c in m["tool_calls"]}
    return any(
        names.get(r["tool_call_id"]) in ("draft_invoice", "set_categories") and not r["is_error"]
        for m in state.get("messages", []) if m["role"] == "tool" for r in m["tool_results"]
    )


class InvoiceRunNodes:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.specs = [ToolSpec(**spec) for spec in INVOICE_TOOLS.specs()]

    # --- the agent loop -------------------------------------------------------------------------

    def agent(self, state: InvoiceRunState) -> dict[str, Any]:
        steps = state.get("steps", 0)
        if steps >= self.rt.max_steps:
            return {"status": "failed", "outcome": f"stopped after {steps} model turns without a draft to approve",
                    "messages": [Message(role="assistant", text="Too many steps; stopping.").model_dump(mode="json")]}
        messages = [Message.model_validate(m) for m in state["messages"]]
        turn = self.rt.model.respond(SYSTEM_PROMPT, messages, self.specs)
        self.rt.store.add_usage(state["run_id"], input_tokens=turn.usage.input_tokens,
                                output_tokens=turn.usage.output_tokens, cost_usd=turn.cost_usd)
        said = [f"agent calls {c.name}" for c in turn.tool_calls] or [f"agent: {turn.text}"]
        message = Message(role="assistant", text=turn.text, tool_calls=turn.tool_calls,
                          provider_content=turn.provider_content)
        return {"messages": [message.model_dump(mode="json")], "steps": steps + 1, "progress": said}

    def tools(self, state: InvoiceRunState) -> dict[str, Any]:
        deps = self.rt.deps(state)
        last = Message.model_validate(state["messages"][-1])
        results, progress = [], []
        for call in last.tool_calls:
            try:
                content, is_error, _ = INVOICE_TOOLS.call(call.name, call.arguments, deps)
            except TerminalToolError as exc:
                return {"status": "failed", "outcome": str(exc), "progress": [f"{call.name} failed: {exc}"]}
            results.append(ToolResult(tool_call_id=call.id, content=content, is_error=is_error))
            progress.append(f"{call.name}: " + (f"error: {content}" if is_error else _gist(call.name, content)))
        update: dict[str, Any] = {
            "messages": [Message(role="tool", tool_results=results).model_dump(mode="json")],
            "revisions": deps.revisions.model_dump(mode="json"),
            "progress": progress,
        }
        if deps.approval_summary is not None and deps.draft is not None:
            version = self.rt.store.save_draft(state["run_id"], deps.draft).version
            self.rt.store.open_approval(state["run_id"], version)
            self.rt.store.update_run(state["run_id"], status="awaiting_approval")
            update |= {"status": "awaiting_approval", "draft_version": version, "summary": deps.approval_summary}
        return update

    def finish(self, state: InvoiceRunState) -> dict[str, Any]:
        """The model ended the run without a draft to approve: record its answer."""
        text = state.get("outcome") or state["messages"][-1].get("text", "")
        status = state.get("status") if state.get("status") == "failed" else "answered"
        self.rt.store.update_run(state["run_id"], status=status, error=text if status == "failed" else None)
        return {"status": status, "outcome": text}

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
        decision = Decision.model_validate(state["decision"])
        revisions = Revisions.model_validate(state.get("revisions") or {}).merged(decision.changes)
        deps = self.rt.deps(state | {"revisions": revisions.model_dump(mode="json")})
        draft = build_draft(deps.workspace, deps.client_id, deps.period, deps.context, revisions)
        self._learn(state, decision)
        version = self.rt.store.save_draft(state["run_id"], draft).version
        self.rt.store.open_approval(state["run_id"], version)
        self.rt.store.update_run(state["run_id"], status="awaiting_approval")
        summary = (f"Version {version} after {decision.actor}'s changes ({decision.changes.describe()}): "
                   f"{len(draft.lines)} line(s), total {format_money(draft.total)} {draft.currency}, "
                   f"{len(draft.held)} held, {len(draft.anomalies) - len(draft.held)} flagged.")
        return {"revisions": revisions.model_dump(mode="json"), "draft_version": version, "summary": summary,
                "status": "awaiting_approval",
                "progress": [f"draft recomputed as version {version}: total {draft.total} {draft.currency}"]}

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


def _gist(name: str, content: str) -> str:
    """A short line for the progress log from a tool's JSON result."""
    data = json.loads(content)
    if name == "fetch_entries":
        return f"{data['count']} entries, {data['total_hours']} h"
    if name == "detect_anomalies":
        return f"{len(data['held'])} held, {len(data['flagged'])} flagged"
    if name == "reconcile_tasks":
        return f"{len(data['findings'])} task findings, {len(data['completed_in_period'])} tasks completed"
    if name == "categorize_entries":
        return f"{len(data['entries'])} categorized, {data['uncertain']} uncertain"
    if name == "draft_invoice":
        return f"{len(data['lines'])} lines, total {data['total']} {data['currency']}"
    return str(data.get("status", "done"))
