"""Properties every draft keeps, whatever the entries and the client's terms."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import CATEGORIES, client, workspace
from tools.drafts import Period, draft_invoice

MARCH = Period.month(2026, 3)
CATEGORY_IDS = [c["id"] for c in CATEGORIES]
NOTES = ["build product page", "fix checkout bug", "team standup", "misc", "", "hi-fi mocks", "BUG triage"]
HOURS = ["0.1", "0.25", "0.33", "1", "1.1", "2.03", "7.5", "0", "-1", "25", "0.005", "3.999"]


@st.composite
def terms(draw: st.DrawFn) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    if draw(st.booleans()):
        rules.append({"exclude": {"category": draw(st.sampled_from(CATEGORY_IDS))}})
    if draw(st.booleans()):
        rules.append({"rollup": {"pattern": "(?i)bug|fix", "into": "Maintenance"}})
    if draw(st.booleans()):
        rules.append({"code": {"category": draw(st.sampled_from(CATEGORY_IDS)), "code": "C-1"}})
    if draw(st.booleans()):
        rules.append({"discount": {"percent": draw(st.sampled_from(["5", "10", "12.5", "33.3"]))}})
    if draw(st.booleans()):
        rules.append({"cap": {"amount": draw(st.sampled_from(["100.00", "999.99", "5000.00"]))}})
    model = draw(st.sampled_from(["hourly", "hourly", "retainer"]))
    billing: dict[str, Any] = {"model": model}
    if model == "retainer":
        billing["retainer"] = {"amount": "1500.00", "included_hours": draw(st.sampled_from(["0", "3", "10"])),
                               "overage_rate": "95.50"}
    return client(
        billing=billing,
        tax_rate=draw(st.sampled_from(["0", "0.19", "0.2", "0.075"])),
        rates={"default": "100.00", "by_role": {"senior": "142.37"}, "by_category": {"design": "120.01"},
               "by_person": {"Cat Poe": "99.99"}},
        rounding={"increment_minutes": draw(st.sampled_from([1, 5, 6, 10, 15, 30, 60])),
                  "mode": draw(st.sampled_from(["up", "nearest", "none"]))},
        group_by=draw(st.sampled_from(["category", "task", "person", "detailed"])),
        rules=rules,
    )


@st.composite
def entries(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for i in range(draw(st.integers(0, 25))):
        rows.append({
            "id": f"e{i}",
            "date": date(2026, 2, 26) + timedelta(days=draw(st.integers(0, 40))),
            "person": draw(st.sampled_from(["Ann Lee", "Bob Roe", "Cat Poe"])),
            "client": "acme",
            "task": draw(st.sampled_from(["Design", "Development", "Project work"])),
            "notes": draw(st.sampled_from(NOTES)),
            "hours": draw(st.sampled_from(HOURS)),
            "billable": draw(st.booleans()) or draw(st.booleans()),
            "row": i + 2,
        })
    if rows and draw(st.booleans()):  # a duplicate copy of some earlier row
        copy = dict(draw(st.sampled_from(rows)), id="dup", row=len(rows) + 2)
        rows.append(copy)
    return rows


def make_draft(terms: dict[str, Any], rows: list[dict[str, Any]], categories: dict[str, str]) -> dict[str, Any]:
    ws = workspace(clients=[terms], entries=rows)
    return draft_invoice(ws, "acme", MARCH, as_of=date(2026, 3, 25), categories=categories).contract_json()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(terms(), entries(), st.data())
def test_total_is_subtotal_plus_discount_plus_cap_adjustment_plus_tax(
    terms: dict[str, Any], rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    cats = {r["id"]: data.draw(st.sampled_from(CATEGORY_IDS)) for r in rows}
    d = make_draft(terms, rows, cats)
    money = {k: Decimal(d[k]) for k in ("subtotal", "discount", "cap_adjustment", "tax", "total")}
    assert money["total"] == money["subtotal"] + money["discount"] + money["cap_adjustment"] + money["tax"]
    assert money["subtotal"] == sum((Decimal(ln["amount"]) for ln in d["lines"]), Decimal(0))
    assert all(Decimal(v).as_tuple().exponent == -2 for v in (d["subtotal"], d["total"], d["tax"]))
    assert money["discount"] <= 0 and money["cap_adjustment"] <= 0 and money["tax"] >= 0


@SETTINGS
@given(terms(), entries(), st.data())
def test_every_candidate_entry_is_billed_excluded_or_held_exactly_once(
    terms: dict[str, Any], rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    cats = {r["id"]: data.draw(st.sampled_from(CATEGORY_IDS)) for r in rows}
    d = make_draft(terms, rows, cats)
    candidates = {r["id"] for r in rows if r["billable"] and r["date"] in MARCH}
    held = {a["entry_id"] for a in d["anomalies"] if a["held"] and a["entry_id"] in candidates}
    placed = Counter(i for ln in d["lines"] for i in ln["entry_ids"])
    placed.update(x["entry_id"] for x in d["excluded"])
    placed.update(held)
    assert set(placed) == candidates
    assert all(n == 1 for n in placed.values())


@SETTINGS
@given(terms(), entries(), st.data())
def test_drafting_twice_gives_the_same_draft(
    terms: dict[str, Any], rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    cats = {r["id"]: data.draw(st.sampled_from(CATEGORY_IDS)) for r in rows}
    assert make_draft(terms, rows, cats) == make_draft(terms, list(rows), dict(cats))
