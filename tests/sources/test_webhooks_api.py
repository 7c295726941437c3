"""POST /webhooks/{asana,clickup,jira}: the router on its own, its `get_triggers` dependency overridden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routers import webhooks
from tests.sources.conftest import LUMEN_PROJECT, MILESTONE, asana_event, opener, settings_for
from tests.sources.fakes import FakeAsana, asana_task, fixture, jira_issue
from tools.sources.triggers import Triggers, hmac_sha256_hex


@pytest.fixture
def client(lumen: Path, tmp_path: Path, asana: FakeAsana) -> TestClient:
    asana.tasks[MILESTONE] = asana_task(MILESTONE, "Milestone 3: Patient portal beta build", project=LUMEN_PROJECT,
                                        completed_at="2026-10-23T16:05:00.000Z", amount="45000.00")
    from datetime import date

    triggers = Triggers(lumen, tmp_path / "data", opener(lumen, tmp_path / "data", date(2026, 11, 1)),
                        settings=settings_for(asana=asana, jira_webhook_secret="jira-secret"),
                        today=lambda: date(2026, 11, 1))
    app = FastAPI()
    app.include_router(webhooks.router)
    app.dependency_overrides[webhooks.get_triggers] = lambda: triggers
    return TestClient(app)


def test_asana_handshake_then_a_signed_milestone_then_its_replay(client: TestClient) -> None:
    secret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
    shake = client.post("/webhooks/asana", headers={"X-Hook-Secret": secret})
    assert shake.status_code == 200 and shake.headers["X-Hook-Secret"] == secret

    body = asana_event(MILESTONE)
    signed = {"X-Hook-Signature": hmac_sha256_hex(secret, body), "Content-Type": "application/json"}
    first = client.post("/webhooks/asana", content=body, headers=signed)
    assert first.status_code == 200
    [run] = first.json()["runs"]
    assert (run["client"], run["period"], run["status"]) == ("lumen", "2026-10", "awaiting_approval")

    replay = client.post("/webhooks/asana", content=body, headers=signed)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate" and replay.json()["runs"] == []


def test_a_bad_signature_is_401_and_starts_nothing(client: TestClient, asana: FakeAsana) -> None:
    client.post("/webhooks/asana", headers={"X-Hook-Secret": "right"})
    body = asana_event(MILESTONE)
    refused = client.post("/webhooks/asana", content=body, headers={"X-Hook-Signature": hmac_sha256_hex("no", body)})
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    assert "X-Hook-Signature" in refused.json()["detail"]
    assert asana.requests == []
    again = client.post("/webhooks/asana", headers={"X-Hook-Secret": "attacker"})
    assert again.status_code == 403 and "X-Hook-Secret" not in again.headers


def test_jira_signed_with_the_websub_header(client: TestClient, lumen: Path) -> None:
    (lumen / "sources.yaml").write_text("jira:\n  projects: {EX: {client: northwind}}\n")
    body = json.dumps({"webhookEvent": "jira:issue_updated",
                       "issue": jira_issue("EX-1", "Design review", status="Awaiting Invoice", category="done",
                                           resolved="2026-10-30T17:00:00.000+0000")}).encode()
    ok = client.post("/webhooks/jira", content=body, headers={
        "X-Hub-Signature": "sha256=" + hmac_sha256_hex("jira-secret", body),
        "X-Atlassian-Webhook-Identifier": "77"})
    assert ok.status_code == 200
    [run] = ok.json()["runs"]
    assert (run["client"], run["period"], run["status"]) == ("northwind", "2026-10", "awaiting_approval")
    assert "moved to 'Awaiting Invoice'" in run["reason"]
    bad = client.post("/webhooks/jira", content=body, headers={"X-Hub-Signature": "sha256=00"})
    assert bad.status_code == 401


def test_clickup_without_a_configured_secret_is_503_and_a_malformed_body_422(client: TestClient) -> None:
    body = json.dumps(fixture("clickup/webhook_taskStatusUpdated_payload.json")).encode()
    unconfigured = client.post("/webhooks/clickup", content=body, headers={"X-Signature": "00"})
    assert unconfigured.status_code == 503 and "INVOICE_AGENT_CLICKUP_WEBHOOK_SECRET" in unconfigured.json()["detail"]
    junk = b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "EX-1", "fields": {}}}'
    malformed = client.post("/webhooks/jira", content=junk, headers={
        "X-Hub-Signature": "sha256=" + hmac_sha256_hex("jira-secret", junk)})
    assert malformed.status_code == 422 and "body.issue.fields.status: missing" in malformed.json()["detail"]
