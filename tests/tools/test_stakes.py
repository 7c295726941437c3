"""What a doubtful category puts at stake: each alternative's effect on the entry's money, and flags that say
so, the most money first."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.builders import client, entry, workspace
from tools.billing import Billable
from tools.categorize import Decision
from tools.domain import Client, TimeEntry
from tools.drafts import DraftContext, Period, draft_invoice
from tools.stakes import stakes

ROLES = {"Bob Roe": "junior"}
RULES: dict[str, Any] = {
    "rates": {"default": "100.00", "by_category": {"discovery": "150.00"}},
    "rules": [{"exclude": {"category": "internal_meeting"}}],
}


def item(hours: str = "1", category: str = "development") -> Billable:
    return Billable(TimeEntry.model_validate(entry("e1", hours=hours)), category)


def test_each_alternative_says_what_it_would_change_at_its_rate_or_that_it_would_be_excluded() -> None:
    acme = Client.model_validate(client(**RULES))
    at = stakes(acme, item("0.3"), ["discovery", "internal_meeting", "design"], ROLES)
    # 0.3 h rounds up to 0.5 h: 50.00 at the default rate.
    assert at.used.amount == Decimal("50.00")
    assert [alt.amount for alt in at.alternatives] == [Decimal("75.00"), Decimal("0"), Decimal("50.00")]
    assert at.at_stake == Decimal("50.00")
    assert at.describe("GBP") == ("if discovery: +25.00 at 150.00/h; if internal_meeting: excluded, -50.00; "
                                  "if design: no change (GBP, before discount and tax)")


def test_an_excluded_entry_shows_what_billing_it_would_add() -> None:
    acme = Client.model_validate(client(**RULES))
    at = stakes(acme, item("2", "internal_meeting"), ["discovery"], ROLES)
    assert at.used.excluded and at.describe("GBP").startswith("if discovery: +300.00 at 150.00/h")


def test_on_a_retainer_only_hours_past_the_included_ones_are_at_stake() -> None:
    retainer = {"model": "retainer", "retainer": {"amount": "1000.00", "included_hours": "10",
                                                  "overage_rate": "90.00"}}
    acme = Client.model_validate(client(billing=retainer, **RULES))
    minutes = Decimal(11 * 60)  # this 2 h entry and 9 h of others: one hour past the included ten
    at = stakes(acme, item("2"), ["internal_meeting", "discovery"], ROLES, counted_minutes=minutes)
    assert at.used.amount == Decimal("90.00")
    assert [alt.amount for alt in at.alternatives] == [Decimal("0.00"), Decimal("90.00")]


def test_uncertain_flags_name_the_alternatives_and_come_most_money_first(monkeypatch: Any) -> None:
    ws = workspace(clients=[client(**RULES)],
                   entries=[entry("small", hours="0.25"), entry("large", hours="4"), entry("sure", hours="1")])
    context = DraftContext(ws, as_of=Period.month(2026, 3).end)
    doubtful = {"small", "large"}

    def decide_many(entries: Any) -> dict[str, Decision]:
        return {e.id: Decision("development", 0.6 if e.id in doubtful else 0.99, "test", e.id in doubtful,
                               (("internal_meeting", 0.3), ("discovery", 0.1)), "low confidence")
                for e in entries}

    monkeypatch.setattr(context.categorizer(Period.month(2026, 3).start), "decide_many", decide_many)
    draft = draft_invoice(ws, "acme", Period.month(2026, 3), context=context)
    flags = [a for a in draft.anomalies if a.kind == "uncertain_category"]
    assert [f.entry_id for f in flags] == ["large", "small"]
    assert [f.at_stake for f in flags] == [Decimal("400.00"), Decimal("25.00")]
    assert "if internal_meeting: excluded, -400.00; if discovery: +200.00 at 150.00/h" in flags[0].message
    assert draft.categories == {"small": "development", "large": "development", "sure": "development"}
