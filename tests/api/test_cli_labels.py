"""Learning from the reviewer on the command line: `revise --category` is kept as a label, an approval labels
the invoice's entries, `labels export` writes them as entry_labels.csv; a category or entry the draft does
not know is refused and nothing is learned. Each command is its own process, as in test_cli_runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import fresh_database
from tools.store import Store

ROOT = Path(__file__).parents[2]
TINY = ROOT / "tests" / "fixtures" / "tiny"
HEADER = "entry_id,category,billed,invoice_number,anomaly"


def _env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICE_AGENT_", "ANTHROPIC_"))}
    return base | {"INVOICE_AGENT_WORKSPACE": str(TINY), "INVOICE_AGENT_DATA_DIR": str(tmp_path / "data"),
                   "USER": "ann"}


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield _env(tmp_path)
    else:
        for url in fresh_database("ia_labels"):
            yield _env(tmp_path) | {"INVOICE_AGENT_DATABASE_URL": url}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def start(env: dict[str, str]) -> str:
    done = cli(env, "run", "invoice Acme for March", "--as-of", "2026-04-01")
    assert done.returncode == 0, done.stderr
    found = re.search(r"waiting for approval: (\w+)", done.stdout)
    assert found, done.stdout
    return found[1]


def rows(text: str) -> dict[str, tuple[str, str, str, str]]:
    """entry_labels.csv rows by entry id: (category, billed, invoice_number, anomaly)."""
    assert text.splitlines()[0] == HEADER, text
    return {r["entry_id"]: (r["category"], r["billed"], r["invoice_number"], r["anomaly"])
            for r in csv.DictReader(io.StringIO(text))}


def test_a_revised_category_is_learned_and_approval_labels_the_invoice_entries(env: dict[str, str],
                                                                                 tmp_path: Path) -> None:
    run = start(env)
    assert rows(cli(env, "labels", "export").stdout) == {}

    revised = cli(env, "revise", run, "--category", "e1=discovery", "--as", "rita")
    assert revised.returncode == 0, revised.stderr
    exported = cli(env, "labels", "export")
    assert exported.returncode == 0, exported.stderr
    assert rows(exported.stdout) == {"e1": ("discovery", "false", "", "")}
    assert "1 learned label(s): 1 set by reviewers, 0 from approved invoices" in exported.stderr

    approved = cli(env, "approve", run)
    assert approved.returncode == 0 and "invoice TS-2026-0001 created" in approved.stdout, approved.stderr
    out = tmp_path / "exported" / "entry_labels.csv"
    assert cli(env, "labels", "export", "--out", str(out)).returncode == 0
    learned = rows(out.read_text(encoding="utf-8"))
    # e1 keeps the reviewer's category and gains the invoice; e4 was excluded by Acme's internal_meeting rule;
    # the held entries (e6 duplicate, e9 wrong project, e10 future, e11 zero hours) were not decided.
    assert learned["e1"] == ("discovery", "true", "TS-2026-0001", "")
    assert learned["e4"] == ("internal_meeting", "false", "", "")
    assert sorted(learned) == ["e1", "e2", "e3", "e4", "e5", "e7", "e8"]
    assert all(learned[e][1:] == ("true", "TS-2026-0001", "") for e in ("e2", "e3", "e5", "e7", "e8"))


def test_an_unknown_category_or_entry_is_refused_and_nothing_is_learned(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run = start(env)

    unknown_category = cli(env, "revise", run, "--category", "e1=astrology")
    unknown_entry = cli(env, "revise", run, "--category", "e99=design")

    assert unknown_category.returncode == 2 and unknown_entry.returncode == 2
    assert (f"invoice-agent: run {run}: nothing was changed: e1: unknown category 'astrology' (known: design, "
            "development, discovery, internal_meeting)") in unknown_category.stderr
    assert "e99: not an entry of this draft" in unknown_entry.stderr
    assert cli(env, "labels", "export").stdout.strip() == HEADER
    assert run in cli(env, "approvals").stdout  # still waiting: nothing was claimed or recomputed


def test_draft_learns_from_the_data_folder_store_only_when_given_one(tmp_path: Path) -> None:
    workspace = tmp_path / "tiny"
    shutil.copytree(TINY, workspace)
    with (workspace / "time_entries.csv").open("a", encoding="utf-8") as out:
        out.write("x1,2026-03-12,Cat Poe,acme,ACM.WEB,Project work,buzzed their CMO about launch timing,1.0,,,true,\n"
                  "x2,2026-04-14,Cat Poe,acme,ACM.WEB,Project work,buzzed their CMO about the Q4 launch,1.0,,,true,\n")
    data = tmp_path / "data"
    with Store(f"sqlite:///{data / 'invoice-agent.sqlite'}") as store:
        store.migrate()
        run = store.create_run(str(workspace.resolve()), "invoice Acme for March")
        store.record_reviewer_labels(str(workspace.resolve()), run.id, {"x1": "internal_meeting"}, "rita")
    april = ("draft", "--workspace", str(workspace), "--client", "acme", "--period", "2026-04", "--as-of",
             "2026-05-01", "--json")

    plain = cli(_env(tmp_path), *april)
    learned = cli(_env(tmp_path), *april, "--data", str(data))
    nowhere = cli(_env(tmp_path), *april, "--data", str(tmp_path / "no-such-folder"))

    assert plain.returncode == learned.returncode == nowhere.returncode == 0, learned.stderr
    excluded = {"entry_id": "x2", "reason": "excluded by client rule: category internal_meeting"}
    assert excluded in json.loads(learned.stdout)["excluded"]
    assert excluded not in json.loads(plain.stdout)["excluded"]
    assert nowhere.stdout == plain.stdout
    assert not (tmp_path / "no-such-folder").exists()  # a draft reads a store, never creates one
