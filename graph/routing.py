"""Routers of the invoice run: pure functions of state that name the next node."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END

from graph.state import InvoiceRunState


def after_draft(state: InvoiceRunState) -> str:
    """A draft with lines goes to review; nothing to invoice ends the run with that answer."""
    return END if state.get("status") == "answered" else "review"


def after_decision(state: InvoiceRunState) -> Literal["create_invoice", "revise", "reject"]:
    action = state["decision"]["action"]
    if action == "approve":
        return "create_invoice"
    if action == "request_changes":
        return "revise"
    return "reject"
