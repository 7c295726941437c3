"""The demo workspace fed from each fake source: the rows load, keep their source ids, and draft."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from tests.sources.conftest import settings_for
from tests.sources.fakes import (
    FakeAsana,
    FakeClickUp,
    FakeClockify,
    FakeHarvest,
    FakeJira,
    FakeToggl,
    asana_task,
    clickup_task,
    epoch_ms,
    jira_issue,
)
from tools.drafts import draft_invoice
from tools.periods import Period
from tools.sources import task_source, time_source
from tools.sources.mapping import load_mapping
from tools.sources.sync import sync_tasks, sync_time
from tools.workspace import load_workspace


def _map(workspace: Path, text: str) -> None:
    (workspace / "sources.yaml").write_text(text, encoding="utf-8")


def _draft(workspace: Path, client: str, period: str, as_of: date) -> tuple[set[str], Decimal, list[str]]:
    loaded = load_workspace(workspace)
    draft = draft_invoice(loaded, client, Period.parse(period), as_of=as_of)
    ids = {entry for line in draft.lines for entry in line.entry_ids}
    return ids, draft.total, [line.description for line in draft.lines]


def test_harvest_feeds_northwind(parallax: Path, harvest: FakeHarvest) -> None:
    _map(parallax, "harvest:\n  projects: {'19919748': {client: northwind, project_code: NWO.ECOM}}\n"
                   "  people: {Alexander Hamilton: Daniel Costa}\n")
    source = time_source("harvest", settings_for(harvest=harvest))
    report = sync_time(parallax, source, load_mapping(parallax), start=date(2018, 9, 1), end=date(2019, 1, 31))
    assert len(report.added) == 119 and report.complete
    ids, total, _ = _draft(parallax, "northwind", "2019-01", date(2019, 2, 1))
    assert len(ids) == 24 and all(i.startswith("harvest-") for i in ids)
    assert total > 0  # 24 x 6 h at Daniel Costa's 165.00, less 5 %, plus 20 % VAT


def test_toggl_feeds_sturgeon(parallax: Path, toggl: FakeToggl) -> None:
    for entry in toggl.entries:  # the recorded account bills nothing; make its AGL Coaching time billable
        if entry.get("project_id") == 65728232:
            entry["billable"] = True
    _map(parallax, "toggl:\n  projects: {'65728232': {client: sturgeon, project_code: STU.APP}}\n"
                   "  people: {Marco: Priya Raman}\n")
    source = time_source("toggl", settings_for(toggl=toggl))
    report = sync_time(parallax, source, load_mapping(parallax), start=date(2024, 12, 1), end=date(2024, 12, 31))
    assert len(report.added) == 5
    ids, total, _ = _draft(parallax, "sturgeon", "2024-12", date(2025, 1, 1))
    assert ids and all(i.startswith("toggl-") for i in ids) and total > 0


def test_clockify_feeds_verde(parallax: Path, clockify: FakeClockify) -> None:
    _map(parallax, "clockify:\n  clients: {Client: verde}\n  people: {Luke: Grace Kim}\n")
    source = time_source("clockify", settings_for(clockify=clockify))
    sync_time(parallax, source, load_mapping(parallax), start=date(2023, 8, 1), end=date(2023, 8, 31))
    ids, total, lines = _draft(parallax, "verde", "2023-08", date(2023, 9, 1))
    assert ids == {"clockify-63b03060b01ebfad292c61ed"}
    assert total == Decimal("247.95")  # 2.9 h (10440 s) at Grace Kim's 95.00 = 275.50, less 10 %, no tax
    assert lines == ["2023-08-28 Grace Kim: Description"]


def test_asana_clickup_and_jira_milestones_feed_lumen(
    parallax: Path, asana: FakeAsana, clickup: FakeClickUp, jira: FakeJira
) -> None:
    asana.tasks["1209101"] = asana_task("1209101", "Accessibility audit", project=("1204001", "Patient portal"),
                                        completed_at="2026-10-12T10:00:00.000Z", amount="3000")
    clickup.tasks["9k1"] = clickup_task("9k1", "Content migration", status="complete", kind="closed",
                                        done_ms=epoch_ms(date(2026, 10, 14)), amount="2500")
    jira.issues = [jira_issue("LUM-101", "Penetration test fixes", status="Done", category="done",
                              resolved="2026-10-16T12:00:00.000+0000", amount=1500, project=("10100", "LUM", "Lumen"))]
    _map(parallax, "asana:\n  projects: {'1204001': {client: lumen, project_code: LUM.PORTAL}}\n"
                   "  milestone_field: Milestone amount\n"
                   "clickup:\n  projects: {'123': {client: lumen, project_code: LUM.PORTAL}}\n"
                   "  milestone_field: Milestone amount\n"
                   "jira:\n  projects: {LUM: {client: lumen, project_code: LUM.PORTAL}}\n"
                   "  milestone_field: customfield_10042\n")
    mapping = load_mapping(parallax)
    settings = settings_for(asana=asana, clickup=clickup, jira=jira)
    for system in ("asana", "clickup", "jira"):
        report = sync_tasks(parallax, task_source(system, settings, mapping), mapping)
        assert len(report.added) == 1 and report.complete, report.lines()
    _, total, lines = _draft(parallax, "lumen", "2026-10", date(2026, 11, 1))
    assert sorted(lines) == ["Accessibility audit", "Content migration", "Milestone 3: Patient portal beta build",
                             "Penetration test fixes"]
    assert total == Decimal("52000.00")  # 45000 (tasks.csv) + 3000 + 2500 + 1500
