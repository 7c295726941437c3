"""Clockify's detailed report against the fake: body paging, X-Api-Key, local offsets, deletions in a window."""

from __future__ import annotations

import csv
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.sources.conftest import settings_for
from tests.sources.fakes import FakeClockify
from tools.sources.clockify import ClockifySource
from tools.sources.errors import SourceAuthError, SourcePayloadError
from tools.sources.mapping import load_mapping
from tools.sources.sync import sync_time
from tools.workspace import load_workspace

AUGUST = (date(2023, 8, 1), date(2023, 8, 31))


def _source(clockify: FakeClockify, waits: list[float], page_size: int = 2, **extra: object) -> ClockifySource:
    return ClockifySource(settings_for(clockify=clockify, **extra), sleep=waits.append, page_size=page_size)


def _more(clockify: FakeClockify) -> None:
    for n, day in enumerate((21, 22, 23, 24), start=1):
        clockify.add(f"64b0000000000000000000{n:02d}", f"2023-08-{day}T09:00:00+10:00", f"2023-08-{day}T10:30:00+10:00",
                     5400, description=f"Workshop {n}")


def test_every_page_of_the_report_is_read_with_the_api_key(clockify: FakeClockify, waits: list[float]) -> None:
    _more(clockify)
    batch = _source(clockify, waits).fetch_entries(*AUGUST)
    reports = [r for r in clockify.requests if r.path.endswith("/reports/detailed")]
    assert [r.json()["detailedFilter"]["page"] for r in reports] == [1, 2, 3]
    assert all(r.header("x-api-key") == FakeClockify.KEY for r in reports)
    assert reports[0].json()["exportType"] == "JSON"
    assert len(batch.entries) == 5 and batch.complete
    recorded = next(e for e in batch.entries if e.source_id == "63b03060b01ebfad292c61ed")
    assert (recorded.date, recorded.start, recorded.end, recorded.hours) == (
        date(2023, 8, 28), time(15, 48), time(18, 42), Decimal("2.9"))  # 10440 s, in the member's +10:00
    assert (recorded.person, recorded.project_name, recorded.client_name, recorded.task, recorded.billable) == (
        "Luke", "Project", "Client", "Consulting", True)
    assert recorded.person_keys == ("b4de890ff78038db26859c0a", "person4@example.com")


def test_a_window_across_months_is_one_report_per_month(clockify: FakeClockify, waits: list[float]) -> None:
    _source(clockify, waits, page_size=200).fetch_entries(date(2023, 7, 15), date(2023, 9, 10))
    ranges = [(r.json()["dateRangeStart"][:10], r.json()["dateRangeEnd"][:10]) for r in clockify.requests]
    assert ranges == [("2023-07-15", "2023-07-31"), ("2023-08-01", "2023-08-31"), ("2023-09-01", "2023-09-10")]


def test_a_wrong_key_is_refused_with_the_settings_named(clockify: FakeClockify, waits: list[float]) -> None:
    with pytest.raises(SourceAuthError) as caught:
        _source(clockify, waits, clockify_api_key="nope").fetch_entries(*AUGUST)
    assert "Clockify rejected the credentials (HTTP 401: Full authentication is required" in str(caught.value)
    assert "INVOICE_AGENT_CLOCKIFY_API_KEY" in str(caught.value)


def test_a_start_time_that_is_not_iso_8601_is_rejected_naming_the_field(
    clockify: FakeClockify, waits: list[float]
) -> None:
    clockify.entries[0]["timeInterval"]["start"] = "28/08/2023 15:48"
    with pytest.raises(SourcePayloadError, match=r"timeentries\[0\]\.timeInterval\.start: expected an ISO-8601"):
        _source(clockify, waits).fetch_entries(*AUGUST)


def test_every_sync_reads_the_window_so_a_deleted_entry_is_flagged(
    clockify: FakeClockify, waits: list[float], tiny: Path
) -> None:
    _more(clockify)
    (tiny / "sources.yaml").write_text("clockify:\n  projects:\n    97210bf336f73c996f45f6e1: {client: beta, "
                                       "project_code: BET.APP}\n  people: {person4@example.com: Bob Roe}\n")
    source = _source(clockify, waits)
    first = sync_time(tiny, source, load_mapping(tiny), start=AUGUST[0], end=AUGUST[1])
    assert len(first.added) == 5 and first.complete
    clockify.entries = [e for e in clockify.entries if e["_id"] != "64b000000000000000000002"]
    second = sync_time(tiny, source, load_mapping(tiny), start=AUGUST[0], end=AUGUST[1])
    assert second.deleted == ["clockify-64b000000000000000000002"] and second.unchanged == 4
    with open(tiny / "time_entries.csv", encoding="utf-8") as handle:
        rows = {r["id"]: r for r in csv.DictReader(handle)}
    assert rows["clockify-63b03060b01ebfad292c61ed"]["person"] == "Bob Roe"
    assert rows["clockify-63b03060b01ebfad292c61ed"]["hours"] == "2.9"
    assert rows["clockify-64b000000000000000000002"]["billable"] == "false"
    load_workspace(tiny)
