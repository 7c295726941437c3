"""StripeLedger through the stripe SDK (StripeClient), over HTTP, against a fake Stripe API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.connectors.fakes.base import HANG, PROCESS_THEN_HANG
from tests.connectors.fakes.setup import connect_stripe, stripe_ledger
from tests.connectors.fakes.stripe import FakeStripe, error
from tools.connectors.common import LedgerAuthError, LedgerUnavailableError
from tools.connectors.credentials import StripeCredentials
from tools.connectors.ledger import Ledger, LedgerError, LedgerRef, LedgerRefNotFoundError
from tools.connectors.stripe_ledger import KEY as META_KEY
from tools.connectors.stripe_ledger import StripeLedger
from tools.invoices import InvoiceDocument

KEY = "0123456789abcdef0123456789abcdef"
ITEMS = r"/v1/invoiceitems$"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def ledger(fake: FakeStripe, tmp_path: Path) -> StripeLedger:
    connect_stripe(fake, tmp_path)
    return stripe_ledger(fake, tmp_path)


def test_push_creates_a_draft_invoice_with_items_and_tax(ledger: StripeLedger, fake: FakeStripe,
                                                         doc: InvoiceDocument) -> None:
    assert isinstance(ledger, Ledger)
    ref = ledger.push(doc, KEY, run_id="run42", review_url="http://127.0.0.1:8000/review/run42")

    [invoice] = fake.invoices.values()
    assert ref == LedgerRef(ledger="stripe", id=invoice["id"], number=doc.number,
                            url=f"https://dashboard.stripe.com/invoices/{invoice['id']}")
    assert invoice["status"] == "draft" and invoice["collection_method"] == "send_invoice"
    assert invoice["currency"] == "gbp" and invoice["number"] == doc.number
    assert invoice["metadata"]["invoice_agent_due_date"] == "2026-05-01"
    assert invoice["metadata"][META_KEY] == KEY and "review/run42" in invoice["metadata"]["invoice_agent_note"]
    assert (invoice["subtotal"], invoice["total"]) == (65000, 78000)  # 776.25 - 77.63 - 48.62, + 20% tax
    items = sorted(fake.items.values(), key=lambda i: int(i["metadata"]["invoice_agent_line"]))
    assert [(i["description"], i["amount"]) for i in items] == [
        ("Discovery & workshops", 12000), ("Design", 30625), ("Development", 30000), ("Maintenance", 5000),
        ("Discount", -7763), ("Cap adjustment", -4862)]
    assert items[1]["quantity_decimal"] == "1.75" and items[1]["metadata"]["code"] == "DSN-100"
    [rate] = fake.tax_rates.values()
    assert rate["percentage"] == 20.0 and rate["inclusive"] is False
    posts = [r for r in fake.requests if r.method == "POST"]
    assert all(r.header("idempotency-key") for r in posts)
    [customer] = fake.customers.values()
    assert customer["metadata"] == {"invoice_agent_client": "acme"} and customer["email"] == "ap@acme.example"


def test_the_due_date_is_ours_when_it_is_in_the_future_and_full_terms_from_today_when_past(
    ledger: StripeLedger, fake: FakeStripe, doc: InvoiceDocument
) -> None:
    today = datetime.now(UTC).date()
    future = doc.model_copy(update={"issue_date": today, "due_date": today + timedelta(days=30)})
    ledger.push(future, KEY)
    [create] = fake.calls("POST", r"/v1/invoices$")
    assert create.body.decode().count("due_date=") == 1 and "days_until_due" not in create.body.decode()
    [invoice] = fake.invoices.values()
    assert invoice["due_date"] == int(datetime.combine(today + timedelta(days=30), datetime.max.time(),
                                                       tzinfo=UTC).timestamp())
    past = doc.model_copy(update={"number": "TS-2026-0043"})  # due 2026-05-01: Stripe refuses past due dates
    ledger.push(past, "another-key")
    second = fake.calls("POST", r"/v1/invoices$")[-1].body.decode()
    assert "days_until_due=30" in second and "&due_date=" not in second


def test_pushing_again_finds_the_invoice_and_creates_nothing(ledger: StripeLedger, fake: FakeStripe,
                                                            doc: InvoiceDocument, tmp_path: Path) -> None:
    first = ledger.push(doc, KEY)
    posts = len([r for r in fake.requests if r.method == "POST"])
    assert stripe_ledger(fake, tmp_path).push(doc, KEY) == first
    assert len([r for r in fake.requests if r.method == "POST"]) == posts
    assert len(fake.invoices) == 1 and len(fake.items) == 6 and len(fake.customers) == 1


def test_a_push_that_died_half_way_is_completed_without_duplicates(ledger: StripeLedger, fake: FakeStripe,
                                                                   doc: InvoiceDocument, tmp_path: Path) -> None:
    fake.script("POST", ITEMS, error(500, "An unknown error occurred", kind="api_error"), times=10)
    fake.requests.clear()
    with pytest.raises(LedgerUnavailableError, match=r"Nothing was recorded as pushed"):
        ledger.push(doc, KEY)
    fake._script.clear()
    ref = stripe_ledger(fake, tmp_path).push(doc, KEY)
    assert len(fake.invoices) == 1 and len(fake.items) == 6 and fake.invoices[ref.id]["total"] == 78000


def test_a_lost_response_is_replayed_by_the_idempotency_key(ledger: StripeLedger, fake: FakeStripe,
                                                             doc: InvoiceDocument) -> None:
    fake.script("POST", r"/v1/invoices$", PROCESS_THEN_HANG)
    ref = ledger.push(doc, KEY)
    first, second = fake.calls("POST", r"/v1/invoices$")
    assert first.header("idempotency-key") == second.header("idempotency-key")
    assert list(fake.invoices) == [ref.id]


def test_send_finalizes_and_sends_once(ledger: StripeLedger, fake: FakeStripe, doc: InvoiceDocument) -> None:
    ref = ledger.push(doc, KEY)
    assert ledger.status(ref) == "pushed"
    ledger.send(ref, doc)
    ledger.send(ref, doc)
    assert fake.sent == [ref.id] and fake.invoices[ref.id]["status"] == "open"
    assert ledger.status(ref) == "sent"
    fake.pay(ref.id, at=int(datetime(2026, 4, 20, 12, tzinfo=UTC).timestamp()))
    assert ledger.status(ref) == "paid"
    [paid] = ledger.payments_since(date(2026, 4, 1))
    assert (paid.date, paid.amount, paid.currency, paid.invoice_ids, paid.invoice_numbers) == (
        date(2026, 4, 20), doc.total, "GBP", [ref.id], [doc.number])
    assert ledger.payments_since(date(2026, 4, 21)) == []


def test_rate_limiting_is_retried(ledger: StripeLedger, fake: FakeStripe, doc: InvoiceDocument) -> None:
    fake.script("POST", r"/v1/invoices$", error(429, "Request rate limit exceeded.", kind="invalid_request_error",
                                                code="rate_limit"), times=2)
    ref = ledger.push(doc, KEY)
    assert len(fake.calls("POST", r"/v1/invoices$")) == 3 and list(fake.invoices) == [ref.id]


def test_a_wrong_key_says_to_connect_again(fake: FakeStripe, doc: InvoiceDocument, tmp_path: Path) -> None:
    credentials = connect_stripe(fake, tmp_path)
    credentials.save("stripe", StripeCredentials(api_key="sk_test_revoked"))
    with pytest.raises(LedgerAuthError, match=r"Invalid API Key.*ledger connect stripe"):
        stripe_ledger(fake, tmp_path).push(doc, KEY)


def test_a_server_that_never_answers_times_out_with_nothing_pushed(fake: FakeStripe, doc: InvoiceDocument,
                                                                   tmp_path: Path) -> None:
    connect_stripe(fake, tmp_path)
    fake.script("GET", r".*", HANG, times=100)
    started = time.monotonic()
    with pytest.raises(LedgerUnavailableError, match=r"did not answer"):
        stripe_ledger(fake, tmp_path).push(doc, KEY)
    assert time.monotonic() - started < 8 and fake.invoices == {} and fake.customers == {}


def test_an_invoice_number_used_by_another_invoice_is_refused(ledger: StripeLedger, fake: FakeStripe,
                                                              doc: InvoiceDocument) -> None:
    ledger.push(doc, KEY)
    with pytest.raises(LedgerError, match=r"numbered TS-2026-0042"):
        ledger.push(doc, "another-key")
    assert len(fake.invoices) == 1


def test_a_customer_is_matched_by_metadata_then_email(ledger: StripeLedger, fake: FakeStripe,
                                                      doc: InvoiceDocument) -> None:
    ours = fake.add_customer("Acme (renamed)", "billing@acme.example", {"invoice_agent_client": "acme"})
    fake.add_customer("Acme Industries Ltd", "ap@acme.example")
    ledger.push(doc, KEY)
    [invoice] = fake.invoices.values()
    assert invoice["customer"] == ours["id"] and len(fake.customers) == 2


def test_two_customers_matching_by_name_and_email_are_refused(ledger: StripeLedger, fake: FakeStripe,
                                                              doc: InvoiceDocument) -> None:
    fake.add_customer("Acme Industries Ltd")
    fake.add_customer("Acme AP", "ap@acme.example")
    with pytest.raises(LedgerError, match=r"2 customers match"):
        ledger.push(doc, KEY)
    assert fake.invoices == {}


def test_an_unknown_invoice_is_not_found(ledger: StripeLedger) -> None:
    with pytest.raises(LedgerRefNotFoundError):
        ledger.status(LedgerRef(ledger="stripe", id="in_missing", number="X"))
    assert "test mode" in ledger.check()
