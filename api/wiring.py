"""Putting a run's parts together from settings: workspace, model, store, ledger, checkpointer, graph."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from agent.model import Model
from agent.select import choose_model
from api.settings import Settings
from graph.builder import build_invoice_graph
from graph.checkpoints import open_checkpointer
from graph.nodes import Runtime
from graph.runs import InvoiceRuns
from tools.connectors.ledger import Ledger
from tools.connectors.select import open_ledger
from tools.domain import Workspace
from tools.store import Store, with_learned_labels
from tools.workspace import load_workspace


@contextmanager
def open_runs(
    settings: Settings,
    *,
    workspace: Path | Workspace | None = None,
    as_of: date | None = None,
    model: Model | None = None,
    ledger: Ledger | None = None,
    store: Store | None = None,
) -> Iterator[InvoiceRuns]:
    """An `InvoiceRuns` on the configured store and checkpointer, closed on exit.

    `store` shares an open store (the server's); otherwise one is opened, migrated and closed here. The
    ledger is the configured one (`INVOICE_AGENT_LEDGER`, default the local ledger in the data folder).
    The runs learn from the workspace's labels and from those the store learned from people
    (`tools.store.labels.with_learned_labels`).
    """
    ws = workspace if isinstance(workspace, Workspace) else load_workspace(workspace or settings.workspace)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    own_store = store is None
    if store is None:
        store = Store(settings.store_url())
        store.migrate()
    try:
        ws = with_learned_labels(ws, store.learned_labels(ws.root))
        with open_checkpointer(settings.database_url, settings.data_dir) as checkpointer:
            runtime = Runtime(
                workspace=ws,
                model=model or choose_model(settings.anthropic_api_key, settings.claude_model),
                store=store,
                ledger=ledger or open_ledger(None, settings.data_dir),
                review_url=settings.review_url,
                budget_usd=settings.run_budget_usd,
                budget_tokens=settings.run_budget_tokens,
            )
            yield InvoiceRuns(runtime, build_invoice_graph(runtime, checkpointer), as_of=as_of)
    finally:
        if own_store:
            store.close()
