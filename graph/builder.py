"""The invoice run as a LangGraph StateGraph.

    START -> draft -> review -> approval -> decide -> create_invoice -> push -> send -> schedule_reminders -> END
               |        ^       (interrupt)    |-> revise --^
               +-> END  +---------------------------+      |-> reject -> END
          (nothing to invoice)

`draft` is the billing engine; `review` is the model's one structured look at the draft (suggestions,
stored, never applied). The only way to `create_invoice` (and so to push and send) is through `approval`,
whose `interrupt()` is answered by a person: no model can grant it.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from graph.nodes import InvoiceRunNodes, Runtime
from graph.routing import after_decision, after_draft
from graph.state import InvoiceRunState


def build_invoice_graph(runtime: Runtime, checkpointer: Any) -> Any:
    nodes = InvoiceRunNodes(runtime)
    g: StateGraph[InvoiceRunState] = StateGraph(InvoiceRunState)
    g.add_node("draft", nodes.draft)
    g.add_node("review", nodes.review)
    g.add_node("approval", nodes.approval)
    g.add_node("decide", nodes.decide)
    g.add_node("revise", nodes.revise)
    g.add_node("reject", nodes.reject)
    g.add_node("create_invoice", nodes.create_invoice)
    g.add_node("push", nodes.push)
    g.add_node("send", nodes.send)
    g.add_node("schedule_reminders", nodes.schedule_reminders)

    g.add_edge(START, "draft")
    g.add_conditional_edges("draft", after_draft)
    g.add_edge("review", "approval")
    g.add_edge("approval", "decide")
    g.add_conditional_edges("decide", after_decision)
    g.add_edge("revise", "review")
    g.add_edge("reject", END)
    g.add_edge("create_invoice", "push")
    g.add_edge("push", "send")
    g.add_edge("send", "schedule_reminders")
    g.add_edge("schedule_reminders", END)
    return g.compile(checkpointer=checkpointer)
