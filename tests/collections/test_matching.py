"""Payment matching: invoice numbers in mangled references, amount and payer, part payments, one payment for
several invoices, overpayment, tolerance write-offs, currencies never mixed; a confidence and a reason each."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tools.domain import Workspace
from tools.payments import (
    IncomingPayment,
    MatchPolicy,
    PaymentMatch,
    Tolerance,
    from_workspace,
    match_payments,
    parse_references,
)
from tools.receivables import Book, Receivable, Settlement, from_history

FORMAT = "INV-{year}-{seq:04d}"
D = Decimal


def _match(demo: Workspace, payments: list[IncomingPayment], invoices: list[Receivable] | None = None,
           policy: MatchPolicy | None = None, book: Book | None = None) -> list[PaymentMatch]:
    return match_payments(payments, invoices if invoices is not None else from_history(demo), clients=demo.clients,
                          number_format=FORMAT, book=book, policy=policy)


def _pay(reference: str, amount: str, *, payer: str = "", currency: str = "GBP", day: date = date(2026, 10, 20),
         pid: str = "p-1") -> IncomingPayment:
    return IncomingPayment(id=pid, date=day, amount=D(amount), currency=currency, payer=payer, reference=reference)


def _invoice(number: str, client: str, total: str, *, currency: str = "GBP", due: date = date(2026, 10, 31),
             issue: date = date(2026, 10, 1)) -> Receivable:
    return Receivable(number=number, client=client, currency=currency, total=D(total), period_start=date(2026, 9, 1),
                      period_end=date(2026, 9, 30), issue_date=issue, due_date=due, sent_on=issue, source="store")


# --- the demo against its ground truth ------------------------------------------------------------------


def test_the_demo_payments_match_their_labels_and_no_wrong_match_is_confirmed(demo: Workspace) -> None:
    matches = _match(demo, from_workspace(demo))
    truth = {label.payment_id: sorted(label.invoice_numbers) for label in demo.payment_labels}

    correct = sum(1 for m in matches if (m.invoice_numbers if m.auto else []) == truth[m.payment.id])
    wrong_confirmed = [m.payment.id for m in matches if m.auto and m.invoice_numbers != truth[m.payment.id]]

    assert len(matches) == 18
    assert correct / len(matches) >= 0.98, f"{correct}/{len(matches)}"
    assert wrong_confirmed == []
    assert all(m.reason for m in matches)


def test_the_unrelated_receipt_waits_in_the_queue_with_no_proposal(demo: Workspace) -> None:
    [vat] = [m for m in _match(demo, from_workspace(demo)) if m.payment.id == "pmt-007"]

    assert (vat.status, vat.invoice_numbers, vat.confidence) == ("queued", [], 0.0)


def test_one_payment_for_two_invoices_is_split_between_them(demo: Workspace) -> None:
    [haus] = [m for m in _match(demo, from_workspace(demo)) if m.payment.id == "pmt-008"]

    assert haus.auto
    assert [(a.invoice_number, a.amount) for a in haus.allocations] == [
        ("INV-2026-0007", D("23205.00")), ("INV-2026-0015", D("27578.25"))]


def test_a_part_payment_leaves_the_balance_open(demo: Workspace) -> None:
    [part] = [m for m in _match(demo, from_workspace(demo)) if m.payment.id == "pmt-016"]

    assert part.auto and part.invoice_numbers == ["INV-2026-0013"]
    assert [(a.amount, a.kind) for a in part.allocations] == [(D("15024.60"), "payment")]
    assert "10016.40 stays open" in part.reason


def test_a_payment_without_reference_matches_the_payers_only_invoice_of_that_amount(demo: Workspace) -> None:
    [northwind] = [m for m in _match(demo, from_workspace(demo)) if m.payment.id == "pmt-011"]

    assert northwind.auto and northwind.invoice_numbers == ["INV-2026-0009"]
    assert "no invoice number in the reference" in northwind.reason


# --- references --------------------------------------------------------------------------------------------

NUMBERS = ["INV-2026-0042", "INV-2026-0007", "INV-2026-0015", "INV-2026-0006", "INV-2026-0010"]


@pytest.mark.parametrize(("reference", "number"), [
    ("INV-2026-0042", "INV-2026-0042"),
    ("inv 2026 0042", "INV-2026-0042"),
    ("INV2026-42", "INV-2026-0042"),
    ("INV20260042", "INV-2026-0042"),
    ("INV/2026/0042", "INV-2026-0042"),
    ("IVN-2026-0042", "INV-2026-0042"),
    ("INV-2026-O042", "INV-2026-0042"),
    ("Payment INV-2026-0042 thank you", "INV-2026-0042"),
    ("invoice no. 2026-42", "INV-2026-0042"),
])
def test_a_mangled_invoice_number_is_read_as_the_invoice(reference: str, number: str) -> None:
    hits = parse_references(reference, NUMBERS, FORMAT)

    assert [h.number for h in hits] == [number]
    assert hits[0].strength in ("exact", "strong")


def test_numbers_listed_after_one_are_read_in_the_same_year() -> None:
    hits = parse_references("RE INV-2026-0007 / 0015", NUMBERS, FORMAT)

    assert sorted(h.number for h in hits) == ["INV-2026-0007", "INV-2026-0015"]


@pytest.mark.parametrize("reference", ["PAYMENT 2026-10-05", "PO 44817", "VAT REPAYMENT 0926", "ACCT 20260042X9"])
def test_dates_and_other_numbers_are_not_invoice_numbers(reference: str) -> None:
    assert [h.number for h in parse_references(reference, NUMBERS, FORMAT) if h.strength != "weak"] == []
    assert "INV-2026-0010" not in [h.number for h in parse_references(reference, NUMBERS, FORMAT)]


def test_a_bare_sequence_after_an_invoice_word_is_a_weak_reading() -> None:
    [hit] = parse_references("VERDE INVOICE 0006", NUMBERS, FORMAT)

    assert (hit.number, hit.strength) == ("INV-2026-0006", "weak")


# --- amounts, tolerance, overpayment, currency ---------------------------------------------------------------


def test_a_shortfall_within_the_tolerance_is_written_off_explicitly(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00")]
    policy = MatchPolicy(tolerance=Tolerance.parse("1.00"))

    [m] = _match(demo, [_pay("INV-2026-0101", "999.25", payer="Northwind Outdoor Ltd")], invoices, policy)

    assert m.auto
    assert [(a.amount, a.kind) for a in m.allocations] == [(D("999.25"), "payment"), (D("0.75"), "write_off")]
    assert "written off" in m.reason


def test_a_percent_tolerance_scales_with_the_balance(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "10000.00")]
    policy = MatchPolicy(tolerance=Tolerance.parse("0.5%"))

    [within] = _match(demo, [_pay("INV-2026-0101", "9950.00", payer="Northwind")], invoices, policy)
    [beyond] = _match(demo, [_pay("INV-2026-0101", "9949.99", payer="Northwind")], invoices, policy)

    assert [a.kind for a in within.allocations] == ["payment", "write_off"]
    assert [a.kind for a in beyond.allocations] == ["payment"]  # a part payment: 0.01 past the 50.00 tolerance


def test_without_a_tolerance_a_short_payment_is_a_part_payment(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00")]

    [m] = _match(demo, [_pay("INV-2026-0101", "999.25", payer="Northwind")], invoices)

    assert [(a.amount, a.kind) for a in m.allocations] == [(D("999.25"), "payment")]


def test_an_overpayment_settles_the_invoice_and_holds_the_excess_as_a_credit_for_a_person_to_confirm(
    demo: Workspace,
) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00")]

    [m] = _match(demo, [_pay("INV-2026-0101", "1200.00", payer="Northwind")], invoices)

    assert [(a.amount, a.kind) for a in m.allocations] == [(D("1000.00"), "payment"), (D("200.00"), "credit")]
    assert not m.auto and m.confidence < 0.9
    assert "overpaid by 200.00" in m.reason


def test_an_overpayment_equal_to_another_open_invoice_proposes_both(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00"),
                _invoice("INV-2026-0102", "northwind", "250.00", due=date(2026, 11, 30))]

    [m] = _match(demo, [_pay("INV-2026-0101", "1250.00", payer="Northwind")], invoices)

    assert m.invoice_numbers == ["INV-2026-0101", "INV-2026-0102"]
    assert not m.auto


def test_a_payment_in_another_currency_never_matches_automatically(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "verde", "1000.00", currency="EUR")]

    [m] = _match(demo, [_pay("INV-2026-0101", "1000.00", payer="Verde Coffee Roasters", currency="GBP")], invoices)

    assert (m.auto, m.allocations) == (False, [])
    assert [c.invoice_number for c in m.candidates] == ["INV-2026-0101"]
    assert "never matched to another currency" in m.reason


def test_an_amount_alone_in_another_currency_is_only_a_candidate(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "verde", "1000.00", currency="EUR")]

    [m] = _match(demo, [_pay("", "1000.00", payer="Verde Coffee", currency="GBP")], invoices)

    assert (m.auto, m.invoice_numbers) == (False, [])
    assert [c.invoice_number for c in m.candidates] == ["INV-2026-0101"]


def test_two_open_invoices_of_the_same_amount_make_the_payment_ambiguous(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "sturgeon", "34000.00", currency="USD"),
                _invoice("INV-2026-0102", "sturgeon", "34000.00", currency="USD", due=date(2026, 11, 15))]

    [m] = _match(demo, [_pay("", "34000.00", payer="STURGEON ANALYTICS INC", currency="USD")], invoices)

    assert m.status == "queued"
    assert sorted(c.invoice_number for c in m.candidates) == ["INV-2026-0101", "INV-2026-0102"]


def test_an_exact_amount_from_an_unknown_payer_waits_for_a_person(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1234.56")]

    [m] = _match(demo, [_pay("", "1234.56", payer="J SMITH")], invoices)

    assert m.invoice_numbers == ["INV-2026-0101"] and not m.auto


def test_a_payment_naming_an_invoice_already_paid_is_queued_as_a_possible_duplicate(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00")]
    book = Book(invoices, [Settlement(invoice_number="INV-2026-0101", on=date(2026, 10, 10), amount=D("1000.00"))])

    [m] = _match(demo, [_pay("INV-2026-0101", "1000.00", payer="Northwind")], invoices, book=book)

    assert m.status == "queued"
    assert "duplicate" in m.reason


def test_the_payers_name_against_another_client_lowers_the_confidence_below_auto_confirm(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00")]

    [m] = _match(demo, [_pay("INV-2026-0101", "1000.00", payer="KESTREL BANK PLC")], invoices)

    assert m.invoice_numbers == ["INV-2026-0101"] and not m.auto
    assert "payer looks like kestrel" in m.reason


def test_payments_are_taken_in_date_order_and_each_confirmed_one_lowers_the_balance(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00")]
    first = _pay("INV-2026-0101", "600.00", payer="Northwind", pid="a", day=date(2026, 10, 5))
    second = _pay("INV-2026-0101", "400.00", payer="Northwind", pid="b", day=date(2026, 10, 6))

    a, b = _match(demo, [second, first], invoices)

    assert (a.payment.id, b.payment.id) == ("b", "a")  # in the order given
    assert [(x.amount, x.kind) for x in b.allocations] == [(D("600.00"), "payment")]
    assert [(x.amount, x.kind) for x in a.allocations] == [(D("400.00"), "payment")]
    assert "equals the open balance" in a.reason


def test_an_invoice_issued_after_the_payment_is_not_a_candidate(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00", issue=date(2026, 10, 25))]

    [m] = _match(demo, [_pay("", "1000.00", payer="Northwind", day=date(2026, 10, 20))], invoices)

    assert m.invoice_numbers == []


def test_matching_is_deterministic(demo: Workspace) -> None:
    payments = from_workspace(demo)

    assert _match(demo, payments) == _match(demo, list(reversed(payments)))[::-1]


def test_a_ledger_link_is_taken_as_given(demo: Workspace) -> None:
    invoices = [_invoice("INV-2026-0101", "northwind", "1000.00")]
    linked = IncomingPayment(id="qbo-9", date=date(2026, 10, 20), amount=D("1000.00"), currency="GBP",
                             source="ledger", linked_invoices=("INV-2026-0101",))

    [m] = _match(demo, [linked], invoices)

    assert (m.auto, m.invoice_numbers, m.confidence) == (True, ["INV-2026-0101"], 0.99)


def test_the_history_paid_date_closes_an_invoice_for_later_payments(demo: Workspace) -> None:
    invoices = from_history(demo)
    inv1 = next(r for r in invoices if r.number == "INV-2026-0001")
    late = _pay("", str(inv1.total), payer="Northwind", day=(inv1.settled_on or date.max) + timedelta(days=1))

    [m] = _match(demo, [late], invoices)

    assert "INV-2026-0001" not in m.invoice_numbers
