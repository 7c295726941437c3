"""Draft replayed invoices through the real graph (draft, review, store, checkpoints) with any `Model`.

Each draft is one run of `InvoiceRuns.start` on a throwaway data folder; the draft is the one the run saved
for approval. Slower than `engine_drafter` (a store and checkpoints per run): tests use it on a few
invoices to show that the graph drafts exactly what the engine does, whoever reviews.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from agent.model import Model
from api.settings import Settings
from api.wiring import open_runs
from evals.replay import Drafter
from tools.domain import Workspace
from tools.drafts import Draft, DraftContext
from tools.periods import Period


class AgentDidNotDraft(RuntimeError):
    """The run ended without a draft (the model stopped, or found nothing to invoice)."""


def agent_drafter(model: Model, data_dir: Path | None = None) -> Drafter:
    """A `Drafter` that asks `model` to draft through the graph; data goes to `data_dir` (default: a temp dir)."""
    root = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="invoice-agent-eval-"))
    count = 0

    def draft(known: Workspace, context: DraftContext, client_id: str, period: Period) -> Draft:
        nonlocal count
        count += 1
        settings = Settings(data_dir=root / f"run-{count:04d}", database_url=None, anthropic_api_key=None)
        with open_runs(settings, workspace=known, as_of=context.as_of, model=model) as runs:
            outcome = runs.start(client_id, period, f"invoice {client_id} for {period}")
            record = runs.rt.store.latest_draft(outcome.run_id) if outcome.run_id else None
        if record is None:
            raise AgentDidNotDraft(f"{client_id} {period}: {outcome.status} {outcome.message}")
        return record.draft

    return draft
