"""`invoice-agent worker`: drafts the runs queued in the data folder's store, as a server's workers would."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from api.cli import main
from tests.api.conftest import TINY
from tools.store import Store
from tools.store.jobs import Jobs
from tools.workspace import load_workspace

AS_OF = date(2026, 4, 1)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the command's own options: no model key, no database or folder from the environment."""
    for key in list(os.environ):
        if key.startswith(("ANTHROPIC_", "INVOICE_AGENT_")) and key != "INVOICE_AGENT_CACHE_DIR":
            monkeypatch.delenv(key)


def test_worker_once_drafts_every_queued_run_then_exits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'invoice-agent.sqlite'}"  # the store `--data` names
    root = load_workspace(TINY).root
    with Store(url) as store:
        store.migrate()
        queued = [Jobs(store).enqueue(root, client, "2026-03", f"invoice {client} for March", as_of=AS_OF,
                                      requested_by="ann@firm")[0].id for client in ("acme", "beta")]

    assert main(["worker", "--once", "--concurrency", "2", "--workspace", str(TINY), "--data", str(data)]) == 0

    assert "2 queued run(s) done; nothing left to claim" in capsys.readouterr().err
    with Store(url) as store:
        jobs = Jobs(store).get_many(queued)
        assert [(job.status, job.outcome) for job in jobs] == [("done", "awaiting_approval")] * 2
        drafts = [store.latest_draft(job.run_id or "") for job in jobs]
        assert [(d.draft.client, str(d.draft.total)) for d in drafts if d] == [("acme", "780.00"), ("beta", "1275.68")]
        assert {a.run_id for a in store.list_pending(root)} == {job.run_id for job in jobs}


def test_worker_once_with_nothing_queued_exits_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--once", "--workspace", str(TINY), "--data", str(tmp_path / "data")]) == 0

    assert "0 queued run(s) done" in capsys.readouterr().err


def test_a_worker_drafts_at_least_one_run_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["worker", "--concurrency", "0"])

    assert refused.value.code == 2
    assert "expected a whole number of runs, 1 or more" in capsys.readouterr().err
