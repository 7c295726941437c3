"""Proposals for queued payments: Claude reads the reference, code checks every number and computes the money."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.payment_proposals import OpenInvoice, open_invoices, propose, propose_matches
from agent.testing import ScriptedModel, call, turn
from api.cli import main
from api.settings import DEMO_WORKSPACE, Settings
from tools.payments import IncomingPayment
from tools.store import Store
from tools.store.collections import Collections
from tools.workspace import load_workspace

PAYMENT = IncomingPayment(id="pmt-1", date=date(2026, 9, 20), amount=Decimal("1500.00"), currency="GBP",
                          payer="NWIND OUTDOOR", reference="sept stuff thx")


def invoice(number: str, balance: str, *, currency: str = "GBP", due: date = date(2026, 9, 30),
            issued: date = date(2026, 9, 1), client: str = "northwind") -> OpenInvoice:
    return OpenInvoice(number=number, client=client, client_name="Northwind Outdoor Ltd", currency=currency,
                       total=Decimal(balance), balance=Decimal(balance), issue_date=issued, due_date=due)


OPEN = [
    invoice("INV-2026-0040", "1000.00", due=date(2026, 9, 25)),
    invoice("INV-2026-0041", "800.00", due=date(2026, 10, 5)),
    invoice("INV-2026-0042", "2000.00", currency="USD"),
    invoice("INV-2026-0043", "300.00", issued=date(2026, 9, 25)),
]


def answering(*proposals: dict[str, Any], name: str = "claude-test") -> ScriptedModel:
    return ScriptedModel([turn(call("propose_invoices", proposals=list(proposals)))], name=name)


def test_offline_there_are_no_proposals_and_the_report_says_so() -> None:
    report = propose(PAYMENT, OPEN, model=None)

    assert propose_matches(PAYMENT, OPEN) == [] and report.proposals == []
    assert report.source == "offline" and any("no proposals offline" in note for note in report.notes)


def test_a_proposal_pays_its_invoices_earliest_due_first_with_amounts_code_computed() -> None:
    model = answering({"invoice_numbers": ["INV-2026-0041", "INV-2026-0040"], "reason": "Northwind's September"})
    [proposal] = propose_matches(PAYMENT, OPEN, model=model)

    balances = {i.number: i.balance for i in OPEN}
    first, second = proposal.allocations
    assert (first.invoice_number, first.amount) == ("INV-2026-0040", balances["INV-2026-0040"])
    assert (second.invoice_number, second.amount) == ("INV-2026-0041", PAYMENT.amount - first.amount)
    assert proposal.unapplied == 0
    assert proposal.still_owed == balances["INV-2026-0040"] + balances["INV-2026-0041"] - PAYMENT.amount
    assert proposal.source == "claude-test" and proposal.reason == "Northwind's September"
    assert proposal.confirm_args == ["pmt-1", "--invoice", "INV-2026-0040", "--invoice", "INV-2026-0041"]


def test_what_is_left_beyond_the_balances_is_unapplied_never_allocated() -> None:
    [proposal] = propose_matches(PAYMENT, OPEN, model=answering({"invoice_numbers": ["inv-2026-0041 "],
                                                                  "reason": "the October one"}))

    assert [(a.invoice_number, a.amount) for a in proposal.allocations] == [("INV-2026-0041", Decimal("800.00"))]
    assert proposal.unapplied == PAYMENT.amount - Decimal("800.00") and proposal.still_owed == 0


def test_amounts_the_model_adds_are_ignored() -> None:
    model = answering({"invoice_numbers": ["INV-2026-0040"], "reason": "x", "amount": "1500.00",
                       "allocations": [{"invoice_number": "INV-2026-0040", "amount": "1500.00"}]})
    [proposal] = propose_matches(PAYMENT, OPEN, model=model)

    assert [a.amount for a in proposal.allocations] == [Decimal("1000.00")]


@pytest.mark.parametrize(("numbers", "why"), [
    (["INV-2026-0042"], "INV-2026-0042 is in USD, the payment in GBP (nothing is converted)"),
    (["INV-2026-9999"], "INV-2026-9999 is not an open invoice of this workspace"),
    (["INV-2026-0040", "INV-2026-9999"], "INV-2026-9999 is not an open invoice of this workspace"),
    (["INV-2026-0043"], "INV-2026-0043 was issued on 2026-09-25, after the payment (2026-09-20)"),
])
def test_a_proposal_naming_another_currency_or_a_made_up_number_is_refused(numbers: list[str], why: str) -> None:
    model = answering({"invoice_numbers": numbers, "reason": "trust me"},
                      {"invoice_numbers": ["INV-2026-0040"], "reason": "the reference says September"})
    report = propose(PAYMENT, OPEN, model=model)

    assert [p.invoice_numbers for p in report.proposals] == [["INV-2026-0040"]]
    assert report.refused == [f"{', '.join(numbers)}: {why}"]


def test_a_paid_invoice_is_not_open_and_is_refused() -> None:
    paid = [*OPEN, invoice("INV-2026-0039", "0.00")]
    report = propose(PAYMENT, paid, model=answering({"invoice_numbers": ["INV-2026-0039"], "reason": "old one"}))

    assert report.proposals == [] and "INV-2026-0039 is not an open invoice" in report.refused[0]


def test_a_proposal_the_payment_would_not_reach_is_refused() -> None:
    small = PAYMENT.model_copy(update={"amount": Decimal("900.00")})
    report = propose(small, OPEN, model=answering({"invoice_numbers": ["INV-2026-0040", "INV-2026-0041"],
                                                   "reason": "both"}))

    assert report.proposals == [] and report.refused == [
        "INV-2026-0040, INV-2026-0041: the payment is used up before INV-2026-0041"]


def test_a_figure_the_model_made_up_is_removed_from_its_reason() -> None:
    model = answering({"invoice_numbers": ["INV-2026-0040"],
                       "reason": "The payer is Northwind. They owe 7777.77 in total."})
    report = propose(PAYMENT, OPEN, model=model)

    assert report.proposals[0].reason == "The payer is Northwind."
    assert any("7777.77" in note for note in report.notes)


def test_the_model_sees_only_invoices_in_the_payments_currency_issued_by_its_date() -> None:
    model = answering()
    report = propose(PAYMENT, OPEN, model=model)

    prompt = model.calls[0].messages[0].text
    assert "INV-2026-0040" in prompt and "INV-2026-0042" not in prompt and "INV-2026-0043" not in prompt
    assert "sept stuff thx" in prompt and report.proposals == []
    assert "claude-test proposed no invoice" in report.notes[-1]


def test_a_model_that_answers_nonsense_twice_gives_the_offline_answer_with_a_note() -> None:
    model = ScriptedModel([turn(call("propose_invoices", proposals="INV-2026-0040")),
                           turn(call("propose_invoices", proposals=[{"invoice_numbers": []}]))])
    report = propose(PAYMENT, OPEN, model=model)

    assert report.proposals == [] and report.source == "offline"
    assert any("was not used" in note for note in report.notes)


@settings(max_examples=60, deadline=None)
@given(amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2),
       balances=st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000"), places=2),
                         min_size=1, max_size=4))
def test_no_invoice_gets_more_than_its_balance_nor_all_more_than_the_payment(
    amount: Decimal, balances: list[Decimal],
) -> None:
    invoices = [invoice(f"INV-2026-{n:04d}", str(b), due=date(2026, 9, 1 + n)) for n, b in enumerate(balances)]
    payment = PAYMENT.model_copy(update={"amount": amount})
    report = propose(payment, invoices, model=answering({"invoice_numbers": [i.number for i in invoices],
                                                         "reason": "all of them"}))

    for proposal in report.proposals:
        given_to = {a.invoice_number: a.amount for a in proposal.allocations}
        assert all(0 < given_to[i.number] <= i.balance for i in invoices)
        assert sum(given_to.values()) + proposal.unapplied == amount
    if not report.proposals:
        assert "used up before" in report.refused[0]


# ----------------------------------------------------------------------------------------------------
# The command line: payments propose


DEMO = str(DEMO_WORKSPACE)


@pytest.fixture
def ticked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """The demo after a tick: pmt-007 (GBP, "HMRC VAT") waits in the queue."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("INVOICE_AGENT_", "ANTHROPIC_")) and name != "INVOICE_AGENT_CACHE_DIR":
            monkeypatch.delenv(name)
    data = str(tmp_path / "data")
    assert main(["tick", "--date", "2026-10-31", "--workspace", DEMO, "--data", data]) == 0
    capsys.readouterr()
    return data


def demo_open(data: str) -> list[OpenInvoice]:
    workspace = load_workspace(DEMO_WORKSPACE)
    with Store(Settings(data_dir=Path(data)).store_url()) as store:
        return open_invoices(Collections(store).book(workspace), workspace.clients)


def test_payments_propose_offline_shows_the_queue_and_says_there_are_no_proposals(
    ticked: str, capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["payments", "propose", "--workspace", DEMO, "--data", ticked])
    out = capsys.readouterr().out

    assert code == 0 and "pmt-007" in out and "HMRC VAT" in out and "no proposals offline" in out
    assert "confirm:" not in out


def test_payments_propose_shows_checked_proposals_and_a_person_confirms_with_resolve(
    ticked: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = demo_open(ticked)
    gbp = next(i for i in opened if i.currency == "GBP" and i.issue_date <= date(2026, 9, 9))
    usd = next(i for i in opened if i.currency == "USD")
    model = answering({"invoice_numbers": [usd.number], "reason": "looks right"},
                      {"invoice_numbers": [gbp.number], "reason": "the payer pays this client's invoices"})
    monkeypatch.setattr("api.cli_collections.choose_model", lambda *_: model)

    code = main(["payments", "propose", "pmt-007", "--workspace", DEMO, "--data", ticked, "--json"])
    [report] = json.loads(capsys.readouterr().out)

    assert code == 0 and [p["invoice_numbers"] for p in report["proposals"]] == [[gbp.number]]
    assert f"{usd.number} is in USD, the payment in GBP" in report["refused"][0]
    confirm = report["proposals"][0]
    args = [confirm["payment_id"], "--invoice", gbp.number]
    assert main(["payments", "resolve", *args, "--workspace", DEMO, "--data", ticked, "--as", "ann"]) == 0
    assert gbp.number in capsys.readouterr().out
    assert main(["payments", "propose", "--workspace", DEMO, "--data", ticked]) == 0
    assert "no payments are waiting" in capsys.readouterr().out


def test_payments_propose_refuses_a_payment_not_in_the_queue(ticked: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["payments", "propose", "pmt-001", "--workspace", DEMO, "--data", ticked])

    assert code == 2 and "not waiting in the queue: pmt-001" in capsys.readouterr().err
