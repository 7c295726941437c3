"""ClickUp API v2 tasks (developer.clickup.com).

Auth: the personal token sent bare, `Authorization: pk_...`. `GET /list/{list_id}/task` pages with `page`
(from 0, 100 tasks a page) and says `last_page`; `include_closed=true` is needed for done tasks,
`date_updated_gt` (Unix ms) gives the changed ones. `GET /task/{id}` reads one task (a webhook delivery
only names it). Dates are Unix milliseconds *as strings*. A task is done when its status `type` is
`closed` or `done`; its completion date is `date_done` (else `date_closed`). The stage is the status
name. The milestone amount is the custom field named (or with the id) `milestone_field`. A task with a
custom task id (`custom_id`, e.g. "DEV-42") keeps it as its tasks.csv id. A 429 carries
`X-RateLimit-Reset` (Unix time), which `HttpApi` waits for.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tools.sources.base import Fields, HttpApi, SourceProject, SourceTask, TaskBatch
from tools.sources.errors import SourceConfigError, SourcePayloadError
from tools.sources.settings import SourceSettings

PAGE_SIZE = 100
MAX_PAGES = 10_000


class ClickUpSource:
    system = "clickup"

    def __init__(self, settings: SourceSettings, *, milestone_field: str | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = _time.sleep) -> None:
        settings.require("clickup", clickup_token=settings.clickup_token)
        assert settings.clickup_token is not None
        self.team = settings.clickup_team_id
        self.milestone_field = milestone_field
        self.zone = ZoneInfo(settings.sources_timezone)
        self.api = HttpApi(
            "clickup", settings.clickup_url,
            headers={"Authorization": settings.clickup_token.get_secret_value()},
            settings_hint="INVOICE_AGENT_CLICKUP_TOKEN (a personal token pk_..., Settings -> Apps in ClickUp)",
            transport=transport, timeout=settings.sources_timeout, attempts=settings.sources_attempts,
            max_wait=settings.sources_max_wait, sleep=sleep,
        )

    def close(self) -> None:
        self.api.close()

    def fetch_tasks(self, projects: list[str], *, updated_since: datetime | None = None) -> TaskBatch:
        batch = TaskBatch(complete=updated_since is None, projects=tuple(projects))
        for list_id in projects:
            for page in range(MAX_PAGES):
                params: dict[str, Any] = {"page": page, "include_closed": "true", "subtasks": "true"}
                if updated_since is not None:
                    params["date_updated_gt"] = int(updated_since.timestamp() * 1000)
                answer = Fields("clickup", self.api.get(f"list/{list_id}/task", params), f"list/{list_id}/task "
                                f"page {page}")
                tasks = answer.items("tasks", required=True)
                batch.tasks += [self.task(t) for t in tasks]
                last = answer.raw("last_page")
                if last is True or (last is None and len(tasks) < PAGE_SIZE) or not tasks:
                    break
            else:
                raise SourcePayloadError("clickup", "last_page", f"still more pages after {MAX_PAGES}")
        return batch

    def get_task(self, task_id: str) -> SourceTask:
        return self.task(Fields("clickup", self.api.get(f"task/{task_id}"), "task"))

    def list_projects(self) -> list[SourceProject]:
        """Lists (ClickUp's projects), with their folder or space as the "client" name."""
        if not self.team:
            raise SourceConfigError("clickup", "listing ClickUp lists needs INVOICE_AGENT_CLICKUP_TEAM_ID "
                                    "(the Workspace id)")
        found: list[SourceProject] = []
        for space in Fields("clickup", self.api.get(f"team/{self.team}/space"), "spaces").items("spaces"):
            space_id, space_name = space.id("id"), space.text("name")
            for folder in Fields("clickup", self.api.get(f"space/{space_id}/folder"), "folders").items("folders"):
                found += [SourceProject(id=lst.id("id"), name=lst.text("name"), client_name=folder.text("name"))
                          for lst in folder.items("lists")]
            loose = Fields("clickup", self.api.get(f"space/{space_id}/list"), "lists").items("lists")
            found += [SourceProject(id=lst.id("id"), name=lst.text("name"), client_name=space_name) for lst in loose]
        return found

    def task(self, item: Fields) -> SourceTask:
        task_id = item.id("id")
        status = item.child("status", required=True)
        assert status is not None
        kind = status.text("type").casefold()
        done_at = item.epoch_ms("date_done") or item.epoch_ms("date_closed")
        listed = item.child("list")
        folder = item.child("folder")
        assignees = item.items("assignees")
        custom_id = item.text("custom_id").strip()
        return SourceTask(
            system="clickup",
            source_id=task_id,
            key=custom_id or f"clickup-{task_id}",
            title=item.text("name"),
            project_id=listed.id("id") if listed else "",
            project_name=listed.text("name") if listed else "",
            client_name=folder.text("name") if folder else "",
            done=kind in ("closed", "done"),
            completed_at=done_at.astimezone(self.zone).date() if done_at and kind in ("closed", "done") else None,
            milestone_amount=self._milestone(item),
            assignee=assignees[0].text("username") if assignees else "",
            stage=status.text("status"),
            updated_at=item.epoch_ms("date_updated"),
        )

    def _milestone(self, item: Fields) -> Decimal | None:
        if not self.milestone_field:
            return None
        wanted = self.milestone_field.strip().casefold()
        for custom in item.items("custom_fields"):
            if not custom.data:  # the docs' renderer shows `[{}]`
                continue
            if wanted in (custom.id("id", required=False).casefold(), custom.text("name").strip().casefold()):
                return custom.decimal("value")
        return None
