"""Toggl Track API v9 against the fake answering with the recorded entries: windows, meta, since + deletions."""

from __future__ import annotations

import copy
import csv
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.sources.conftest import settings_for
from tests.sources.fakes import FakeToggl
from tools.sources.base import hours_from_seconds
from tools.sources.errors import SourceAuthError, SourcePayloadError
from tools.sources.mapping import load_mapping
from tools.sources.sync import sync_time
from tools.sources.toggl import TogglSource
from tools.workspace import load_workspace

DECEMBER = (date(2024, 12, 1), date(2024, 12, 31))


def _source(toggl: FakeToggl, waits: list[float], **extra: object) -> TogglSource:
    return TogglSource(settings_for(toggl=toggl, **extra), sleep=waits.append)


def test_seconds_become_exact_decimal_hours() -> None:
    assert hours_from_seconds(3600) == Decimal(1)
    assert hours_from_seconds(1800) == Decimal("0.5")
    assert hours_from_seconds(3591) == Decimal("0.9975")  # 9 divides it: exact
    assert hours_from_seconds(3700) == Decimal("1.027777")  # cut, never rounded up
    assert hours_from_seconds(60) * 60 < 1 + Decimal("0.0001")
    assert hours_from_seconds(60) <= Decimal(1) / Decimal(60)  # "round up to a minute" stays at one minute


def test_a_window_is_read_month_by_month_with_basic_auth_and_meta(toggl: FakeToggl, waits: list[float]) -> None:
    batch = _source(toggl, waits).fetch_entries(date(2024, 11, 20), date(2024, 12, 31))
    windows = [r for r in toggl.requests if r.path == "/api/v9/me/time_entries"]
    assert [(r.query["start_date"][:10], r.query["end_date"][:10]) for r in windows] == [
        ("2024-11-20", "2024-12-01"), ("2024-12-01", "2025-01-01")]
    assert all(r.query["meta"] == "true" for r in windows)
    assert windows[0].header("authorization", ).startswith("Basic ")  # type: ignore[union-attr]
    assert len(batch.entries) == 68 and batch.complete and batch.deleted == []
    by_id = {e.source_id: e for e in batch.entries}
    inbox = by_id["3731531776"]  # 17:05:25 -> 18:07:05, 3700 s, AGL Social Media (meta)
    assert (inbox.date, inbox.start, inbox.end, inbox.hours) == (date(2024, 12, 16), time(17, 5), time(18, 7),
                                                                 Decimal("1.027777"))
    assert (inbox.project_name, inbox.client_name, inbox.person, inbox.notes) == \
        ("AGL Social Media", "AGL", "Marco", "Inbox Zero")
    assert by_id["3727773734"].running  # the recorded running timer (negative duration, no stop)


def test_dates_and_times_are_local_to_the_configured_zone(toggl: FakeToggl, waits: list[float]) -> None:
    batch = _source(toggl, waits, sources_timezone="America/Los_Angeles").fetch_entries(*DECEMBER)
    entry = next(e for e in batch.entries if e.source_id == "3731292842")  # 2024-12-16T15:00:00Z
    assert (entry.date, entry.start) == (date(2024, 12, 16), time(7, 0))
    early = next(e for e in batch.entries if e.source_id == "3727052375")  # 2024-12-12T13:02:07Z
    assert early.date == date(2024, 12, 12) and early.start == time(5, 2)


def test_without_credentials_toggl_answers_401_and_the_error_names_the_setting(
    toggl: FakeToggl, waits: list[float]
) -> None:
    with pytest.raises(SourceAuthError, match=r"Toggl Track rejected the credentials.*INVOICE_AGENT_TOGGL_API_TOKEN"):
        _source(toggl, waits, toggl_api_token="wrong").fetch_entries(*DECEMBER)


def test_a_malformed_duration_is_rejected_naming_the_field(toggl: FakeToggl, waits: list[float]) -> None:
    toggl.entries[4]["duration"] = "3591"
    with pytest.raises(SourcePayloadError, match=r"me/time_entries 2024-12-01\.\.2024-12-31\[\d+\]\.duration: "
                                                 r"expected a whole number, got '3591'"):
        _source(toggl, waits).fetch_entries(*DECEMBER)


def test_sync_maps_by_client_then_since_brings_changes_and_deletions(
    toggl: FakeToggl, waits: list[float], tiny: Path
) -> None:
    (tiny / "sources.yaml").write_text("toggl:\n  clients: {AGL: acme}\n  people: {Marco: Cat Poe}\n")
    # the since answer deletes 3730256173 ("Inbox Zero", AGL Social Media): let the first sync have seen it
    deleted = copy.deepcopy(next(e for e in toggl.since if e["id"] == 3730256173))
    alive = dict(deleted, server_deleted_at=None, at="2024-12-16T00:50:00Z")
    toggl.entries.append(alive)
    toggl.since = [dict(e, server_deleted_at="2024-12-16T01:38:02+00:00") if e["id"] == 3730256173 else e
                   for e in toggl.since]
    source = _source(toggl, waits)

    first = sync_time(tiny, source, load_mapping(tiny), start=DECEMBER[0], end=DECEMBER[1],
                      now=datetime(2024, 12, 16, 1, 0, tzinfo=UTC))
    agl = {63334144, 63334341, 63334409, 63334598, 63334778, 63334886, 63335653, 64280362, 65728232, 88962407,
           150523487, 201802517}
    written = [e for e in toggl.entries if e.get("project_id") in agl and e["duration"] >= 0]
    assert len(first.added) == len(written) and {u.client_name for u in first.unmapped} == {"Mark", "Fae Tools"}
    assert "toggl-3730256173" in first.added

    second = sync_time(tiny, source, load_mapping(tiny), start=DECEMBER[0], end=DECEMBER[1])
    since = [r for r in toggl.requests if "since" in r.query][-1]
    assert since.query["since"] == str(int(datetime(2024, 12, 16, 0, 55, tzinfo=UTC).timestamp()))
    assert second.deleted == ["toggl-3730256173"]
    with open(tiny / "time_entries.csv", encoding="utf-8") as handle:
        rows = {r["id"]: r for r in csv.DictReader(handle)}
    assert rows["toggl-3730256173"]["source_status"] == "deleted"
    assert rows["toggl-3731531776"]["hours"] == "1.027777" and rows["toggl-3731531776"]["person"] == "Cat Poe"
    assert rows["toggl-3731531776"]["start"] == "17:05" and rows["toggl-3731531776"]["billable"] == "false"
    entries = {e.id: e for e in load_workspace(tiny).entries}
    assert entries["toggl-3731531776"].hours == Decimal("1.027777")
