"""Asana tasks (developers.asana.com).

Auth `Authorization: Bearer <personal access token>`. Every body is wrapped in `{"data": ...}`. Lists are
paged with `limit` (1-100) and `offset`: a page's `next_page.offset` (null on the last page) is sent back.
`GET /tasks?project=<gid>&modified_since=<ISO>` gives a project's tasks changed since then;
`GET /tasks/<gid>` one task (a webhook delivery only names the task). `opt_fields` asks for the fields
used: completion, memberships (project and section: the section is the task's stage, e.g. "Awaiting
Invoice"), assignee and custom fields. The milestone amount is the custom field named (or with the gid)
`milestone_field` in sources.yaml: a number field's `number_value`, or a text field holding a number.
429 answers carry `Retry-After` (seconds), which `HttpApi` waits.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tools.sources.base import Fields, HttpApi, SourceProject, SourceTask, TaskBatch
from tools.sources.errors import SourceConfigError, SourcePayloadError
from tools.sources.settings import SourceSettings

LIMIT = 100
MAX_PAGES = 10_000
TASK_FIELDS = ",".join((
    "name", "completed", "completed_at", "modified_at", "resource_subtype", "assignee.name",
    "memberships.project.name", "memberships.section.name", "projects.name",
    "custom_fields.gid", "custom_fields.name", "custom_fields.resource_subtype", "custom_fields.number_value",
    "custom_fields.text_value", "custom_fields.display_value",
))


class AsanaSource:
    system = "asana"

    def __init__(self, settings: SourceSettings, *, milestone_field: str | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = _time.sleep) -> None:
        settings.require("asana", asana_token=settings.asana_token)
        assert settings.asana_token is not None
        self.workspace = settings.asana_workspace
        self.milestone_field = milestone_field
        self.zone = ZoneInfo(settings.sources_timezone)
        self.api = HttpApi(
            "asana", settings.asana_url,
            headers={"Authorization": f"Bearer {settings.asana_token.get_secret_value()}"},
            settings_hint="INVOICE_AGENT_ASANA_TOKEN (a personal access token from the Asana developer console)",
            transport=transport, timeout=settings.sources_timeout, attempts=settings.sources_attempts,
            max_wait=settings.sources_max_wait, sleep=sleep,
        )

    def close(self) -> None:
        self.api.close()

    def fetch_tasks(self, projects: list[str], *, updated_since: datetime | None = None) -> TaskBatch:
        batch = TaskBatch(complete=updated_since is None, projects=tuple(projects))
        for project in projects:
            params: dict[str, Any] = {"project": project, "limit": LIMIT, "opt_fields": TASK_FIELDS}
            if updated_since is not None:
                params["modified_since"] = updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            batch.tasks += [self.task(item, prefer=project) for item in self._pages("tasks", params)]
        return batch

    def get_task(self, task_id: str) -> SourceTask:
        answer = Fields("asana", self.api.get(f"tasks/{task_id}", {"opt_fields": TASK_FIELDS}), "")
        data = answer.child("data", required=True)
        assert data is not None
        return self.task(data)

    def list_projects(self) -> list[SourceProject]:
        if not self.workspace:
            raise SourceConfigError("asana", "listing Asana projects needs INVOICE_AGENT_ASANA_WORKSPACE "
                                    "(the workspace gid)")
        return [SourceProject(id=p.id("gid"), name=p.text("name"))
                for p in self._pages("projects", {"workspace": self.workspace, "limit": LIMIT,
                                                  "archived": "false", "opt_fields": "name"})]

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[Fields]:
        query = dict(params)
        for number in range(1, MAX_PAGES + 1):
            page = Fields("asana", self.api.get(path, query), f"{path} page {number}")
            yield from page.items("data", required=True)
            next_page = page.child("next_page")
            offset = next_page.text("offset") if next_page is not None else ""
            if not offset:
                return
            query = {**params, "offset": offset}
        raise SourcePayloadError("asana", f"{path}.next_page", f"still a next page after {MAX_PAGES} pages")

    def task(self, item: Fields, *, prefer: str = "") -> SourceTask:
        """A task object (from `data` or a list) as a SourceTask; `prefer` puts that project first."""
        gid = item.id("gid")
        memberships = [
            (m.child("project"), m.child("section")) for m in item.items("memberships")
        ]
        projects = [(p.id("gid"), p.text("name"), s.text("name") if s else "") for p, s in memberships if p]
        if not projects:
            projects = [(p.id("gid"), p.text("name"), "") for p in item.items("projects")]
        projects.sort(key=lambda p: p[0] != prefer)
        first_id, first_name, stage = projects[0] if projects else ("", "", "")
        completed_at = item.timestamp("completed_at", required=False)
        assignee = item.child("assignee")
        return SourceTask(
            system="asana",
            source_id=gid,
            key=f"asana-{gid}",
            title=item.text("name"),
            project_id=first_id,
            project_name=first_name,
            done=item.boolean("completed", required=False),
            completed_at=completed_at.astimezone(self.zone).date() if completed_at else None,
            milestone_amount=self._milestone(item),
            assignee=assignee.text("name") if assignee else "",
            stage=stage,
            updated_at=item.timestamp("modified_at", required=False),
            other_projects=tuple((pid, name) for pid, name, _ in projects[1:]),
        )

    def _milestone(self, item: Fields) -> Decimal | None:
        if not self.milestone_field:
            return None
        wanted = self.milestone_field.strip().casefold()
        for custom in item.items("custom_fields"):
            if wanted not in (custom.id("gid", required=False).casefold(), custom.text("name").strip().casefold()):
                continue
            if custom.has("number_value"):
                return custom.decimal("number_value")
            for key in ("text_value", "display_value"):
                if custom.text(key).strip():
                    return custom.decimal(key)
            return None
        return None
