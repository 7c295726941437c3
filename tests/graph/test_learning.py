"""Learning from the reviewer: a category a person corrects in September decides October's similar note.

On a copy of the bundled demo (Parallax Creative) with one note phrased as nobody there writes them
("buzzed their CMO about launch timing", logged in September) and its October echo ("buzzed their CMO
about the Q4 launch"), each month drafted by a run of its own and the September run approved, as a firm
would do it a month apart (each month's runs open the store afresh, like a new process).
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

from api.settings import Settings
from api.wiring import open_runs
from graph.nodes import Decision
from tools.demo import WORKSPACE_DIR
from tools.drafts import EntryDecision
from tools.periods import Period
from tools.revisions import Revisions
from tools.store import Store

SEPTEMBER_NOTE = "te-90001", "2026-09-15", "buzzed their CMO about launch timing"
OCTOBER_NOTE = "te-90002", "2026-10-14", "buzzed their CMO about the Q4 launch"
CORRECT = "client_meeting"  # a call with the client's CMO: an account & client meeting


def demo_with_novel_notes(folder: Path) -> Path:
    """The demo workspace plus the two entries, both Daniel Costa's on Northwind's e-commerce project."""
    workspace = folder / "parallax"
    shutil.copytree(WORKSPACE_DIR, workspace)
    with (workspace / "time_entries.csv").open("a", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        for entry_id, day, notes in (SEPTEMBER_NOTE, OCTOBER_NOTE):
            writer.writerow([entry_id, day, "Daniel Costa", "northwind", "NWO.ECOM", "General", notes, "0.5",
                             "", "", "true", ""])
    return workspace


def decision_of(settings: Settings, run_id: str, entry_id: str) -> EntryDecision:
    with Store(settings.store_url()) as store:
        record = store.latest_draft(run_id)
    assert record is not None, f"run {run_id} has no draft"
    [entry] = [e for e in record.draft.entries if e.entry_id == entry_id]
    return entry


def september_then_october(settings: Settings, correction: str | None) -> tuple[EntryDecision, EntryDecision]:
    """Draft Northwind's September (corrected by a reviewer if `correction`), approve it, then draft October.

    Returns September's decision for its note before any correction, and October's for its note.
    """
    september_id, _, _ = SEPTEMBER_NOTE
    with open_runs(settings, as_of=date(2026, 10, 1)) as runs:
        started = runs.start("northwind", Period.month(2026, 9), "invoice Northwind for September")
        assert started.status == "awaiting_approval" and started.run_id, started
        guessed = decision_of(settings, started.run_id, september_id)
        if correction is not None:
            changes = Revisions(categories={september_id: correction})
            revised = runs.decide(started.run_id, Decision(action="request_changes", actor="rita@firm",
                                                           changes=changes))
            assert revised.status == "awaiting_approval", revised
            assert decision_of(settings, started.run_id, september_id).category == correction
        approved = runs.decide(started.run_id, Decision(action="approve", actor="ann@firm"))
        assert approved.status == "sent", approved
    with open_runs(settings, as_of=date(2026, 11, 1)) as runs:
        october = runs.start("northwind", Period.month(2026, 10), "invoice Northwind for October")
        assert october.status == "awaiting_approval" and october.run_id, october
        return guessed, decision_of(settings, october.run_id, OCTOBER_NOTE[0])


def test_a_correction_in_september_changes_october_decision_for_a_similar_note(tmp_path: Path) -> None:
    workspace = demo_with_novel_notes(tmp_path)

    uncorrected = Settings(workspace=workspace, data_dir=tmp_path / "approved-as-drafted", anthropic_api_key=None)
    guessed, october_alone = september_then_october(uncorrected, correction=None)

    corrected = Settings(workspace=workspace, data_dir=tmp_path / "corrected", anthropic_api_key=None)
    _, october_learned = september_then_october(corrected, correction=CORRECT)

    assert guessed.category != CORRECT, (
        f"the categorizer already reads {SEPTEMBER_NOTE[2]!r} as {CORRECT} with no correction: pick a note it "
        "gets wrong, or this test shows nothing")
    assert october_alone.category == guessed.category != CORRECT, (
        "approved as drafted, September's guess should carry over to October's similar note")
    assert october_learned.category == CORRECT, (
        f"one reviewer correction of {SEPTEMBER_NOTE[2]!r} to {CORRECT} in September did not decide "
        f"{OCTOBER_NOTE[2]!r} in October (got {october_learned.category}, "
        f"{october_learned.confidence:.0%} sure: {october_learned.category_reason}); the categorizer must "
        "weigh a reviewer's label enough to learn from a single one")
    with Store(corrected.store_url()) as store:
        [label] = [lb for lb in store.learned_labels(str(workspace.resolve())) if lb.entry_id == SEPTEMBER_NOTE[0]]
    assert (label.category, label.source, label.who) == (CORRECT, "reviewer", "rita@firm")
    assert label.invoice_number is not None  # then billed on September's invoice
