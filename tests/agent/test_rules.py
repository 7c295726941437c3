"""Client rules in plain words: the offline grammar, the model's answers checked by code, the preview of last
period's invoice with the suggested terms, and clients.yaml written only when asked, loading again.

Amounts expected here are worked out by hand from the tiny workspace's README (acme, March 2026: subtotal
776.25, 10 % discount, 650.00 cap, 20 % tax, total 780.00).
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.rules import Suggestion, preview_suggestion, suggest_rules, write_suggestion
from agent.testing import ScriptedModel, call, turn
from tools.domain import Category, CodeRule, Workspace
from tools.drafts import draft_invoice
from tools.errors import DomainError
from tools.periods import Period
from tools.workspace import load_workspace

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"
AFTER_MARCH = date(2026, 4, 2)  # the last period before it is March 2026, drafted as of 2026-04-01

EXTRA_CATEGORIES = [
    {"id": "travel", "label": "Travel", "examples": ["train to the client's office"]},
    {"id": "admin", "label": "Admin & overheads", "examples": ["timesheets", "expenses"]},
    {"id": "client_meeting", "label": "Client meetings", "examples": ["weekly client call"]},
]
GAMMA = {"id": "gamma", "name": "Gamma Labs", "aliases": ["Gamma"], "currency": "GBP", "tax_rate": "0.20",
         "billing": {"model": "hourly"}, "rates": {"default": "120.00"}, "rules": []}


def tiny_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Workspace:
    return load_workspace(tiny_copy(tmp_path))


@pytest.fixture
def wider(tmp_path: Path) -> Workspace:
    """The tiny workspace with travel, admin and client-meeting categories, a travel rate for beta, and gamma,
    a client billed at one hourly rate."""
    folder = tiny_copy(tmp_path)
    settings = yaml.safe_load((folder / "workspace.yaml").read_text())
    settings["categories"] += EXTRA_CATEGORIES
    (folder / "workspace.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    clients = yaml.safe_load((folder / "clients.yaml").read_text())
    beta = next(c for c in clients["clients"] if c["id"] == "beta")
    beta["rates"]["by_category"] = {"travel": "133.33"}
    clients["clients"].append(GAMMA)
    (folder / "clients.yaml").write_text(yaml.safe_dump(clients, sort_keys=False))
    return load_workspace(folder)


def changes(suggestion: Suggestion) -> list[dict[str, Any]]:
    """Each suggested change as plain data (rule, rate, rounding or grouping)."""
    return [s.change() for s in suggestion.rules]


def exclude(**selector: str) -> dict[str, Any]:
    return {"rule": {"exclude": selector}}


def rate(table: str, key: str, value: str) -> dict[str, Any]:
    return {"rate": {"table": table, "key": key, "rate": value}}


# ----------------------------------------------------------------------------------------------------
# The offline grammar

PHRASINGS: list[tuple[str, str, list[dict[str, Any]]]] = [
    # the brief's examples
    ("beta", "doesn't pay for internal meetings", [exclude(category="internal_meeting")]),
    ("beta", "no travel", [exclude(category="travel")]),
    ("beta", "don't bill admin", [exclude(category="admin")]),
    ("beta", "travel at half rate", [rate("by_category", "travel", "66.665")]),
    ("beta", "design at 150/h", [rate("by_category", "design", "150.00")]),
    ("beta", "Bob at 120", [rate("by_person", "Bob Roe", "120.00")]),
    ("beta", "seniors at 400 an hour", [rate("by_role", "senior", "400.00")]),
    ("beta", "10% off", [{"rule": {"discount": {"percent": "10"}}}]),
    ("beta", "5 % discount", [{"rule": {"discount": {"percent": "5"}}}]),
    ("beta", "cap at 5,000 a month", [{"rule": {"cap": {"amount": "5000.00"}}}]),
    ("gamma", "never more than 40 hours", [{"rule": {"cap": {"amount": "4800.00"}}}]),
    ("beta", "roll up meetings into one line",
     [{"rule": {"rollup": {"pattern": r"(?i)\b(?:meeting(?:s|es)?)\b", "into": "Meetings"}}}]),
    ("beta", "bill development under code DEV-01",
     [{"rule": {"code": {"category": "development", "code": "DEV-01"}}}]),
    # other ways people say it
    ("beta", "Cat Poe's time is free", [exclude(person="Cat Poe")]),
    ("beta", "we never charge for project BET.APP", [exclude(project_code="BET.APP")]),
    ("beta", "exclude anything mentioning parking", [exclude(pattern=r"(?i)\b(?:parking(?:s|es)?)\b")]),
    ("beta", "give them a 12.5 percent discount", [{"rule": {"discount": {"percent": "12.5"}}}]),
    ("beta", "never bill more than €2k per invoice", [{"rule": {"cap": {"amount": "2000.00"}}}]),
    ("beta", "design at 80% of the usual rate", [rate("by_category", "design", "72.00")]),
    ("beta", "development time at time and a half", [rate("by_category", "development", "135.00")]),
    ("beta", "discovery and workshops are billed at 130/h", [rate("by_category", "discovery", "130.00")]),
    ("beta", "everyone else at 95", [rate("default", "", "95.00")]),
    ("beta", "round to the nearest tenth of an hour", [{"rounding": {"increment_minutes": 6, "mode": "nearest"}}]),
    ("beta", "bill in 15-minute increments", [{"rounding": {"increment_minutes": 15, "mode": "up"}}]),
    ("beta", "one line per person", [{"group_by": "person"}]),
    ("beta", "itemise every entry", [{"group_by": "detailed"}]),
    ("beta", "Beta doesn't pay for internal meetings or admin",
     [exclude(category="internal_meeting"), exclude(category="admin")]),
    ("beta", "doesn't pay for internal meetings; travel at half rate",
     [exclude(category="internal_meeting"), rate("by_category", "travel", "66.665")]),
    ("beta", "10% off and cap at 5,000 a month",
     [{"rule": {"discount": {"percent": "10"}}}, {"rule": {"cap": {"amount": "5000.00"}}}]),
]


@pytest.mark.parametrize(("client", "text", "expected"), PHRASINGS, ids=[p[1] for p in PHRASINGS])
def test_the_grammar_reads_common_phrasings_into_validated_rules(wider: Workspace, client: str, text: str,
                                                                expected: list[dict[str, Any]]) -> None:
    suggestion = suggest_rules(text, client, wider)
    assert suggestion.unread == [] and suggestion.source == "offline"
    assert changes(suggestion) == expected
    assert all(s.words and s.words in text and s.explanation for s in suggestion.rules)
    assert suggestion.changed


def test_a_relative_rate_is_computed_exactly_from_the_clients_current_rate(wider: Workspace) -> None:
    travel = suggest_rules("travel at half rate", "beta", wider)
    assert travel.after.rates.by_category["travel"] == Decimal("133.33") / 2 == Decimal("66.665")
    assert "133.33 x 0.5" in travel.rules[0].explanation
    design = suggest_rules("design at double rate", "beta", wider)  # no design rate: the default, 90.00
    assert design.after.rates.by_category["design"] == Decimal("180.00")


def test_each_rule_keeps_the_words_it_came_from(wider: Workspace) -> None:
    text = "doesn't pay for internal meetings; travel at half rate, 10% off"
    suggestion = suggest_rules(text, "beta", wider)
    assert [s.words for s in suggestion.rules] == ["doesn't pay for internal meetings", "travel at half rate",
                                                    "10% off"]


@pytest.mark.parametrize(("client", "text", "said"), [
    ("beta", "send the invoices by fax", "I can't turn 'send the invoices by fax' into a rule yet"),
    ("beta", "bill weekends at double rate", "'weekends' is not a category"),
    ("beta", "meetings are free", "'meetings' could mean category internal_meeting or category client_meeting"),
    ("beta", "cap at $5,000", "'$' is not EUR, the currency Beta GmbH is billed in"),
    ("beta", "cap at 5,000 a year", "caps each invoice (one period's work), not a year"),
    ("acme", "never more than 40 hours", "Acme Industries Ltd is not billed at one hourly rate"),
    ("beta", "round down to 15 minutes", "rounding down is not one of them"),
    ("beta", "design at 150 a day", "clients.yaml rates are hourly"),
    ("beta", "Zed at 120", "'Zed' is not a category"),
])
def test_what_it_cannot_read_it_says_plainly_and_suggests_nothing(wider: Workspace, client: str, text: str,
                                                                  said: str) -> None:
    suggestion = suggest_rules(text, client, wider)
    assert suggestion.rules == [] and not suggestion.changed
    assert len(suggestion.unread) == 1 and said in suggestion.unread[0]


def test_what_it_reads_is_kept_beside_what_it_cannot(wider: Workspace) -> None:
    suggestion = suggest_rules("no travel, internal meetings or parking; sing at the kickoff", "beta", wider)
    assert changes(suggestion) == [exclude(category="travel"), exclude(category="internal_meeting")]
    assert suggestion.unread[0].startswith("I can't turn 'no travel, internal meetings or parking' into a rule: "
                                           "'parking' is not a category")
    assert suggestion.unread[1] == "I can't turn 'sing at the kickoff' into a rule yet"


def test_a_new_discount_cap_or_code_replaces_the_old_one_and_says_so(tiny: Workspace) -> None:
    suggestion = suggest_rules("5% off; cap at 900; bill design under code D-2", "acme", tiny)
    rules = [r.model_dump(mode="json") for r in suggestion.after.rules]
    assert rules == [{"exclude": {"category": "internal_meeting", "person": None, "project_code": None,
                                  "task": None, "pattern": None}},
                     {"rollup": {"pattern": "(?i)bug|fix", "into": "Maintenance"}},
                     {"code": {"category": "design", "code": "D-2"}},
                     {"discount": {"percent": "5"}},
                     {"cap": {"amount": "900.00"}}]
    assert "'5% off' replaces {discount: {percent: '10'}}" in suggestion.notes
    assert any("replaces the code DSN-100" in n for n in suggestion.notes)


def test_what_the_client_already_has_changes_nothing_and_says_so(tiny: Workspace) -> None:
    suggestion = suggest_rules("doesn't pay for internal meetings", "acme", tiny)
    assert suggestion.rules == [] and not suggestion.changed
    assert suggestion.notes == ["{exclude: {category: internal_meeting}} is in Acme Industries Ltd's terms already "
                                "(from \"doesn't pay for internal meetings\")"]


def test_a_rule_the_workspace_loader_refuses_is_dropped_with_its_problem(tiny: Workspace) -> None:
    # The catalogue in memory knows "travel"; workspace.yaml on disk does not, so clients.yaml would not load.
    settings = tiny.settings.model_copy(update={"categories": [*tiny.settings.categories,
                                                               Category(id="travel", label="Travel")]})
    ahead = tiny.model_copy(update={"settings": settings})
    suggestion = suggest_rules("travel at 50/h, 5% off", "acme", ahead)
    assert changes(suggestion) == [{"rule": {"discount": {"percent": "5"}}}]
    assert any(n.startswith("dropped 'travel at 50/h': clients.yaml would not load") and "unknown category 'travel'"
               in n for n in suggestion.notes)


# ----------------------------------------------------------------------------------------------------
# The model, for what the grammar cannot read

TEXT = "doesn't pay for internal meetings; workshops go at the old 150 price; parking is on us"


def answer(*rules: dict[str, Any], unreadable: list[str] | None = None) -> ScriptedModel:
    return ScriptedModel([turn(call("suggest_rules", rules=list(rules), unreadable=unreadable or []))])


def test_the_model_is_asked_only_about_what_the_grammar_could_not_read_as_quoted_data(wider: Workspace) -> None:
    model = answer({"kind": "rate", "words": "workshops go at the old 150 price", "category": "discovery",
                    "rate": "150", "explanation": "Workshops are billed at 150 an hour."},
                   unreadable=["parking is on us"])
    suggestion = suggest_rules(TEXT, "beta", wider, model=model)
    [asked] = model.calls
    prompt = asked.messages[0].text
    words = prompt.split("<words>")[1].split("</words>")[0]
    assert json.loads(words) == ["workshops go at the old 150 price", "parking is on us"]
    assert "doesn't pay for internal meetings" not in prompt and asked.tools == ["suggest_rules"]
    assert changes(suggestion) == [exclude(category="internal_meeting"), rate("by_category", "discovery", "150.00")]
    assert [s.source for s in suggestion.rules] == ["offline", "scripted"] and suggestion.source == "scripted"
    assert suggestion.rules[1].comment == "Workshops are billed at 150 an hour."
    assert suggestion.unread == [
        "I can't turn 'parking is on us' into a rule: 'parking' is not a category (discovery, design, development, "
        "internal_meeting, travel, admin, client_meeting), a person with time for Beta GmbH (Ann Lee, Bob Roe, "
        "Cat Poe) or one of its project codes (BET.APP)"]


def test_a_hostile_model_answer_is_refused_rule_by_rule_with_a_note(wider: Workspace) -> None:
    model = answer(
        {"kind": "exclude", "words": "parking is on us", "category": "parking"},
        {"kind": "rate", "words": "workshops go at the old 150 price", "category": "discovery", "rate": "-150"},
        {"kind": "discount", "words": "parking is on us", "percent": "150"},
        {"kind": "rate", "words": "workshops go at the old 150 price", "category": "discovery", "rate": "400"},
        {"kind": "exclude", "words": "doesn't pay for internal meetings", "category": "design"},
        {"kind": "rate", "words": "workshops go at the old 150 price", "category": "discovery", "rate": "150",
         "explanation": "Workshops are billed at 150 an hour. That is 37 more than now."},
    )
    suggestion = suggest_rules(TEXT, "beta", wider, model=model)
    assert changes(suggestion) == [exclude(category="internal_meeting"), rate("by_category", "discovery", "150.00")]
    assert suggestion.rules[1].comment == "Workshops are billed at 150 an hour."
    notes = "\n".join(suggestion.notes)
    assert "dropped the model's exclude rule for 'parking is on us': no category 'parking' in the catalogue" in notes
    assert "a rate must be more than 0, not -150.00" in notes
    assert "a discount is from 0 to 100 %, not 150 %" in notes
    assert "its rate 400 is not a figure the person wrote" in notes
    assert "is not among the words it was asked about" in notes
    assert "removed from the model's explanation of 'workshops go at the old 150 price': 'That is 37 more than now.'" \
        in notes
    assert any("parking is on us" in u for u in suggestion.unread)


def test_the_model_repeating_what_the_grammar_read_adds_nothing_twice(wider: Workspace) -> None:
    text = "no travel, internal meetings or parking"
    model = answer({"kind": "exclude", "words": "internal meetings", "category": "internal_meeting"},
                   {"kind": "exclude", "words": "parking", "mentions": ["parking"]})
    suggestion = suggest_rules(text, "beta", wider, model=model)
    assert changes(suggestion) == [exclude(category="travel"), exclude(category="internal_meeting"),
                                   exclude(pattern=r"(?i)\b(?:parking(?:s|es)?)\b")]
    assert suggestion.notes == [] and suggestion.unread == []


def test_a_model_cannot_invent_a_relative_rate_or_a_billing_code(wider: Workspace) -> None:
    text = "workshops cost half again as much; the code for design is whatever fits"
    model = answer({"kind": "rate", "words": "workshops cost half again as much", "category": "discovery",
                    "factor": "1.7"},
                   {"kind": "code", "words": "the code for design is whatever fits", "category": "design",
                    "code": "DSN-9"})
    suggestion = suggest_rules(text, "beta", wider, model=model)
    assert suggestion.rules == []
    assert any("its factor 1.7 is not what the person said" in n for n in suggestion.notes)
    assert any("the code 'DSN-9' is not in the person's words" in n for n in suggestion.notes)


def test_the_model_is_not_called_when_the_grammar_reads_everything(wider: Workspace) -> None:
    model = ScriptedModel([])
    suggestion = suggest_rules("no travel; 10% off", "beta", wider, model=model)
    assert model.calls == [] and len(suggestion.rules) == 2


def test_a_model_that_answers_nonsense_twice_leaves_the_offline_reading_with_a_note(wider: Workspace) -> None:
    model = ScriptedModel([turn(text="sure!"), turn(text="really")])
    suggestion = suggest_rules(TEXT, "beta", wider, model=model)
    assert len(model.calls) == 2 and suggestion.source == "offline"
    assert changes(suggestion) == [exclude(category="internal_meeting")]
    assert any("this is the offline answer" in n for n in suggestion.notes) and len(suggestion.unread) == 2


# ----------------------------------------------------------------------------------------------------
# The preview: last period's invoice with the current and the suggested terms


def totals(suggestion: Suggestion, workspace: Workspace) -> dict[str, tuple[str, str]]:
    preview = preview_suggestion(workspace, suggestion, today=AFTER_MARCH)
    assert preview is not None and str(preview.period) == "2026-03" and preview.as_of == date(2026, 4, 1)
    return {name: (str(before), str(after)) for name, before, after in preview.totals()}


def test_the_preview_drafts_last_period_with_both_terms(tiny: Workspace) -> None:
    suggestion = suggest_rules("cap at 1,000", "acme", tiny)
    assert totals(suggestion, tiny) == {
        "subtotal": ("776.25", "776.25"), "discount": ("-77.63", "-77.63"), "cap_adjustment": ("-48.62", "0.00"),
        "tax": ("130.00", "139.72"), "total": ("780.00", "838.34")}


def test_the_preview_lists_lines_removed_and_changed(tiny: Workspace) -> None:
    dropped = preview_suggestion(tiny, suggest_rules("don't bill design", "acme", tiny), today=AFTER_MARCH)
    assert dropped is not None
    assert [(c.change, c.description, c.before and str(c.before.amount)) for c in dropped.lines] == [
        ("removed", "Design", "306.25")]
    assert dropped.after.total == Decimal("507.60")  # 470.00 - 47.00 discount, under the cap, + 84.60 tax
    bob = preview_suggestion(tiny, suggest_rules("Bob at 80/h", "acme", tiny), today=AFTER_MARCH)
    assert bob is not None
    assert [(c.change, c.description, str(c.after.amount) if c.after else None) for c in bob.lines] == [
        ("changed", "Development", "240.00"), ("changed", "Maintenance", "40.00")]
    assert bob.unchanged == 2 and bob.after.total == Decimal("762.74")


def test_the_preview_adds_a_rolled_up_line(tiny: Workspace) -> None:
    preview = preview_suggestion(tiny, suggest_rules("roll up api work into Integrations", "acme", tiny),
                                 today=AFTER_MARCH)
    assert preview is not None
    added = [c.after for c in preview.lines if c.change == "added"]
    assert [(ln.description, ln.entry_ids) for ln in added if ln] == [("Integrations", ["e8"])]
    assert preview.after.total == preview.before.total  # the same hours at the same rate, under the same cap


def test_there_is_nothing_to_preview_before_a_clients_first_entry(tiny: Workspace) -> None:
    suggestion = suggest_rules("cap at 1,000", "acme", tiny)
    assert preview_suggestion(tiny, suggestion, today=date(2026, 3, 1)) is None


# ----------------------------------------------------------------------------------------------------
# Writing clients.yaml


def test_nothing_is_written_by_suggesting_or_previewing(tiny: Workspace) -> None:
    path = Path(tiny.root) / "clients.yaml"
    before = path.read_bytes()
    suggestion = suggest_rules("cap at 1,000; Bob at 80/h", "acme", tiny)
    preview_suggestion(tiny, suggestion, today=AFTER_MARCH)
    assert path.read_bytes() == before


def test_written_rules_load_again_and_the_workspace_drafts_the_new_total(tiny: Workspace) -> None:
    path = Path(tiny.root) / "clients.yaml"
    old = path.read_text()
    suggestion = suggest_rules("cap at 1,000; Bob at 80/h", "acme", tiny)
    assert write_suggestion(tiny, suggestion) == path
    reloaded = load_workspace(tiny.root)
    assert reloaded.client("acme") == suggestion.after
    assert reloaded.client("beta") == tiny.client("beta")
    march = draft_invoice(reloaded, "acme", Period.parse("2026-03"), as_of=date(2026, 4, 1))
    # 776.25 - 60.00 - 10.00 at Bob's 80.00; discount -70.63; 635.62 is under the 1,000 cap; tax 127.12
    assert march.total == Decimal("776.25") - 70 - Decimal("70.63") + Decimal("127.12") == Decimal("762.74")
    new = path.read_text()
    assert new.endswith(old[old.index("  - id: beta"):])  # the other client, byte for byte
    untouched = ("clients:", "  - id: acme", "    name:", "    tax_rate:", "    billing:", "      model:",
                 "    rounding:", "    group_by:", "      default:", "      by_role:", "      by_category:")
    assert [ln for ln in new.splitlines() if ln.startswith(untouched)] == [
        ln for ln in old.splitlines() if ln.startswith(untouched)]  # acme's other terms, as written
    assert '      by_person: {Ann Lee: "175.00", Bob Roe: "80.00"}' in new.splitlines()


def test_writing_keeps_comments_and_adds_missing_terms(tiny: Workspace) -> None:
    path = Path(tiny.root) / "clients.yaml"
    text = path.read_text().replace("  - id: beta", "  # Beta pays by retainer\n  - id: beta")
    text = text.replace("    group_by: category\n    rules: []\n", "")  # beta has neither: both are defaults
    path.write_text(text)
    workspace = load_workspace(tiny.root)
    suggestion = suggest_rules("one line per person; 5% off", "beta", workspace)
    write_suggestion(workspace, suggestion)
    written = path.read_text()
    assert written.startswith(text.rstrip("\n"))
    assert written[len(text.rstrip("\n")):] == '\n    group_by: person\n    rules:\n      - discount: {percent: "5"}\n'
    assert load_workspace(tiny.root).client("beta").group_by == "person"


def test_writing_leaves_no_temporary_file_and_keeps_the_files_mode(tiny: Workspace) -> None:
    path = Path(tiny.root) / "clients.yaml"
    path.chmod(0o640)
    write_suggestion(tiny, suggest_rules("10% off", "beta", tiny))
    assert sorted(p.name for p in Path(tiny.root).iterdir() if p.name.startswith(".")) == []
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_suggestion_that_changes_nothing_is_not_written(tiny: Workspace) -> None:
    suggestion = suggest_rules("doesn't pay for internal meetings", "acme", tiny)
    with pytest.raises(DomainError, match="there is nothing to write"):
        write_suggestion(tiny, suggestion)


def test_a_suggestion_made_on_other_terms_is_not_written(tiny: Workspace) -> None:
    suggestion = suggest_rules("10% off", "beta", tiny)
    moved = tiny.model_copy(update={"clients": [
        c.model_copy(update={"rules": [CodeRule.model_validate({"code": {"category": "design", "code": "X"}})]})
        if c.id == "beta" else c for c in tiny.clients]})
    with pytest.raises(DomainError, match="changed since the suggestion was made"):
        write_suggestion(moved, suggestion)
