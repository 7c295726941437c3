"""A reviewer's changes in words become revisions a person confirms; nothing is silently ignored or guessed."""

from __future__ import annotations

import io
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agent.change_words import CANNOT_HOURS, CANNOT_RATES, ChangeProposal, ModelChange, ModelChanges, read_changes
from agent.testing import ScriptedModel, call, turn
from api.cli import main
from api.settings import Settings
from graph.runs import change_problems
from tests.builders import entry, workspace
from tools.domain import Category, Workspace
from tools.drafts import Draft, DraftContext, draft_invoice
from tools.periods import Period
from tools.revisions import Revisions, build_draft
from tools.store import Store

PERIOD = Period.parse("2026-03")
AS_OF = date(2026, 4, 1)
CATEGORIES = [
    Category(id="discovery", label="Discovery & workshops", examples=["kickoff workshop", "stakeholder interview"]),
    Category(id="design", label="Design", examples=["homepage wireframes", "hi-fi mocks"]),
    Category(id="development", label="Development", examples=["build product page", "api integration"]),
    Category(id="client_call", label="Client calls", examples=["weekly client call", "call with the client"]),
    Category(id="internal_meeting", label="Internal meetings", examples=["team standup", "internal sync"]),
    Category(id="client_meeting", label="Client meetings", examples=["steering committee"]),
]
PEOPLE = [{"person": "Sam Patel", "role": "senior"}, {"person": "Ann Lee", "role": "junior"},
          {"person": "Sam Ortiz", "role": "junior"}]
ENTRIES = [
    entry("e-01", notes="Offsite planning day", task="Offsite", person="Ann Lee", date=date(2026, 3, 6)),
    entry("e-02", notes="call about scope", task="Calls", person="Sam Patel", date=date(2026, 3, 3)),
    entry("e-03", notes="call with procurement", task="Calls", person="Sam Patel", date=date(2026, 3, 3)),
    entry("e-04", notes="call about the budget", task="Calls", person="Sam Patel", date=date(2026, 3, 4)),
    entry("e-05", notes="kickoff workshop", task="Discovery", person="Ann Lee", date=date(2026, 3, 12)),
    entry("e-06", notes="kickoff workshop", task="Discovery", person="Ann Lee", date=date(2026, 3, 12)),
    entry("e-07", notes="stakeholder workshop", task="Discovery", person="Sam Patel", date=date(2026, 3, 10)),
    entry("e-08", notes="Travel to client site", task="Travel", person="Sam Patel", date=date(2026, 3, 13)),
    entry("e-09", notes="homepage wireframes", task="Design", person="Sam Patel", date=date(2026, 3, 13)),
    entry("e-10", notes="build product page", task="Development", person="Ann Lee", date=date(2026, 3, 9)),
    entry("e-11", notes="api integration", task="Development", person="Sam Patel", date=date(2026, 3, 11)),
    entry("e-12", notes="pricing page copy", task="Content", person="Ann Lee", date=date(2026, 3, 16)),
]


@pytest.fixture(scope="module")
def ws() -> Workspace:
    built = workspace(entries=ENTRIES, people=PEOPLE)
    return built.model_copy(update={"settings": built.settings.model_copy(update={"categories": CATEGORIES})})


@pytest.fixture(scope="module")
def draft(ws: Workspace) -> Draft:
    return draft_invoice(ws, "acme", PERIOD, as_of=AS_OF)


def billed(draft: Draft, keep: Any) -> set[str]:
    return {e.entry_id for e in draft.entries if e.outcome == "billed" and keep(e)}


def read(text: str, draft: Draft, ws: Workspace, **kwargs: Any) -> ChangeProposal:
    proposal = read_changes(text, draft, ws, **kwargs)
    assert change_problems(draft, [c.id for c in CATEGORIES], proposal.revisions) == []
    return proposal


# ----------------------------------------------------------------------------------------------------
# Dropping


def test_dropping_by_words_of_the_notes_drops_the_entries_that_say_them(draft: Draft, ws: Workspace) -> None:
    proposal = read("drop the offsite", draft, ws)

    assert set(proposal.revisions.drop) == billed(draft, lambda e: "offsite" in e.notes.lower())
    assert proposal.cannot == [] and "drop the offsite" in proposal.revisions.drop["e-01"]
    assert "e-01" in proposal.understood[0] and "Offsite planning day" in proposal.understood[0]


def test_a_duplicate_the_engine_already_holds_is_said_to_be_off_the_invoice_not_dropped_again(
    draft: Draft, ws: Workspace,
) -> None:
    held = [a.entry_id for a in draft.anomalies if a.kind == "duplicate" and a.held]
    proposal = read("remove the duplicate on the 12th", draft, ws)

    assert held and proposal.revisions.drop == {}
    assert proposal.cannot == []
    assert all(e in proposal.understood[0] for e in held) and "already off the invoice" in proposal.understood[0]


def test_a_person_and_a_weekday_pick_that_persons_entries_on_that_weekday(draft: Draft, ws: Workspace) -> None:
    proposal = read("take off Sam Patel's Friday entries", draft, ws)

    expected = billed(draft, lambda e: e.person == "Sam Patel" and e.date.weekday() == 4)
    assert expected and set(proposal.revisions.drop) == expected


def test_a_first_name_two_people_share_is_asked_back_not_guessed(draft: Draft, ws: Workspace) -> None:
    ortiz = entry("e-13", notes="qa pass", person="Sam Ortiz", date=date(2026, 3, 5))
    both = workspace(entries=[*ENTRIES, ortiz], people=PEOPLE)
    both = both.model_copy(update={"settings": ws.settings})
    proposal = read("take off Sam's Friday entries", draft_invoice(both, "acme", PERIOD, as_of=AS_OF), both)

    assert proposal.revisions.drop == {}
    assert "could be Sam Patel or Sam Ortiz" in proposal.cannot[0] or "could be Sam Ortiz or Sam Patel" in \
        proposal.cannot[0]


def test_a_first_name_only_one_person_on_the_draft_has_means_that_person(draft: Draft, ws: Workspace) -> None:
    proposal = read("drop Sam's travel", draft, ws)

    assert set(proposal.revisions.drop) == billed(draft, lambda e: e.person == "Sam Patel" and "Travel" in e.notes)


@pytest.mark.parametrize("text", ["drop Ann's entries on the 9th", "drop Ann's entries on 9 March",
                                  "drop Ann's entries on March 9th", "drop Ann Lee's 2026-03-09 entries"])
def test_a_date_is_read_however_it_is_written(text: str, draft: Draft, ws: Workspace) -> None:
    proposal = read(text, draft, ws)

    assert set(proposal.revisions.drop) == billed(draft, lambda e: e.person == "Ann Lee"
                                                  and e.date == date(2026, 3, 9))


def test_a_date_outside_the_period_is_refused_with_the_period(draft: Draft, ws: Workspace) -> None:
    proposal = read("drop the offsite on April 6th", draft, ws)

    assert proposal.revisions.drop == {}
    assert "not in this draft's period (2026-03-01..2026-03-31)" in proposal.cannot[0]


def test_dropping_a_line_drops_every_entry_on_it(draft: Draft, ws: Workspace) -> None:
    line = next(ln for ln in draft.lines if ln.category == "development")
    proposal = read("drop the development line", draft, ws)

    assert set(proposal.revisions.drop) == set(line.entry_ids)


# ----------------------------------------------------------------------------------------------------
# Categories


def test_a_persons_calls_on_a_day_become_the_category_named_in_plain_words(draft: Draft, ws: Workspace) -> None:
    proposal = read("Sam's calls on the 3rd are internal meetings", draft, ws)

    expected = billed(draft, lambda e: e.date == date(2026, 3, 3) and "call" in e.notes)
    assert len(expected) == 2 and all(draft.categories[e] != "internal_meeting" for e in expected)
    assert proposal.revisions.categories == dict.fromkeys(expected, "internal_meeting")


@pytest.mark.parametrize("text", ["e-10 was really a client call", "make e-10 client calls",
                                  "move e-10 to the client calls", "e-10 is client_call"])
def test_a_category_is_found_by_its_id_label_or_examples(text: str, draft: Draft, ws: Workspace) -> None:
    assert draft.categories["e-10"] != "client_call"
    assert read(text, draft, ws).revisions.categories == {"e-10": "client_call"}


def test_make_an_entry_a_category_names_the_entry_by_its_id(draft: Draft, ws: Workspace) -> None:
    target = next(e for e in draft.entries if e.outcome == "billed" and e.category != "design")
    proposal = read(f"make {target.entry_id} design", draft, ws)

    assert proposal.revisions.categories == {target.entry_id: "design"}
    assert f"{target.category} -> design" in proposal.understood[0]


def test_moving_entries_by_their_words_moves_the_billed_ones_and_says_the_held_change_nothing(
    draft: Draft, ws: Workspace,
) -> None:
    proposal = read("move the workshop entries to development", draft, ws)

    assert set(proposal.revisions.categories) == billed(draft, lambda e: "workshop" in e.notes)
    assert set(proposal.revisions.categories.values()) == {"development"}
    held = [e.entry_id for e in draft.entries if e.outcome == "held" and "workshop" in e.notes]
    assert held and all(f"{h} (" in proposal.understood[0] for h in held)
    assert "so its category changes nothing" in proposal.understood[0]


def test_a_category_that_is_already_the_entrys_is_said_and_not_changed(draft: Draft, ws: Workspace) -> None:
    target = next(e for e in draft.entries if e.outcome == "billed" and e.category)
    proposal = read(f"{target.entry_id} should be {target.category}", draft, ws)

    assert proposal.revisions.categories == {} and f"is already {target.category}" in proposal.understood[0]


def test_a_category_two_catalogue_entries_could_be_is_asked_back(draft: Draft, ws: Workspace) -> None:
    proposal = read("move the offsite to meetings", draft, ws)

    assert proposal.revisions.categories == {}
    assert "could be internal_meeting or client_meeting" in proposal.cannot[0]


def test_an_unknown_category_lists_the_catalogue(draft: Draft, ws: Workspace) -> None:
    proposal = read("e-01 is astrology", draft, ws)

    assert proposal.revisions.categories == {}
    assert "no category is called 'astrology'" in proposal.cannot[0]
    assert all(c.id in proposal.cannot[0] for c in CATEGORIES)


# ----------------------------------------------------------------------------------------------------
# Lines


@pytest.mark.parametrize("text", ["call the development line 'Build work'", "rename the development line to Build work",
                                  "rename 'Development' to \"Build work\"",
                                  "the development line should read 'Build work'"])
def test_a_line_is_renamed_to_the_reviewers_words(text: str, draft: Draft, ws: Workspace) -> None:
    line = next(ln for ln in draft.lines if ln.category == "development")
    proposal = read(text, draft, ws)

    assert proposal.revisions.descriptions == {line.description: "Build work"}


def test_renaming_a_line_the_draft_does_not_have_lists_its_lines(draft: Draft, ws: Workspace) -> None:
    proposal = read("call the catering line 'Food'", draft, ws)

    assert proposal.revisions.descriptions == {}
    assert "no line is described 'catering'" in proposal.cannot[0]
    assert all(ln.description in proposal.cannot[0] for ln in draft.lines)


# ----------------------------------------------------------------------------------------------------
# Several changes, and what cannot be done


def test_several_changes_in_one_text_are_read_part_by_part(draft: Draft, ws: Workspace) -> None:
    text = ("drop the offsite and the travel, make e-11 design; call the development line 'Build work', "
            "then bill Sam's travel at half rate")
    proposal = read(text, draft, ws)

    assert set(proposal.revisions.drop) == {"e-01", "e-08"}  # "the travel" borrows "drop"
    assert proposal.revisions.categories == {"e-11": "design"}
    assert list(proposal.revisions.descriptions.values()) == ["Build work"]
    assert proposal.cannot == [f"\"bill Sam's travel at half rate\": {CANNOT_RATES}"]


@pytest.mark.parametrize("text", ["bill Sam's travel at half rate", "charge the offsite at 100/h",
                                  "give them a 10% discount", "bill e-08 at 80 per hour"])
def test_rate_changes_are_answered_with_where_rates_live(text: str, draft: Draft, ws: Workspace) -> None:
    proposal = read(text, draft, ws)

    assert proposal.revisions == Revisions() and proposal.cannot == [f"\"{text}\": {CANNOT_RATES}"]
    assert "invoice-agent rules suggest" in proposal.describe()


def test_words_that_only_look_like_rates_are_read_as_what_they_say(draft: Draft, ws: Workspace) -> None:
    pricing = read("drop the pricing page", draft, ws)
    double = read("drop the double on the 12th", draft, ws)

    assert pricing.cannot == [] and set(pricing.revisions.drop) == billed(draft, lambda e: "pricing" in e.notes)
    assert double.cannot == [] and "held: duplicate" in double.understood[0]


def test_hours_changes_are_answered_not_attempted(draft: Draft, ws: Workspace) -> None:
    text = "cut the offsite down to 2 hours"
    proposal = read(text, draft, ws)

    assert proposal.revisions == Revisions() and proposal.cannot == [f"\"{text}\": {CANNOT_HOURS}"]


@pytest.mark.parametrize(("text", "why"), [
    ("frobnicate the widget", "could not read this"),
    ("drop e-99", "e-99: not an entry of this draft"),
    ("drop everything", "say which entries"),
    ("drop the catering", "nothing on this draft matches 'the catering'"),
    ("drop Sam Ortiz's travel", "Sam Ortiz has no entries on this draft"),
])
def test_what_is_not_understood_is_said_with_the_reviewers_words(text: str, why: str, draft: Draft,
                                                                 ws: Workspace) -> None:
    proposal = read(text, draft, ws)

    assert proposal.revisions == Revisions()
    assert len(proposal.cannot) == 1 and proposal.cannot[0].startswith(f'"{text}"') and why in proposal.cannot[0]


def test_every_part_ends_understood_or_refused(draft: Draft, ws: Workspace) -> None:
    text = "drop the offsite; frobnicate; make e-10 design, bill at 90/h, drop e-404 and the travel"
    proposal = read(text, draft, ws)

    assert len(proposal.understood) + len(proposal.cannot) == 6


def test_the_revisions_read_recompute_the_draft_without_and_with_what_was_said(draft: Draft, ws: Workspace) -> None:
    proposal = read("drop the offsite, make e-11 design, call the development line 'Build work'", draft, ws)
    revised = build_draft(ws, "acme", PERIOD, DraftContext(ws, AS_OF), proposal.revisions)

    on_lines = {i for ln in revised.lines for i in ln.entry_ids}
    assert "e-01" not in on_lines and revised.categories["e-11"] == "design"
    assert "Build work" in {ln.description for ln in revised.lines}
    assert revised.total < draft.total


# ----------------------------------------------------------------------------------------------------
# Claude, for what the grammar left


def test_what_the_grammar_reads_is_never_sent_to_the_model(draft: Draft, ws: Workspace) -> None:
    model = ScriptedModel([])
    proposal = read("drop the offsite, bill Sam's travel at half rate", draft, ws, model=model)

    assert model.calls == [] and proposal.source == "offline"


def test_the_model_reads_a_part_the_grammar_could_not_and_code_checks_it(draft: Draft, ws: Workspace) -> None:
    model = ScriptedModel([turn(call("propose_changes", changes=[
        {"part": 1, "action": "drop", "entry_ids": ["e-08"], "why": "the trip to the client is the visit"}]))],
        name="claude-test")
    proposal = read("drop the offsite, lose the thing where Sam went to see them", draft, ws, model=model)

    assert proposal.source == "claude-test" and proposal.cannot == []
    assert set(proposal.revisions.drop) == {"e-01", "e-08"}
    assert "lose the thing where Sam went to see them" in proposal.revisions.drop["e-08"]
    assert "read by claude-test" in proposal.understood[-1]
    prompt = model.calls[0].messages[0].text
    assert "lose the thing" in prompt and '"1"' in prompt


def test_a_model_naming_what_the_draft_lacks_is_refused_change_by_change(draft: Draft, ws: Workspace) -> None:
    model = ScriptedModel([turn(call("propose_changes", changes=[
        {"part": 1, "action": "drop", "entry_ids": ["e-404"]},
        {"part": 1, "action": "categorize", "entry_ids": ["e-02"], "category": "astrology"},
        {"part": 1, "action": "rename", "line": "Design", "new_description": "Free of charge"},
        {"part": 7, "action": "drop", "entry_ids": ["e-02"]},
    ]))])
    proposal = read("sort out the thing with the calls", draft, ws, model=model)

    assert proposal.revisions == Revisions()
    assert len(proposal.cannot) == 1 and "sort out the thing" in proposal.cannot[0]
    refusals = "\n".join(proposal.notes)
    assert "e-404: not an entry of this draft" in refusals and "unknown category 'astrology'" in refusals
    assert "'Free of charge' is not in the reviewer's words" in refusals and "part 7" in refusals


def test_a_figure_the_model_made_up_is_removed_from_its_reason(draft: Draft, ws: Workspace) -> None:
    model = ScriptedModel([turn(call("propose_changes", changes=[
        {"part": 1, "action": "categorize", "entry_ids": ["e-02"], "category": "client_call",
         "why": "It was a client call. That saves 4321.99 on the invoice."}]))])
    proposal = read("that scoping thing was really with the client", draft, ws, model=model)

    assert proposal.revisions.categories == {"e-02": "client_call"}
    assert "4321.99" not in proposal.understood[0] and "It was a client call." in proposal.understood[0]
    assert any("4321.99" in note for note in proposal.notes)


def test_a_model_that_answers_nonsense_twice_leaves_the_offline_reading_with_a_note(
    draft: Draft, ws: Workspace,
) -> None:
    model = ScriptedModel([turn(call("propose_changes", changes="all")), turn(call("propose_changes", changes=3))])
    proposal = read("drop the offsite, sort out the calls", draft, ws, model=model)

    assert proposal.source == "offline" and set(proposal.revisions.drop) == {"e-01"}
    assert len(proposal.cannot) == 1 and any("not used" in note for note in proposal.notes)


# ----------------------------------------------------------------------------------------------------
# The command line: revise RUN --say


TINY = Path(__file__).parents[1] / "fixtures" / "tiny"


@pytest.fixture
def waiting_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("INVOICE_AGENT_", "ANTHROPIC_")) and name != "INVOICE_AGENT_CACHE_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("INVOICE_AGENT_WORKSPACE", str(TINY))
    monkeypatch.setenv("INVOICE_AGENT_DATA_DIR", str(tmp_path / "data"))
    assert main(["run", "invoice Acme for March", "--as-of", "2026-04-01"]) == 0
    found = re.search(r"waiting for approval: (\w+)", capsys.readouterr().out)
    assert found
    return found[1]


def latest(run: str) -> Draft:
    store = Store(Settings().store_url())
    try:
        record = store.latest_draft(run)
        assert record is not None
        return record.draft
    finally:
        store.close()


def test_revise_say_shows_the_changes_and_changes_nothing_without_yes(
    waiting_run: str, capsys: pytest.CaptureFixture[str],
) -> None:
    before = latest(waiting_run)
    code = main(["revise", waiting_run, "--say", "drop the api integration, bill Bob at half rate"])
    out = capsys.readouterr().out

    assert code == 0 and "drop e8" in out and CANNOT_RATES in out
    assert "run the same command again with --yes" in out
    assert latest(waiting_run) == before


def test_revise_say_with_yes_applies_what_it_showed(waiting_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["revise", waiting_run, "--say", "drop the api integration", "--yes"])
    out = capsys.readouterr().out

    assert code == 0 and "drop e8" in out and f"waiting for approval: {waiting_run}" in out
    revised = latest(waiting_run)
    assert "e8" not in {i for ln in revised.lines for i in ln.entry_ids}
    assert any(x.entry_id == "e8" for x in revised.excluded)


def test_revise_say_with_nothing_understood_changes_nothing_and_fails(
    waiting_run: str, capsys: pytest.CaptureFixture[str],
) -> None:
    before = latest(waiting_run)
    code = main(["revise", waiting_run, "--say", "frobnicate the widget", "--yes"])

    assert code == 1 and "nothing was changed" in capsys.readouterr().out
    assert latest(waiting_run) == before


class Terminal(io.StringIO):
    """Standard input typed by a person at a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "applied"), [("y\n", True), ("n\n", False)])
def test_revise_say_at_a_terminal_applies_only_on_a_yes(
    answer: str, applied: bool, waiting_run: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code = main(["revise", waiting_run, "--say", "drop the api integration"])

    assert code == 0 and "apply these changes? [y/N]" in capsys.readouterr().out
    assert ("e8" not in {i for ln in latest(waiting_run).lines for i in ln.entry_ids}) == applied


def test_words_claude_read_never_apply_without_a_person_seeing_them_even_with_yes(
    waiting_run: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    reading = ModelChanges(changes=[ModelChange(part=1, action="drop", entry_ids=["e8"])])
    model = ScriptedModel([turn(call("propose_changes", **reading.model_dump()))], name="claude-test")
    monkeypatch.setattr("api.wiring.choose_model", lambda *args: model)
    before = latest(waiting_run)
    code = main(["revise", waiting_run, "--say", "scrap whatever Bob did on the api", "--yes"])
    out = capsys.readouterr().out

    assert code == 0 and "drop e8" in out and len(model.calls) == 1
    assert f"as explicit changes:\n  invoice-agent revise {waiting_run} --drop e8" in out
    assert latest(waiting_run) == before
