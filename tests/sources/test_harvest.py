"""Harvest API v2 against the fake server answering with the recorded pages: paging, auth, 429, payloads, sync."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tests.sources.conftest import settings_for
from tests.sources.fakes import FakeHarvest, Reply, fixture
from tools.sources.errors import SourceAuthError, SourcePayloadError, SourceRateLimitedError, SourceUnavailableError
from tools.sources.harvest import HarvestSource
from tools.sources.mapping import load_mapping
from tools.sources.sync import sync_time
from tools.workspace import load_workspace

WINDOW = (date(2018, 9, 1), date(2019, 1, 31))


def _source(harvest: FakeHarvest, waits: list[float], **extra: object) -> HarvestSource:
    return HarvestSource(settings_for(harvest=harvest, **extra), sleep=waits.append)


def _map(workspace: Path, text: str) -> None:
    (workspace / "sources.yaml").write_text(text, encoding="utf-8")


def _rows(workspace: Path) -> dict[str, dict[str, str]]:
    with open(workspace / "time_entries.csv", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def test_the_fake_pages_exactly_as_the_recording(harvest: FakeHarvest, waits: list[float]) -> None:
    source = _source(harvest, waits)
    page = source.api.get("time_entries", {"per_page": 100})
    recorded = fixture("harvest/time_entries_list_page1.json")
    assert page["time_entries"] == recorded["time_entries"] or len(page["time_entries"]) == 100
    assert {k: page[k] for k in ("per_page", "total_pages", "total_entries", "next_page", "page")} == \
        {k: recorded[k] for k in ("per_page", "total_pages", "total_entries", "next_page", "page")}


def test_every_page_is_read_following_links_next_with_auth_headers(harvest: FakeHarvest, waits: list[float]) -> None:
    batch = _source(harvest, waits).fetch_entries(*WINDOW)
    assert len(batch.entries) == 119 and batch.complete
    lists = [r for r in harvest.requests if r.path == "/v2/time_entries"]
    assert [r.query.get("page") for r in lists] == [None, "2"]
    first = lists[0]
    assert first.header("authorization") == f"Bearer {FakeHarvest.TOKEN}"
    assert first.header("harvest-account-id") == FakeHarvest.ACCOUNT
    assert first.header("user-agent") == "invoice-agent (tests@example.com)"
    entry = batch.entries[0]
    assert (entry.source_id, entry.date, entry.person, entry.project_id, entry.hours, entry.billable) == \
        ("933384584", date(2019, 1, 24), "Alexander Hamilton", "19919748", Decimal("6.0"), True)
    assert isinstance(entry.hours, Decimal) and entry.task == "Coding" and entry.client_name == "Pepe"


def test_a_rejected_token_names_harvest_and_the_settings_to_fix(harvest: FakeHarvest, waits: list[float]) -> None:
    source = _source(harvest, waits, harvest_token="expired")
    with pytest.raises(SourceAuthError) as caught:
        source.fetch_entries(*WINDOW)
    message = str(caught.value)
    assert "Harvest rejected the credentials (HTTP 401" in message
    assert "The access token provided is expired, revoked, malformed or invalid" in message
    assert "INVOICE_AGENT_HARVEST_TOKEN" in message and "INVOICE_AGENT_HARVEST_ACCOUNT_ID" in message
    assert waits == []  # a 401 is not retried


def test_429_as_recorded_is_retried_with_backoff_then_succeeds(harvest: FakeHarvest, waits: list[float]) -> None:
    recorded = Reply(429, b"", {"Content-Type": "text/html"})  # the recorded 429: empty body, no Retry-After
    harvest.fail_next(recorded, recorded)
    batch = _source(harvest, waits).fetch_entries(*WINDOW)
    assert len(batch.entries) == 119
    assert len(waits) == 2 and all(w >= 1 for w in waits)


def test_429_with_retry_after_waits_what_it_says(harvest: FakeHarvest, waits: list[float]) -> None:
    harvest.fail_next(Reply(429, b"", {"Retry-After": "7", "Content-Type": "text/html"}))
    _source(harvest, waits).count_entries(*WINDOW)
    assert waits == [7.0]


def test_429_that_never_ends_is_a_rate_limit_error(harvest: FakeHarvest, waits: list[float]) -> None:
    harvest.fail_next(*[Reply(429, b"", {"Content-Type": "text/html"})] * 3)
    with pytest.raises(SourceRateLimitedError, match="Harvest kept answering 429 Too Many Requests after 3 tries"):
        _source(harvest, waits).count_entries(*WINDOW)


def test_a_retry_after_longer_than_allowed_fails_at_once(harvest: FakeHarvest, waits: list[float]) -> None:
    harvest.fail_next(Reply(429, b"", {"Retry-After": "3600"}))
    with pytest.raises(SourceRateLimitedError, match="wait 3600 s"):
        _source(harvest, waits).count_entries(*WINDOW)
    assert waits == []


def test_server_errors_are_retried_then_reported_unavailable(harvest: FakeHarvest, waits: list[float]) -> None:
    harvest.fail_next(*[Reply(503, b"<html>down</html>", {"Content-Type": "text/html"})] * 3)
    with pytest.raises(SourceUnavailableError, match=r"Harvest is unavailable \(HTTP 503\) after 3 tries"):
        _source(harvest, waits).count_entries(*WINDOW)
    assert len(waits) == 2


def test_a_malformed_entry_is_rejected_naming_the_field(harvest: FakeHarvest, waits: list[float]) -> None:
    del harvest.entries[3]["spent_date"]
    with pytest.raises(SourcePayloadError) as caught:
        _source(harvest, waits).fetch_entries(*WINDOW)
    assert caught.value.field == "time_entries page 1.time_entries[3].spent_date"
    assert "Harvest sent a malformed payload: time_entries page 1.time_entries[3].spent_date: missing" in \
        str(caught.value)
    harvest.entries[3]["spent_date"] = "2019-01-22"
    harvest.entries[5]["hours"] = "six"
    with pytest.raises(SourcePayloadError, match=r"time_entries\[5\]\.hours: expected a number, got 'six'"):
        _source(harvest, waits).fetch_entries(*WINDOW)


def test_a_next_link_to_another_host_is_not_followed(harvest: FakeHarvest, waits: list[float]) -> None:
    source = _source(harvest, waits)
    with pytest.raises(SourcePayloadError, match="is not on"):
        source.api.get("https://evil.example/v2/time_entries?page=2")


def test_sync_writes_mapped_entries_with_their_harvest_ids_and_reports_the_unmapped(
    harvest: FakeHarvest, waits: list[float], tiny: Path
) -> None:
    source = _source(harvest, waits)
    report = sync_time(tiny, source, load_mapping(tiny), start=WINDOW[0], end=WINDOW[1])
    assert report.added == [] and len(report.unmapped) == 1
    assert "19919748 'Castle Building' (client Pepe): 119 record(s) skipped" in report.unmapped[0].describe()
    assert "invoice-agent sources map harvest --project 19919748=CLIENT" in report.unmapped[0].describe()
    assert not [r for r in _rows(tiny) if r.startswith("harvest-")]  # nothing guessed

    _map(tiny, "harvest:\n  projects:\n    19919748: {client: acme, project_code: ACM.WEB}\n"
               "  people: {Alexander Hamilton: Ann Lee}\n")
    report = sync_time(tiny, source, load_mapping(tiny), start=WINDOW[0], end=WINDOW[1])
    assert len(report.added) == 119 and report.complete  # unchanged entries, newly mapped: the window is read
    assert report.notes == ["the mapping changed since the last sync: the whole window is read"]
    rows = _rows(tiny)
    row = rows["harvest-933384584"]
    assert {k: row[k] for k in ("date", "person", "client", "project_code", "task", "hours", "billable", "source",
                                "source_id", "source_status", "source_approved")} == {
        "date": "2019-01-24", "person": "Ann Lee", "client": "acme", "project_code": "ACM.WEB", "task": "Coding",
        "hours": "6", "billable": "true", "source": "harvest", "source_id": "933384584", "source_status": "",
        "source_approved": "false"}
    assert rows["e1"]["notes"] == "homepage wireframes"  # rows typed by hand stay
    workspace = load_workspace(tiny)
    assert sum(1 for e in workspace.entries if e.id.startswith("harvest-")) == 119


def test_incremental_sync_asks_for_changes_only_and_notices_deletions_by_count(
    harvest: FakeHarvest, waits: list[float], tiny: Path
) -> None:
    _map(tiny, "harvest:\n  projects: {'19919748': {client: acme}}\n")
    source = _source(harvest, waits)
    sync_time(tiny, source, load_mapping(tiny), start=WINDOW[0], end=WINDOW[1],
              now=datetime(2024, 1, 1, tzinfo=UTC))
    harvest.requests.clear()

    changed = harvest.entries[0]
    changed.update(notes="design review with Pepe", hours=6.5, updated_at="2024-02-01T10:00:00Z")
    removed = harvest.entries.pop(10)
    report = sync_time(tiny, source, load_mapping(tiny), start=WINDOW[0], end=WINDOW[1])

    first = harvest.requests[0]
    assert first.query["updated_since"] == "2023-12-31T23:55:00Z"  # the cursor minus the overlap
    assert report.updated == ["harvest-933384584"]
    assert report.deleted == [f"harvest-{removed['id']}"]
    assert any("counts 118 entries" in note for note in report.notes)
    rows = _rows(tiny)
    assert rows["harvest-933384584"]["hours"] == "6.5"
    assert rows["harvest-933384584"]["notes"] == "design review with Pepe"
    gone = rows[f"harvest-{removed['id']}"]
    assert (gone["source_status"], gone["billable"]) == ("deleted", "false")
    assert gone["notes"].startswith("[deleted in Harvest]")
    load_workspace(tiny)

    harvest.requests.clear()
    again = sync_time(tiny, source, load_mapping(tiny), start=WINDOW[0], end=WINDOW[1])
    assert again.deleted == [] and again.notes == []  # counts agree: no second full read
    assert [r.query.get("per_page") for r in harvest.requests] == ["100", "1"]


def test_running_timers_are_skipped_until_stopped(harvest: FakeHarvest, waits: list[float], tiny: Path) -> None:
    _map(tiny, "harvest:\n  clients: {Pepe: acme}\n")
    harvest.entries[0]["is_running"] = True
    report = sync_time(tiny, _source(harvest, waits), load_mapping(tiny), start=WINDOW[0], end=WINDOW[1])
    assert len(report.added) == 118 and report.skipped == ["1 running timer(s): synced once they are stopped"]
    assert yaml.safe_load((tiny / "sources.yaml").read_text()) == {"harvest": {"clients": {"Pepe": "acme"}}}
