"""The invoice run killed (SIGKILL) at every node boundary, and inside the approval's claim window, on SQLite
and PostgreSQL; then recovered the documented way in a new process.

Each case ends with the same ledger: Acme (killed, then recovered) is TS-2026-0001 and Beta, approved
afterwards, TS-2026-0002; one invoice row per run, both sent; one PDF, one JSON and one push marker per
invoice in invoices/; one email per invoice in outbox/; one approval recorded per run; the numbers gapless.

    killed while drafting (`run`)          -> `resume RUN` (waits for approval again) -> `approve RUN`
    killed after the decision (`approve`)  -> `resume RUN` ("continue a run that crashed after approval")
    killed in the claim window             -> `resume RUN`, or `approve RUN` again (both tried: the claim
                                              of a process that is gone is stale, and either finishes it)
    killed while revising (`revise`)       -> `resume RUN` (the new draft waits) -> `approve RUN`
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest

from tests.crash.conftest import ACME_TOTAL, BACKENDS, BETA_TOTAL, World

Worlds = Callable[[str, str], World]


def assert_billed_once(world: World, acme_total: str = ACME_TOTAL) -> None:
    """Acme TS-2026-0001 and Beta TS-2026-0002, each invoiced, pushed, sent and approved exactly once."""
    expected = [("Acme", "TS-2026-0001", acme_total), ("Beta", "TS-2026-0002", BETA_TOTAL)]
    invoices = world.rows("SELECT run_id, number, status, total, ledger_ref, sent_at FROM invoices ORDER BY number")
    assert [(run, number) for run, number, *_ in invoices] == [(world.runs[c], n) for c, n, _ in expected]
    for (_, number, status, total, ledger_ref, sent_at), (_, _, expected_total) in zip(invoices, expected,
                                                                                       strict=True):
        assert (status, Decimal(str(total)), ledger_ref) == ("sent", Decimal(expected_total), number)
        assert sent_at is not None
    numbers = [number for _, number, *_ in invoices]
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, len(numbers) + 1))  # gapless

    runs = dict(world.rows("SELECT id, status FROM runs"))
    assert runs == {world.runs["Acme"]: "sent", world.runs["Beta"]: "sent"}
    assert world.rows("SELECT run_id FROM approvals WHERE status NOT IN ('approved')") == []
    approved = Counter(run for run, action in world.rows("SELECT run_id, action FROM decisions")
                       if action == "approved")
    assert approved == {world.runs["Acme"]: 1, world.runs["Beta"]: 1}

    invoices_dir, outbox = world.data / "invoices", world.data / "outbox"
    assert sorted(p.stem for p in invoices_dir.glob("*.pdf")) == numbers
    assert sorted(p.stem for p in invoices_dir.glob("*.json")) == numbers
    assert len(list((invoices_dir / ".keys").glob("*.json"))) == len(numbers)  # one completed push each
    assert sorted(p.stem for p in outbox.glob("*.eml")) == numbers
    for number, (client, *_rest) in zip(numbers, expected, strict=True):
        email = (outbox / f"{number}.eml").read_text()
        assert f"Subject: Invoice {number} from Tiny Studio" in email
        assert ("ap@acme.example" if client == "Acme" else "rechnung@beta.example") in email
    assert [p.name for p in world.data.rglob(".*.tmp")] == []  # no half-written file left behind


def approve_beta_after(world: World) -> None:
    """Another client approved after the recovery: it takes the next number, none was burnt."""
    done = world.ok("approve", world.runs["Beta"])
    assert "invoice TS-2026-0002 created" in done.stdout and "sent to rechnung@beta.example" in done.stdout


def assert_second_approval_refused(world: World, run: str) -> None:
    again = world.cli("approve", run)
    assert again.returncode != 0 and "not waiting for approval (status sent)" in again.stderr, again


# --- killed while drafting: before the person -----------------------------------------------------------

BEFORE_APPROVAL = ["before:draft", "after:draft", "before:review", "after:review", "before:approval"]


@pytest.mark.parametrize("point", BEFORE_APPROVAL)
@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_while_drafting_resume_waits_for_approval_then_bills_once(
    worlds: Worlds, backend: str, point: str
) -> None:
    world = worlds(backend, "beta_waiting")
    killed = world.start("Acme", at=point)
    assert killed.killed and f"kill_at: SIGKILL at {point}" in killed.stderr, killed
    acme = world.runs["Acme"]

    resumed = world.ok("resume", acme)
    assert f"waiting for approval: {acme}" in resumed.stdout and f"{ACME_TOTAL} GBP" in resumed.stdout
    inbox = world.rows("SELECT run_id FROM approvals WHERE status = 'pending'")
    assert sorted(inbox) == sorted([(acme,), (world.runs["Beta"],)])  # Acme's draft is in the inbox once

    approved = world.ok("approve", acme)
    assert "invoice TS-2026-0001 created" in approved.stdout and "sent to ap@acme.example" in approved.stdout
    approve_beta_after(world)
    assert_second_approval_refused(world, acme)
    assert_billed_once(world)


# --- killed after the decision was recorded -------------------------------------------------------------

AFTER_DECISION = ["after:decide", "before:create_invoice", "after:create_invoice", "before:push", "after:push",
                  "before:send", "after:send", "before:schedule_reminders", "after:schedule_reminders"]


@pytest.mark.parametrize("point", AFTER_DECISION)
@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_after_approval_resume_finishes_without_repeating(worlds: Worlds, backend: str, point: str) -> None:
    world = worlds(backend, "both_waiting")
    acme = world.runs["Acme"]
    world.killed("approve", acme, at=point)

    resumed = world.ok("resume", acme)
    assert "acme 2026-03: sent. invoice TS-2026-0001 sent" in resumed.stdout, resumed
    assert_second_approval_refused(world, acme)
    approve_beta_after(world)
    assert_billed_once(world)


# --- killed inside the claim window: the approval claimed, the decision not yet recorded ----------------

CLAIM_WINDOW = ["claim", "before:approval", "after:approval", "before:decide"]


@pytest.mark.parametrize(("point", "recovery"), [
    pytest.param(p, r, id=f"{p}-then-{r}") for p in CLAIM_WINDOW for r in ("resume", "approve")])
@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_in_the_claim_window_the_approval_is_not_lost(
    worlds: Worlds, backend: str, point: str, recovery: str
) -> None:
    world = worlds(backend, "both_waiting")
    acme = world.runs["Acme"]
    world.killed("approve", acme, at=point)

    recovered = world.cli(recovery, acme)
    assert recovered.returncode == 0, recovered
    assert "acme 2026-03: sent. invoice TS-2026-0001 sent" in recovered.stdout, recovered
    assert_second_approval_refused(world, acme)
    approve_beta_after(world)
    assert_billed_once(world)


# --- killed while revising ------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["before:revise", "after:revise"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_while_revising_resume_brings_the_new_draft_back(worlds: Worlds, backend: str, point: str) -> None:
    world = worlds(backend, "both_waiting")
    acme = world.runs["Acme"]
    world.killed("revise", acme, "--drop", "e8", "--reason", "waived", at=point)

    resumed = world.ok("resume", acme)
    # without e8 (1 h at 100.00): 676.25 less 10 % = 608.62, under the cap; + 20 % tax
    assert f"waiting for approval: {acme}" in resumed.stdout and "730.34 GBP" in resumed.stdout, resumed
    approved = world.ok("approve", acme)
    assert "invoice TS-2026-0001 created" in approved.stdout
    approve_beta_after(world)
    assert_billed_once(world, acme_total="730.34")
    changes = [run for run, action in world.rows("SELECT run_id, action FROM decisions")
               if action == "changes_requested"]
    assert changes == [acme]  # the change was recorded once, though revise ran twice after after:revise


def test_the_launcher_reports_a_point_never_reached(worlds: Worlds) -> None:
    """A kill point the command never reaches must not pass silently as a crash case."""
    world = worlds("sqlite", "beta_waiting")
    done = world.cli("approvals", at="before:push")
    assert done.returncode == 97 and "before:push was never reached" in done.stderr, done
