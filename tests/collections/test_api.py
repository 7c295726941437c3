"""GET /metrics/ar and the payments queue over HTTP, on the demo after a tick (routers included as the lead will)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routers import collections, metrics
from api.settings import Settings
from graph.collections import run_tick


@pytest.fixture
def client(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    run_tick(settings, date(2026, 10, 31))
    app = create_app(settings)
    app.include_router(metrics.router)
    app.include_router(collections.router)
    with TestClient(app) as test_client:
        service = app.state.service
        approver, _ = service.tokens.create("approver", "ann@firm")
        viewer, _ = service.tokens.create("viewer", "vic@firm")
        yield test_client, {"Authorization": f"Bearer {approver}"}, {"Authorization": f"Bearer {viewer}"}


def test_ar_metrics_are_served_as_of_a_day(client: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    http, _, viewer = client

    response = http.get("/metrics/ar", params={"as_of": "2026-10-31"}, headers=viewer)

    assert response.status_code == 200, response.text
    body = response.json()
    totals = {t["currency"]: t for t in body["totals"]}
    assert totals["GBP"]["open_balance"] == "156463.87"
    assert totals["GBP"]["dso_days"] == "47.8"
    assert body["sent_on_time"] == {"on_time": 23, "total": 23, "share": 1.0}
    assert {c["client"] for c in body["clients"]} >= {"northwind", "brightwave"}
    assert set(body["clients"][0]["aging"]) == {"current", "1-30", "31-60", "61-90", "over_90"}


def test_ar_metrics_need_a_token(client: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    http, _, _ = client

    assert http.get("/metrics/ar").status_code == 401


def test_the_queue_is_listed_and_an_approver_resolves_it(
    client: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    http, approver, viewer = client

    queue = http.get("/payments/queue", headers=viewer).json()
    assert [p["payment_id"] for p in queue["data"]] == ["pmt-007"]

    assert http.post("/payments/pmt-007/resolve", json={"invoice_numbers": ["INV-2026-0012"]},
                     headers=viewer).status_code == 403
    wrong = http.post("/payments/pmt-007/resolve", json={"invoice_numbers": ["INV-2026-0018"]}, headers=approver)
    assert wrong.status_code == 422 and "USD" in wrong.json()["detail"]

    done = http.post("/payments/pmt-007/resolve", json={"invoice_numbers": ["INV-2026-0012"]}, headers=approver)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["invoice_numbers"], done.json()["decided_by"]) == (
        "resolved", ["INV-2026-0012"], "ann@firm")
    again = http.post("/payments/pmt-007/resolve", json={"invoice_numbers": ["INV-2026-0012"]}, headers=approver)
    assert again.status_code == 409
    assert http.get("/payments/queue", headers=viewer).json()["count"] == 0
    assert http.get("/payments/nope", headers=viewer).status_code == 404


def test_escalations_and_reminders_are_listed(client: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    http, _, viewer = client

    escalations = http.get("/collections/escalations", headers=viewer).json()
    reminders = http.get("/collections/reminders", headers=viewer).json()

    assert [(e["invoice_number"], e["status"]) for e in escalations["data"]] == [("INV-2026-0012", "sent")]
    assert {r["stage"]: r["status"] for r in reminders["data"] if r["invoice_number"] == "INV-2026-0012"} == {
        "before-3": "skipped", "due": "skipped", "after-7": "skipped", "after-14": "sent", "escalation": "sent"}
