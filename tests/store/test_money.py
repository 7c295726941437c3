"""Money is stored as NUMERIC(14, 2) beside its currency and comes back as the exact same Decimal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Numeric, String, inspect
from sqlalchemy.exc import StatementError

from tests.store.builders import FORMAT, WORKSPACE, make_draft
from tools.billing import Line
from tools.drafts import Draft
from tools.store import Store


def with_amounts(draft: Draft, subtotal: str, discount: str, tax: str, currency: str) -> Draft:
    s, d, t = Decimal(subtotal), Decimal(discount), Decimal(tax)
    line = draft.lines[0].model_copy(update={"amount": s})
    return draft.model_copy(update={
        "lines": [line], "subtotal": s, "discount": d, "tax": t, "total": s + d + t, "currency": currency,
    })


@pytest.mark.parametrize(
    ("subtotal", "discount", "tax", "currency"),
    [
        ("0.10", "-0.01", "0.02", "GBP"),           # one cent, and a value a float cannot hold exactly
        ("1234.50", "-123.45", "222.21", "EUR"),
        ("999999999999.99", "0.00", "0.00", "USD"),  # the widest NUMERIC(14, 2) holds
    ],
)
def test_money_round_trips_exactly_with_its_currency(
    store: Store, subtotal: str, discount: str, tax: str, currency: str
) -> None:
    draft = with_amounts(make_draft("e1"), subtotal, discount, tax, currency)
    run = store.create_run(WORKSPACE, "invoice Acme for March")

    saved = store.save_draft(run.id, draft)
    invoice = store.create_invoice(WORKSPACE, draft, run.id, FORMAT)

    latest = store.latest_draft(run.id)
    assert latest is not None
    for record in (latest.draft, saved.draft, invoice, store.get_invoice(invoice.id)):
        assert (record.subtotal, record.discount, record.tax, record.total, record.currency) == (
            Decimal(subtotal), Decimal(discount), Decimal(tax), draft.total, currency
        )
        assert str(record.subtotal) == subtotal  # the same digits, not merely an equal number
        assert isinstance(record.total, Decimal)


def test_amount_columns_are_numeric_14_2(store: Store) -> None:
    columns = {c["name"]: c["type"] for c in inspect(store.engine).get_columns("invoices")}
    for name in ("subtotal", "discount", "cap_adjustment", "tax", "total"):
        column = columns[name]
        assert isinstance(column, Numeric), name
        assert (column.precision, column.scale) == (14, 2), name
    assert isinstance(columns["currency"], String) and columns["currency"].length == 3


def test_an_amount_that_would_need_rounding_is_refused_not_rounded(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    draft = make_draft("e1").model_copy(update={"tax": Decimal("0.005")})

    with pytest.raises(StatementError, match="more than two decimal places"):
        store.save_draft(run.id, draft)


def test_hours_are_kept_exactly_on_the_invoice_entries(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    draft = make_draft("e1", hours="1.125")
    draft = draft.model_copy(update={"entries": [draft.entries[0].model_copy(update={"hours": Decimal("1.1")})]})

    invoice = store.create_invoice(WORKSPACE, draft, run.id, FORMAT)

    [entry] = invoice.entries
    assert (entry.entry_id, entry.actual_hours, entry.billed_hours) == ("e1", Decimal("1.1"), Decimal("1.125"))


def test_the_invoice_keeps_its_lines_as_decimal_strings(store: Store) -> None:
    run = store.create_run(WORKSPACE, "invoice Acme for March")
    draft = make_draft("e1", "e2", hours="0.75", rate="97.50")

    invoice = store.create_invoice(WORKSPACE, draft, run.id, FORMAT, issue_date=draft.issue_date + timedelta(days=2))

    assert invoice.lines == [{
        "description": "Development", "category": "development", "quantity": "1.50", "unit_price": "97.50",
        "amount": "146.25", "code": None, "entry_ids": ["e1", "e2"],
    }]
    assert [Line.model_validate(line).amount for line in invoice.lines] == [Decimal("146.25")]
