"""Reading payments: bank CSV exports through a column mapping, OFX statements, a ledger's payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.collections.conftest import FIXTURES
from tools.payments import BankMapping, Tolerance, from_ledger, load_match_policy, read_bank_csv, read_ofx

CHASE = FIXTURES / "checking_statement_chase_style.csv"


def test_a_chase_export_gives_its_credits_as_payments_in_the_mapped_currency() -> None:
    payments, issues = read_bank_csv(CHASE, BankMapping.parse("chase"))

    assert issues == []
    assert [(p.date, p.amount, p.currency, p.source) for p in payments] == [
        (date(2016, 3, 15), Decimal("2590.73"), "USD", "bank"),
        (date(2016, 3, 5), Decimal("110.00"), "USD", "bank"),
    ]
    assert payments[0].reference.startswith("EMPLOYER INC")


def test_an_inline_mapping_reads_the_same_export() -> None:
    mapping = BankMapping.parse("date=Posting Date,amount=Amount,reference=Description,payer=Description,"
                                "currency=USD,date_format=%m/%d/%Y")

    assert read_bank_csv(CHASE, mapping) == read_bank_csv(CHASE, BankMapping.parse("chase"))


def test_rows_without_an_id_get_one_from_their_content_so_a_second_import_is_recognised() -> None:
    first, _ = read_bank_csv(CHASE, BankMapping.parse("chase"))
    again, _ = read_bank_csv(CHASE.read_text(), BankMapping.parse("chase"))

    assert [p.id for p in first] == [p.id for p in again]
    assert all(p.id.startswith("bank-") for p in first)


def test_identical_rows_in_one_export_stay_two_payments() -> None:
    text = "Date,Amount,Ref\n2026-10-01,100.00,INV-2026-0001\n2026-10-01,100.00,INV-2026-0001\n"

    payments, _ = read_bank_csv(text, BankMapping.parse("date=Date,amount=Amount,reference=Ref,currency=GBP"))

    assert len({p.id for p in payments}) == 2


def test_a_european_export_with_decimal_commas_and_split_credit_debit_columns() -> None:
    text = ("Buchungstag;Gutschrift;Lastschrift;Verwendungszweck;Auftraggeber\n"
            "01.10.2026;1.234,56;;RE INV-2026-0007;Haus Moebel GmbH\n"
            "02.10.2026;;99,00;Miete;Vermieter\n")
    mapping = BankMapping(date="Buchungstag", credit="Gutschrift", debit="Lastschrift", reference="Verwendungszweck",
                          payer="Auftraggeber", currency="EUR", date_format="%d.%m.%Y", decimal_comma=True,
                          delimiter=";")

    payments, issues = read_bank_csv(text, mapping)

    assert issues == []
    assert [(p.date, p.amount, p.payer) for p in payments] == [(date(2026, 10, 1), Decimal("1234.56"),
                                                                "Haus Moebel GmbH")]


def test_a_mapping_naming_a_missing_column_is_reported_with_the_columns_there_are() -> None:
    payments, [issue] = read_bank_csv(CHASE, BankMapping.parse("date=Date,amount=Amount,currency=USD"))

    assert payments == []
    assert issue.field == "Date" and "Posting Date" in issue.message


def test_a_bad_date_is_an_issue_and_the_other_rows_are_still_read() -> None:
    text = "Date,Amount,Ref\n2026-13-01,100.00,x\n2026-10-02,50.00,y\n"

    payments, [issue] = read_bank_csv(text, BankMapping.parse("date=Date,amount=Amount,reference=Ref,currency=GBP"))

    assert [p.amount for p in payments] == [Decimal("50.00")]
    assert issue.line == 2


def test_a_mapping_spec_that_is_not_key_value_says_which_keys_exist() -> None:
    with pytest.raises(ValueError, match="keys: date, amount"):
        BankMapping.parse("Posting Date")


def test_an_ofx_statement_gives_its_credits_with_the_fitid_as_id() -> None:
    [dividend] = read_ofx((FIXTURES / "checking_statement.ofx").read_text(encoding="latin-1"))

    assert (dividend.id, dividend.date, dividend.amount, dividend.currency) == (
        "ofx-0000486", date(2011, 3, 31), Decimal("0.01"), "USD")
    assert dividend.payer == "DIVIDEND EARNED FOR PERIOD OF 03"


@dataclass(frozen=True)
class _LedgerPayment:
    ledger: str
    id: str
    date: date
    amount: Decimal
    currency: str
    invoice_numbers: list[str]
    reference: str = ""


def test_a_ledgers_payments_keep_the_invoices_it_applied_them_to() -> None:
    [payment] = from_ledger([_LedgerPayment("quickbooks", "125", date(2026, 10, 3), Decimal("25.00"), "USD",
                                            ["INV-2026-0018"])])

    assert (payment.id, payment.source, payment.linked_invoices) == ("quickbooks-125", "ledger", ("INV-2026-0018",))


def test_the_workspace_sets_its_tolerance_and_auto_confirm_level(tmp_path: Path) -> None:
    root = tmp_path
    (root / "workspace.yaml").write_text('firm: X\ncollections: {payment_tolerance: "0.5%", auto_confirm: "0.95"}\n')

    policy = load_match_policy(root)

    assert policy.tolerance == Tolerance(percent=Decimal("0.5"))
    assert policy.auto_confirm == 0.95
    assert Tolerance.parse("1.00").limit(Decimal("5")) == Decimal("1.00")
    assert Tolerance(amount=Decimal("1.00"), percent=Decimal("0.5")).limit(Decimal("1000")) == Decimal("5.00")
