"""Fake source servers (tests/sources/fakes.py), source settings pointing at them, and workspace copies."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from api.settings import DEMO_WORKSPACE, Settings
from api.wiring import open_runs
from graph.runs import InvoiceRuns
from tests.sources.fakes import FakeAsana, FakeClickUp, FakeClockify, FakeHarvest, FakeJira, FakeToggl, fixture
from tools.sources.settings import SourceSettings

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"


def settings_for(*, harvest: FakeHarvest | None = None, toggl: FakeToggl | None = None,
                 clockify: FakeClockify | None = None, asana: FakeAsana | None = None,
                 clickup: FakeClickUp | None = None, jira: FakeJira | None = None, **extra: Any) -> SourceSettings:
    """Source settings aimed at the given fakes (and nothing from the environment that matters)."""
    values: dict[str, Any] = {name: None for name in SourceSettings.model_fields if name.endswith(
        ("_token", "_secret", "_key", "_account_id", "_workspace_id", "_email"))}  # nothing from the environment
    values.update(toggl_api_token=[], sources_attempts=3, sources_max_wait=60.0, sources_timezone="UTC",
                  sources_timeout=10.0)
    if harvest:
        values.update(harvest_token=FakeHarvest.TOKEN, harvest_account_id=FakeHarvest.ACCOUNT,
                      harvest_url=f"{harvest.url}/v2", harvest_contact="tests@example.com")
    if toggl:
        values.update(toggl_api_token=FakeToggl.TOKEN, toggl_url=f"{toggl.url}/api/v9")
    if clockify:
        values.update(clockify_api_key=FakeClockify.KEY, clockify_workspace_id=FakeClockify.WORKSPACE,
                      clockify_url=f"{clockify.url}/api/v1", clockify_reports_url=f"{clockify.url}/v1")
    if asana:
        values.update(asana_token=FakeAsana.TOKEN, asana_url=f"{asana.url}/api/1.0", asana_workspace="12345")
    if clickup:
        values.update(clickup_token=FakeClickUp.TOKEN, clickup_url=f"{clickup.url}/api/v2")
    if jira:
        values.update(jira_url=jira.url, jira_email=FakeJira.EMAIL, jira_api_token=FakeJira.TOKEN)
    values.update(extra)
    return SourceSettings(**values)


@pytest.fixture
def harvest() -> Iterator[FakeHarvest]:
    server = FakeHarvest()
    yield server
    server.close()


@pytest.fixture
def toggl() -> Iterator[FakeToggl]:
    server = FakeToggl()
    yield server
    server.close()


@pytest.fixture
def clockify() -> Iterator[FakeClockify]:
    server = FakeClockify()
    yield server
    server.close()


@pytest.fixture
def asana() -> Iterator[FakeAsana]:
    server = FakeAsana()
    yield server
    server.close()


@pytest.fixture
def clickup() -> Iterator[FakeClickUp]:
    server = FakeClickUp()
    yield server
    server.close()


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    server = FakeJira()
    yield server
    server.close()


@pytest.fixture
def waits() -> list[float]:
    """Pass `waits.append` as a connector's `sleep`: the retries' waits are recorded, not slept."""
    return []


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return Path(shutil.copytree(TINY, tmp_path / "tiny"))


@pytest.fixture
def parallax(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEMO_WORKSPACE, tmp_path / "parallax"))


LUMEN_PROJECT = ("1204001", "Patient portal")
MILESTONE = "1209003"


def opener(workspace: Path, data: Path, as_of: date) -> Any:
    settings = Settings(workspace=workspace, data_dir=data, anthropic_api_key=None)

    def open_() -> AbstractContextManager[InvoiceRuns]:
        return open_runs(settings, as_of=as_of)

    return open_


def asana_event(gid: str, field: str = "completed", created_at: str = "2026-10-23T16:05:01.000Z") -> bytes:
    """The prismatic.io delivery (a task `changed` event), naming our task and the `completed` field."""
    body = copy.deepcopy(fixture("asana/webhook_events_payload_example_prismatic.json")["body"])
    event = body["events"][0]
    event["resource"].update(gid=gid, name="Milestone 3: Patient portal beta build")
    event["change"].update(field=field, new_value=None)
    event["created_at"] = created_at
    return json.dumps(body).encode()


@pytest.fixture
def lumen(parallax: Path) -> Path:
    """The demo, its Lumen milestone 3 coming from Asana instead of tasks.csv."""
    path = parallax / "tasks.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(r for r in rows if r["id"] != "LUM-M3")
    path.write_text(out.getvalue(), encoding="utf-8")
    (parallax / "sources.yaml").write_text(
        f"asana:\n  projects:\n    '{LUMEN_PROJECT[0]}': {{client: lumen, project_code: LUM.PORTAL}}\n"
        "  milestone_field: Milestone amount\n", encoding="utf-8")
    return parallax
