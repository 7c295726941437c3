"""The billing engine, rule by rule: every expected figure below is computed by hand in the comment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.builders import client, entry, task, workspace
from tools.drafts import Draft, Period, draft_invoice
from tools.errors import BillingError

MARCH = Period.month(2026, 3)
AS_OF = date(2026, 4, 1)


def draft(ws_clients: list[dict], entries: list[dict], categories: dict[str, str] | None = None,
          tasks: list[dict] | None = None, client_id: str = "acme") -> Draft:
    ws = workspace(clients=ws_clients, entries=entries, tasks=tasks)
    cats = {e["id"]: "development" for e in entries} | (categories or {})
    return draft_invoice(ws, client_id, MARCH, as_of=AS_OF, categories=cats)


def lines(d: Draft) -> list[tuple[str, str, str, str]]:
    """(description, quantity, unit price, amount) of each line, as the contract's JSON prints them."""
    return [(ln["description"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in d.contract_json()["lines"]]


# --- rounding -------------------------------------------------------------------------------------


def test_fifteen_minute_increments_round_each_entry_up() -> None:
    # 1.1 h = 66 min = 4.4 units of 15 -> 5 units = 1.25 h; 0.3 h = 18 min -> 2 units = 0.5 h. 1.75 h x 100
    d = draft([client()], [entry("a", "1.1"), entry("b", "0.3")])
    assert lines(d) == [("Development", "1.75", "100.00", "175.00")]


def test_six_minute_increments_round_each_entry_up() -> None:
    # 2.03 h -> 20.3 units of 6 min -> 21 = 2.1 h; 0.55 h -> 5.5 -> 6 = 0.6 h; 2.7 h x 90.00 = 243.00
    c = client(rates={"default": "90.00"}, rounding={"increment_minutes": 6, "mode": "up"})
    d = draft([c], [entry("a", "2.03"), entry("b", "0.55")])
    assert lines(d) == [("Development", "2.70", "90.00", "243.00")]


def test_nearest_rounds_half_up_and_an_entry_may_round_to_zero_yet_stays_on_its_line() -> None:
    # 15-min nearest: 0.125 h = 7.5 min = 0.5 units -> 1 unit (half up) = 0.25 h
    #                 0.12 h = 7.2 min = 0.48 units -> 0 units = 0 h, still listed on the line
    #                 1.2 h = 72 min = 4.8 units -> 5 units = 1.25 h ; total 1.5 h x 100 = 150.00
    c = client(rounding={"increment_minutes": 15, "mode": "nearest"})
    d = draft([c], [entry("a", "0.125"), entry("b", "0.12"), entry("c", "1.2")])
    assert lines(d) == [("Development", "1.50", "100.00", "150.00")]
    assert d.lines[0].entry_ids == ["a", "b", "c"]


def test_mode_none_bills_hours_as_typed() -> None:
    # 1.337 h x 100.00 = 133.70
    c = client(rounding={"increment_minutes": 15, "mode": "none"})
    d = draft([c], [entry("a", "1.337")])
    assert lines(d) == [("Development", "1.337", "100.00", "133.70")]


def test_line_amounts_round_half_up_at_half_a_cent() -> None:
    # 0.25 h x 100.02 = 25.005 -> 25.01 (half up; banker's rounding would give 25.00)
    c = client(rates={"default": "100.02"})
    d = draft([c], [entry("a", "0.25")])
    assert d.lines[0].amount == Decimal("25.01")


# --- rates ----------------------------------------------------------------------------------------


def test_rate_precedence_is_person_then_category_then_role_then_default() -> None:
    rates = {
        "default": "80.00",
        "by_role": {"senior": "150.00"},
        "by_category": {"discovery": "120.00"},
        "by_person": {"Ann Lee": "175.00"},
    }
    entries = [
        entry("ann", "1", person="Ann Lee"),  # person rate beats everything: 175
        entry("cat-disc", "1", person="Cat Poe"),  # category 120 beats Cat's senior role rate
        entry("cat-dev", "1", person="Cat Poe"),  # senior role rate 150
        entry("bob", "1", person="Bob Roe"),  # junior has no role rate: default 80
    ]
    d = draft([client(rates=rates)], entries, {"ann": "discovery", "cat-disc": "discovery"})
    price = {i: ln.unit_price for ln in d.lines for i in ln.entry_ids}
    assert price == {"ann": Decimal("175.00"), "cat-disc": Decimal("120.00"),
                     "cat-dev": Decimal("150.00"), "bob": Decimal("80.00")}


def test_a_line_has_one_unit_price_so_one_category_at_two_rates_gives_two_lines() -> None:
    c = client(rates={"default": "100.00", "by_person": {"Ann Lee": "175.00"}})
    d = draft([c], [entry("a", "1", person="Ann Lee"), entry("b", "2")])
    assert lines(d) == [("Development", "1.00", "175.00", "175.00"), ("Development", "2.00", "100.00", "200.00")]


def test_no_applicable_rate_is_a_billing_error_naming_client_and_person() -> None:
    with pytest.raises(BillingError, match=r"acme.*Bob Roe"):
        draft([client(rates={"by_role": {"senior": "150.00"}})], [entry("a")])


# --- grouping -------------------------------------------------------------------------------------


def test_group_by_category_orders_lines_by_the_catalogue() -> None:
    d = draft([client()], [entry("dev", "1"), entry("disc", "1")], {"disc": "discovery"})
    assert [(ln.description, ln.category) for ln in d.lines] == [
        ("Discovery & workshops", "discovery"), ("Development", "development")]


def test_group_by_task_uses_the_task_column_and_no_category() -> None:
    c = client(group_by="task")
    d = draft([c], [entry("a", "1", task="Homepage"), entry("b", "2", task="Checkout"),
                    entry("c", "1", task="Homepage")])
    assert [(ln.description, ln.category, ln.entry_ids) for ln in d.lines] == [
        ("Checkout", "", ["b"]), ("Homepage", "", ["a", "c"])]


def test_group_by_person_gives_a_line_per_person() -> None:
    c = client(group_by="person")
    d = draft([c], [entry("a", "1", person="Cat Poe"), entry("b", "0.5")])
    assert lines(d) == [("Bob Roe", "0.50", "100.00", "50.00"), ("Cat Poe", "1.00", "100.00", "100.00")]


def test_group_by_detailed_gives_a_line_per_entry_with_date_person_and_notes() -> None:
    c = client(group_by="detailed")
    d = draft([c], [entry("a", "1", notes="  api integration "), entry("b", "1", date=date(2026, 3, 3))])
    assert [ln.description for ln in d.lines] == ["2026-03-02 Bob Roe: api integration",
                                                  "2026-03-03 Bob Roe: build feature b"]


def test_detailed_lines_keep_their_entry_category_so_activity_codes_reach_them() -> None:
    c = client(group_by="detailed", rules=[{"code": {"category": "design", "code": "A103"}}])
    d = draft([c], [entry("a", "1", notes=""), entry("b", "1", date=date(2026, 3, 3))], {"a": "design"})
    assert [(ln.description, ln.category, ln.code) for ln in d.lines] == [
        ("2026-03-02 Bob Roe: (no description)", "design", "A103"),
        ("2026-03-03 Bob Roe: build feature b", "development", None)]
    assert d.contract_json()["categories"] == {"a": "design", "b": "development"}


# --- rules ----------------------------------------------------------------------------------------


def test_exclude_removes_entries_and_says_which_rule() -> None:
    c = client(rules=[{"exclude": {"category": "internal_meeting"}}])
    d = draft([c], [entry("a"), entry("standup", notes="team standup")], {"standup": "internal_meeting"})
    assert [ln.entry_ids for ln in d.lines] == [["a"]]
    assert d.contract_json()["excluded"] == [
        {"entry_id": "standup", "reason": "excluded by client rule: category internal_meeting"}]


def test_rollup_matches_notes_and_task_and_keeps_the_entry_category_rate() -> None:
    # "fix" in notes rolls up; "Hotfix" in the task column rolls up; the design entry keeps design's rate
    c = client(rates={"default": "100.00", "by_category": {"design": "130.00"}},
               rules=[{"rollup": {"pattern": "(?i)bug|fix", "into": "Maintenance"}}])
    d = draft([c], [entry("a", "1", notes="fix checkout bug"), entry("b", "1", task="Hotfix"),
                    entry("c", "1", notes="icon fixes"), entry("d", "1")], {"c": "design"})
    assert lines(d) == [("Development", "1.00", "100.00", "100.00"),
                        ("Maintenance", "2.00", "100.00", "200.00"),
                        ("Maintenance", "1.00", "130.00", "130.00")]
    assert all(ln.category == "" for ln in d.lines if ln.description == "Maintenance")


def test_first_matching_rollup_wins_and_rules_run_in_file_order() -> None:
    c = client(rules=[
        {"rollup": {"pattern": "bug", "into": "Bugs"}},
        {"rollup": {"pattern": "checkout", "into": "Checkout"}},
        {"exclude": {"pattern": "standup"}},
    ])
    d = draft([c], [entry("a", notes="checkout bug"), entry("b", notes="checkout copy"),
                    entry("s", notes="standup then bug triage")])
    assert [(ln.description, ln.entry_ids) for ln in d.lines] == [("Bugs", ["a"]), ("Checkout", ["b"])]
    assert [x.entry_id for x in d.excluded] == ["s"]


def test_code_goes_only_on_lines_of_its_category() -> None:
    c = client(rules=[{"code": {"category": "design", "code": "DSN-100"}}])
    d = draft([c], [entry("a"), entry("b")], {"b": "design"})
    assert [(ln.category, ln.code) for ln in d.lines] == [("design", "DSN-100"), ("development", None)]


def test_discount_then_cap_then_tax() -> None:
    # subtotal 7.75 h x 100 = 775.00 (7.75 via 7 x 1 h + 0.75 h)
    # discount 12.5 % = -96.875 -> -96.88 ; discounted 678.12 exceeds cap 600.00 -> cap adjustment -78.12
    # tax 20 % of 600.00 = 120.00 ; total 775.00 - 96.88 - 78.12 + 120.00 = 720.00
    c = client(tax_rate="0.20", rules=[{"cap": {"amount": "600.00"}}, {"discount": {"percent": "12.5"}}])
    d = draft([c], [entry(f"e{i}", "1") for i in range(7)] + [entry("q", "0.75")])
    got = d.contract_json()
    assert (got["subtotal"], got["discount"], got["cap_adjustment"], got["tax"], got["total"]) == (
        "775.00", "-96.88", "-78.12", "120.00", "720.00")


def test_a_cap_that_is_not_reached_adjusts_nothing() -> None:
    c = client(tax_rate="0.19", rules=[{"cap": {"amount": "1000.00"}}])
    d = draft([c], [entry("a", "2")])
    # 200.00, tax 19 % = 38.00, total 238.00
    assert (d.cap_adjustment, d.tax, d.total) == (Decimal("0"), Decimal("38.00"), Decimal("238.00"))


# --- retainer -------------------------------------------------------------------------------------


RETAINER = {"model": "retainer", "retainer": {"amount": "1000.00", "included_hours": "5", "overage_rate": "90.00"}}


def test_retainer_bills_hours_past_the_included_at_the_overage_rate() -> None:
    # 6-min up: 2.03 -> 2.1, 3.01 -> 3.1, 0.55 -> 0.6 = 5.8 h; 0.8 h over x 90.00 = 72.00; tax 19 % = 203.68
    c = client(currency="EUR", tax_rate="0.19", billing=RETAINER, rounding={"increment_minutes": 6, "mode": "up"})
    d = draft([c], [entry("b1", "2.03"), entry("b2", "3.01"), entry("b3", "0.55")])
    assert lines(d) == [
        ("Monthly retainer", "1.00", "1000.00", "1000.00"),
        ("Additional hours", "0.80", "90.00", "72.00"),
    ]
    assert d.lines[0].entry_ids == ["b1", "b2", "b3"] and d.lines[1].entry_ids == []
    assert (d.currency, d.total) == ("EUR", Decimal("1275.68"))


def test_retainer_under_its_hours_and_with_no_hours_is_just_the_retainer() -> None:
    c = client(billing=RETAINER)
    assert lines(draft([c], [entry("a", "4")])) == [("Monthly retainer", "1.00", "1000.00", "1000.00")]
    assert lines(draft([c], [])) == [("Monthly retainer", "1.00", "1000.00", "1000.00")]


def test_retainer_counts_only_entries_left_after_held_and_excluded() -> None:
    c = client(billing=RETAINER, rules=[{"exclude": {"category": "internal_meeting"}}])
    entries = [entry("a", "5"), entry("meet", "3"), entry("zero", "0")]
    d = draft([c], entries, {"meet": "internal_meeting"})
    assert lines(d) == [("Monthly retainer", "1.00", "1000.00", "1000.00")]
    assert d.lines[0].entry_ids == ["a"]


# --- fixed fee ------------------------------------------------------------------------------------


def test_fixed_fee_bills_milestones_completed_in_the_period_and_no_time() -> None:
    c = client(billing={"model": "fixed"}, tax_rate="0.20")
    tasks = [
        task("M1", title="Discovery sprint", status="done", completed_at=date(2026, 3, 10), milestone_amount="4500.00"),
        task("M2", title="Beta launch", status="done", completed_at=date(2026, 4, 2), milestone_amount="8000.00"),
        task("M3", title="Final launch", status="open", milestone_amount="9000.00"),
        task("T1", title="Ordinary task", status="done", completed_at=date(2026, 3, 12)),
    ]
    d = draft([c], [entry("a", "3", task_ref="M1"), entry("b", "2", task_ref="T1")], tasks=tasks)
    assert lines(d) == [("Discovery sprint", "1.00", "4500.00", "4500.00")]
    assert (d.tax, d.total) == (Decimal("900.00"), Decimal("5400.00"))
    assert {x.entry_id for x in d.excluded} == {"a", "b"}


def test_a_fixed_fee_month_with_no_milestone_gives_no_invoice_but_still_lists_anomalies() -> None:
    c = client(billing={"model": "fixed"})
    d = draft([c], [entry("sat", "2", date=date(2026, 3, 7))])
    assert d.is_empty and d.total == 0
    assert [(a.entry_id, a.kind) for a in d.anomalies] == [("sat", "weekend")]


# --- candidates -----------------------------------------------------------------------------------


def test_candidates_are_billable_entries_inside_the_period_both_ends_included() -> None:
    entries = [entry("first", date=date(2026, 3, 1)), entry("last", date=date(2026, 3, 31)),
               entry("feb", date=date(2026, 2, 28)), entry("apr", date=date(2026, 4, 1)),
               entry("free", billable=False)]
    d = draft([client()], entries)
    assert [i for ln in d.lines for i in ln.entry_ids] == ["first", "last"]
    assert all(a.entry_id != "free" for a in d.anomalies) and not d.excluded


def test_each_client_is_billed_in_its_own_currency() -> None:
    d = draft([client(), client(id="beta", name="Beta GmbH", currency="EUR")],
              [entry("a"), entry("b", client="beta")], client_id="beta")
    assert d.currency == "EUR" and [ln.entry_ids for ln in d.lines] == [["b"]]


def test_due_date_is_issue_date_plus_terms_and_issue_is_the_day_after_the_period() -> None:
    d = draft([client(payment_terms_days=14)], [entry("a")])
    assert (d.issue_date, d.due_date) == (date(2026, 4, 1), date(2026, 4, 15))
