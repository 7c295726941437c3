"""Drafts made by hand, so a store test shows only the entries and amounts its rule is about."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tools.billing import Line
from tools.drafts import Draft, EntryDecision
from tools.money import ZERO, to_cents
from tools.periods import Period

MARCH = Period.month(2026, 3)
APRIL = Period.month(2026, 4)
FORMAT = "INV-{year}-{seq:04d}"
WORKSPACE = "parallax"


def make_draft(
    *entry_ids: str,
    client: str = "acme",
    period: Period = MARCH,
    currency: str = "GBP",
    hours: str = "1.5",
    rate: str = "100.00",
    tax_rate: str = "0.20",
) -> Draft:
    """An hourly draft: each entry billed for `hours` at `rate` on one "Development" line, plus tax."""
    ids = list(entry_ids or ("e1",))
    quantity = Decimal(hours) * len(ids)
    subtotal = to_cents(quantity * Decimal(rate))
    tax = to_cents(subtotal * Decimal(tax_rate))
    issue = period.issue_date
    return Draft(
        client=client,
        client_name=client.title(),
        period_start=period.start,
        period_end=period.end,
        currency=currency,
        issue_date=issue,
        due_date=issue + timedelta(days=30),
        invoice_number="(not yet numbered)",
        billing_model="hourly",
        lines=[Line(description="Development", category="development", quantity=quantity,
                    unit_price=Decimal(rate), amount=subtotal, entry_ids=ids)],
        subtotal=subtotal,
        discount=ZERO,
        cap_adjustment=ZERO,
        tax=tax,
        total=subtotal + tax,
        anomalies=[],
        excluded=[],
        entries=[
            EntryDecision(entry_id=i, date=period.start, person="Bob Roe", notes=f"work on {i}",
                          hours=Decimal(hours), billed_hours=Decimal(hours), rate=Decimal(rate),
                          category="development", outcome="billed")
            for i in ids
        ],
    )
