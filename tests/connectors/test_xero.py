"""XeroLedger through xero-python, over HTTP, against a fake Xero (Accounting API and identity token endpoint)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.connectors.fakes.base import PROCESS_THEN_HANG, Reply
from tests.connectors.fakes.setup import FAST, connect_xero, store, xero
from tests.connectors.fakes.xero import FakeXero, validation
from tools.connectors.common import NOTE_MARKER, ConnectorError, LedgerAuthError, LedgerUnavailableError
from tools.connectors.credentials import XeroCredentials
from tools.connectors.ledger import Ledger, LedgerError, LedgerRef
from tools.connectors.xero import XeroLedger
from tools.invoices import InvoiceDocument

KEY = "0123456789abcdef0123456789abcdef"
INVOICES = r"/Invoices$"


@pytest.fixture
def fake() -> Iterator[FakeXero]:
    with FakeXero() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def ledger(fake: FakeXero, tmp_path: Path) -> XeroLedger:
    connect_xero(fake, tmp_path)
    return xero(fake, tmp_path)


def test_push_creates_an_accrec_invoice_with_its_contact_items_and_note(
    ledger: XeroLedger, fake: FakeXero, doc: InvoiceDocument
) -> None:
    assert isinstance(ledger, Ledger)
    ref = ledger.push(doc, KEY, run_id="run42", review_url="http://127.0.0.1:8000/review/run42")

    [invoice] = fake.invoices.values()
    assert ref.id == invoice["InvoiceID"] and ref.number == doc.number
    [create] = fake.calls("PUT", INVOICES)
    assert create.header("xero-tenant-id") == fake.tenant and create.header("idempotency-key")
    body = create.json()["Invoices"][0]
    assert body["Type"] == "ACCREC" and body["Status"] == "AUTHORISED" and body["LineAmountTypes"] == "Exclusive"
    assert body["InvoiceNumber"] == doc.number and body["CurrencyCode"] == "GBP"
    assert body["DueDate"] == "/Date(1777593600000)/"  # 2026-05-01 00:00 UTC, as xero-python sends dates
    assert [ln["Description"] for ln in body["LineItems"]] == [
        *(line.description for line in doc.lines), "Discount", "Cap adjustment"]
    assert body["LineItems"][1]["ItemCode"] == "DSN-100"
    assert invoice["Total"] == 780.0 and invoice["TotalTax"] == 130.0
    [contact] = fake.contacts.values()
    assert (contact["Name"], contact["ContactNumber"], contact["EmailAddress"]) == (
        "Acme Industries Ltd", "acme", "ap@acme.example")
    assert [i["Code"] for i in fake.items.values()] == ["DSN-100"]
    [note] = fake.history[invoice["InvoiceID"]]
    assert "review/run42" in note["Details"] and f"{NOTE_MARKER} {KEY}" in note["Details"]
    assert all(r.header("idempotency-key") for r in fake.requests if r.method == "PUT")


def test_pushing_again_returns_the_first_invoice(ledger: XeroLedger, fake: FakeXero, doc: InvoiceDocument,
                                                  tmp_path: Path) -> None:
    first = ledger.push(doc, KEY)
    assert xero(fake, tmp_path).push(doc, KEY) == first
    assert len(fake.invoices) == 1 and len(fake.calls("PUT", INVOICES)) == 1


def test_a_lost_response_is_replayed_by_the_idempotency_key(ledger: XeroLedger, fake: FakeXero,
                                                             doc: InvoiceDocument) -> None:
    fake.script("PUT", INVOICES, PROCESS_THEN_HANG)
    ref = ledger.push(doc, KEY)
    first, second = fake.calls("PUT", INVOICES)
    assert first.header("idempotency-key") == second.header("idempotency-key")
    assert list(fake.invoices) == [ref.id]


def test_an_expired_token_is_refreshed_on_401_and_the_rotated_one_saved(
    ledger: XeroLedger, fake: FakeXero, doc: InvoiceDocument, tmp_path: Path
) -> None:
    before = store(tmp_path).load("xero", XeroCredentials)
    fake.expire_access_tokens()
    ledger.push(doc, KEY)
    assert fake.token_calls == 1 and len(fake.invoices) == 1
    after = store(tmp_path).load("xero", XeroCredentials)
    assert after.refresh_token != before.refresh_token and fake.refresh_tokens[after.refresh_token]
    assert after.access_token in fake.access_tokens and after.expires_at > time.time() + 1000


def test_a_token_past_its_expiry_is_refreshed_before_use(fake: FakeXero, doc: InvoiceDocument,
                                                         tmp_path: Path) -> None:
    credentials = connect_xero(fake, tmp_path)
    stale = credentials.load("xero", XeroCredentials)
    credentials.save("xero", stale.model_copy(update={"expires_at": time.time() - 5}))
    fake.expire_access_tokens()
    xero(fake, tmp_path).push(doc, KEY)
    assert fake.token_calls == 1
    assert not any(r.header("authorization") == f"Bearer {stale.access_token}" for r in fake.requests)


def test_a_revoked_connection_says_to_connect_again(ledger: XeroLedger, fake: FakeXero,
                                                    doc: InvoiceDocument) -> None:
    fake.expire_access_tokens()
    fake.refresh_tokens.clear()
    with pytest.raises(LedgerAuthError, match=r"invalid_grant.*ledger connect xero"):
        ledger.push(doc, KEY)


def test_rate_limiting_is_retried_after_retry_after(ledger: XeroLedger, fake: FakeXero, doc: InvoiceDocument) -> None:
    limited = Reply.json(429, {"Title": "Too Many Requests", "Status": 429},
                         {"Retry-After": "0", "X-Rate-Limit-Problem": "minute"})
    fake.script("PUT", INVOICES, limited, times=2)
    ref = ledger.push(doc, KEY)
    assert len(fake.calls("PUT", INVOICES)) == 3 and list(fake.invoices) == [ref.id]
    fake.script("GET", r"/Invoices/", limited, times=10)
    with pytest.raises(LedgerUnavailableError, match=r"rate limiting"):
        ledger.status(ref)


def test_a_validation_error_quotes_xero(ledger: XeroLedger, fake: FakeXero, doc: InvoiceDocument) -> None:
    fake.script("PUT", INVOICES, Reply.json(400, validation("Account code '200' is not a valid code for this "
                                                            "document.")))
    with pytest.raises(ConnectorError, match=r"Xero said: A validation exception occurred; Account code '200' is "
                                             r"not a valid code for this document\. Correct this"):
        ledger.push(doc, KEY)
    assert fake.invoices == {}


def test_a_server_that_never_answers_times_out_with_nothing_pushed(fake: FakeXero, doc: InvoiceDocument,
                                                                   tmp_path: Path) -> None:
    connect_xero(fake, tmp_path)
    fake.hang_everything = True
    started = time.monotonic()
    with pytest.raises(LedgerUnavailableError, match=rf"did not answer within 0.4 s \({1 + FAST.retries} tries"):
        xero(fake, tmp_path).push(doc, KEY)
    assert time.monotonic() - started < 4 and fake.invoices == {}


def test_contacts_are_matched_by_contact_number_first(ledger: XeroLedger, fake: FakeXero,
                                                      doc: InvoiceDocument) -> None:
    ours = fake.add_contact("Acme Industries Limited (renamed)", "someone@acme.example", number="acme")
    fake.add_contact("Acme Industries Ltd", "")
    ledger.push(doc, KEY)
    [invoice] = fake.invoices.values()
    assert invoice["Contact"]["ContactID"] == ours["ContactID"] and len(fake.contacts) == 2


def test_two_contacts_matching_by_name_and_email_are_refused(ledger: XeroLedger, fake: FakeXero,
                                                             doc: InvoiceDocument) -> None:
    fake.add_contact("Acme Industries Ltd", "")
    fake.add_contact("Acme AP", "ap@acme.example")
    with pytest.raises(LedgerError, match=r"2 customers match"):
        ledger.push(doc, KEY)
    assert fake.invoices == {}


def test_send_status_and_payments(ledger: XeroLedger, fake: FakeXero, doc: InvoiceDocument) -> None:
    ref = ledger.push(doc, KEY)
    assert ledger.status(ref) == "pushed"
    ledger.send(ref, doc)
    ledger.send(ref, doc)
    assert fake.emails == [ref.id] and ledger.status(ref) == "sent"
    payment = fake.add_payment(ref.id, doc.total, date(2026, 4, 20))
    assert ledger.status(ref) == "paid"
    [paid] = ledger.payments_since(date(2026, 4, 1))
    assert (paid.id, paid.date, paid.amount, paid.currency, paid.invoice_ids, paid.invoice_numbers) == (
        payment["PaymentID"], date(2026, 4, 20), doc.total, "GBP", [ref.id], [doc.number])
    assert ledger.payments_since(date(2026, 4, 21)) == []
    assert "Demo Company (UK)" in ledger.check()


def test_a_payment_xero_python_cannot_read_is_a_clear_error(ledger: XeroLedger, fake: FakeXero,
                                                            doc: InvoiceDocument) -> None:
    ref = ledger.push(doc, KEY)
    fake.add_payment(ref.id, doc.total, date(2026, 4, 20), batch=True)  # Xero's own example: IsReconciled "false"
    with pytest.raises(ConnectorError, match=r"xero-python cannot read"):
        ledger.payments_since(date(2026, 4, 1))


def test_an_unknown_invoice_is_not_found(ledger: XeroLedger) -> None:
    from tools.connectors.ledger import LedgerRefNotFoundError

    with pytest.raises(LedgerRefNotFoundError):
        ledger.status(LedgerRef(ledger="xero", id="00000000-0000-0000-0000-000000000000", number="X"))
