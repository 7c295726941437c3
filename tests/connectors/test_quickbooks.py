"""QuickBooksLedger through python-quickbooks and intuit-oauth, over HTTP, against a fake QuickBooks Online."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.connectors.fakes.base import HANG, PROCESS_THEN_HANG, Reply, fixture
from tests.connectors.fakes.quickbooks import THROTTLED_3001, FakeQuickBooks
from tests.connectors.fakes.setup import FAST, connect_quickbooks, quickbooks, store
from tools.connectors.common import NOTE_MARKER, LedgerAuthError, LedgerUnavailableError
from tools.connectors.credentials import QuickBooksCredentials
from tools.connectors.ledger import Ledger, LedgerError, LedgerRef, LedgerRefNotFoundError
from tools.connectors.quickbooks import QuickBooksLedger
from tools.invoices import InvoiceDocument

KEY = "0123456789abcdef0123456789abcdef"
INVOICE = r"/invoice$"


@pytest.fixture
def fake() -> Iterator[FakeQuickBooks]:
    with FakeQuickBooks() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def ledger(fake: FakeQuickBooks, tmp_path: Path) -> QuickBooksLedger:
    connect_quickbooks(fake, tmp_path)
    return quickbooks(fake, tmp_path)


def test_it_is_a_ledger(ledger: QuickBooksLedger) -> None:
    assert isinstance(ledger, Ledger) and ledger.name == "quickbooks"


def test_push_creates_the_customer_items_and_invoice_with_request_ids(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument
) -> None:
    ref = ledger.push(doc, KEY, run_id="run42", review_url="http://127.0.0.1:8000/review/run42")

    [invoice] = fake.invoices.values()
    assert ref == LedgerRef(ledger="quickbooks", id=invoice["Id"], number=doc.number,
                            url=f"https://app.sandbox.qbo.intuit.com/app/invoice?txnId={invoice['Id']}")
    [created] = fake.calls("POST", INVOICE)
    assert created.q("minorversion") == "75" and (created.q("requestid") or "").startswith("inv-")
    assert len(created.q("requestid") or "") <= 50  # QuickBooks' limit
    body = created.json()
    assert body["DocNumber"] == doc.number and body["TxnDate"] == "2026-04-01" and body["DueDate"] == "2026-05-01"
    assert body["CurrencyRef"] == {"value": "GBP"} and body["BillEmail"] == {"Address": "ap@acme.example"}
    assert "Run run42." in body["PrivateNote"] and "review/run42" in body["PrivateNote"]
    assert f"{NOTE_MARKER} {KEY}" in body["PrivateNote"]
    sales = [ln for ln in body["Line"] if ln["DetailType"] == "SalesItemLineDetail"]
    assert [(ln["Description"], ln["SalesItemLineDetail"]["Qty"], ln["SalesItemLineDetail"]["UnitPrice"],
             ln["Amount"]) for ln in sales] == [(line.description, float(line.quantity), float(line.unit_price),
                                                 float(line.amount)) for line in doc.lines]
    items = {i["Name"]: i["Id"] for i in fake.items.values()}
    assert set(items) == {"DSN-100", "Services"}
    assert sales[1]["SalesItemLineDetail"]["ItemRef"]["value"] == items["DSN-100"]
    [discount] = [ln for ln in body["Line"] if ln["DetailType"] == "DiscountLineDetail"]
    assert discount["Amount"] == float(-(doc.discount + doc.cap_adjustment))
    assert body["TxnTaxDetail"]["TotalTax"] == float(doc.tax)
    assert invoice["TotalAmt"] == 780.0
    [customer] = fake.customers.values()
    assert customer["DisplayName"] == "Acme Industries Ltd" and body["CustomerRef"]["value"] == customer["Id"]
    creates = [r for r in fake.requests if r.method == "POST" and not r.path.endswith("/query")]
    assert all(r.q("requestid") for r in creates)


def test_pushing_the_same_key_again_returns_the_first_invoice(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument, tmp_path: Path
) -> None:
    first = ledger.push(doc, KEY)
    again = quickbooks(fake, tmp_path).push(doc, KEY)  # a new process: found by DocNumber and our key
    assert again == first
    assert len(fake.invoices) == 1 and len(fake.calls("POST", INVOICE)) == 1


def test_a_lost_response_is_retried_with_the_same_request_id_and_returns_the_first_invoice(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument
) -> None:
    fake.script("POST", INVOICE, PROCESS_THEN_HANG)  # QuickBooks creates it, the answer never arrives
    ref = ledger.push(doc, KEY)
    first, second = fake.calls("POST", INVOICE)
    assert first.q("requestid") == second.q("requestid")
    assert list(fake.invoices) == [ref.id]


def test_a_duplicate_request_id_gets_the_first_response_not_a_second_invoice(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument, tmp_path: Path
) -> None:
    ref = ledger.push(doc, KEY)
    fake.invoices[ref.id]["DocNumber"] = "renumbered"  # so the DocNumber check cannot find it: only requestid can
    again = quickbooks(fake, tmp_path).push(doc, KEY)
    first, second = fake.calls("POST", INVOICE)
    assert first.q("requestid") == second.q("requestid")
    assert again.id == ref.id and len(fake.invoices) == 1


def test_an_expired_token_is_refreshed_once_and_the_rotated_refresh_token_is_saved(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument, tmp_path: Path
) -> None:
    before = store(tmp_path).load("quickbooks", QuickBooksCredentials)
    fake.expire_access_tokens()
    ref = ledger.push(doc, KEY)
    assert fake.token_calls == 1 and fake.requests[0].path.endswith("/query")
    statuses = [r.path for r in fake.requests[:4]]
    assert statuses[1].startswith("/.well-known/") and statuses[2] == "/oauth2/v1/tokens/bearer"
    after = store(tmp_path).load("quickbooks", QuickBooksCredentials)
    assert after.refresh_token != before.refresh_token and fake.refresh_tokens[after.refresh_token]
    assert after.access_token in fake.access_tokens and after.access_expires_at > time.time() + 3000
    assert not fake.refresh_tokens[before.refresh_token]  # spent: only the saved one works now
    assert quickbooks(fake, tmp_path).status(ref) == "pushed" and fake.token_calls == 1  # reused, not refreshed


def test_concurrent_401s_refresh_once_per_realm(fake: FakeQuickBooks, doc: InvoiceDocument, tmp_path: Path) -> None:
    connect_quickbooks(fake, tmp_path)
    ref = quickbooks(fake, tmp_path).push(doc, KEY)
    fake.expire_access_tokens()
    results: list[str] = []
    ledgers = [quickbooks(fake, tmp_path) for _ in range(4)]  # as if four processes

    def read(one: QuickBooksLedger) -> None:
        results.append(one.status(ref))

    threads = [threading.Thread(target=read, args=(one,)) for one in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["pushed"] * 4
    assert fake.token_calls == 1  # a rotated refresh token used twice would have locked everyone out


def test_a_revoked_connection_says_to_connect_again(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument
) -> None:
    fake.expire_access_tokens()
    fake.refresh_tokens.clear()
    with pytest.raises(LedgerAuthError, match=r"invalid_grant.*invoice-agent ledger connect quickbooks"):
        ledger.push(doc, KEY)
    assert fake.invoices == {}


def test_throttling_is_retried_with_backoff(ledger: QuickBooksLedger, fake: FakeQuickBooks,
                                            doc: InvoiceDocument) -> None:
    fake.script("POST", INVOICE, Reply.json(429, THROTTLED_3001, {"Retry-After": "0"}), times=2)
    ref = ledger.push(doc, KEY)
    assert len(fake.calls("POST", INVOICE)) == 3 and list(fake.invoices) == [ref.id]


@pytest.mark.parametrize("body", [THROTTLED_3001, fixture("quickbooks/fault_429_throttled.json")],
                         ids=["3001", "fault-429"])
def test_throttling_that_does_not_stop_is_a_clear_unavailable_error(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument, body: dict[str, object]
) -> None:
    fake.script("POST", INVOICE, Reply.json(429, body), times=10)
    with pytest.raises(LedgerUnavailableError, match=r"throttling.*Nothing was recorded as pushed"):
        ledger.push(doc, KEY)
    assert len(fake.calls("POST", INVOICE)) == 1 + FAST.retries and fake.invoices == {}


def test_a_fault_becomes_our_error_with_quickbooks_words_and_what_to_do(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument
) -> None:
    fake.script("POST", INVOICE, Reply.json(400, fixture("quickbooks/fault_2500_invalid_reference.json")))
    with pytest.raises(LedgerError) as caught:
        ledger.push(doc, KEY)
    message = str(caught.value)
    assert "Invalid Reference Id (code 2500)" in message and "made inactive" in message
    assert "reactivate it" in message and doc.number in message


def test_a_server_that_never_answers_times_out_with_a_clear_error_and_nothing_pushed(
    fake: FakeQuickBooks, doc: InvoiceDocument, tmp_path: Path
) -> None:
    connect_quickbooks(fake, tmp_path)
    fake.hang_everything = True
    started = time.monotonic()
    with pytest.raises(LedgerUnavailableError, match=r"did not answer within 0.4 s \(3 tries.*safe"):
        quickbooks(fake, tmp_path).push(doc, KEY)
    assert time.monotonic() - started < 4
    assert fake.invoices == {} and fake.customers == {}


def test_a_send_that_times_out_is_checked_and_never_repeated_blindly(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument
) -> None:
    ref = ledger.push(doc, KEY)
    fake.script("POST", r"/send$", HANG)  # no answer, nothing sent
    with pytest.raises(LedgerUnavailableError, match=r"does not show the invoice as emailed"):
        ledger.send(ref, doc)
    assert fake.sends == [] and len(fake.calls("POST", r"/send$")) == 1  # not retried: a send is not replayable
    fake.script("POST", r"/send$", PROCESS_THEN_HANG)  # sent, but the answer is lost
    ledger.send(ref, doc)  # QuickBooks shows EmailSent when asked: done
    ledger.send(ref, doc)
    assert fake.sends == [(ref.id, "ap@acme.example")] and len(fake.calls("POST", r"/send$")) == 2


def test_an_existing_customer_is_found_by_name_and_not_duplicated(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument
) -> None:
    existing = fake.add_customer("Acme Industries Ltd", "ap@acme.example")
    ledger.push(doc, KEY)
    assert list(fake.customers) == [existing["Id"]] and fake.calls("POST", r"/customer$") == []
    [invoice] = fake.invoices.values()
    assert invoice["CustomerRef"]["value"] == existing["Id"]


def test_two_customers_matching_by_name_and_email_are_refused_not_guessed(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument
) -> None:
    fake.add_customer("Acme Industries Ltd", "old@acme.example")
    fake.add_customer("Acme (accounts payable)", "ap@acme.example")
    with pytest.raises(LedgerError, match=r"2 customers match client 'acme'.*Nothing was created"):
        ledger.push(doc, KEY)
    assert len(fake.customers) == 2 and fake.invoices == {}


def test_a_number_already_used_by_someone_else_is_refused(
    ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument
) -> None:
    ledger.push(doc, KEY)
    with pytest.raises(LedgerError, match=r"numbered TS-2026-0042.*did not create"):
        ledger.push(doc, "another-run-key")
    assert len(fake.invoices) == 1


def test_send_status_and_payments(ledger: QuickBooksLedger, fake: FakeQuickBooks, doc: InvoiceDocument) -> None:
    ref = ledger.push(doc, KEY)
    assert ledger.status(ref) == "pushed"
    ledger.send(ref, doc)
    ledger.send(ref, doc)  # again: QuickBooks shows EmailSent, nothing is sent twice
    assert fake.sends == [(ref.id, "ap@acme.example")] and ledger.status(ref) == "sent"
    [send] = fake.calls("POST", r"/send$")
    assert send.header("content-type") == "application/octet-stream" and send.q("sendTo") == "ap@acme.example"
    payment = fake.add_payment(ref.id, doc.total, date(2026, 4, 20))
    assert ledger.status(ref) == "paid"
    [paid] = ledger.payments_since(date(2026, 4, 1))
    assert (paid.id, paid.amount, paid.currency, paid.invoice_ids, paid.invoice_numbers) == (
        payment["Id"], doc.total, "GBP", [ref.id], [doc.number])
    assert ledger.payments_since(date(2026, 4, 21)) == []
    with pytest.raises(LedgerRefNotFoundError):
        ledger.status(LedgerRef(ledger="quickbooks", id="999999", number="X"))


def test_check_names_the_company(ledger: QuickBooksLedger) -> None:
    assert "Sandbox Company_GB_1" in ledger.check()
