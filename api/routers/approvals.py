"""Approvals: the inbox of drafts waiting for a person, and the three decisions on one.

A decision is addressed by run id and taken by an approver token, whose label is recorded as who
decided. Exactly one decision wins: deciding on a draft that is already decided (or not waiting)
answers 409, and nothing is pushed a second time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import Approver, CurrentToken, ServiceDep
from api.errors import responses
from api.schemas import ApprovalsPublic, ChangesCreate, RejectCreate, RunId, RunPublic
from api.views import approval_of, inbox_view, run_view
from graph.nodes import Decision
from graph.runs import InvalidChangesError, RunNotWaitingError, change_problems
from tools.revisions import Revisions

router = APIRouter(prefix="/approvals", tags=["approvals"])

RunPath = Annotated[RunId, Path(description="the run whose draft is decided")]
DECIDE = responses(401, 403, 404, 409, 422, 502)
DECIDE_WITH_BODY = responses(400, 401, 403, 404, 409, 422, 502)


@router.get("", response_model=ApprovalsPublic, responses=responses(401))
def list_approvals(token: CurrentToken, service: ServiceDep) -> ApprovalsPublic:
    """Drafts waiting for a decision, oldest request first."""
    pending = service.store.list_pending(service.workspace_root)
    data = [inbox_view(service, approval) for approval in pending]
    return ApprovalsPublic(data=data, count=len(data))


@router.post("/{run_id}/approve", response_model=RunPublic, responses=DECIDE)
def approve(run_id: RunPath, token: Approver, service: ServiceDep) -> RunPublic:
    """Approve the draft: the invoice is numbered, pushed to the ledger and sent. Answers with the run."""
    service.decide(run_id, Decision(action="approve", actor=token.label))
    return run_view(service, run_id)


@router.post("/{run_id}/request-changes", response_model=RunPublic, responses=DECIDE_WITH_BODY)
def request_changes(run_id: RunPath, body: ChangesCreate, token: Approver, service: ServiceDep) -> RunPublic:
    """Drop entries, set categories, rename lines: the engine recomputes the draft, which waits again."""
    changes = _checked_changes(service, run_id, body)
    service.decide(run_id, Decision(action="request_changes", actor=token.label, reason=body.reason,
                                    changes=changes))
    return run_view(service, run_id)


@router.post("/{run_id}/reject", response_model=RunPublic, responses=DECIDE_WITH_BODY)
def reject(run_id: RunPath, body: RejectCreate, token: Approver, service: ServiceDep) -> RunPublic:
    """Reject the draft, with the reason; nothing is invoiced."""
    service.decide(run_id, Decision(action="reject", actor=token.label, reason=body.reason))
    return run_view(service, run_id)


def _checked_changes(service: ServiceDep, run_id: str, body: ChangesCreate) -> Revisions:
    """The edits as revisions, once each names something in the waiting draft (a typo must not pass silently)."""
    run = service.run(run_id)
    approval = approval_of(service.store, run_id)
    if approval is None or approval.status != "pending":
        state = f"its draft is {approval.status}" if approval else f"status {run.status}"
        raise RunNotWaitingError(f"run {run_id} is not waiting for approval ({state})")
    draft = service.store.get_draft(run_id, approval.draft_version).draft
    if not (body.drop or body.categories or body.descriptions):
        raise InvalidChangesError("no changes: give entries to drop, categories to set or lines to rename")
    reason = body.reason or "dropped by the reviewer"
    changes = Revisions(drop=dict.fromkeys(body.drop, reason), categories=body.categories,
                        descriptions=body.descriptions)
    problems = change_problems(draft, [c.id for c in service.workspace().settings.categories], changes)
    if problems:
        raise InvalidChangesError("; ".join(problems))
    return changes
