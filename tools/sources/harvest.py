"""Harvest API v2 time entries (help.getharvest.com/api-v2).

Requests send `Authorization: Bearer <token>`, `Harvest-Account-Id` and a `User-Agent` naming the app and
a contact (Harvest answers 400 without one). Lists are paged: each page carries `links.next` (the URL of
the next page, null on the last), which is followed as given. `from`/`to` bound the entries' `spent_date`;
`updated_since` returns only entries changed since then, so a sync after the first fetches changes only.
Harvest does not report deletions: `count_entries` (one request, `per_page=1`, reading `total_entries`)
lets the sync notice that entries vanished and re-read the window. `is_closed` is Harvest's timesheet
approval; running timers (`is_running`) are skipped.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time

import httpx

from tools.sources.base import EntryBatch, Fields, HttpApi, SourceEntry, SourceProject
from tools.sources.errors import SourcePayloadError
from tools.sources.settings import SourceSettings

PER_PAGE = 100
MAX_PAGES = 10_000


class HarvestSource:
    system = "harvest"
    incremental = True

    def __init__(self, settings: SourceSettings, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = _time.sleep) -> None:
        settings.require("harvest", harvest_token=settings.harvest_token,
                         harvest_account_id=settings.harvest_account_id)
        assert settings.harvest_token is not None and settings.harvest_account_id is not None
        self.api = HttpApi(
            "harvest",
            settings.harvest_url,
            headers={
                "Authorization": f"Bearer {settings.harvest_token.get_secret_value()}",
                "Harvest-Account-Id": settings.harvest_account_id,
                "User-Agent": f"invoice-agent ({settings.harvest_contact})",
            },
            settings_hint="INVOICE_AGENT_HARVEST_TOKEN and INVOICE_AGENT_HARVEST_ACCOUNT_ID (the token must be "
                          "a live personal access token of that account)",
            transport=transport, timeout=settings.sources_timeout, attempts=settings.sources_attempts,
            max_wait=settings.sources_max_wait, sleep=sleep,
        )

    def close(self) -> None:
        self.api.close()

    # --- time entries --------------------------------------------------------------------------------

    def fetch_entries(self, start: date, end: date, *, updated_since: datetime | None = None) -> EntryBatch:
        params: dict[str, str | int] = {"from": start.isoformat(), "to": end.isoformat(), "per_page": PER_PAGE}
        if updated_since is not None:  # every change, wherever its date now is (an entry may move out of the window)
            params = {"updated_since": updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "per_page": PER_PAGE}
        entries = [self._entry(item) for item in self._pages("time_entries", params)]
        return EntryBatch(entries=entries, complete=updated_since is None, window=(start, end))

    def count_entries(self, start: date, end: date) -> int | None:
        page = Fields("harvest", self.api.get("time_entries", {"from": start.isoformat(), "to": end.isoformat(),
                                                               "per_page": 1}), "time_entries")
        return page.integer("total_entries")

    def list_projects(self) -> list[SourceProject]:
        projects = []
        for item in self._pages("projects", {"per_page": PER_PAGE}):
            client = item.child("client")
            projects.append(SourceProject(
                id=item.id("id"), name=item.text("name"), code=item.text("code"),
                client_id=client.id("id", required=False) if client else "",
                client_name=client.text("name") if client else ""))
        return projects

    def _pages(self, key: str, params: dict[str, str | int]) -> Iterator[Fields]:
        url: str | None = key
        query: dict[str, str | int] | None = params
        for number in range(1, MAX_PAGES + 1):
            if url is None:
                return
            page = Fields("harvest", self.api.get(url, query), f"{key} page {number}")
            yield from page.items(key, required=True)
            links = page.child("links")
            next_url = links.text("next") if links is not None else ""
            if not next_url and page.integer("next_page", required=False):
                next_url, query = key, {**params, "page": page.integer("next_page") or 0}
            else:
                query = None  # links.next carries every parameter
            url = next_url or None
        raise SourcePayloadError("harvest", f"{key}.links.next", f"still a next page after {MAX_PAGES} pages")

    def _entry(self, item: Fields) -> SourceEntry:
        user = item.child("user", required=True)
        project = item.child("project", required=True)
        client = item.child("client")
        task = item.child("task")
        assert user is not None and project is not None
        hours = item.decimal("hours", required=True)
        assert hours is not None
        day = item.day("spent_date")
        assert day is not None
        return SourceEntry(
            system="harvest",
            source_id=item.id("id"),
            date=day,
            person=user.text("name", required=True),
            person_keys=(user.id("id", required=False),),
            project_id=project.id("id"),
            project_name=project.text("name"),
            project_code=project.text("code"),
            client_id=client.id("id", required=False) if client else "",
            client_name=client.text("name") if client else "",
            task=task.text("name") if task else "",
            notes=item.text("notes"),
            hours=hours,
            billable=item.boolean("billable"),
            start=_clock(item, "started_time"),
            end=_clock(item, "ended_time"),
            approved=item.boolean("is_closed", required=False) if "is_closed" in item.data else None,
            running=item.boolean("is_running", required=False),
            updated_at=item.timestamp("updated_at", required=False),
        )


def _clock(item: Fields, key: str) -> time | None:
    """Harvest's `started_time` / `ended_time`: "8:00am" (12-hour accounts) or "13:00" (24-hour accounts)."""
    text = item.text(key).strip().lower().replace(" ", "")
    if not text:
        return None
    for fmt in ("%I:%M%p", "%H:%M"):
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    raise item.error(key, f"expected a clock time like 8:00am or 13:00, got {text!r}")
