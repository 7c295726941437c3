"""The same graph, the real connectors, each fake ledger: an approved invoice is pushed and sent once, and a
crash between the ledger's create and the send, followed by a re-run, leaves exactly one invoice there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routers.stripe_webhook import PATH
from api.routers.stripe_webhook import router as stripe_router
from api.settings import Settings
from api.wiring import open_runs
from graph.nodes import Decision
from graph.runs import RunInterruptedError, RunNotWaitingError
from tests.connectors.fakes.quickbooks import FakeQuickBooks
from tests.connectors.fakes.setup import KEY, config_for, connect_quickbooks, connect_stripe, connect_xero
from tests.connectors.fakes.stripe import FakeStripe
from tests.connectors.fakes.xero import FakeXero
from tools.connectors.ledger import Ledger, LedgerRef
from tools.connectors.select import open_ledger
from tools.invoices import InvoiceDocument

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"
AS_OF = date(2026, 4, 1)
APPROVE = Decision(action="approve", actor="ann@firm")

Fake = FakeQuickBooks | FakeXero | FakeStripe


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(workspace=TINY, data_dir=tmp_path / "data", anthropic_api_key=None)


@pytest.fixture(params=["quickbooks", "xero", "stripe"])
def connected(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[str, Fake]]:
    name: str = request.param
    fake: Fake
    if name == "quickbooks":
        fake = FakeQuickBooks()
        connect_quickbooks(fake, settings.data_dir)
    elif name == "xero":
        fake = FakeXero()
        connect_xero(fake, settings.data_dir)
    else:
        fake = FakeStripe()
        connect_stripe(fake, settings.data_dir)
    with fake:
        yield name, fake
        assert fake.errors == []


def invoices_in(fake: Fake) -> list[dict[str, Any]]:
    return list(fake.invoices.values())


def deliveries(fake: Fake) -> list[Any]:
    if isinstance(fake, FakeQuickBooks):
        return fake.sends
    return fake.emails if isinstance(fake, FakeXero) else fake.sent


class CrashAfterCreate:
    """The real connector, but the process dies right after the ledger created the invoice: before the store
    records the push, so the re-run must find that invoice rather than make a second one."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def push(self, doc: InvoiceDocument, idempotency_key: str, **note: str | None) -> LedgerRef:
        self.inner.push(doc, idempotency_key, **note)
        raise RuntimeError("crash after the ledger created the invoice")

    def send(self, ref: LedgerRef, doc: InvoiceDocument) -> None:  # pragma: no cover - never reached
        self.inner.send(ref, doc)

    def status(self, ref: LedgerRef) -> Any:  # pragma: no cover
        return self.inner.status(ref)


class CrashBeforeSend(CrashAfterCreate):
    def push(self, doc: InvoiceDocument, idempotency_key: str, **note: str | None) -> LedgerRef:
        return self.inner.push(doc, idempotency_key, **note)

    def send(self, ref: LedgerRef, doc: InvoiceDocument) -> None:
        raise RuntimeError("crash between push and send")


def test_an_approved_invoice_is_pushed_and_sent_through_the_graph(connected: tuple[str, Fake],
                                                                  settings: Settings) -> None:
    name, fake = connected
    ledger = open_ledger(name, settings.data_dir, config_for(name, fake))
    with open_runs(settings, as_of=AS_OF, ledger=ledger) as runs:
        [outcome] = runs.request("invoice Acme for March")
        assert outcome.status == "awaiting_approval" and outcome.run_id
        assert invoices_in(fake) == []  # nothing reaches the ledger before approval
        assert runs.decide(outcome.run_id, APPROVE).status == "sent"
        record = runs.rt.store.invoice_for_run(outcome.run_id)
    [invoice] = invoices_in(fake)
    assert record is not None and record.status == "sent" and record.ledger == name
    ledger_id = invoice.get("Id") or invoice.get("InvoiceID") or invoice.get("id")
    assert record.ledger_ref == ledger_id and len(deliveries(fake)) == 1
    number = invoice.get("DocNumber") or invoice.get("InvoiceNumber") or invoice.get("number")
    assert number == record.number == "TS-2026-0001"
    total = invoice.get("TotalAmt") or invoice.get("Total") or invoice["total"] / 100
    assert f"{total:.2f}" == "780.00"


@pytest.mark.parametrize("crash", [CrashAfterCreate, CrashBeforeSend], ids=["after-create", "before-send"])
def test_a_crash_between_create_and_send_then_a_rerun_leaves_exactly_one_invoice(
    connected: tuple[str, Fake], settings: Settings, crash: type[CrashAfterCreate]
) -> None:
    name, fake = connected
    config = config_for(name, fake)
    with open_runs(settings, as_of=AS_OF, ledger=crash(open_ledger(name, settings.data_dir, config))) as runs:
        [outcome] = runs.request("invoice Acme for March")
        assert outcome.run_id
        with pytest.raises(RunInterruptedError, match=r"crash"):
            runs.decide(outcome.run_id, APPROVE)
    assert len(invoices_in(fake)) == 1 and deliveries(fake) == []
    with open_runs(settings, as_of=AS_OF, ledger=open_ledger(name, settings.data_dir, config)) as runs:  # a new process
        with pytest.raises(RunNotWaitingError):
            runs.decide(outcome.run_id, APPROVE)
        assert runs.resume(outcome.run_id).status == "sent"
        record = runs.rt.store.invoice_for_run(outcome.run_id)
    [invoice] = invoices_in(fake)
    assert record is not None and record.status == "sent" and len(deliveries(fake)) == 1
    assert record.ledger_ref in (invoice.get("Id"), invoice.get("InvoiceID"), invoice.get("id"))


def test_stripe_invoice_paid_webhook_marks_the_invoice_paid(settings: Settings,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_AGENT_CREDENTIALS_KEY", KEY)
    with FakeStripe() as fake:
        connect_stripe(fake, settings.data_dir)
        ledger = open_ledger("stripe", settings.data_dir, config_for("stripe", fake))
        with open_runs(settings, as_of=AS_OF, ledger=ledger) as runs:
            [outcome] = runs.request("invoice Acme for March")
            assert outcome.run_id and runs.decide(outcome.run_id, APPROVE).status == "sent"
            record = runs.rt.store.invoice_for_run(outcome.run_id)
            assert record is not None and record.ledger_ref
            app = FastAPI()
            app.state.service = SimpleNamespace(settings=settings, store=runs.rt.store,
                                                workspace_root=runs.rt.workspace.root)
            app.include_router(stripe_router)
            client = TestClient(app)
            body, signature = fake.signed_event("invoice.paid", fake.pay(record.ledger_ref))
            forged, _ = fake.signed_event("invoice.paid", fake.invoices[record.ledger_ref], secret="whsec_forged")
            assert client.post(PATH, content=forged, headers={"Stripe-Signature": _}).status_code == 400
            assert runs.rt.store.get_invoice(record.id).status == "sent"
            response = client.post(PATH, content=body, headers={"Stripe-Signature": signature})
            assert response.status_code == 200, response.text
            assert response.json()["result"] == f"invoice {record.number} marked paid"
            assert runs.rt.store.get_invoice(record.id).status == "paid"
            again = client.post(PATH, content=body, headers={"Stripe-Signature": signature})  # Stripe redelivers
            assert again.status_code == 200 and runs.rt.store.get_invoice(record.id).status == "paid"
        assert ledger.status(LedgerRef(ledger="stripe", id=record.ledger_ref, number=record.number)) == "paid"


def test_a_ledger_that_never_answers_fails_the_run_clearly_and_resume_finishes_it(settings: Settings) -> None:
    from graph.runs import RunInterruptedError

    with FakeQuickBooks() as fake:
        connect_quickbooks(fake, settings.data_dir)
        config = config_for("quickbooks", fake)
        with open_runs(settings, as_of=AS_OF, ledger=open_ledger("quickbooks", settings.data_dir, config)) as runs:
            [outcome] = runs.request("invoice Acme for March")
            assert outcome.run_id
            fake.hang_everything = True
            with pytest.raises(RunInterruptedError, match=r"did not answer within 0.4 s.*invoice-agent resume"):
                runs.decide(outcome.run_id, APPROVE)
            record = runs.rt.store.invoice_for_run(outcome.run_id)
            assert record is not None and record.status == "approved" and record.ledger_ref is None
            assert runs.rt.store.get_run(outcome.run_id).status == "failed"
            fake.hang_everything = False  # QuickBooks is back
            assert runs.resume(outcome.run_id).status == "sent"
        assert len(fake.invoices) == 1 and len(fake.sends) == 1


def test_a_ledger_that_is_down_is_a_clear_unavailable_error(connected: tuple[str, Fake], settings: Settings,
                                                            doc: InvoiceDocument) -> None:
    from tools.connectors.common import LedgerUnavailableError

    name, fake = connected
    config = config_for(name, fake)
    fake.stop()  # nothing listens on that port any more: connection refused
    with pytest.raises(LedgerUnavailableError, match=r"could not be reached|did not answer") as caught:
        open_ledger(name, settings.data_dir, config).push(doc, "k")
    assert doc.number in str(caught.value) and "pushing again is safe" in str(caught.value)
