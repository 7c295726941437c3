"""`invoice-agent sources map`, `sync`, `import` and `sources schedule`, with credentials from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api.cli import main
from tests.sources.fakes import FIXTURES, FakeHarvest


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def harvest_env(harvest: FakeHarvest, monkeypatch: pytest.MonkeyPatch) -> FakeHarvest:
    monkeypatch.delenv("INVOICE_AGENT_WORKSPACE", raising=False)
    monkeypatch.setenv("INVOICE_AGENT_HARVEST_TOKEN", FakeHarvest.TOKEN)
    monkeypatch.setenv("INVOICE_AGENT_HARVEST_ACCOUNT_ID", FakeHarvest.ACCOUNT)
    monkeypatch.setenv("INVOICE_AGENT_HARVEST_URL", f"{harvest.url}/v2")
    monkeypatch.setenv("INVOICE_AGENT_SOURCES_ATTEMPTS", "1")
    return harvest


def test_map_lists_unmapped_projects_then_maps_one_then_sync_writes_it(
    capsys: pytest.CaptureFixture[str], harvest_env: FakeHarvest, tiny: Path
) -> None:
    code, out, _ = run(capsys, "sources", "map", "harvest", "--workspace", str(tiny))
    assert code == 1
    assert "19919748       'Castle Building' (client 'Pepe') -> UNMAPPED" in out
    assert "nothing is guessed" in out

    code, _, err = run(capsys, "sources", "map", "harvest", "--workspace", str(tiny), "--project", "19919748=nobody")
    assert code == 2 and "no client 'nobody' in clients.yaml; known: acme, beta" in err

    code, out, _ = run(capsys, "sources", "map", "harvest", "--workspace", str(tiny),
                       "--project", "19919748=acme:ACM.WEB", "--person", "Alexander Hamilton=Ann Lee")
    assert code == 0 and "project 19919748 -> acme [ACM.WEB]" in out
    assert yaml.safe_load((tiny / "sources.yaml").read_text())["harvest"] == {
        "projects": {"19919748": {"client": "acme", "project_code": "ACM.WEB"}},
        "people": {"Alexander Hamilton": "Ann Lee"}}

    code, out, _ = run(capsys, "sync", "harvest", "--workspace", str(tiny), "--from", "2018-09-01",
                       "--to", "2019-01-31")
    assert code == 0
    assert out.startswith("Harvest: 119 entries read (the whole window 2018-09-01..2019-01-31); 119 added")


def test_sync_reports_a_refused_token_clearly(
    capsys: pytest.CaptureFixture[str], harvest_env: FakeHarvest, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVOICE_AGENT_HARVEST_TOKEN", "revoked")
    code, _, err = run(capsys, "sync", "harvest", "--workspace", str(tiny))
    assert code == 2
    assert err.startswith("invoice-agent: Harvest rejected the credentials (HTTP 401")
    assert "check INVOICE_AGENT_HARVEST_TOKEN" in err


def test_missing_credentials_name_the_variables(
    capsys: pytest.CaptureFixture[str], tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("INVOICE_AGENT_CLOCKIFY_API_KEY", "INVOICE_AGENT_CLOCKIFY_WORKSPACE_ID"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "sync", "clockify", "--workspace", str(tiny))
    assert code == 2 and "Clockify is not configured: set INVOICE_AGENT_CLOCKIFY_API_KEY, " \
                         "INVOICE_AGENT_CLOCKIFY_WORKSPACE_ID" in err


def test_the_bundled_demo_is_never_written(capsys: pytest.CaptureFixture[str], harvest_env: FakeHarvest) -> None:
    code, _, err = run(capsys, "sync", "harvest")
    assert code == 2 and "name the workspace to write with --workspace" in err
    assert harvest_env.requests == []


def test_import_reports_unmapped_projects_and_what_it_wrote(capsys: pytest.CaptureFixture[str], tiny: Path) -> None:
    export = str(FIXTURES / "toggl" / "detailed_report_export.csv")
    code, out, _ = run(capsys, "import", export, "--from", "toggl", "--workspace", str(tiny))
    assert code == 1
    assert "2 row(s), 2 read" in out
    assert "'生活' (client 第3領域): 1 record(s) skipped; map it with: invoice-agent sources map toggl " \
           "--project 生活=CLIENT[:PROJECT_CODE]" in out
    run(capsys, "sources", "map", "toggl", "--workspace", str(tiny), "--client", "第3領域=beta",
        "--client", "第4領域=beta", "--person", "ちぃといつ=Bob Roe")
    code, out, _ = run(capsys, "import", export, "--from", "toggl", "--workspace", str(tiny))
    assert code == 0 and "2 added" in out


def test_schedule_starts_the_retainer_once(
    capsys: pytest.CaptureFixture[str], tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)  # the offline model
    data = str(tmp_path / "data")
    code, out, _ = run(capsys, "sources", "schedule", "--workspace", str(tiny), "--data", data, "--as-of", "2026-04-01")
    assert code == 0 and out.startswith("beta 2026-03: awaiting_approval")
    code, out, _ = run(capsys, "sources", "schedule", "--workspace", str(tiny), "--data", data, "--as-of", "2026-04-02")
    assert code == 0 and out.startswith("beta 2026-03: already_triggered")
