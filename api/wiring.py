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
from tools.connectors.local_ledger import LocalLedger
from tools.store import Store
from tools.workspace import load_workspace


@contextmanager
def open_runs(
    settings: Settings,
    *,
    workspace: Path | None = None,
    as_of: date | None = None,
    model: Model | None = None,
    ledger: Ledger | None = None,
) -> Iterator[InvoiceRuns]:
    """An `InvoiceRuns` on the configured store and checkpointer, closed on exit."""
    ws = load_workspace(workspace or settings.workspace)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.store_url())
    store.migrate()
    try:
        with open_checkpointer(settings.database_url, settings.data_dir) as checkpointer:
            runtime = Runtime(
                workspace=ws,
                model=model or choose_model(settings.anthropic_api_key, settings.claude_model),
                store=store,
                ledger=ledger or LocalLedger(settings.data_dir),
            )
            yield InvoiceRuns(runtime, build_invoice_graph(runtime, checkpointer), as_of=as_of)
    finally:
        store.close()
