"""Vague notes: the general rule finds phrasings no list names, terse real notes stay clear, and a firm's
history labels teach its own phrasings without ever turning its real vocabulary vague."""

from __future__ import annotations

from datetime import date

import pytest

import tools.vagueness
from tests.builders import entry, workspace
from tools.domain import EntryLabel, Workspace
from tools.vagueness import VagueNotes, is_vague, words

# Our own drift: phrasings written for this test, before the word lists, none of them an entry of a list.
NEW_VAGUE = [
    "as per usual", "same as yesterday", "more of yesterday's stuff", "carried on from last week",
    "picked up where I left off", "bits and pieces", "tying up loose ends", "this and that",
    "general bits", "various things for them", "stuff for the client", "did some work", "worked on it",
    "work on the matter", "see previous entry", "ditto above", "as agreed", "as requested", "as instructed",
    "follow-on from earlier", "continued from this morning", "still going", "more work", "extra time",
    "additional hours", "sorting things out", "dealt with stuff", "handled things", "misc admin bits",
    "general housekeeping", "the usual stuff", "routine bits", "kept things going", "wrapping up",
    "finishing off", "ongoing bits", "some more of it", "on it", "stuff from before", "whatever was needed",
    "things we discussed", "the usual for them", "misc tasks today", "Monday stuff", "client work",
    "matter work", "general client work", "sundries", "whatnot", "odds and sods", "as before",
]
TERSE_BUT_REAL = [
    # agency
    "call w/ client", "QA pass", "figma", "standup", "retro", "sprint planning", "kickoff", "wireframes",
    "hero banner", "logo tweaks", "copy edits", "hotfix", "deploy", "code review", "PR review", "css fixes",
    "nav build", "footer", "SEO audit", "analytics setup", "GA4", "moodboard", "brand workshop",
    "user interviews", "usability testing", "persona doc", "sitemap", "style guide", "banner ads",
    "email template", "newsletter", "social posts", "storyboard", "video edit", "photo retouching",
    "a11y fixes", "load testing", "db migration", "api docs", "staging deploy", "release notes", "bug triage",
    "pitch deck", "client demo", "handoff", "design crit", "1:1", "sync w/ dev", "content audit",
    "follow-up call", "catch-up w/ partner", "weekly report", "status update", "morning standup",
    "project plan", "project kickoff", "update deck", "progress report",
    # law firm
    "gc call", "spa cl 4", "redlines", "NDA review", "draft SPA", "markup lease", "due diligence",
    "DD report", "witness stmt", "depo prep", "court filing", "e-filing", "hearing", "trial bundle",
    "research re limitation", "case law", "memo", "advice note", "conflict check", "KYC", "engagement letter",
    "term sheet", "board minutes", "share transfer", "TR1", "completion call", "signing",
    "closing checklist", "emails w/ opp counsel", "letter to court", "costs budget", "settlement offer",
    "mediation", "counsel's opinion", "brief counsel", "instructions to counsel", "hearing prep",
    "per client email re NDA", "same-day filing", "attend client", "prev version compare",
]
# Reported as missed by the fixed word list on two unseen firms (issue item 4).
REPORTED_MISSES = ["odds and ends", "per earlier", "as discussed", "more of the same", "bits for them",
                   "continuing from before", "sorted stuff", "the usual"]


def test_the_drift_phrasings_are_named_by_no_list_in_the_code() -> None:
    listed = {w for value in vars(tools.vagueness).values() if isinstance(value, frozenset) for w in value}
    assert len(NEW_VAGUE) >= 30 and len(TERSE_BUT_REAL) >= 60
    assert not [p for p in NEW_VAGUE if " ".join(words(p)) in listed]


def test_new_vague_phrasings_are_found_and_terse_real_notes_are_not() -> None:
    # Measured: 49 of 51 found ("whatnot" and "odds and sods" are missed: words no general list has),
    # no terse note flagged. Before this test was first run, "time" was missing from the lists (48 of 51).
    found = [p for p in NEW_VAGUE if is_vague(p)]
    flagged = [n for n in TERSE_BUT_REAL if is_vague(n)]
    recall = len(found) / len(NEW_VAGUE)
    precision = len(found) / (len(found) + len(flagged))
    assert recall >= 0.94, sorted(set(NEW_VAGUE) - set(found))
    assert precision >= 0.98, flagged


@pytest.mark.parametrize("notes", REPORTED_MISSES)
def test_the_phrasings_the_old_word_list_missed_are_vague(notes: str) -> None:
    assert is_vague(notes)


@pytest.mark.parametrize("notes", ["", "   ", "\t"])
def test_empty_notes_are_not_vague_but_missing(notes: str) -> None:
    assert not is_vague(notes)


def test_a_note_of_only_punctuation_says_nothing() -> None:
    assert is_vague("...") and is_vague("- / -")


def labelled(notes_and_labels: list[tuple[str, str | None]], **entry_fields: object) -> Workspace:
    """A workspace whose entries carry these notes and entry labels (anomaly None: a clean entry)."""
    ws = workspace(entries=[entry(f"e{i}", notes=n, **entry_fields) for i, (n, _) in enumerate(notes_and_labels)])
    labels = [EntryLabel(entry_id=f"e{i}", category="development", anomaly=a)
              for i, (_, a) in enumerate(notes_and_labels)]
    return ws.model_copy(update={"labels": labels})


def test_a_phrasing_learned_from_history_labels_makes_a_new_note_with_it_vague() -> None:
    history = labelled([("bits and bobs for the client", "vague_description"),
                        ("faffing about for the client", "vague_description"),
                        ("homepage wireframes", None)])
    learned = VagueNotes.learn(history)
    assert learned.is_vague("more bits and bobs")
    assert not is_vague("more faffing today")  # the general rule does not know the word
    assert learned.is_vague("more faffing today")
    assert not learned.is_vague("faffing with the homepage wireframes")


def test_a_word_seen_in_a_clean_labelled_note_is_never_learned_as_vague() -> None:
    history = labelled([("misc figma", "vague_description"), ("figma cleanup", None)])
    learned = VagueNotes.learn(history)
    assert "figma" not in learned.vague_words
    assert not learned.is_vague("figma") and not learned.is_vague("figma today")
    assert learned.is_vague("misc figma")  # the very note the reviewers labelled


def test_a_firm_that_bills_admin_as_real_work_teaches_that_admin_is_content() -> None:
    history = labelled([("admin", None), ("admin", None), ("Admin", None), ("misc", "vague_description")])
    learned = VagueNotes.learn(history)
    assert is_vague("general admin") and not learned.is_vague("general admin")
    assert learned.is_vague("misc stuff")


def test_labelled_notes_count_by_majority() -> None:
    vague = "vague_description"
    history = labelled([("twiddles", vague), ("twiddles", vague), ("twiddles", None),
                        ("the usual", None), ("the usual", None), ("the usual", vague)])
    learned = VagueNotes.learn(history)
    assert learned.is_vague("Twiddles") and not learned.is_vague("the usual")
    assert "twiddles" not in learned.vague_words  # a clean note used it once: only that exact text is vague


def test_non_billable_and_unlabelled_entries_teach_nothing() -> None:
    # Non-billable entries carry no anomaly whatever their notes say, so their clean label is no evidence.
    quiet = labelled([("misc", None), ("misc", None)], billable=False)
    assert VagueNotes.learn(quiet).is_vague("misc")
    unlabelled = workspace(entries=[entry("a", notes="twiddling")])
    assert VagueNotes.learn(unlabelled).vague_words == frozenset()


def test_learning_is_deterministic() -> None:
    history = labelled([("bits and bobs for the client", "vague_description"), ("homepage", None)],
                       date=date(2026, 3, 3))
    a, b = VagueNotes.learn(history), VagueNotes.learn(history)
    assert (a.vague_words, a.vague_pairs, a.content_words, a.labelled) == \
        (b.vague_words, b.vague_pairs, b.content_words, b.labelled)
