"""Half a cent, by hand: a discount or a tax that comes to exactly x.xx5 rounds half up.

WORKSPACE.md, billing semantics 7: discount = -(subtotal x percent) to 0.01 half up, and tax = taxable subtotal
x tax_rate to 0.01 half up. So half a cent always makes the amount bigger: a tax of 18.025 is 18.03, and a
discount of 11.445 is -11.45. The discount's size is rounded and then made negative; rounding the negative
number's half towards +infinity (floor(x + 0.5)) would give -11.44. Banker's rounding (round(), Decimal's
default) gives 18.02 and -11.44, and a float sees 100.60 x 0.175 as 17.604999..., so 17.60. Each case below
tells those apart from half up. Its arithmetic is in the comment beside it. It goes through
`compute_totals` and through the public draft path: `draft_invoice` on a one-entry workspace, one line of
hours x rate.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from tests.builders import client, entry, workspace
from tools.billing import Line, compute_totals
from tools.domain import Client
from tools.drafts import Period, draft_invoice
from tools.money import CENT, Money, to_cents

MARCH = Period.month(2026, 3)

# (hours, rate, discount percent or None, tax rate) -> (subtotal, discount, tax, total), as the contract prints them
CASES = [
    pytest.param(
        "4", "25.15", None, "0.175", ("100.60", "0.00", "17.61", "118.21"),
        # 4 h x 25.15 = 100.60; tax 17.5 % x 100.60 = 17.605 -> 17.61; total 100.60 + 17.61 = 118.21
        id="tax of 17.605",
    ),
    pytest.param(
        "4", "25.09", "12.5", "0", ("100.36", "-12.55", "0.00", "87.81"),
        # 4 h x 25.09 = 100.36; discount 12.5 % x 100.36 = 12.545 -> -12.55; total 100.36 - 12.55 = 87.81
        id="discount of 12.545",
    ),
    pytest.param(
        "1.5", "76.30", "10", "0.175", ("114.45", "-11.45", "18.03", "121.03"),
        # 1.5 h x 76.30 = 114.45; discount 10 % x 114.45 = 11.445 -> -11.45; taxable 114.45 - 11.45 = 103.00;
        # tax 17.5 % x 103.00 = 18.025 -> 18.03; total 103.00 + 18.03 = 121.03
        id="discount of 11.445 then tax of 18.025",
    ),
    pytest.param(
        "1.5", "70.30", "10", "0.05", ("105.45", "-10.55", "4.75", "99.65"),
        # 1.5 h x 70.30 = 105.45; discount 10 % x 105.45 = 10.545 -> -10.55; taxable 105.45 - 10.55 = 94.90;
        # tax 5 % x 94.90 = 4.745 -> 4.75; total 94.90 + 4.75 = 99.65
        id="discount of 10.545 then tax of 4.745",
    ),
]


def billed_client(rate: str, percent: str | None, tax_rate: str) -> dict[str, Any]:
    rules = [{"discount": {"percent": percent}}] if percent else []
    return client(rates={"default": rate}, tax_rate=tax_rate, rules=rules)


def test_to_cents_rounds_half_a_cent_away_from_zero_on_either_side() -> None:
    assert to_cents(Decimal("1.005")) == Decimal("1.01")
    assert to_cents(Decimal("-1.005")) == Decimal("-1.01")  # the size rounds up, as for a discount
    assert to_cents(Decimal("1.00499")) == Decimal("1.00")
    assert Money(amount=Decimal("2.345"), currency="GBP").cents() == Money(amount=Decimal("2.35"), currency="GBP")


@pytest.mark.parametrize(("hours", "rate", "percent", "tax_rate", "expected"), CASES)
def test_compute_totals_rounds_each_half_cent_up(
    hours: str, rate: str, percent: str | None, tax_rate: str, expected: tuple[str, str, str, str]
) -> None:
    amount = Decimal(hours) * Decimal(rate)
    line = Line(description="Development", category="development", quantity=Decimal(hours),
                unit_price=Decimal(rate), amount=amount, entry_ids=["a"])

    totals = compute_totals(Client.model_validate(billed_client(rate, percent, tax_rate)), [line])

    assert (totals.subtotal, totals.discount, totals.tax, totals.total) == tuple(Decimal(x) for x in expected)
    assert totals.cap_adjustment == 0


@pytest.mark.parametrize(("hours", "rate", "percent", "tax_rate", "expected"), CASES)
def test_the_draft_rounds_each_half_cent_up(
    hours: str, rate: str, percent: str | None, tax_rate: str, expected: tuple[str, str, str, str]
) -> None:
    ws = workspace(clients=[billed_client(rate, percent, tax_rate)], entries=[entry("a", hours)])

    drafted = draft_invoice(ws, "acme", MARCH, as_of=date(2026, 4, 1), categories={"a": "development"})

    got = drafted.contract_json()
    assert [(ln["quantity"], ln["unit_price"], ln["amount"]) for ln in got["lines"]] == [
        (f"{Decimal(hours):.2f}", rate, expected[0])]
    assert (got["subtotal"], got["discount"], got["tax"], got["total"]) == expected
    assert got["cap_adjustment"] == "0.00"


@pytest.mark.parametrize(("hours", "rate", "percent", "tax_rate", "expected"), CASES)
def test_each_case_lands_on_half_a_cent_that_other_roundings_would_get_wrong(
    hours: str, rate: str, percent: str | None, tax_rate: str, expected: tuple[str, str, str, str]
) -> None:
    # Keeps the table honest: every discount and tax in it is exactly x.xx5 before rounding, where half up
    # (what the contract says) differs from banker's rounding and, for the negative discount, from rounding
    # its half towards +infinity. That the code rounds half up is what the two tests above check.
    subtotal = Decimal(hours) * Decimal(rate)
    discount = subtotal * Decimal(percent) / 100 if percent else None
    taxable = subtotal - to_cents(discount) if discount is not None else subtotal
    tax = taxable * Decimal(tax_rate)
    exact = [x for x in (discount, tax) if x]
    assert exact
    for x in exact:
        assert (x / CENT) % 1 == Decimal("0.5")
        assert to_cents(x) != x.quantize(CENT, rounding=ROUND_HALF_EVEN)
    if discount is not None:
        assert -to_cents(discount) != (-discount + CENT / 2).quantize(CENT, rounding=ROUND_FLOOR)
