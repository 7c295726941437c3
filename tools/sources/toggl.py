"""Toggl Track API v9 time entries (engineering.toggl.com/docs).

Auth is HTTP Basic `<api_token>:api_token`. `GET /me/time_entries` lists the token owner's entries, so a
firm configures one token per person (INVOICE_AGENT_TOGGL_API_TOKEN, comma-separated). It is not paged:
a window is read month by month (`start_date`/`end_date`, RFC 3339 in the configured zone), and a slice
that comes back with `SLICE_LIMIT` entries or more is halved and read again. `since=<unix>` returns the
entries changed since then *including deleted ones* (`server_deleted_at` set): that is the incremental
sync, and how deletions are noticed. `meta=true` adds `project_name`, `client_name` and `user_name`.

`duration` is in seconds (negative while the timer runs: those are skipped); hours are exact decimals
(`base.hours_from_seconds`). `start`/`stop` are UTC; the entry's date and HH:MM times are taken in
INVOICE_AGENT_SOURCES_TIMEZONE.
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
from tools.sources.settings import SourceSettings

SLICE_LIMIT = 1000
"""/me/time_entries answers with at most about a thousand entries; a slice that full is split."""


class TogglSource:
    system = "toggl"
    incremental = True

    def __init__(self, settings: SourceSettings, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = _time.sleep) -> None:
        settings.require("toggl", toggl_api_token=settings.toggl_api_token)
        self.zone = ZoneInfo(settings.sources_timezone)
        self.apis = [
            HttpApi("toggl", settings.toggl_url, headers={}, auth=(token.get_secret_value(), "api_token"),
                    settings_hint="INVOICE_AGENT_TOGGL_API_TOKEN (Profile settings -> API Token in Toggl Track)",
                    transport=transport, timeout=settings.sources_timeout, attempts=settings.sources_attempts,
                    max_wait=settings.sources_max_wait, sleep=sleep)
            for token in settings.toggl_api_token
        ]

    def close(self) -> None:
        for api in self.apis:
            api.close()

    def fetch_entries(self, start: date, end: date, *, updated_since: datetime | None = None) -> EntryBatch:
        batch = EntryBatch(complete=updated_since is None, window=(start, end))
        for api in self.apis:
            me = Fields("toggl", api.get("me"), "me")
            owner = me.text("fullname") or me.text("email")
            keys = (me.id("id", required=False), me.text("email"))
            if updated_since is not None:
                items = list_of("toggl", api.get("me/time_entries", {
                    "since": int(updated_since.timestamp()), "meta": "true"}), "me/time_entries")
            else:
                items = []
                for first, last in month_windows(start, end):
                    items += self._window(api, first, last)
            for item in items:
                if item.has("server_deleted_at"):
                    batch.deleted.append(item.id("id"))
                    continue
                entry = self._entry(item, owner, keys)
                if updated_since is not None or start <= entry.date <= end:
                    batch.entries.append(entry)
        return batch

    def _window(self, api: HttpApi, first: date, last: date) -> list[Fields]:
        begin = datetime.combine(first, datetime.min.time(), self.zone)
        finish = datetime.combine(last + timedelta(days=1), datetime.min.time(), self.zone)
        items = list_of("toggl", api.get("me/time_entries", {
            "start_date": begin.isoformat(), "end_date": finish.isoformat(), "meta": "true"}),
            f"me/time_entries {first}..{last}")
        if len(items) >= SLICE_LIMIT and first < last:
            middle = first + (last - first) // 2
            return self._window(api, first, middle) + self._window(api, middle + timedelta(days=1), last)
        return items

    def count_entries(self, start: date, end: date) -> int | None:
        return None  # deletions come with `since`

    def list_projects(self) -> list[SourceProject]:
        projects: list[SourceProject] = []
        for api in self.apis[:1]:
            me = Fields("toggl", api.get("me"), "me")
            workspace = me.id("default_workspace_id")
            clients = {c.id("id"): c.text("name")
                       for c in list_of("toggl", api.get(f"workspaces/{workspace}/clients") or [], "clients")}
            for item in list_of("toggl", api.get(f"workspaces/{workspace}/projects") or [], "projects"):
                client_id = item.id("client_id", required=False)
                projects.append(SourceProject(id=item.id("id"), name=item.text("name"), client_id=client_id,
                                              client_name=clients.get(client_id, "")))
        return projects

    def _entry(self, item: Fields, owner: str, keys: tuple[str, ...]) -> SourceEntry:
        started = item.timestamp("start")
        assert started is not None
        stopped = item.timestamp("stop", required=False)
        duration = item.integer("duration")
        assert duration is not None
        running = duration < 0 or stopped is None
        day, start, end = local_span(started, stopped, self.zone)
        user = item.text("user_name") or owner
        return SourceEntry(
            system="toggl",
            source_id=item.id("id"),
            date=day,
            person=user,
            person_keys=(item.id("user_id", required=False), *keys) if not item.text("user_name") else
            (item.id("user_id", required=False),),
            project_id=item.id("project_id", required=False),
            project_name=item.text("project_name"),
            client_name=item.text("client_name"),
            notes=item.text("description"),
            hours=hours_from_seconds(max(duration, 0)),
            billable=item.boolean("billable"),
            start=start,
            end=end,
            running=running,
            updated_at=item.timestamp("at", required=False) or datetime.now(UTC),
        )
