"""Jira Cloud issues, REST API v3 (developer.atlassian.com/cloud/jira/platform/rest/v3).

Auth: HTTP Basic `<email>:<API token>` against `https://<site>.atlassian.net/rest/api/3`. Issues come from
the enhanced JQL search `GET /search/jql` (the old `/search` is retired), paged by token: each page's
`nextPageToken` is sent back until `isLast` (or no token). Incremental: `updated >= "-<N>m"`, a relative
time, so the Jira user's time zone does not matter. An issue is done when its status category is
`done`; its completion date is `resolutiondate` (else `statuscategorychangedate`). The stage is the
status name. The milestone amount is the custom field `milestone_field` (a field id such as
`customfield_10042`, or its name, resolved through `expand=names`). Keys (`EX-12`) are the tasks.csv ids:
people write them in their notes. Dates look like `2021-01-17T12:34:00.000+0000`.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from tools.sources.base import Fields, HttpApi, SourceProject, SourceTask, TaskBatch
from tools.sources.errors import SourcePayloadError
from tools.sources.settings import SourceSettings

PAGE_SIZE = 100
MAX_PAGES = 10_000
BASE_FIELDS = ("summary", "status", "resolutiondate", "statuscategorychangedate", "updated", "project", "assignee")


class JiraSource:
    system = "jira"

    def __init__(self, settings: SourceSettings, *, milestone_field: str | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = _time.sleep) -> None:
        settings.require("jira", jira_url=settings.jira_url, jira_email=settings.jira_email,
                         jira_api_token=settings.jira_api_token)
        assert settings.jira_url and settings.jira_email and settings.jira_api_token
        self.milestone_field = (milestone_field or "").strip() or None
        self.api = HttpApi(
            "jira", settings.jira_url.rstrip("/") + "/rest/api/3", headers={},
            auth=(settings.jira_email, settings.jira_api_token.get_secret_value()),
            settings_hint="INVOICE_AGENT_JIRA_EMAIL and INVOICE_AGENT_JIRA_API_TOKEN (an API token of that "
                          "Atlassian account, id.atlassian.com -> Security) and INVOICE_AGENT_JIRA_URL",
            transport=transport, timeout=settings.sources_timeout, attempts=settings.sources_attempts,
            max_wait=settings.sources_max_wait, sleep=sleep,
        )

    def close(self) -> None:
        self.api.close()

    @property
    def _fields(self) -> str:
        extra: tuple[str, ...] = (self.milestone_field,) if self.milestone_field and milestone_field_is_id(
            self.milestone_field) else ()
        return ",".join(BASE_FIELDS + extra) + ("" if extra or not self.milestone_field else ",*all")

    def fetch_tasks(self, projects: list[str], *, updated_since: datetime | None = None) -> TaskBatch:
        batch = TaskBatch(complete=updated_since is None, projects=tuple(projects))
        if not projects:
            return batch
        jql = "project in (" + ", ".join(_jql_string(p) for p in projects) + ")"
        if updated_since is not None:
            minutes = max(1, int((datetime.now(UTC) - updated_since).total_seconds() // 60) + 1)
            jql += f' AND updated >= "-{minutes}m"'
        jql += " ORDER BY key ASC"
        token: str | None = None
        for number in range(1, MAX_PAGES + 1):
            params: dict[str, Any] = {"jql": jql, "fields": self._fields, "maxResults": PAGE_SIZE, "expand": "names"}
            if token:
                params["nextPageToken"] = token
            page = Fields("jira", self.api.get("search/jql", params), f"search/jql page {number}")
            names = page.raw("names") if isinstance(page.raw("names"), dict) else {}
            batch.tasks += [self.task(issue, names) for issue in page.items("issues", required=True)]
            token = page.text("nextPageToken") or None
            if page.raw("isLast") is True or not token:
                return batch
        raise SourcePayloadError("jira", "nextPageToken", f"still a next page after {MAX_PAGES} pages")

    def get_task(self, task_id: str) -> SourceTask:
        issue = Fields("jira", self.api.get(f"issue/{task_id}", {"fields": self._fields, "expand": "names"}), "issue")
        names = issue.raw("names") if isinstance(issue.raw("names"), dict) else {}
        return self.task(issue, names)

    def list_projects(self) -> list[SourceProject]:
        projects: list[SourceProject] = []
        start = 0
        for number in range(1, MAX_PAGES + 1):
            page = Fields("jira", self.api.get("project/search", {"startAt": start, "maxResults": 50}),
                          f"project/search page {number}")
            values = page.items("values", required=True)
            projects += [SourceProject(id=p.id("id"), name=p.text("name"), code=p.text("key")) for p in values]
            if page.raw("isLast") is not False or not values:
                return projects
            start += len(values)
        return projects

    def task(self, issue: Fields, names: dict[str, Any] | None = None) -> SourceTask:
        return parse_issue(issue, self.milestone_field, names)


def parse_issue(issue: Fields, milestone_field: str | None, names: dict[str, Any] | None = None) -> SourceTask:
    """An issue (a search hit, GET /issue, or a webhook's `issue`) as a SourceTask."""
    fields = issue.child("fields", required=True)
    assert fields is not None
    status = fields.child("status", required=True)
    assert status is not None
    category = status.child("statusCategory")
    done = (category.text("key") == "done") if category is not None else fields.has("resolution")
    finished = fields.timestamp("resolutiondate", required=False) or (
        fields.timestamp("statuscategorychangedate", required=False) if done else None)
    project = fields.child("project", required=True)
    assert project is not None
    assignee = fields.child("assignee")
    return SourceTask(
        system="jira",
        source_id=issue.id("id", required=False) or issue.id("key"),
        key=issue.id("key"),
        title=fields.text("summary"),
        project_id=project.id("id", required=False),
        project_key=project.text("key"),
        project_name=project.text("name"),
        done=done,
        completed_at=finished.date() if finished and done else None,
        milestone_amount=_milestone(fields, milestone_field, names or {}),
        assignee=assignee.text("displayName") if assignee else "",
        stage=status.text("name"),
        updated_at=fields.timestamp("updated", required=False),
    )


def milestone_field_is_id(text: str | None) -> bool:
    return bool(text) and str(text).startswith("customfield_")


def _milestone(fields: Fields, wanted: str | None, names: dict[str, Any]) -> Decimal | None:
    if not wanted:
        return None
    key = wanted if wanted in fields.data else next(
        (k for k, v in names.items() if isinstance(v, str) and v.strip().casefold() == wanted.casefold()), None)
    if key is None or not fields.has(key):
        return None
    value = fields.raw(key)
    if isinstance(value, dict):  # a select field: {"value": "45000"}
        option = fields.child(key)
        assert option is not None
        return option.decimal("value")
    return fields.decimal(key)


def _jql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
