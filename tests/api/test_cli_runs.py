"""The run commands across processes: run, approvals, approve, revise, reject — on SQLite and PostgreSQL.

Each command is its own process, as a person would type them hours apart: state lives only in the data
folder (SQLite) or the database, and in the checkpoints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import fresh_database

ROOT = Path(__file__).parents[2]
TINY = ROOT / "tests" / "fixtures" / "tiny"


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICE_AGENT_", "ANTHROPIC_"))}
    base |= {"INVOICE_AGENT_WORKSPACE": str(TINY), "INVOICE_AGENT_DATA_DIR": str(tmp_path / "data"),
             "USER": "ann"}
    if request.param == "sqlite":
        yield base
    else:
        for url in fresh_database("ia_cli"):
            yield base | {"INVOICE_AGENT_DATABASE_URL": url}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def start(env: dict[str, str]) -> str:
    done = cli(env, "run", "invoice Acme for March", "--as-of", "2026-04-01")
    assert done.returncode == 0, done.stderr
    assert "10 entries, 4 held" in done.stdout and "780.00 GBP" in done.stdout
    assert "offline review: 0 category suggestion(s), 7 kind(s) of anomaly explained" in done.stdout
    found = re.search(r"waiting for approval: (\w+)", done.stdout)
    assert found, done.stdout
    return found[1]


def test_a_run_waits_and_is_approved_from_a_new_process_exactly_once(env: dict[str, str]) -> None:
    run = start(env)
    listed = cli(env, "approvals")
    assert run in listed.stdout and "acme" in listed.stdout and "780.00 GBP" in listed.stdout

    approved = cli(env, "approve", run)
    assert approved.returncode == 0, approved.stderr
    assert "invoice TS-2026-0001 created" in approved.stdout and "sent to ap@acme.example" in approved.stdout

    again = cli(env, "approve", run)
    assert again.returncode != 0
    assert f"run {run} is not waiting for approval (status sent)" in again.stderr
    assert "no drafts are waiting" in cli(env, "approvals").stdout

    assert "already bills" in cli(env, "run", "invoice Acme for March", "--as-of", "2026-04-01").stdout
    voided = cli(env, "void", "TS-2026-0001", "--reason", "issued in error")
    assert voided.returncode == 0 and "6 entries can be billed again" in voided.stdout
    rerun = cli(env, "run", "invoice Acme for March", "--as-of", "2026-04-01")
    assert "waiting for approval" in rerun.stdout and "780.00 GBP" in rerun.stdout


def test_revise_recomputes_and_reject_ends_the_run(env: dict[str, str]) -> None:
    run = start(env)
    revised = cli(env, "revise", run, "--drop", "e8", "--reason", "waived", "--describe", "Maintenance=Bug fixes")
    assert revised.returncode == 0, revised.stderr
    # without e8 (1 h development at 100.00): subtotal 676.25, less 10 % = 608.62 under the 650 cap; +20 % tax
    assert "Bug fixes" in revised.stdout and "730.34 GBP" in revised.stdout
    rejected = cli(env, "reject", run, "--reason", "wrong month")
    assert rejected.returncode == 0 and "rejected" in rejected.stdout
    assert cli(env, "approve", run).returncode != 0
