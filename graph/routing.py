"""Routers of the invoice run: pure functions of state that name the next node."""

from __future__ import annotations

from typing import Literal

from graph.state import InvoiceRunState


def after_agent(state: InvoiceRunState) -> Literal["tools", "finish"]:
    """Tool calls go to the tool node; a turn without them ends the run (an answer or a stop)."""
    last = state["messages"][-1]
    return "tools" if last.get("tool_calls") and state.get("status") != "failed" else "finish"


def after_tools(state: InvoiceRunState) -> Literal["agent", "approval", "finish"]:
    """Back to the model, unless it asked for approval (then only a person moves the run on)."""
    status = state.get("status")
    if status == "awaiting_approval":
        return "approval"
    if status == "failed":
        return "finish"
    return "agent"


def after_decision(state: InvoiceRunState) -> Literal["create_invoice", "revise", "reject"]:
    action = state["decision"]["action"]
    if action == "approve":
        return "create_invoice"
    if action == "request_changes":
        return "revise"
    return "reject"
