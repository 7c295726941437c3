"""`StripeLedger`: invoices in Stripe through the stripe SDK (`StripeClient`), and the webhook signature check.

Push creates a draft invoice (collection by `send_invoice`, our number, our due date), then one invoice
item per line (discount and cap as negative items) and the tax as a Stripe tax rate; every create carries
an Idempotency-Key derived from the push's key, and every object carries our key in its metadata, so a
push repeated after a crash or a lost answer finds what was made and adds only what is missing. Send
finalizes and sends, once. `invoice.paid` arrives by webhook (`api/routers/stripe_webhook.py`), verified
with the Stripe-Signature scheme by the SDK (`verify_signature`).

Timeouts and network retries are the SDK's (`RequestsClient(timeout=...)`, `max_network_retries`): it
retries connection errors, 409 and 5xx with the same Idempotency-Key. It does not retry 429; we do, with
backoff.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import stripe

from tools.connectors.common import (
    ConnectorError,
    HttpPolicy,
    LedgerAuthError,
    LedgerLinks,
    LedgerPayment,
    LedgerUnavailableError,
    Retry,
    call_with_retries,
    choose_customer,
    derived_id,
    from_minor,
    private_note,
    to_minor,
)
from tools.connectors.credentials import CredentialStore, StripeCredentials
from tools.connectors.ledger import LedgerError, LedgerRef, LedgerRefNotFoundError, LedgerStatus, require_recipient
from tools.invoices import InvoiceDocument

__all__ = ["StripeLedger", "StripeSignatureError", "verify_signature"]

_NAME = "stripe"
T = TypeVar("T")

KEY = "invoice_agent_key"
"""Metadata on every invoice we create: the push's idempotency key."""


class StripeSignatureError(ConnectorError):
    """A webhook whose Stripe-Signature does not verify (wrong secret, tampered body, or too old)."""


def verify_signature(payload: bytes, header: str | None, secret: str, *, tolerance: int = 300) -> dict[str, Any]:
    """The event in a webhook body, if `header` (Stripe-Signature: t=...,v1=...) signs it with `secret`.

    v1 = hex HMAC-SHA256(secret, f"{t}.{body}"); any v1 may match; t must be within `tolerance` seconds.

    Raises:
        StripeSignatureError: missing, malformed, wrong or stale signature, or a body that is not JSON.
    """
    if not secret:
        raise StripeSignatureError(_NAME, None, "no webhook signing secret is configured; connect with "
                                   "`invoice-agent ledger connect stripe --webhook-secret whsec_...`")
    if not header:
        raise StripeSignatureError(_NAME, None, "the request has no Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise StripeSignatureError(_NAME, None, f"the Stripe-Signature does not verify: {exc.user_message}") from None
    except UnicodeDecodeError:
        raise StripeSignatureError(_NAME, None, "the webhook body is not UTF-8") from None
    try:
        event = json.loads(payload)
    except ValueError:
        raise StripeSignatureError(_NAME, None, "the webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise StripeSignatureError(_NAME, None, "the webhook body is not an event object")
    return event


class StripeLedger:
    """A Stripe account as the ledger.

    Args:
        credentials: where the secret key is (`invoice-agent ledger connect stripe`).
        data_dir: the data folder (for the links book: our client ids -> Stripe customer ids).
        api_url: the API base (default https://api.stripe.com).
        policy: timeouts and retries.
    """

    name = _NAME

    def __init__(self, credentials: CredentialStore, data_dir: str | Path, *, api_url: str | None = None,
                 policy: HttpPolicy | None = None) -> None:
        self._store = credentials
        self._data_dir = Path(data_dir)
        self._api_url = api_url
        self._policy = policy or HttpPolicy()
        self._client: stripe.StripeClient | None = None

    # --- the Ledger protocol ---------------------------------------------------------------------

    def push(self, doc: InvoiceDocument, idempotency_key: str, *, run_id: str | None = None,
             review_url: str | None = None) -> LedgerRef:
        """Create the draft invoice with its items (and the customer if missing); the same key finds it again."""
        with self._faults(doc.number, pushing=True):
            client = self._stripe()
            customer = self._ensure_customer(doc, idempotency_key)
            invoice = self._existing(doc, idempotency_key, customer.id)
            if invoice is None:
                tax_rate = self._ensure_tax_rate(doc, idempotency_key) if doc.tax else None
                note = private_note(doc, idempotency_key, run_id=run_id, review_url=review_url)
                params: dict[str, Any] = {
                    "customer": customer.id, "currency": doc.currency.lower(), "number": doc.number,
                    "collection_method": "send_invoice", "auto_advance": False,
                    "pending_invoice_items_behavior": "exclude",
                    "metadata": {KEY: idempotency_key, "invoice_agent_number": doc.number,
                                 "invoice_agent_client": doc.client_id, "invoice_agent_due_date":
                                 doc.due_date.isoformat(), "invoice_agent_note": note[:500]},
                    **_due(doc),
                }
                if doc.notes:
                    params["description"] = doc.notes[:1500]
                if tax_rate:
                    params["default_tax_rates"] = [tax_rate]
                invoice = self._call(lambda: client.v1.invoices.create(
                    params=params, options={"idempotency_key": derived_id("inv", idempotency_key)}))  # type: ignore[arg-type]
            if invoice.status == "draft":
                invoice_id = str(invoice.id)
                self._add_items(doc, idempotency_key, invoice_id, customer.id)
                invoice = self._call(lambda: client.v1.invoices.retrieve(invoice_id))
            return self._checked_ref(invoice, doc)

    def send(self, ref: LedgerRef, doc: InvoiceDocument) -> None:
        """Finalize the invoice and have Stripe email it, once (a repeat finds it sent and does nothing)."""
        require_recipient(self.name, doc)
        with self._faults(doc.number):
            client = self._stripe()
            invoice = self._retrieve(ref)
            done = invoice.status in ("paid", "void", "uncollectible")
            if done or _meta(invoice).get("invoice_agent_sent"):
                return
            if invoice.status == "draft":
                invoice = self._call(lambda: client.v1.invoices.finalize_invoice(
                    ref.id, params={"auto_advance": False}, options={"idempotency_key": derived_id("fin", ref.id)}))
            self._call(lambda: client.v1.invoices.send_invoice(
                ref.id, options={"idempotency_key": derived_id("send", ref.id)}))
            sent_at = datetime.now(UTC).isoformat(timespec="seconds")
            self._call(lambda: client.v1.invoices.update(
                ref.id, params={"metadata": {"invoice_agent_sent": sent_at}},
                options={"idempotency_key": derived_id("sent", ref.id)}))

    def status(self, ref: LedgerRef) -> LedgerStatus:
        with self._faults(ref.number):
            invoice = self._retrieve(ref)
        if invoice.status == "paid":
            return "paid"
        if invoice.status in ("void", "uncollectible"):
            return "void"
        return "sent" if _meta(invoice).get("invoice_agent_sent") else "pushed"

    def payments_since(self, since: date) -> list[LedgerPayment]:
        """Invoices paid on or after `since` (created in the year before it or later), one payment each."""
        start = _timestamp(since, end=False)
        result: list[LedgerPayment] = []
        with self._faults(None):
            client = self._stripe()
            page = self._call(lambda: client.v1.invoices.list(params={
                "status": "paid", "limit": 100, "created": {"gte": start - 366 * 86400}}))
            for invoice in page.auto_paging_iter():
                paid_at = (invoice.status_transitions.paid_at if invoice.status_transitions else None) or 0
                if paid_at < start or not _meta(invoice).get(KEY):
                    continue
                result.append(LedgerPayment(
                    ledger=self.name, id=invoice.id, date=datetime.fromtimestamp(paid_at, UTC).date(),
                    amount=from_minor(invoice.amount_paid, invoice.currency), currency=invoice.currency.upper(),
                    invoice_ids=[invoice.id], invoice_numbers=[invoice.number] if invoice.number else []))
        return result

    def check(self) -> str:
        with self._faults(None):
            client = self._stripe()
            balance = self._call(lambda: client.v1.balance.retrieve())
        mode = "live" if balance.livemode else "test"
        return f"connected to Stripe ({mode} mode)"

    # --- customers, tax, items -------------------------------------------------------------------

    def _ensure_customer(self, doc: InvoiceDocument, key: str) -> Any:
        client = self._stripe()
        links = LedgerLinks(self._data_dir, self.name, "account")
        by_id: list[Any] = []
        linked = links.get("customer", doc.client_id)
        if linked:
            try:
                customer = self._call(lambda: client.v1.customers.retrieve(linked))
                if not getattr(customer, "deleted", False):
                    by_id.append(customer)
            except stripe.InvalidRequestError:
                pass
            if not by_id:
                links.forget("customer", doc.client_id)
        if not by_id:
            by_id = self._search(f"metadata['invoice_agent_client']:{_quote(doc.client_id)}")
        by_email = [] if by_id or not doc.client_email else list(self._call(
            lambda: client.v1.customers.list(params={"email": doc.client_email, "limit": 100})).data)
        by_name = [] if by_id else self._search(f"name:{_quote(doc.client_name)}")
        found = choose_customer(
            self.name, doc, by_id=by_id, by_name=by_name, by_email=by_email, ident=lambda c: str(c.id),
            describe=lambda c: f"{c.id} {c.name!r} <{c.email or ''}>",
            fix=f"Set metadata invoice_agent_client={doc.client_id} on the right customer in Stripe, or delete the "
                "duplicate, then push again.")
        if found is None:
            params: dict[str, Any] = {"name": doc.client_name, "metadata": {"invoice_agent_client": doc.client_id}}
            if doc.client_email:
                params["email"] = doc.client_email
            found = self._call(lambda: client.v1.customers.create(
                params=params, options={"idempotency_key": derived_id("cus", key, doc.client_id)}))  # type: ignore[arg-type]
        links.set("customer", doc.client_id, str(found.id))
        return found

    def _search(self, query: str) -> list[Any]:
        """Customer search (eventually consistent, and not offered everywhere: then no results)."""
        client = self._stripe()
        try:
            return list(self._call(lambda: client.v1.customers.search(params={"query": query, "limit": 100})).data)
        except stripe.InvalidRequestError:
            return []

    def _ensure_tax_rate(self, doc: InvoiceDocument, key: str) -> str:
        client = self._stripe()
        percent = (doc.tax_rate * 100).normalize()
        rates = self._call(lambda: client.v1.tax_rates.list(params={"active": True, "inclusive": False, "limit": 100}))
        for rate in rates.auto_paging_iter():
            if Decimal(str(rate.percentage)) == percent and _meta(rate).get("invoice_agent"):
                return str(rate.id)
        created = self._call(lambda: client.v1.tax_rates.create(
            params={"display_name": "Tax", "percentage": float(percent), "inclusive": False,
                    "metadata": {"invoice_agent": "1"}},
            options={"idempotency_key": derived_id("tax", str(percent))}))
        return str(created.id)

    def _add_items(self, doc: InvoiceDocument, key: str, invoice_id: str, customer_id: str) -> None:
        """One invoice item per line (and the discount and cap as negative items); only those not there yet."""
        client = self._stripe()
        have = {str(_meta(ii).get("invoice_agent_line")) for ii in self._call(
            lambda: client.v1.invoice_items.list(params={"invoice": invoice_id, "limit": 100})).auto_paging_iter()}
        lines: list[tuple[str, Decimal, Decimal, Decimal, str | None]] = [
            (line.description, line.quantity, line.unit_price, line.amount, line.code) for line in doc.lines]
        for label, amount in (("Discount", doc.discount), ("Cap adjustment", doc.cap_adjustment)):
            if amount:
                lines.append((label, Decimal(1), amount, amount, None))
        for index, (text, quantity, price, amount, code) in enumerate(lines):
            if str(index) in have:
                continue
            params: dict[str, Any] = {"customer": customer_id, "invoice": invoice_id, "currency": doc.currency.lower(),
                                      "description": text[:500],
                                      "metadata": {"invoice_agent_line": str(index), "code": code or ""}}
            unit = price * to_minor(Decimal(1), doc.currency)  # in the minor unit
            if amount > 0 and quantity * unit == to_minor(amount, doc.currency):
                params |= {"quantity_decimal": _plain(quantity), "unit_amount_decimal": _plain(unit)}
            else:
                params |= {"amount": to_minor(amount, doc.currency), "discountable": False}
            self._call(lambda p=params, i=index: client.v1.invoice_items.create(  # type: ignore[misc]
                params=p, options={"idempotency_key": derived_id("item", key, str(i))}))

    # --- invoices --------------------------------------------------------------------------------

    def _existing(self, doc: InvoiceDocument, key: str, customer_id: str) -> Any | None:
        """Our invoice for this key (found through the customer's invoices), or None; another's number is refused."""
        client = self._stripe()
        page = self._call(lambda: client.v1.invoices.list(params={"customer": customer_id, "limit": 100}))
        clash = None
        for invoice in page.auto_paging_iter():
            if _meta(invoice).get(KEY) == key and invoice.status != "void":
                return invoice
            if invoice.number == doc.number and invoice.status != "void":
                clash = invoice
        if clash is not None:
            raise LedgerError(self.name, doc.number, f"Stripe already has an invoice numbered {doc.number} "
                              f"({clash.id}) that this run did not create; numbers are never reused: void that one "
                              "in Stripe, then push again")
        return None

    def _checked_ref(self, invoice: Any, doc: InvoiceDocument) -> LedgerRef:
        expected = to_minor(doc.total, doc.currency)
        if invoice.total != expected:
            raise LedgerError(self.name, doc.number, f"Stripe computes invoice {invoice.id} at "
                              f"{from_minor(invoice.total, doc.currency)}, the approved total is {doc.total} "
                              f"{doc.currency} (tax rounding per line?). It was left as a draft: correct it in Stripe "
                              "or delete it, then push again")
        url = invoice.hosted_invoice_url or f"https://dashboard.stripe.com/invoices/{invoice.id}"
        return LedgerRef(ledger=self.name, id=str(invoice.id), number=str(invoice.number or doc.number), url=url)

    def _retrieve(self, ref: LedgerRef) -> Any:
        try:
            return self._call(lambda: self._stripe().v1.invoices.retrieve(ref.id))
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise LedgerRefNotFoundError(self.name, ref.id) from None
            raise

    # --- plumbing --------------------------------------------------------------------------------

    def _stripe(self) -> stripe.StripeClient:
        if self._client is None:
            creds = self._store.load(_NAME, StripeCredentials)
            http = stripe.RequestsClient(timeout=self._policy.timeout)
            addresses: Any = {"api": self._api_url} if self._api_url else None
            self._client = stripe.StripeClient(creds.api_key, base_addresses=addresses,
                                               max_network_retries=self._policy.retries, http_client=http)
        return self._client

    def _call(self, call: Callable[[], T]) -> T:
        """The SDK retries network errors, 409 and 5xx itself; 429 we retry here, with backoff."""

        def throttled(exc: Exception) -> Retry | None:
            if isinstance(exc, stripe.RateLimitError):
                value = (exc.headers or {}).get("retry-after") or (exc.headers or {}).get("Retry-After")
                try:
                    return Retry(float(value) if value else None)
                except ValueError:
                    return Retry()
            return None

        return call_with_retries(self._policy, call, throttled)

    @contextmanager
    def _faults(self, number: str | None, *, pushing: bool = False) -> Iterator[None]:
        after = (" Nothing was recorded as pushed; pushing again is safe (the same Idempotency-Keys, and our key "
                 "in the invoice's metadata, find what was made).") if pushing else ""
        try:
            yield
        except stripe.StripeError as exc:
            raise _translate(exc, number, after) from None


def _translate(exc: stripe.StripeError, number: str | None, after: str) -> ConnectorError:
    said = f"Stripe said: {exc.user_message or exc}" + (f" ({exc.code})" if exc.code else "")
    if isinstance(exc, stripe.APIConnectionError):
        text = " ".join(str(exc.user_message or exc).split())
        cause = text.split("Network error:", 1)[1].strip(" ()") if "Network error:" in text else text
        return LedgerUnavailableError(_NAME, number, f"Stripe did not answer or could not be reached "
                                      f"({cause[:200]}).{after}")
    if isinstance(exc, stripe.AuthenticationError):
        return LedgerAuthError(_NAME, number, f"{said}. The API key was refused; connect again with a valid secret "
                               "or restricted key: invoice-agent ledger connect stripe")
    if isinstance(exc, stripe.PermissionError):
        return LedgerAuthError(_NAME, number, f"{said}. The key may not do this; give the restricted key write "
                               "access to Customers, Invoices and Tax rates")
    if isinstance(exc, stripe.RateLimitError):
        return LedgerUnavailableError(_NAME, number, f"{said}. Stripe is rate limiting; try again later.{after}")
    if isinstance(exc, stripe.IdempotencyError):
        return ConnectorError(_NAME, number, f"{said}. The same key was used with different content: the "
                              "approved invoice changed since the first push; check the invoice in Stripe")
    if isinstance(exc, stripe.APIError):
        return LedgerUnavailableError(_NAME, number, f"{said}. Stripe failed; try again later.{after}")
    return ConnectorError(_NAME, number, f"{said.rstrip('.')}. Correct this in Stripe or in the workspace, then "
                          "try again")


def _plain(value: Decimal) -> str:
    """A decimal as Stripe's decimal strings want it: plain digits, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text


def _meta(obj: Any) -> dict[str, str]:
    metadata = getattr(obj, "metadata", None)
    if metadata is None:
        return {}
    plain = metadata.to_dict() if hasattr(metadata, "to_dict") else dict(metadata)
    return {str(k): str(v) for k, v in plain.items()}


def _due(doc: InvoiceDocument) -> dict[str, int]:
    """Stripe refuses a due date in the past: then the client gets the full terms from today."""
    due = _timestamp(doc.due_date)
    if due > datetime.now(UTC).timestamp() + 3600:
        return {"due_date": due}
    return {"days_until_due": max(1, doc.payment_terms_days)}


def _timestamp(day: date, *, end: bool = True) -> int:
    """Unix seconds of the day's last (or first) second, UTC."""
    moment = datetime.combine(day, dtime(23, 59, 59) if end else dtime(0, 0, 0), tzinfo=UTC)
    return int(moment.timestamp())


def _quote(value: str) -> str:
    """A string literal in Stripe's search query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

