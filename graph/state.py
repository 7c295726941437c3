"""The invoice run's state: JSON-plain ids, strings and dicts only, so checkpoints survive any process."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class InvoiceRunState(TypedDict, total=False):
    run_id: str
    workspace: str
    client: str
    period: str
    as_of: str
    request: str
    leave_out: list[dict[str, Any]]
    """agent.requests.LeaveOut dumps: what the request asked to leave out ("excluding travel"); each review
    proposes the matching entries as drops for a person to confirm."""
    revisions: dict[str, Any]
    """tools.revisions.Revisions dump: the reviewer's drops, categories and line descriptions."""
    draft_version: int
    summary: str
    decision: dict[str, Any]
    """The approver's answer to the interrupt: action, actor and details."""
    status: str
    outcome: str
    invoice_id: str
    invoice_number: str
    ledger_ref: str
    reminders: list[str]
    progress: Annotated[list[str], operator.add]
    """Human-readable log of what each step did, shown by the CLI as it happens."""
