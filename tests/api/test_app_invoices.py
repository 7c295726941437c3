"""GET /invoices, /invoices/{id} and its PDF: what an approved draft became."""

from __future__ import annotations

from api.settings import Settings
from tests.api.conftest import Api


def approved_invoice(api: Api) -> str:
    run_id = api.waiting_run()
    invoice_id: str = api.client.post(f"/approvals/{run_id}/approve", headers=api.approver).json()["invoice_id"]
    return invoice_id


def test_an_approved_draft_is_listed_as_a_sent_invoice_with_its_lines_and_totals(api: Api) -> None:
    invoice_id = approved_invoice(api)

    listed = api.client.get("/invoices", headers=api.viewer).json()
    one = api.client.get(f"/invoices/{invoice_id}", headers=api.viewer).json()

    assert listed["count"] == 1 and listed["data"] == [one]
    assert one["number"] == "TS-2026-0001" and one["status"] == "sent" and one["ledger"] == "local"
    assert one["totals"]["total"] == "780.00" and one["currency"] == "GBP" and one["due_date"] == "2026-05-01"
    assert [ln["amount"] for ln in one["lines"]] == ["120.00", "306.25", "300.00", "50.00"]
    assert one["lines"][1]["entry_ids"] == ["e1", "e7"] and one["pdf_url"] == f"/invoices/{invoice_id}/pdf"
    assert api.client.get("/invoices?status=sent&client=acme", headers=api.viewer).json()["count"] == 1
    assert api.client.get("/invoices?status=void", headers=api.viewer).json()["count"] == 0
    assert api.client.get("/invoices?status=lost", headers=api.viewer).status_code == 422


def test_the_pdf_is_the_invoice_the_client_was_sent(api: Api, settings: Settings) -> None:
    invoice_id = approved_invoice(api)

    response = api.client.get(f"/invoices/{invoice_id}/pdf", headers=api.viewer)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'inline; filename="TS-2026-0001.pdf"'
    assert response.content.startswith(b"%PDF-")
    assert response.content == (settings.data_dir / "invoices" / "TS-2026-0001.pdf").read_bytes()


def test_an_unknown_invoice_is_a_404(api: Api) -> None:
    for path in ("/invoices/0123abcd", "/invoices/0123abcd/pdf"):
        response = api.client.get(path, headers=api.viewer)

        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": "no invoice '0123abcd' in the store"}
