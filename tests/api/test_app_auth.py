"""Bearer tokens with roles: 401 without a live token, 403 for a viewer deciding, each with a body that helps."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import text

from api.cli import main
from api.settings import Settings
from tests.api.conftest import Api


def test_a_request_without_a_token_is_401_and_says_how_to_get_one(api: Api) -> None:
    for headers in ({}, {"Authorization": "Basic YW5uOnNlY3JldA=="}, {"Authorization": "Bearer"}):
        response = api.client.get("/approvals", headers=headers)

        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        body = response.json()
        assert body["error"] == "unauthorized"
        assert "Authorization: Bearer <token>" in body["detail"] and "invoice-agent token create" in body["detail"]


def test_an_unknown_or_revoked_token_is_401(api: Api) -> None:
    secret, record = api.service.tokens.create("approver", "leaver@firm")
    assert api.client.get("/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    api.service.tokens.revoke(record.id)

    for token in (secret, "iat_not-a-token", "something-else"):
        response = api.client.get("/approvals", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 401
        assert response.json() == {"error": "unauthorized", "detail": "this token is unknown or was revoked: ask an "
                                   "administrator for a new one ('invoice-agent token create')"}
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_viewer_reads_everything_but_cannot_start_runs_or_decide(api: Api) -> None:
    run_id = api.waiting_run()

    assert api.client.get("/approvals", headers=api.viewer).json()["count"] == 1
    assert api.client.get(f"/drafts/{run_id}", headers=api.viewer).status_code == 200
    refused = [
        api.client.post(f"/approvals/{run_id}/approve", headers=api.viewer),
        api.client.post(f"/approvals/{run_id}/request-changes", json={"drop": ["e7"]}, headers=api.viewer),
        api.client.post(f"/approvals/{run_id}/reject", json={"reason": "no"}, headers=api.viewer),
        api.client.post("/runs", json={"text": "invoice Beta for March"}, headers=api.viewer),
    ]

    assert [r.status_code for r in refused] == [403] * 4
    assert refused[0].json() == {
        "error": "forbidden",
        "detail": f"token 'vic@firm' is a viewer token: POST /approvals/{run_id}/approve needs an approver token "
                  "('invoice-agent token create --role approver')"}
    assert api.run(run_id)["approval"]["status"] == "pending"


def test_health_needs_no_token_and_me_names_the_token(api: Api) -> None:
    health = api.client.get("/health")
    me = api.client.get("/me", headers=api.approver)

    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["model"] == "offline"
    assert me.json()["label"] == "ann@firm" and me.json()["role"] == "approver"


def test_tokens_are_stored_as_hashes_only(api: Api) -> None:
    secret, record = api.service.tokens.create("viewer", "auditor@firm")

    with api.service.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_tokens WHERE id = :id"), {"id": record.id}).mappings().all()

    [row] = rows
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(value) for value in row.values()}


def test_token_create_prints_the_token_alone_and_the_server_accepts_it(
    capsys: pytest.CaptureFixture[str], settings: Settings, make_api: Callable[..., Api]
) -> None:
    data = str(settings.data_dir)
    assert main(["token", "create", "--role", "approver", "--label", "ann@firm", "--data", data]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert out == f"{secret}\n" and secret.startswith("iat_") and "approver for 'ann@firm'" in err

    api = make_api()
    me = api.client.get("/me", headers={"Authorization": f"Bearer {secret}"})

    assert me.status_code == 200 and me.json()["label"] == "ann@firm" and me.json()["role"] == "approver"
    assert main(["token", "revoke", me.json()["token_id"], "--data", data]) == 0
    assert api.client.get("/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert main(["token", "list", "--data", data]) == 0
    listed = capsys.readouterr().out
    assert "ann@firm" in listed and "revoked" in listed and secret not in listed
