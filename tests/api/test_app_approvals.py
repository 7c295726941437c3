"""The inbox, the draft a person reviews, and the three decisions: exactly one wins, each recorded with who."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from tests.api.conftest import PUBLIC_URL, TINY, Api
from tests.api.test_app_runs import GatedModel

EXPECTED = json.loads((TINY / "answers" / "acme-2026-03.json").read_text())


def outbox(settings: Settings) -> list[Path]:
    return sorted((settings.data_dir / "outbox").glob("*.eml"))


def test_the_inbox_lists_the_waiting_drafts_oldest_first_with_their_summary_and_link(api: Api) -> None:
    acme = api.waiting_run()
    beta = api.start("invoice Beta for March")
    api.wait(beta)

    response = api.client.get("/approvals", headers=api.viewer)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and [a["run_id"] for a in body["data"]] == [acme, beta]
    first = body["data"][0]
    assert first["summary"] == "Acme Industries Ltd, 2026-03-01..2026-03-31: 780.00 GBP, 7 anomalies (4 held)"
    assert first["total"] == "780.00" and first["currency"] == "GBP" and first["held"] == 4
    assert first["review_url"] == f"{PUBLIC_URL}/review/{acme}" and first["draft_version"] == 1


def test_the_draft_shows_each_line_with_its_entries_the_anomalies_explained_and_the_totals(api: Api) -> None:
    run_id = api.waiting_run()

    response = api.client.get(f"/drafts/{run_id}", headers=api.viewer)

    assert response.status_code == 200
    draft = response.json()
    assert draft["totals"] == {k: EXPECTED[k] for k in ("subtotal", "discount", "cap_adjustment", "tax", "total")}
    assert [(ln["description"], [e["entry_id"] for e in ln["entries"]]) for ln in draft["lines"]] == [
        (ln["description"], ln["entry_ids"]) for ln in EXPECTED["lines"]]
    design = draft["lines"][1]
    assert design["amount"] == "306.25" and design["code"] == "DSN-100"
    assert [e["notes"] for e in design["entries"]] == ["homepage wireframes", ""]
    assert all(a["message"] for a in draft["anomalies"])
    entries = {e["entry_id"]: e for e in draft["entries"]}
    assert entries["e6"]["outcome"] == "held" and entries["e6"]["anomalies"] == [
        "duplicate of entry e2: same person, date, hours and notes"]
    assert entries["e4"]["outcome"] == "excluded" and "internal_meeting" in entries["e4"]["excluded_because"]
    assert draft["approval"]["status"] == "pending" and draft["review_url"] == f"{PUBLIC_URL}/review/{run_id}"
    assert api.client.get(f"/drafts/{run_id}?version=2", headers=api.viewer).status_code == 404


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_approving_issues_the_invoice_once_and_approving_again_is_a_409(api: Api, settings: Settings) -> None:
    run_id = api.waiting_run()

    approved = api.client.post(f"/approvals/{run_id}/approve", headers=api.approver)
    again = api.client.post(f"/approvals/{run_id}/approve", headers=api.approver)

    assert approved.status_code == 200, approved.text
    run = approved.json()
    assert run["status"] == "sent" and run["invoice_id"] and run["approval"]["decided_by"] == "ann@firm"
    assert ("approved", "ann@firm") in [(d["action"], d["actor"]) for d in run["decisions"]]
    assert again.status_code == 409
    assert again.json() == {"error": "conflict", "detail": f"run {run_id} is not waiting for approval (status sent)"}
    assert len(outbox(settings)) == 1
    assert api.client.get("/invoices", headers=api.viewer).json()["count"] == 1
    assert api.client.get("/approvals", headers=api.viewer).json() == {"data": [], "count": 0}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_two_approvers_at_once_one_wins_and_the_other_gets_409(api: Api, settings: Settings) -> None:
    run_id = api.waiting_run()
    other, _ = api.service.tokens.create("approver", "bo@firm")
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def approve(headers: dict[str, str]) -> None:
        barrier.wait()
        answers.append(api.client.post(f"/approvals/{run_id}/approve", headers=headers))

    both = (api.approver, {"Authorization": f"Bearer {other}"})
    threads = [threading.Thread(target=approve, args=(headers,)) for headers in both]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(a.status_code for a in answers) == [200, 409]
    assert len(outbox(settings)) == 1
    decided = [d for d in api.run(run_id)["decisions"] if d["action"] == "approved"]
    assert len(decided) == 1 and decided[0]["actor"] in ("ann@firm", "bo@firm")


def test_asking_for_changes_recomputes_the_draft_which_waits_again_and_records_what_changed(api: Api) -> None:
    run_id = api.waiting_run()

    response = api.client.post(f"/approvals/{run_id}/request-changes", headers=api.approver,
                               json={"drop": ["e7"], "descriptions": {"Design": "Design work"},
                                     "reason": "no notes on e7"})

    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "awaiting_approval" and run["draft_version"] == 2
    [change] = [d for d in run["decisions"] if d["action"] == "changes_requested"]
    assert change["actor"] == "ann@firm" and change["detail"]["reason"] == "no notes on e7"
    assert change["detail"]["changes"]["drop"] == {"e7": "no notes on e7"}
    assert change["detail"]["changes"]["descriptions"] == {"Design": "Design work"}
    draft = api.client.get(f"/drafts/{run_id}", headers=api.viewer).json()
    assert draft["version"] == 2 and draft["lines"][1]["description"] == "Design work"
    assert "e7" not in draft["lines"][1]["entries"] and draft["totals"]["total"] != "780.00"
    [waiting] = api.client.get("/approvals", headers=api.viewer).json()["data"]
    assert waiting["run_id"] == run_id and waiting["draft_version"] == 2


def test_edits_that_name_nothing_in_the_draft_are_refused_and_the_draft_still_waits(api: Api) -> None:
    run_id = api.waiting_run()

    def ask(**changes: object) -> httpx.Response:
        return api.client.post(f"/approvals/{run_id}/request-changes", json=changes, headers=api.approver)

    unknown = ask(drop=["e99"], categories={"e1": "astrology"}, descriptions={"Dezign": "x"})
    empty = ask()

    assert unknown.status_code == 422
    assert unknown.json()["detail"] == (
        "e99: not an entry of this draft; e1: unknown category 'astrology' (known: design, development, discovery, "
        "internal_meeting); no line is described 'Dezign'")
    assert empty.status_code == 422 and empty.json()["detail"].startswith("no changes")
    assert api.run(run_id)["approval"]["status"] == "pending" and api.run(run_id)["draft_version"] == 1


def test_rejecting_needs_a_reason_and_ends_the_run(api: Api) -> None:
    run_id = api.waiting_run()

    no_reason = api.client.post(f"/approvals/{run_id}/reject", json={"reason": "  "}, headers=api.approver)
    rejected = api.client.post(f"/approvals/{run_id}/reject", json={"reason": "client paused the project"},
                               headers=api.approver)

    assert no_reason.status_code == 422
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["approval"]["reason"] == "client paused the project"
    assert api.client.post(f"/approvals/{run_id}/approve", headers=api.approver).status_code == 409
    assert api.client.get("/invoices", headers=api.viewer).json()["count"] == 0


def test_deciding_an_unknown_run_is_404_and_a_run_still_drafting_is_409(make_api: Callable[..., Api]) -> None:
    model = GatedModel()
    api = make_api(model=model)
    run_id = api.start()

    unknown = api.client.post("/approvals/nosuchrun/approve", headers=api.approver)
    drafting = api.client.post(f"/approvals/{run_id}/approve", headers=api.approver)
    changes = api.client.post(f"/approvals/{run_id}/request-changes", json={"drop": ["e1"]}, headers=api.approver)

    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert drafting.status_code == 409 and "not waiting for approval (status running)" in drafting.json()["detail"]
    assert changes.status_code == 409
    model.gate.set()
    assert api.wait(run_id)["status"] == "awaiting_approval"


def test_a_run_of_another_workspace_in_the_same_database_is_not_found(
    api: Api, make_api: Callable[..., Api], settings: Settings, tmp_path: Path
) -> None:
    run_id = api.waiting_run()
    other_firm = tmp_path / "other-firm"
    shutil.copytree(TINY, other_firm)
    other = make_api(settings=settings.model_copy(update={"workspace": other_firm}))

    assert other.client.get(f"/runs/{run_id}", headers=other.viewer).status_code == 404
    assert other.client.get(f"/drafts/{run_id}", headers=other.viewer).status_code == 404
    assert other.client.post(f"/approvals/{run_id}/approve", headers=other.approver).status_code == 404
    assert other.client.get("/approvals", headers=other.viewer).json()["count"] == 0
    assert api.run(run_id)["approval"]["status"] == "pending"
