"""The invoice run as a LangGraph StateGraph.

    START -> agent <-> tools -> approval -> decide -> create_invoice -> push -> send -> schedule_reminders -> END
               |         |         ^           |-> revise --^
               +-> finish <-+       (interrupt) |-> reject -> END

The only way to `create_invoice` (and so to push and send) is through `approval`, whose `interrupt()` is
answered by a person: the model can ask for approval, never grant it.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from graph.nodes import InvoiceRunNodes, Runtime
from graph.routing import after_agent, after_decision, after_tools
from graph.state import InvoiceRunState


def build_invoice_graph(runtime: Runtime, checkpointer: Any) -> Any:
    nodes = InvoiceRunNodes(runtime)
    g: StateGraph[InvoiceRunState] = StateGraph(InvoiceRunState)
    g.add_node("agent", nodes.agent)
    g.add_node("tools", nodes.tools)
    g.add_node("finish", nodes.finish)
    g.add_node("approval", nodes.approval)
    g.add_node("decide", nodes.decide)
    g.add_node("revise", nodes.revise)
    g.add_node("reject", nodes.reject)
    g.add_node("create_invoice", nodes.create_invoice)
    g.add_node("push", nodes.push)
    g.add_node("send", nodes.send)
    g.add_node("schedule_reminders", nodes.schedule_reminders)

    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", after_agent)
    g.add_conditional_edges("tools", after_tools)
    g.add_edge("finish", END)
    g.add_edge("approval", "decide")
    g.add_conditional_edges("decide", after_decision)
    g.add_edge("revise", "approval")
    g.add_edge("reject", END)
    g.add_edge("create_invoice", "push")
    g.add_edge("push", "send")
    g.add_edge("send", "schedule_reminders")
    g.add_edge("schedule_reminders", END)
    return g.compile(checkpointer=checkpointer)
