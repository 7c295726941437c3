"""Asana, ClickUp and Jira against their fakes: paging, auth, rate limits, payload errors, and tasks.csv."""

from __future__ import annotations

import csv
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.sources.conftest import settings_for
from tests.sources.fakes import (
    FIXTURES,
    FakeAsana,
    FakeClickUp,
    FakeJira,
    Reply,
    asana_task,
    clickup_task,
    epoch_ms,
    jira_issue,
)
from tools.sources import task_source
from tools.sources.asana import AsanaSource
from tools.sources.clickup import ClickUpSource
from tools.sources.errors import (
    SourceAuthError,
    SourceNotFoundError,
    SourcePayloadError,
)
from tools.sources.jira import JiraSource
from tools.sources.mapping import load_mapping
from tools.sources.sync import sync_tasks
from tools.workspace import load_workspace

PROJECT = ("1204001", "Website rebuild")


def _tasks_csv(workspace: Path) -> dict[str, dict[str, str]]:
    with open(workspace / "tasks.csv", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


# --- Asana -------------------------------------------------------------------------------------------


def _asana(asana: FakeAsana, waits: list[float], **extra: object) -> AsanaSource:
    return AsanaSource(settings_for(asana=asana, **extra), milestone_field="Milestone amount", sleep=waits.append)


def test_asana_tasks_are_read_page_by_page_with_offsets(
    asana: FakeAsana, waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tools.sources.asana.LIMIT", 2)
    for n in range(5):
        gid = f"120900{n}"
        asana.tasks[gid] = asana_task(gid, f"Task {n}", project=PROJECT)
    asana.tasks["1209004"] = asana_task("1209004", "Milestone 2: launch", project=PROJECT, section="Awaiting Invoice",
                                        completed_at="2026-10-23T16:05:00.000Z", amount="12500.50")
    batch = _asana(asana, waits).fetch_tasks([PROJECT[0]])
    pages = [r for r in asana.requests if r.path == "/api/1.0/tasks"]
    assert [r.query.get("offset") for r in pages] == [None, "2", "4"]
    assert pages[0].header("authorization") == f"Bearer {FakeAsana.TOKEN}" and pages[0].query["limit"] == "2"
    assert "custom_fields.number_value" in pages[0].query["opt_fields"]
    assert len(batch.tasks) == 5 and batch.complete
    milestone = batch.tasks[-1]
    assert (milestone.key, milestone.done, milestone.completed_at, milestone.milestone_amount, milestone.stage) == (
        "asana-1209004", True, date(2026, 10, 23), Decimal("12500.50"), "Awaiting Invoice")
    assert (milestone.project_id, milestone.project_name, milestone.assignee) == (*PROJECT, "Ben Adeyemi")


def test_asana_429_waits_its_retry_after(asana: FakeAsana, waits: list[float]) -> None:
    raw = (FIXTURES / "asana" / "error_429_rate_limited.http.txt").read_text()
    body = raw.split("\n\n", 1)[1]
    asana.fail_next(Reply(429, body, {"Retry-After": "30", "Content-Type": "application/json"}))
    asana.tasks["1"] = asana_task("1", "Design", project=PROJECT)
    assert _asana(asana, waits).get_task("1").title == "Design"
    assert waits == [30.0]


def test_asana_refuses_a_bad_token_and_says_which_setting(asana: FakeAsana, waits: list[float]) -> None:
    with pytest.raises(SourceAuthError, match=r"Asana rejected the credentials \(HTTP 401: Not Authorized\); "
                                              r"check INVOICE_AGENT_ASANA_TOKEN"):
        _asana(asana, waits, asana_token="bad").get_task("1")


def test_asana_unknown_task_is_not_found(asana: FakeAsana, waits: list[float]) -> None:
    with pytest.raises(SourceNotFoundError, match="task: Unknown object: 77"):
        _asana(asana, waits).get_task("77")


def test_asana_milestone_that_is_not_a_number_is_rejected_naming_the_field(
    asana: FakeAsana, waits: list[float]
) -> None:
    task = asana_task("9", "Milestone", project=PROJECT, completed_at="2026-10-01T10:00:00.000Z")
    task["custom_fields"][0].update(type="text", resource_subtype="text", number_value=None, text_value="a lot")
    asana.tasks["9"] = task
    with pytest.raises(SourcePayloadError, match=r"data\.custom_fields\[0\]\.text_value: expected a number, "
                                                 r"got 'a lot'"):
        _asana(asana, waits).get_task("9")


def test_asana_sync_writes_tasks_and_flags_a_deleted_one(asana: FakeAsana, waits: list[float], tiny: Path) -> None:
    (tiny / "sources.yaml").write_text(f"asana:\n  projects:\n    '{PROJECT[0]}': {{client: acme, project_code: "
                                       f"ACM.WEB}}\n  milestone_field: Milestone amount\n")
    asana.tasks["501"] = asana_task("501", "Homepage build", project=PROJECT)
    asana.tasks["502"] = asana_task("502", "Milestone 1", project=PROJECT, completed_at="2026-03-20T09:00:00.000Z",
                                    amount="4000")
    source = task_source("asana", settings_for(asana=asana), load_mapping(tiny), sleep=waits.append)
    report = sync_tasks(tiny, source, load_mapping(tiny))
    assert report.added == ["asana-501", "asana-502"] and report.complete
    rows = _tasks_csv(tiny)
    assert {k: rows["asana-502"][k] for k in ("client", "project_code", "title", "status", "completed_at",
                                              "milestone_amount", "assignee", "source", "source_id", "source_stage")} \
        == {"client": "acme", "project_code": "ACM.WEB", "title": "Milestone 1", "status": "done",
            "completed_at": "2026-03-20", "milestone_amount": "4000", "assignee": "Ben Adeyemi", "source": "asana",
            "source_id": "502", "source_stage": "In progress"}
    assert "ACM-1" in rows  # tasks typed by hand stay

    del asana.tasks["501"]
    again = sync_tasks(tiny, source, load_mapping(tiny), full=True)
    assert again.deleted == ["asana-501"]
    assert _tasks_csv(tiny)["asana-501"]["source_status"] == "deleted"
    tasks = {t.id: t for t in load_workspace(tiny).tasks}
    assert tasks["asana-502"].milestone_amount == Decimal("4000") and tasks["asana-501"].status == "open"


# --- ClickUp -----------------------------------------------------------------------------------------


def _clickup(clickup: FakeClickUp, waits: list[float], **extra: object) -> ClickUpSource:
    return ClickUpSource(settings_for(clickup=clickup, **extra), milestone_field="Milestone amount",
                         sleep=waits.append)


def test_clickup_pages_until_last_page_with_the_bare_token(clickup: FakeClickUp, waits: list[float]) -> None:
    clickup.page_size = 2
    for n in range(4):
        clickup.tasks[f"9h{n}"] = clickup_task(f"9h{n}", f"Task {n}")
    clickup.tasks["9hx"] = clickup_task("9hx", "Milestone 2", status="complete", kind="closed",
                                       done_ms=epoch_ms(date(2026, 10, 23)), amount=12000.5)
    batch = _clickup(clickup, waits).fetch_tasks(["123"])
    pages = [r for r in clickup.requests if r.path == "/api/v2/list/123/task"]
    assert [r.query["page"] for r in pages] == ["0", "1", "2"]
    assert pages[0].header("authorization") == FakeClickUp.TOKEN and pages[0].query["include_closed"] == "true"
    done = batch.tasks[-1]
    assert (done.key, done.done, done.completed_at, done.milestone_amount, done.stage, done.project_name) == (
        "clickup-9hx", True, date(2026, 10, 23), Decimal("12000.5"), "complete", "Website rebuild")


def test_clickup_errors_say_what_clickup_said(clickup: FakeClickUp, waits: list[float]) -> None:
    with pytest.raises(SourceAuthError, match=r"ClickUp rejected the credentials \(HTTP 401: Token invalid "
                                              r"\(OAUTH_025\)\); check INVOICE_AGENT_CLICKUP_TOKEN"):
        _clickup(clickup, waits, clickup_token="pk_wrong").get_task("9hx")
    clickup.tasks["9hx"] = clickup_task("9hx", "Task")
    clickup.fail_next(Reply(429, {"err": "Rate limit reached", "ECODE": "APP_002"},
                            {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                             "X-RateLimit-Reset": str(int(time.time()) + 2)}))
    assert _clickup(clickup, waits).get_task("9hx").title == "Task"
    assert len(waits) == 1 and 0 < waits[0] <= 2


def test_clickup_task_without_status_is_malformed(clickup: FakeClickUp, waits: list[float]) -> None:
    task = clickup_task("9hx", "Task")
    del task["status"]
    clickup.tasks["9hx"] = task
    with pytest.raises(SourcePayloadError, match=r"ClickUp sent a malformed payload: task\.status: missing"):
        _clickup(clickup, waits).get_task("9hx")


# --- Jira --------------------------------------------------------------------------------------------


def _jira(jira: FakeJira, waits: list[float], field: str = "customfield_10042", **extra: object) -> JiraSource:
    return JiraSource(settings_for(jira=jira, **extra), milestone_field=field, sleep=waits.append)


def test_jira_pages_with_next_page_tokens_and_basic_auth(jira: FakeJira, waits: list[float]) -> None:
    jira.page_size = 2
    jira.issues = [jira_issue(f"EX-{n}", f"Issue {n}", issue_id=str(10000 + n)) for n in range(1, 5)]
    jira.issues.append(jira_issue("EX-5", "Milestone: beta", status="Done", category="done",
                                  resolved="2026-10-23T16:00:00.000+0000", amount=45000, issue_id="10005"))
    batch = _jira(jira, waits).fetch_tasks(["EX"])
    pages = [r for r in jira.requests if r.path == "/rest/api/3/search/jql"]
    assert [r.query.get("nextPageToken") for r in pages] == [None, "2", "4"]
    assert pages[0].query["jql"] == 'project in ("EX") ORDER BY key ASC'
    assert "customfield_10042" in pages[0].query["fields"]
    done = batch.tasks[-1]
    assert (done.key, done.done, done.completed_at, done.milestone_amount, done.stage, done.project_key) == (
        "EX-5", True, date(2026, 10, 23), Decimal(45000), "Done", "EX")
    assert not batch.tasks[0].done and batch.tasks[0].completed_at is None


def test_jira_milestone_field_by_name_and_incremental_jql(jira: FakeJira, waits: list[float]) -> None:
    from datetime import UTC, datetime, timedelta

    jira.issues = [jira_issue("EX-9", "Milestone", status="Done", category="done",
                              resolved="2026-10-02T08:00:00.000+0200", amount="30000.00")]
    source = _jira(jira, waits, field="Milestone amount")
    [task] = source.fetch_tasks(["EX"], updated_since=datetime.now(UTC) - timedelta(minutes=30)).tasks
    assert task.milestone_amount == Decimal("30000.00") and task.completed_at == date(2026, 10, 2)
    query = jira.requests[-1].query
    assert 'AND updated >= "-31m"' in query["jql"] and query["fields"].endswith("*all")


def test_jira_auth_and_payload_errors(jira: FakeJira, waits: list[float]) -> None:
    with pytest.raises(SourceAuthError, match=r"Jira rejected the credentials \(HTTP 401: You are not authenticated"):
        _jira(jira, waits, jira_api_token="nope").get_task("EX-1")
    issue = jira_issue("EX-1", "Broken")
    del issue["fields"]["status"]
    jira.issues = [issue]
    with pytest.raises(SourcePayloadError, match=r"search/jql page 1\.issues\[0\]\.fields\.status: missing"):
        _jira(jira, waits).fetch_tasks(["EX"])
