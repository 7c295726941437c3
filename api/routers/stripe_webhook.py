"""POST /webhooks/stripe: Stripe tells us an invoice was paid (`invoice.paid`), signed with Stripe-Signature.

The body is verified before anything is read from it (`t=<unix>,v1=<hex HMAC-SHA256(whsec, "t.body")>`,
five minutes' tolerance, any v1 may match): a bad or missing signature is answered 400 and changes
nothing. A verified `invoice.paid` for one of our invoices (our key in its metadata) marks it paid in the
store; Stripe may deliver an event more than once, and marking paid again is a no-op. Other events, and
invoices we did not create, are acknowledged (200) and ignored, so Stripe does not retry them. A failure
on our side is a 500, and Stripe retries later.

Two ways in:
- `router`: reads the store and settings from `request.app.state.service` (the API's `RunService`) and the
  signing secret from the encrypted credentials (`invoice-agent ledger connect stripe --webhook-secret`).
- `build_router(secret=..., on_paid=...)`: the same endpoint with both supplied, e.g. in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tools.connectors.credentials import CredentialsError, StripeCredentials
from tools.connectors.select import LedgerConfig
from tools.connectors.stripe_ledger import KEY, StripeSignatureError, verify_signature
from tools.errors import InvoiceAgentError

__all__ = ["PATH", "InvoicePaid", "build_router", "mark_paid_in_store", "router"]

PATH = "/webhooks/stripe"

InvoicePaid = Callable[[dict[str, Any]], str]
"""Handle a verified `invoice.paid` invoice object; returns what was done (for the response and logs)."""


class _Store(Protocol):
    def find_invoice(self, workspace: str, number: str) -> Any: ...

    def mark_paid(self, invoice_id: str) -> Any: ...


def mark_paid_in_store(store: _Store, workspace_root: str) -> InvoicePaid:
    """Mark our invoice paid when Stripe says its invoice is paid (matched by number and Stripe id)."""

    def on_paid(invoice: dict[str, Any]) -> str:
        metadata = invoice.get("metadata") or {}
        number = metadata.get("invoice_agent_number") or invoice.get("number")
        if not metadata.get(KEY) or not number:
            return f"ignored: Stripe invoice {invoice.get('id')} was not created by invoice-agent"
        record = store.find_invoice(workspace_root, str(number))
        if record is None:
            return f"ignored: no invoice {number} in this workspace"
        if record.ledger != "stripe" or record.ledger_ref != invoice.get("id"):
            return f"ignored: invoice {number} lives in {record.ledger or 'no'} ledger as {record.ledger_ref}"
        store.mark_paid(record.id)
        return f"invoice {number} marked paid"

    return on_paid


def build_router(*, secret: Callable[[], str], on_paid: InvoicePaid, tolerance: int = 300) -> APIRouter:
    """The webhook endpoint with its signing secret and what to do on `invoice.paid` supplied."""
    endpoint = APIRouter(tags=["webhooks"])

    @endpoint.post(PATH, summary="Stripe events (invoice.paid), verified by Stripe-Signature",
                   responses={400: {"description": "missing or invalid Stripe-Signature"}})
    async def stripe_webhook(request: Request) -> JSONResponse:
        return await _handle(request, secret, on_paid, tolerance)

    return endpoint


async def _handle(request: Request, secret: Callable[[], str], on_paid: InvoicePaid, tolerance: int) -> JSONResponse:
    payload = await request.body()
    try:
        event = verify_signature(payload, request.headers.get("stripe-signature"), secret(), tolerance=tolerance)
    except StripeSignatureError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    kind = str(event.get("type", ""))
    if kind != "invoice.paid":
        return JSONResponse({"received": True, "ignored": kind})
    invoice = (event.get("data") or {}).get("object") or {}
    if not isinstance(invoice, dict) or invoice.get("object", "invoice") != "invoice":
        return JSONResponse({"received": True, "ignored": "invoice.paid without an invoice"})
    try:
        done = on_paid(invoice)
    except InvoiceAgentError as exc:
        return JSONResponse({"error": str(exc)}, status_code=500)
    return JSONResponse({"received": True, "event": event.get("id"), "result": done})


def _service_secret(request: Request) -> str:
    service = request.app.state.service
    try:
        store = LedgerConfig().credentials(Path(service.settings.data_dir))
        return store.load("stripe", StripeCredentials).webhook_secret
    except CredentialsError:
        return ""


router = APIRouter(tags=["webhooks"])


@router.post(PATH, summary="Stripe events (invoice.paid), verified by Stripe-Signature",
             responses={400: {"description": "missing or invalid Stripe-Signature"}})
async def stripe_webhook(request: Request) -> JSONResponse:
    """Stripe's events for this account; `invoice.paid` marks our invoice paid."""
    service = request.app.state.service
    return await _handle(request, lambda: _service_secret(request),
                         mark_paid_in_store(service.store, service.workspace_root), 300)
