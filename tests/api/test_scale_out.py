"""Scale-out on PostgreSQL: two servers and two workers, each its own process, on one fresh database.

Fifty runs (ten clients, five months each) are asked for across both servers at once; every draft is
approved through both servers at once (the same approval sent to each); one worker is killed (SIGKILL)
while it holds a run. Every run must end sent: no request refused, none lost to a race for the checkpoint
tables, the killed worker's runs taken over once its leases ran out; invoice numbers unique and gapless;
each invoice pushed (PDF) and emailed (.eml) exactly once by the local ledger.

It runs with the rest of the suite (it needs the machine's PostgreSQL, like every PostgreSQL test) in well
under 90 s; the figures are printed (`pytest -s`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import pytest

from tests.api.conftest import TINY
from tests.api.test_app_notify import free_port
from tests.databases import fresh_database
from tools.store import Store
from tools.store.tokens import ApiTokens

ROOT = Path(__file__).parents[2]
CLIENTS = 10
MONTHS = 5  # January to May 2026: 50 client-periods, each with something to bill
RUNS = CLIENTS * MONTHS
AS_OF = "2026-06-01"
LEASE_SECONDS = 3
BUDGET = 90.0
HELD = "SELECT id FROM run_jobs WHERE status = 'running' AND leased_by LIKE %s"
"""The jobs a process holds now (its claims are named host:pid:...)."""
DONE = "SELECT count(*) FROM run_jobs WHERE status = 'done'"


def make_workspace(folder: Path) -> Path:
    """The tiny workspace's firm with ten hourly clients, three entries each in each month of Jan-May 2026."""
    folder.mkdir(parents=True)
    for name in ("workspace.yaml", "people.csv"):
        shutil.copy(TINY / name, folder / name)
    clients = ["clients:"]
    entries = ["id,date,person,client,project_code,task,notes,hours,start,end,billable,task_ref"]
    work = [("Ann Lee", "Design", "homepage wireframes", "1.0"),
            ("Bob Roe", "Development", "build product page", "2.0"),
            ("Cat Poe", "Project work", "client discovery call", "1.5")]
    for c in range(1, CLIENTS + 1):
        cid = f"c{c:02d}"
        clients += [f"  - id: {cid}", f"    name: Client {c:02d} Ltd", "    currency: GBP", '    tax_rate: "0.20"',
                    "    payment_terms_days: 30", f"    contact_email: ap@{cid}.example",
                    "    billing: {model: hourly}", '    rates: {default: "100.00"}',
                    "    rounding: {increment_minutes: 15, mode: up}", "    group_by: category", "    rules: []"]
        for month in range(1, MONTHS + 1):
            for i, (person, task, notes, hours) in enumerate(work):
                entries.append(f"{cid}-{month}-{i},2026-{month:02d}-{10 + i:02d},{person},{cid},{cid.upper()}.WEB,"
                               f"{task},{notes},{hours},,,true,")
    (folder / "clients.yaml").write_text("\n".join(clients) + "\n")
    (folder / "time_entries.csv").write_text("\n".join(entries) + "\n")
    (folder / "tasks.csv").write_text("id,client,project_code,title,status,completed_at,milestone_amount,assignee\n")
    return folder


@dataclass
class Cluster:
    """The processes, their shared database and data folder, and an approver's token."""

    url: str
    data: Path
    servers: list[str]
    workers: list[subprocess.Popen[str]]
    headers: dict[str, str]
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def _wait_healthy(base: str, process: subprocess.Popen[str], log: Path, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{base} did not come up:\n{log.read_text()}"
        time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    for url in fresh_database("ia_scale"):
        workspace = make_workspace(tmp_path / "firm")
        data = tmp_path / "data"
        with Store(url) as store:  # what `invoice-agent token create` does, on the shared database
            store.migrate()
            secret, _ = ApiTokens(store).create("approver", "ann@firm")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICE_AGENT_", "ANTHROPIC_"))}
        env |= {"INVOICE_AGENT_DATABASE_URL": url, "INVOICE_AGENT_WORKSPACE": str(workspace),
                "INVOICE_AGENT_DATA_DIR": str(data), "INVOICE_AGENT_RUN_WORKERS": "1",
                "INVOICE_AGENT_JOB_LEASE_SECONDS": str(LEASE_SECONDS), "INVOICE_AGENT_JOB_POLL_SECONDS": "0.2",
                "INVOICE_AGENT_CACHE_DIR": os.environ.get("INVOICE_AGENT_CACHE_DIR",
                                                          str(Path.home() / ".cache" / "invoice-agent"))}
        logs: list[IO[str]] = []
        processes: list[subprocess.Popen[str]] = []

        def spawn(name: str, *args: str, env: dict[str, str] = env, logs: list[IO[str]] = logs,
                  processes: list[subprocess.Popen[str]] = processes) -> subprocess.Popen[str]:
            log = (tmp_path / f"{name}.log").open("w")
            logs.append(log)
            process = subprocess.Popen([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, text=True)
            processes.append(process)
            return process

        ports = [free_port(), free_port()]
        servers = [spawn(f"server{i}", "serve", "--port", str(port), "--tick-every", "0")
                   for i, port in enumerate(ports)]
        workers = [spawn(f"worker{i}", "worker", "--concurrency", "2") for i in range(2)]
        try:
            deadline = time.monotonic() + 40
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            for i, (base, process) in enumerate(zip(bases, servers, strict=True)):
                _wait_healthy(base, process, tmp_path / f"server{i}.log", deadline)
            yield Cluster(url, data, bases, workers, {"Authorization": f"Bearer {secret}"}, processes)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
            for log in logs:
                log.close()


def test_two_servers_and_two_workers_send_fifty_invoices_once_each_though_a_worker_is_killed(
    cluster: Cluster,
) -> None:
    began = time.monotonic()
    clients = [httpx.Client(base_url=base, headers=cluster.headers, timeout=30) for base in cluster.servers]
    asks, posts = ThreadPoolExecutor(24), ThreadPoolExecutor(48)  # apart: an approval waits for its two posts
    asked = [(f"c{c:02d}", f"2026-{m:02d}") for m in range(1, MONTHS + 1) for c in range(1, CLIENTS + 1)]
    victim = cluster.workers[0]
    claim_prefix = f"{socket.gethostname()}:{victim.pid}:%"
    killed: dict[str, Any] = {}
    finished = threading.Event()

    def kill_midway() -> None:
        """SIGKILL the first worker once a quarter of the runs are done, at a moment it holds one (or two)."""
        while not finished.is_set():
            if cluster.sql(HELD, claim_prefix) and cluster.sql(DONE)[0][0] >= RUNS // 4:
                victim.send_signal(signal.SIGKILL)
                victim.wait(10)
                killed["at"] = time.monotonic() - began
                killed["held"] = [row[0] for row in cluster.sql(HELD, claim_prefix)]
                return
            time.sleep(0.02)

    def ask(i: int) -> dict[str, Any]:
        client, period = asked[i]
        response = clients[i % 2].post("/runs", json={"client": client, "period": period, "as_of": AS_OF})
        assert response.status_code == 202, response.text
        [entry] = response.json()["data"]
        assert entry["status"] in ("running", "queued", "awaiting_approval"), entry
        return dict(entry)

    said: dict[str, list[str]] = {}  # run id -> what its approvals' answers said, for a run approved again

    def approve(run_id: str) -> list[int]:
        both = [posts.submit(client.post, f"/approvals/{run_id}/approve") for client in clients]
        answered = [future.result() for future in both]
        said.setdefault(run_id, []).extend(f"{r.status_code} {r.text[:200]}" for r in answered)
        return [r.status_code for r in answered]

    killer = threading.Thread(target=kill_midway)
    killer.start()
    approvals: dict[str, list[Any]] = {}  # run id -> the answers to its approvals, each sent to both servers at once
    try:
        answers = list(asks.map(ask, range(RUNS)))
        asked_in = time.monotonic() - began
        while True:
            assert time.monotonic() - began < BUDGET, f"not done in {BUDGET} s: {_where(cluster)}"
            for item in clients[len(approvals) % 2].get("/approvals").json()["data"]:
                tries = approvals.setdefault(item["run_id"], [])
                if all(f.done() for f in tries):  # new, or answered and still waiting: a person approves again
                    tries.append(asks.submit(approve, item["run_id"]))
            sent = cluster.sql("SELECT count(*) FROM runs WHERE status = 'sent'")[0][0]
            if sent == RUNS and len(approvals) == RUNS and all(f.done() for fs in approvals.values() for f in fs):
                break
            time.sleep(0.1)
    finally:  # whatever happened, no thread of the test outlives it
        finished.set()
        killer.join()
        asks.shutdown(wait=False, cancel_futures=True)
        posts.shutdown(wait=False, cancel_futures=True)
    took = time.monotonic() - began

    # Every run asked for ended sent, through one job each; the killed worker's jobs were taken over.
    jobs = [entry["job_id"] for entry in answers]
    job_rows = cluster.sql("SELECT id, status, attempts, run_id, outcome FROM run_jobs")
    assert sorted(row[0] for row in job_rows) == sorted(jobs) and len(set(jobs)) == RUNS
    assert {(row[1], row[4]) for row in job_rows} == {("done", "awaiting_approval")}
    attempts = Counter(row[2] for row in job_rows)
    by_process = Counter(row[0].rsplit(":", 1)[0] for row in cluster.sql("SELECT leased_by FROM run_jobs"))
    assert killed.get("held"), f"the worker never held a run when looked at: {by_process}"
    assert all(row[2] >= 2 for row in job_rows if row[0] in killed["held"])
    run_statuses = Counter(row[0] for row in cluster.sql("SELECT status FROM runs"))
    sent_runs = {row[0]: row[1:] for row in cluster.sql(
        "SELECT id, client, to_char(period_start, 'YYYY-MM') FROM runs WHERE status = 'sent'")}
    assert sorted(sent_runs.values()) == sorted(asked)
    assert {row[3] for row in job_rows} == set(sent_runs)

    # Each approval was sent to both servers at once: exactly one won, the other was told "already decided".
    # A run listed as waiting after both answers (the list read before they came) is approved again: that
    # second approval is "already decided" twice, or (rarely, under load) the first one's winner.
    answers_per_run = {run_id: sorted(code for f in fs for code in f.result()) for run_id, fs in approvals.items()}
    assert set(answers_per_run) == set(sent_runs)
    assert all(codes.count(200) == 1 and set(codes) == {200, 409} for codes in answers_per_run.values()), {
        run_id: codes for run_id, codes in answers_per_run.items() if codes != [200, 409]}
    again = {run_id: said[run_id] for run_id, fs in approvals.items() if len(fs) > 1}
    assert len(again) <= 5, again  # approving again is the exception
    if again:  # shown in the run's summary: what made an approval answer without deciding
        warnings.warn(f"approved again: {again}", stacklevel=1)
    approved = Counter(row[0] for row in cluster.sql("SELECT run_id FROM decisions WHERE action = 'approved'"))
    assert set(approved.values()) == {1} and set(approved) == set(sent_runs)

    # Numbers unique and gapless; each invoice pushed once (PDF) and emailed once (.eml).
    numbers = sorted(row[0] for row in cluster.sql("SELECT number FROM invoices WHERE status = 'sent'"))
    assert numbers == [f"TS-2026-{n:04d}" for n in range(1, RUNS + 1)]
    pdfs = sorted(p.stem for p in (cluster.data / "invoices").glob("*.pdf"))
    emails = sorted(p.stem for p in (cluster.data / "outbox").glob("*.eml"))
    assert pdfs == numbers and emails == numbers
    assert len(list((cluster.data / "invoices" / ".keys").glob("*.json"))) == RUNS
    assert all(process.poll() is None for process in cluster.processes if process is not victim)

    print(f"\nscale-out: {RUNS} runs asked in {asked_in:.1f} s ({dict(Counter(a['status'] for a in answers))}); "
          f"worker {victim.pid} killed at {killed['at']:.1f} s holding {len(killed['held'])} job(s); all sent at "
          f"{took:.1f} s; jobs per process {dict(by_process)}; job attempts {dict(attempts)}; runs "
          f"{dict(run_statuses)}; approvals answered {dict(Counter(a for p in answers_per_run.values() for a in p))}; "
          f"invoices {numbers[0]}..{numbers[-1]}, {len(pdfs)} PDFs, {len(emails)} emails")


def _where(cluster: Cluster) -> str:
    jobs = cluster.sql("SELECT status, count(*) FROM run_jobs GROUP BY status")
    runs = cluster.sql("SELECT status, count(*) FROM runs GROUP BY status")
    return f"jobs {dict(jobs)}, runs {dict(runs)}"  # type: ignore[arg-type]


def test_the_generated_workspace_has_fifty_client_periods_with_something_to_bill(tmp_path: Path) -> None:
    from tools.workspace import load_workspace

    workspace = load_workspace(make_workspace(tmp_path / "firm"))

    billable = {(e.client, f"{e.date:%Y-%m}") for e in workspace.entries if e.billable and e.date < date(2026, 6, 1)}
    assert len(billable) == RUNS
