"""Signed webhooks and the schedule start invoice runs: at most one per client and period, replays ignored."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.wiring import open_runs
from tests.sources.conftest import LUMEN_PROJECT, MILESTONE, asana_event, opener, settings_for
from tests.sources.fakes import (
    FakeAsana,
    FakeClickUp,
    asana_task,
    clickup_task,
    fixture,
    jira_issue,
)
from tools.periods import Period
from tools.sources.errors import SourceConfigError, WebhookError, WebhookSignatureError
from tools.sources.triggers import RunRequest, Triggers, approved_timesheets, hmac_sha256_hex, verify_signature

AS_OF = date(2026, 11, 1)


@pytest.fixture
def asana_triggers(lumen: Path, tmp_path: Path, asana: FakeAsana) -> Triggers:
    asana.tasks[MILESTONE] = asana_task(MILESTONE, "Milestone 3: Patient portal beta build", project=LUMEN_PROJECT,
                                        completed_at="2026-10-23T16:05:00.000Z", amount="45000.00")
    return Triggers(lumen, tmp_path / "data", opener(lumen, tmp_path / "data", AS_OF),
                    settings=settings_for(asana=asana), today=lambda: AS_OF)


def test_signatures_are_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"webhook_id":"7689a169-a000-4985-8676-6902b96d6627","event":"taskCreated","task_id":"c0j"}'
    good = hmac_sha256_hex("s3cret", body)
    assert verify_signature("s3cret", body, good) and verify_signature("s3cret", body, good.upper())
    assert not verify_signature("s3cret", body + b" ", good)
    assert not verify_signature("other", body, good) and not verify_signature("s3cret", body, None)
    assert verify_signature("s3cret", body, f"sha256={good}", prefix="sha256=")
    assert not verify_signature("s3cret", body, good, prefix="sha256=")


def test_a_completed_asana_milestone_drafts_the_clients_invoice_once(
    asana_triggers: Triggers, asana: FakeAsana, lumen: Path, tmp_path: Path
) -> None:
    secret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"  # the documented handshake
    shake = asana_triggers.asana({"X-Hook-Secret": secret}, b"")
    assert shake.status == "handshake" and shake.echo_secret == secret

    body = asana_event(MILESTONE)
    result = asana_triggers.asana({"X-Hook-Signature": hmac_sha256_hex(secret, body)}, body)
    assert result.status == "processed"
    [run] = result.runs
    assert (run.client, run.period, run.status) == ("lumen", "2026-10", "awaiting_approval")
    assert "Asana milestone asana-1209003" in run.reason and "45000.00 USD" in run.message
    assert asana.paths() == [f"/api/1.0/tasks/{MILESTONE}"]

    with open_runs(Settings(workspace=lumen, data_dir=tmp_path / "data", anthropic_api_key=None)) as runs:
        record = runs.rt.store.latest_draft(run.run_id or "")
        assert record is not None
        [line] = record.draft.lines
        assert (line.description, str(line.amount), str(record.draft.total)) == (
            "Milestone 3: Patient portal beta build", "45000.00", "45000.00")
        assert [a.run_id for a in runs.waiting()] == [run.run_id]

    replay = asana_triggers.asana({"X-Hook-Signature": hmac_sha256_hex(secret, body)}, body)
    assert replay.status == "duplicate" and replay.runs == []
    assert len(asana.requests) == 1  # a replay reads nothing

    later = asana_event(MILESTONE, field="name", created_at="2026-10-24T09:00:00.000Z")
    again = asana_triggers.asana({"X-Hook-Signature": hmac_sha256_hex(secret, later)}, later)
    [same] = again.runs
    assert same.status == "already_triggered" and same.run_id == run.run_id


def test_asana_deliveries_without_a_valid_signature_are_refused(asana_triggers: Triggers, asana: FakeAsana) -> None:
    body = asana_event(MILESTONE)
    with pytest.raises(WebhookSignatureError, match="no Asana webhook is established"):
        asana_triggers.asana({"X-Hook-Signature": hmac_sha256_hex("x", body)}, body)
    asana_triggers.asana({"X-Hook-Secret": "right"}, b"")
    with pytest.raises(WebhookSignatureError, match="X-Hook-Signature is missing or does not match"):
        asana_triggers.asana({"X-Hook-Signature": hmac_sha256_hex("wrong", body)}, body)
    with pytest.raises(WebhookSignatureError):
        asana_triggers.asana({}, body)
    with pytest.raises(WebhookError, match="already established"):
        asana_triggers.asana({"X-Hook-Secret": "attacker"}, b"")  # a second handshake cannot replace the secret
    with pytest.raises(WebhookError, match="neither 'default' nor a mapped Asana project"):
        asana_triggers.asana({"X-Hook-Secret": "other"}, b"", hook="9999")
    assert asana.requests == []


def test_a_task_moved_to_the_invoice_stage_starts_a_run(tiny: Path, tmp_path: Path, clickup: FakeClickUp) -> None:
    (tiny / "sources.yaml").write_text("clickup:\n  projects: {'123': {client: beta}}\n")
    clickup.tasks["c0j"] = clickup_task("c0j", "Auth hardening", status="Awaiting Invoice")
    settings = settings_for(clickup=clickup, clickup_webhook_secret="cu-secret")
    today = date(2026, 3, 31)
    triggers = Triggers(tiny, tmp_path / "data", opener(tiny, tmp_path / "data", date(2026, 4, 1)),
                        settings=settings, today=lambda: today)
    body = json.dumps(dict(fixture("clickup/webhook_taskStatusUpdated_payload.json"))).encode()
    body = body.replace(b'"in progress"', b'"Awaiting Invoice"')
    result = triggers.clickup({"X-Signature": hmac_sha256_hex("cu-secret", body)}, body)
    [run] = result.runs
    assert (run.client, run.period, run.status) == ("beta", "2026-03", "awaiting_approval")
    assert "moved to 'Awaiting Invoice'" in run.reason
    assert triggers.clickup({"X-Signature": hmac_sha256_hex("cu-secret", body)}, body).status == "duplicate"
    with pytest.raises(WebhookSignatureError):
        triggers.clickup({"X-Signature": "f7bc83f430538424b13298e6aa6"}, body)  # the docs' truncated example


def test_a_jira_issue_done_with_a_milestone_amount_starts_a_run(tiny: Path, tmp_path: Path) -> None:
    (tiny / "sources.yaml").write_text("jira:\n  projects: {EX: {client: acme}}\n"
                                       "  milestone_field: customfield_10042\n")
    triggers = Triggers(tiny, tmp_path / "data", opener(tiny, tmp_path / "data", date(2026, 4, 1)),
                        settings=settings_for(jira_webhook_secret="jira-secret"), today=lambda: date(2026, 4, 1))
    issue = jira_issue("EX-7", "Phase 1 sign-off", status="Done", category="done",
                       resolved="2026-03-27T17:00:00.000+0000", amount=2500)
    body = json.dumps({"timestamp": 1774630800000, "webhookEvent": "jira:issue_updated", "issue": issue}).encode()
    headers = {"X-Hub-Signature": "sha256=" + hmac_sha256_hex("jira-secret", body),
               "X-Atlassian-Webhook-Identifier": "2093741"}
    [run] = triggers.jira(headers, body).runs
    assert (run.client, run.period, run.status) == ("acme", "2026-03", "awaiting_approval")
    retried = triggers.jira({**headers, "X-Atlassian-Webhook-Retry": "1"}, body)
    assert retried.status == "duplicate"
    with pytest.raises(WebhookSignatureError, match="X-Hub-Signature"):
        triggers.jira({"X-Hub-Signature": hmac_sha256_hex("jira-secret", body)}, body)  # no sha256= prefix
    unconfigured = Triggers(tiny, tmp_path / "data", opener(tiny, tmp_path / "data", date(2026, 4, 1)),
                            settings=settings_for())
    with pytest.raises(SourceConfigError, match="INVOICE_AGENT_JIRA_WEBHOOK_SECRET"):
        unconfigured.jira(headers, body)


def test_the_schedule_starts_a_retainer_once_on_its_billing_day(tiny: Path, tmp_path: Path) -> None:
    (tiny / "sources.yaml").write_text("schedule:\n  billing_day: 1\n  clients: {beta: 3}\n")
    triggers = Triggers(tiny, tmp_path / "data", opener(tiny, tmp_path / "data", date(2026, 4, 3)),
                        settings=settings_for())
    assert triggers.due(date(2026, 4, 2)) == []
    [run] = triggers.scheduled(date(2026, 4, 3))
    assert (run.client, run.period, run.status) == ("beta", "2026-03", "awaiting_approval")
    [again] = triggers.scheduled(date(2026, 4, 4))
    assert again.status == "already_triggered" and again.run_id == run.run_id


def test_an_approved_timesheet_asks_for_the_month(tiny: Path) -> None:
    path = tiny / "time_entries.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    for row in rows:
        row["source"], row["source_approved"] = "harvest", "true" if row["client"] == "acme" else "false"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    march = Period.parse("2026-03")
    assert approved_timesheets(tiny, march) == [RunRequest("acme", march, "timesheets of 2026-03 approved in Harvest")]


def test_a_run_that_cannot_start_releases_its_claim(tiny: Path, tmp_path: Path) -> None:
    calls: list[str] = []

    class Failing:
        def start(self, client_id: str, period: Period, request: str) -> Any:
            calls.append(client_id)
            from tools.errors import DomainError

            raise DomainError("the model is unavailable")

    @contextmanager
    def starter() -> Iterator[Failing]:
        yield Failing()

    triggers = Triggers(tiny, tmp_path / "data", starter, settings=settings_for())
    request = RunRequest("acme", Period.parse("2026-03"), "test")
    [first] = triggers.start([request])
    [second] = triggers.start([request])
    assert (first.status, second.status, calls) == ("failed", "failed", ["acme", "acme"])
