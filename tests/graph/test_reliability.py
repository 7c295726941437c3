"""Runs that fail, die or race still end in one clear state: one invoice, one email, a run that says what to do.

- A process killed between winning the approval's claim and recording the decision: the next `approve` or
  `resume` (a new process) finishes it, once.
- Anything raised inside a run (ours or not) records the run `failed` with "finish with: invoice-agent
  resume RUN", and `resume` finishes it; the CLI prints one line, no traceback.
- Runs started at once for one client and period: one drafts, the others answer "exists" with its id.
- A ledger folder that cannot be written: the error names it and the next step; `resume` pushes once.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from api.settings import Settings
from api.wiring import open_runs
from graph.nodes import Decision, InvoiceRunNodes
from graph.runs import InvoiceRuns, RunInterruptedError, RunNotWaitingError
from tests.databases import fresh_database
from tests.graph.conftest import AS_OF, TINY, OpenRuns
from tools.connectors import local_ledger
from tools.connectors.local_ledger import LedgerWriteError, LocalLedger
from tools.files import write_atomic as files_write_atomic
from tools.store import Store

ROOT = Path(__file__).parents[2]
APPROVE = Decision(action="approve", actor="ann@firm")


def files(data: Path) -> dict[str, int]:
    """How many of each thing the local ledger holds: invoices, push markers, emails, temporary files."""
    return {"pdf": len(list(data.glob("invoices/*.pdf"))), "json": len(list(data.glob("invoices/*.json"))),
            "pushes": len(list(data.glob("invoices/.keys/*.json"))), "emails": len(list(data.glob("outbox/*.eml"))),
            "temporary": len(list(data.rglob("*.tmp")))}


ONCE = {"pdf": 1, "json": 1, "pushes": 1, "emails": 1, "temporary": 0}


def waiting_run(runs: InvoiceRuns) -> str:
    [outcome] = runs.request("invoice Acme for March")
    assert outcome.status == "awaiting_approval" and outcome.run_id
    return outcome.run_id


# --- 1. killed between the approval's claim and the recorded decision ----------------------------------

KILLED_AT = """
import os, signal, sys

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # no finally, no rollback: as when the machine loses the process

if sys.argv[1] == "claim":  # right after winning the approval's claim: nothing of the decision is in the graph
    from tools.store.store import Store
    claim = Store.claim

    def claim_then_die(self, *args, **kwargs):
        won = claim(self, *args, **kwargs)
        if won and kwargs.get("new_status") == "resuming":
            die()
        return won

    Store.claim = claim_then_die
else:  # "decide": the graph took the decision (checkpointed), the store has not recorded it
    from graph.nodes import InvoiceRunNodes
    InvoiceRunNodes.decide = die
from api.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of `invoice-agent` commands on one data folder (and, for PostgreSQL, one database)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("INVOICE_AGENT_", "ANTHROPIC_"))}
    base |= {"INVOICE_AGENT_WORKSPACE": str(TINY), "INVOICE_AGENT_DATA_DIR": str(tmp_path / "data"), "USER": "ann"}
    if "INVOICE_AGENT_CACHE_DIR" in os.environ:
        base["INVOICE_AGENT_CACHE_DIR"] = os.environ["INVOICE_AGENT_CACHE_DIR"]
    if request.param == "sqlite":
        yield base
    else:
        for url in fresh_database("ia_reliability"):
            yield base | {"INVOICE_AGENT_DATABASE_URL": url}


def cli(env: dict[str, str], *args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
    """`invoice-agent ARGS` as a process of its own (with `script`: that program, given ARGS)."""
    command = [sys.executable, "-c", script] if script else [sys.executable, "-m", "api.cli"]
    return subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
                          check=False)


def store_of(env: dict[str, str]) -> Store:
    return Store(env.get("INVOICE_AGENT_DATABASE_URL")
                 or f"sqlite:///{Path(env['INVOICE_AGENT_DATA_DIR']) / 'invoice-agent.sqlite'}")


def killed_after_the_claim(env: dict[str, str], at: str = "claim") -> str:
    """A run waiting for approval, then an `approve` SIGKILLed after it won the claim (`at` "claim": at once;
    "decide": once the graph took the decision, before the store recorded it): the run's id."""
    started = cli(env, "run", "invoice Acme for March", "--as-of", AS_OF.isoformat())
    found = re.search(r"waiting for approval: (\w+)", started.stdout)
    assert found, started
    run_id = found[1]
    killed = cli(env, at, "approve", run_id, script=KILLED_AT)
    assert killed.returncode == -9, killed
    with store_of(env) as store:
        assert store.get_approval(run_id).status == "resuming"  # claimed; no decision recorded
    return run_id


def assert_billed_once(env: dict[str, str], run_id: str) -> None:
    with store_of(env) as store:
        invoice = store.invoice_for_run(run_id)
        assert invoice is not None and (invoice.number, invoice.status) == ("TS-2026-0001", "sent")
        assert [d.action for d in store.decisions(run_id) if d.action == "approved"] == ["approved"]
        assert store.get_run(run_id).status == "sent"
    assert files(Path(env["INVOICE_AGENT_DATA_DIR"])) == ONCE
    again = cli(env, "approve", run_id)
    assert again.returncode != 0 and f"run {run_id} is not waiting for approval (status sent)" in again.stderr


@pytest.mark.parametrize("at", ["claim", "decide"], ids=["right-after-the-claim", "before-the-decision-is-recorded"])
def test_an_approval_killed_between_its_claim_and_the_recorded_decision_is_finished_by_approving_again_once(
    env: dict[str, str], at: str
) -> None:
    run_id = killed_after_the_claim(env, at)

    approved = cli(env, "approve", run_id)

    assert approved.returncode == 0, approved
    assert "invoice TS-2026-0001 created" in approved.stdout and "sent to ap@acme.example" in approved.stdout
    assert_billed_once(env, run_id)


def test_an_approval_killed_right_after_its_claim_is_finished_by_resume_with_the_claimed_decision(
    env: dict[str, str],
) -> None:
    run_id = killed_after_the_claim(env)

    resumed = cli(env, "resume", run_id)

    assert resumed.returncode == 0, resumed
    assert "finishing ann's decision (approve)" in resumed.stdout
    assert "acme 2026-03: sent. invoice TS-2026-0001 sent" in resumed.stdout
    assert_billed_once(env, run_id)


def test_a_different_decision_does_not_replace_one_whose_process_died_resume_finishes_that_one(
    runs_on: OpenRuns, settings: Settings
) -> None:
    with runs_on() as runs:
        run_id = waiting_run(runs)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with Store(settings.store_url(), holder=f"{socket.gethostname()}:{child.pid}") as gone:  # claimed, then died
        assert gone.claim(run_id, "pending", "resuming", decision=APPROVE.model_dump(mode="json"))

    with runs_on() as runs:
        with pytest.raises(RunNotWaitingError, match=(
                f"run {run_id} is being decided already: ann@firm chose approve and it is not finished; finish "
                f"that with: invoice-agent resume {run_id}")):
            runs.decide(run_id, Decision(action="reject", actor="bob@firm", reason="wrong month"))

        assert runs.resume(run_id).status == "sent"
        assert [d.actor for d in runs.rt.store.decisions(run_id) if d.action == "approved"] == ["ann@firm"]


# --- 2. any exception inside a run: failed, with the way to finish it -----------------------------------


def test_an_unexpected_error_while_drafting_fails_the_run_with_a_resume_hint_and_resume_finishes_it(
    runs_on: OpenRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr("graph.nodes.review_draft", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad format")))
        with runs_on() as runs:
            [outcome] = runs.request("invoice Acme for March")
    assert outcome.status == "failed" and outcome.run_id
    expected = (f"step review failed unexpectedly: ValueError: bad format; finish with: invoice-agent resume "
                f"{outcome.run_id}")
    with runs_on() as runs:
        run = runs.rt.store.get_run(outcome.run_id)
        assert outcome.message == run.error == expected and run.status == "failed"

        assert runs.resume(outcome.run_id).status == "awaiting_approval"


class BrokenPush(LocalLedger):
    """The local ledger with a bug in push (not one of our errors): every push raises ValueError."""

    def push(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("amount '12,50' is not a decimal")


def test_an_unexpected_error_after_approval_fails_the_run_and_resume_finishes_it(
    runs_on: OpenRuns, settings: Settings
) -> None:
    with runs_on() as runs:
        run_id = waiting_run(runs)
    with runs_on(ledger=BrokenPush(settings.data_dir)) as runs, pytest.raises(RunInterruptedError) as failed:
        runs.decide(run_id, APPROVE)

    assert str(failed.value) == (f"step push failed unexpectedly: ValueError: amount '12,50' is not a decimal. The "
                                 f"decision is recorded; finish the run with: invoice-agent resume {run_id}")
    with runs_on() as runs:
        run = runs.rt.store.get_run(run_id)
        assert (run.status, run.error) == ("failed", str(failed.value))
        assert runs.resume(run_id).status == "sent"
    assert files(settings.data_dir) == ONCE


def test_the_cli_says_what_failed_in_one_line_without_a_traceback(
    runs_on: OpenRuns, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with runs_on() as runs:
        run_id = waiting_run(runs)
    monkeypatch.setattr(LocalLedger, "push", BrokenPush.push)
    capsys.readouterr()

    status = main(["approve", run_id, "--workspace", str(TINY), "--data", str(settings.data_dir)])

    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert err == (f"invoice-agent: step push failed unexpectedly: ValueError: amount '12,50' is not a decimal. "
                   f"The decision is recorded; finish the run with: invoice-agent resume {run_id}\n")


class StoppedSend(LocalLedger):
    """The local ledger as a person presses Ctrl-C while the email is written."""

    def send(self, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt


def test_ctrl_c_during_a_run_records_it_failed_with_the_way_to_finish_it(
    runs_on: OpenRuns, settings: Settings
) -> None:
    with runs_on() as runs:
        run_id = waiting_run(runs)
    with runs_on(ledger=StoppedSend(settings.data_dir)) as runs:
        try:
            with pytest.raises(RunInterruptedError) as stopped:
                runs.decide(run_id, APPROVE)
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C escaped the run: its row still says it is under way")

    assert str(stopped.value) == (f"step send was stopped (Ctrl-C). The decision is recorded; finish the run with: "
                                  f"invoice-agent resume {run_id}")
    with runs_on() as runs:
        assert runs.rt.store.get_run(run_id).status == "failed"
        assert runs.resume(run_id).status == "sent"
    assert files(settings.data_dir) == ONCE


def test_a_failure_before_the_decision_took_puts_the_draft_back_in_the_inbox(
    runs_on: OpenRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    with runs_on() as runs:
        run_id = waiting_run(runs)
    approval = InvoiceRunNodes.approval

    def answered_then_broke(self: InvoiceRunNodes, state: Any) -> Any:
        approval(self, state)  # on resume: the person's answer, then a failure before it is checkpointed
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(InvoiceRunNodes, "approval", answered_then_broke)
        with runs_on() as runs, pytest.raises(RunInterruptedError) as failed:
            runs.decide(run_id, APPROVE)

    assert str(failed.value) == ("step approval failed unexpectedly: OSError: [Errno 5] Input/output error; nothing "
                                 f"was decided and the draft waits for approval again: invoice-agent approve {run_id}")
    with runs_on() as runs:
        assert runs.rt.store.get_approval(run_id).status == "pending"
        assert runs.decide(run_id, APPROVE).status == "sent"


# --- 3. one active run per client and period -----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """The test's settings on SQLite, or on a fresh PostgreSQL database (store and checkpoints)."""
    if request.param == "sqlite":
        yield settings
    else:
        for url in fresh_database("ia_race"):
            yield settings.model_copy(update={"database_url": url})


def test_runs_started_at_once_for_one_client_and_period_draft_exactly_once(
    shared: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_runs(shared, as_of=AS_OF):
        pass  # the schema and the checkpoint tables, made once before the race
    create_run = Store.create_run

    def slowly(self: Store, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # every racer is past its own checks before any run is recorded
        return create_run(self, *args, **kwargs)

    monkeypatch.setattr(Store, "create_run", slowly)
    racers = 4
    barrier = threading.Barrier(racers)
    started: list[float] = []
    ended: list[float] = []
    outcomes: list[tuple[str, str | None, str]] = []

    def race() -> None:
        with open_runs(shared, as_of=AS_OF) as runs:  # each racer: its own store, connections, checkpointer
            barrier.wait()
            started.append(time.monotonic())
            [outcome] = runs.request("invoice Acme for March")
            ended.append(time.monotonic())
            outcomes.append((outcome.status, outcome.run_id, outcome.message))

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert max(started) < min(ended)  # they really raced: every one started before any finished
    [winner] = [run_id for status, run_id, _ in outcomes if status == "awaiting_approval"]
    losers = [(status, run_id, message) for status, run_id, message in outcomes if run_id != winner or
              status != "awaiting_approval"]
    assert [(status, run_id) for status, run_id, _ in losers] == [("exists", winner)] * (racers - 1)
    assert all(f"run {winner} is already drafting" in m or f"run {winner} has a draft" in m for *_, m in losers)
    with open_runs(shared, as_of=AS_OF) as runs:
        assert [a.run_id for a in runs.waiting()] == [winner]
        assert [r.id for r in runs.rt.store.list_runs()] == [winner]


# --- 4. a ledger folder that cannot be written ---------------------------------------------------------


def refusing(folder: str, code: int, reason: str) -> Callable[..., None]:
    """`write_atomic` as on a disk where `folder` (under the data folder) refuses writes."""
    def write_atomic(path: Path, data: bytes | str, **kwargs: Any) -> None:
        if path.parent.name == folder:
            raise OSError(code, reason, str(path.parent / f".{path.name}.x.tmp"))
        files_write_atomic(path, data, **kwargs)

    return write_atomic


def test_a_read_only_outbox_fails_the_run_naming_the_folder_and_resume_sends_once_without_pushing_again(
    runs_on: OpenRuns, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = settings.data_dir / "outbox"
    with runs_on() as runs:
        run_id = waiting_run(runs)
        with monkeypatch.context() as patch:
            patch.setattr(local_ledger, "write_atomic", refusing("outbox", errno.EROFS, "Read-only file system"))
            with pytest.raises(RunInterruptedError) as failed:
                runs.decide(run_id, APPROVE)
        assert isinstance(failed.value.__cause__, LedgerWriteError)
        assert str(failed.value) == (
            f"local ledger, invoice TS-2026-0001: cannot write to {outbox} (Read-only file system); make {outbox} "
            f"writable (or free space on its disk). The decision is recorded; finish the run with: invoice-agent "
            f"resume {run_id}")
        assert runs.rt.store.get_run(run_id).status == "failed"
        pushed = runs.rt.store.invoice_for_run(run_id)
        assert pushed is not None and pushed.status == "pushed"
        pushes: list[str] = []
        push = LocalLedger.push

        def counted(ledger: LocalLedger, doc: Any, key: str, **note: Any) -> Any:
            pushes.append(key)
            return push(ledger, doc, key, **note)

        monkeypatch.setattr(LocalLedger, "push", counted)

        assert runs.resume(run_id).status == "sent"

        sent = runs.rt.store.invoice_for_run(run_id)
    assert pushes == [] and sent is not None and sent.pushed_at == pushed.pushed_at
    assert files(settings.data_dir) == ONCE


def test_a_full_invoices_folder_fails_the_run_before_anything_is_pushed_and_resume_pushes_once(
    runs_on: OpenRuns, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoices = settings.data_dir / "invoices"
    with runs_on() as runs:
        run_id = waiting_run(runs)
        with monkeypatch.context() as patch:
            patch.setattr(local_ledger, "write_atomic", refusing("invoices", errno.ENOSPC, "No space left on device"))
            with pytest.raises(RunInterruptedError, match=re.escape(
                    f"cannot write to {invoices} (No space left on device); make {invoices} writable")):
                runs.decide(run_id, APPROVE)
        run = runs.rt.store.get_run(run_id)
        assert run.status == "failed" and f"invoice-agent resume {run_id}" in (run.error or "")
        assert files(settings.data_dir) == {"pdf": 0, "json": 0, "pushes": 0, "emails": 0, "temporary": 0}

        assert runs.resume(run_id).status == "sent"

    assert files(settings.data_dir) == ONCE
