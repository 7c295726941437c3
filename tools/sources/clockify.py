"""Clockify time entries, through the Reports API's detailed report (docs.clockify.me).

Auth is the `X-Api-Key` header. `POST https://reports.api.clockify.me/v1/workspaces/{id}/reports/detailed`
returns every member's entries of a date range with the user, project, client and task names, times in
the member's own offset (`+10:00`) and durations in seconds; it is paged in the request body
(`detailedFilter.page`, 1-based, and `pageSize`): the last page is the one shorter than `pageSize`. The
range is read a calendar month at a time (Free workspaces cap a report at 31 days).

Clockify has no "changed since" filter, so every sync reads its whole window and the window is then
complete: an entry of the window that is no longer there was deleted. Running timers (no end) are
skipped. Projects (for `sources map`) come from `GET /api/v1/workspaces/{id}/projects`, paged with
`page`/`page-size` and answered as a bare array.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tools.sources.base import (
    EntryBatch,
    Fields,
    HttpApi,
    SourceEntry,
    SourceProject,
    hours_from_seconds,
    list_of,
    local_span,
    month_windows,
)
from tools.sources.errors import SourcePayloadError
from tools.sources.settings import SourceSettings

PAGE_SIZE = 200
MAX_PAGES = 10_000


class ClockifySource:
    system = "clockify"
    incremental = False

    def __init__(self, settings: SourceSettings, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = _time.sleep, page_size: int = PAGE_SIZE) -> None:
        settings.require("clockify", clockify_api_key=settings.clockify_api_key,
                         clockify_workspace_id=settings.clockify_workspace_id)
        assert settings.clockify_api_key is not None and settings.clockify_workspace_id is not None
        self.workspace = settings.clockify_workspace_id
        self.zone = ZoneInfo(settings.sources_timezone)
        self.page_size = page_size
        key = settings.clockify_api_key.get_secret_value()

        def client(base_url: str) -> HttpApi:
            return HttpApi("clockify", base_url, headers={"X-Api-Key": key},
                           settings_hint="INVOICE_AGENT_CLOCKIFY_API_KEY (Profile settings -> API in Clockify) and "
                                         "INVOICE_AGENT_CLOCKIFY_WORKSPACE_ID",
                           transport=transport, timeout=settings.sources_timeout, attempts=settings.sources_attempts,
                           max_wait=settings.sources_max_wait, sleep=sleep)

        self.reports = client(settings.clockify_reports_url)
        self.api = client(settings.clockify_url)

    def close(self) -> None:
        self.reports.close()
        self.api.close()

    def fetch_entries(self, start: date, end: date, *, updated_since: datetime | None = None) -> EntryBatch:
        batch = EntryBatch(complete=True, window=(start, end))
        seen: set[str] = set()
        for first, last in month_windows(start, end):
            for item in self._report(first, last):
                entry = self._entry(item)
                if entry.source_id not in seen and start <= entry.date <= end:
                    seen.add(entry.source_id)
                    batch.entries.append(entry)
        return batch

    def _report(self, first: date, last: date) -> list[Fields]:
        begin = datetime.combine(first, datetime.min.time(), self.zone).astimezone(UTC)
        finish = datetime.combine(last + timedelta(days=1), datetime.min.time(), self.zone).astimezone(UTC)
        finish -= timedelta(milliseconds=1)
        items: list[Fields] = []
        for page in range(1, MAX_PAGES + 1):
            body = {
                "dateRangeStart": begin.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "dateRangeEnd": finish.strftime("%Y-%m-%dT%H:%M:%S.999Z"),
                "exportType": "JSON",
                "detailedFilter": {"page": page, "pageSize": self.page_size, "sortColumn": "DATE"},
            }
            report = Fields("clockify", self.reports.post(f"workspaces/{self.workspace}/reports/detailed", body),
                            f"reports/detailed page {page}")
            rows = report.items("timeentries", required=True)
            items += rows
            if len(rows) < self.page_size:
                return items
        raise SourcePayloadError("clockify", "reports/detailed", f"still full pages after {MAX_PAGES} pages")

    def count_entries(self, start: date, end: date) -> int | None:
        return None  # every sync reads the whole window

    def list_projects(self) -> list[SourceProject]:
        projects: list[SourceProject] = []
        for page in range(1, MAX_PAGES + 1):
            rows = list_of("clockify", self.api.get(f"workspaces/{self.workspace}/projects",
                                                    {"page": page, "page-size": 50}), "projects")
            projects += [SourceProject(id=p.id("id"), name=p.text("name"), client_id=p.id("clientId", required=False),
                                       client_name=p.text("clientName")) for p in rows]
            if len(rows) < 50:
                break
        return projects

    def _entry(self, item: Fields) -> SourceEntry:
        interval = item.child("timeInterval", required=True)
        assert interval is not None
        started = interval.timestamp("start")
        assert started is not None
        stopped = interval.timestamp("end", required=False)
        seconds = interval.integer("duration", required=False)
        running = stopped is None or seconds is None
        day, start, end = local_span(started, stopped, started.tzinfo or self.zone)
        return SourceEntry(
            system="clockify",
            source_id=item.id("_id"),
            date=day,
            person=item.text("userName", required=True),
            person_keys=(item.id("userId", required=False), item.text("userEmail")),
            project_id=item.id("projectId", required=False),
            project_name=item.text("projectName"),
            client_id=item.id("clientId", required=False),
            client_name=item.text("clientName"),
            task=item.text("taskName"),
            notes=item.text("description"),
            hours=hours_from_seconds(max(seconds or 0, 0)),
            billable=item.boolean("billable"),
            start=start,
            end=end,
            running=running,
        )
