"""`XeroLedger`: sales invoices (ACCREC) in a Xero organisation through xero-python.

What the SDK leaves to us, and where it is done here:

- `_RestClient` replaces the SDK's REST client: a (connect, read) timeout on every call (the SDK has none
  unless each call passes `_request_timeout`, and silently ignores a float), urllib3's own retries off,
  and our bounded retries instead: reads and calls carrying an `Idempotency-Key` after a timeout, 429 after
  Retry-After, 5xx on replayable calls, and one refresh-and-retry on 401.
- `_XeroToken` is the SDK's `OAuth2Token` reading and saving through the encrypted credential store, with a
  token URL of our choosing (the SDK's is a class attribute), refreshes serialized per tenant across
  processes, and the rotated refresh token saved every time.
- `Configuration()` is a singleton-by-copy in the SDK: the token is set on the instance after construction.

Creates carry an `Idempotency-Key` derived from the push's key. Before creating, the push looks for an
invoice with the same number: if it is ours (our note in its history, or the same contact and total) it
is returned, otherwise it is a clash and refused. The private note lives in the invoice's history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import urllib3
from xero_python.accounting import AccountingApi
from xero_python.accounting.models import (
    Contact,
    Contacts,
    CurrencyCode,
    HistoryRecord,
    HistoryRecords,
    Invoice,
    Invoices,
    Item,
    Items,
    LineAmountTypes,
    LineItem,
    Purchase,
    RequestEmpty,
)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import ApiException, HTTPStatusException
from xero_python.rest import RESTClientObject

from tools.connectors.common import (
    ConnectorError,
    HttpPolicy,
    LedgerAuthError,
    LedgerLinks,
    LedgerPayment,
    LedgerUnavailableError,
    choose_customer,
    derived_id,
    note_has_key,
    private_note,
)
from tools.connectors.credentials import CredentialStore, XeroCredentials
from tools.connectors.ledger import LedgerError, LedgerRef, LedgerRefNotFoundError, LedgerStatus, require_recipient
from tools.invoices import InvoiceDocument

__all__ = ["API_URL", "TOKEN_URL", "XeroLedger"]

API_URL = "https://api.xero.com/api.xro/2.0"
TOKEN_URL = "https://identity.xero.com/connect/token"
_NAME = "xero"
_CENT = Decimal("0.01")
_NOT_SENT = (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError)


class _Unreachable(Exception):
    def __init__(self, url: str, detail: str, *, sent: bool, tries: int) -> None:
        super().__init__(detail)
        self.url, self.detail, self.sent, self.tries = url, detail, sent, tries


class _TokenApi(TokenApi):  # type: ignore[misc]
    def __init__(self, api_client: Any, client_id: str, client_secret: str, token_url: str) -> None:
        super().__init__(api_client, client_id, client_secret)
        self.refresh_token_url = token_url


class _XeroToken(OAuth2Token):  # type: ignore[misc]
    """The tenant's OAuth2 token, kept in the credential store; refreshed one process at a time."""

    def __init__(self, store: CredentialStore, token_url: str) -> None:
        creds = store.load(_NAME, XeroCredentials)
        super().__init__(client_id=creds.client_id, client_secret=creds.client_secret)
        self._store = store
        self._token_url = token_url
        self.tenant_id = creds.tenant_id

    # the SDK's getter/saver hooks
    def get(self) -> dict[str, Any]:
        creds = self._store.load(_NAME, XeroCredentials)
        return {"access_token": creds.access_token, "refresh_token": creds.refresh_token, "scope": creds.scope,
                "expires_in": max(0, int(creds.expires_at - time.time())), "token_type": "Bearer",
                "expires_at": creds.expires_at, "id_token": None}

    def save(self, token: dict[str, Any]) -> None:
        creds = self._store.load(_NAME, XeroCredentials)
        scope = token.get("scope") or creds.scope
        self._store.save(_NAME, creds.model_copy(update={
            "access_token": token.get("access_token") or "",
            "refresh_token": token.get("refresh_token") or creds.refresh_token,  # rotated: keep the new one
            "expires_at": float(token.get("expires_at") or time.time() + float(token.get("expires_in") or 1800)),
            "scope": scope.split() if isinstance(scope, str) else list(scope),
            "updated_at": time.time(),
        }))

    def refresh_access_token(self, api_client: Any, refused: str | None = None) -> bool:
        """Refresh (the SDK calls this when the token is about to expire; we call it on a 401)."""
        with self._store.refreshing(f"{_NAME}-{self.tenant_id}"):
            current = self.get()
            stale = refused if refused is not None else self.access_token
            if current["access_token"] and current["access_token"] != stale and (
                    not current["expires_at"] or current["expires_at"] - self.expiration_buffer > time.time()):
                self.update_token(**current)  # another process refreshed already
                return True
            self.update_token(**current)
            try:
                new_token = self.fetch_access_token(_TokenApi(api_client, self.client_id, self.client_secret,
                                                              self._token_url))
            except HTTPStatusException as exc:
                raise LedgerAuthError(_NAME, None, f"Xero refused to refresh the access token (HTTP {exc.status}: "
                                      f"{_body(exc)}): the connection was revoked or unused for 60 days. Connect "
                                      "again: invoice-agent ledger connect xero") from None
            except Exception as exc:  # the SDK raises a bare Exception for non-200 answers
                if isinstance(exc, _Unreachable):
                    raise
                raise LedgerAuthError(_NAME, None, f"Xero refused to refresh the access token ({exc}); connect "
                                      "again: invoice-agent ledger connect xero") from None
            known = {k: new_token.get(k) for k in ("access_token", "refresh_token", "scope", "expires_in",
                                                   "token_type", "expires_at", "id_token")}
            self.update_token(**known)
            api_client.set_oauth2_token(known)
            return True


class _RestClient(RESTClientObject):  # type: ignore[misc]
    """The SDK's REST client with timeouts, our retries and refresh-on-401."""

    def __init__(self, configuration: Any, policy: HttpPolicy, token: _XeroToken, api_client: Any) -> None:
        super().__init__(configuration)
        self.pool_manager.connection_pool_kw["retries"] = urllib3.Retry(0, read=False, redirect=0, status=0)
        self._policy = policy
        self._token = token
        self._api_client = api_client

    def request(self, method: str, url: str, query_params: Any = None, headers: Any = None, body: Any = None,
                post_params: Any = None, _preload_content: bool = True, _request_timeout: Any = None) -> Any:
        headers = dict(headers or {})
        authorized = str(headers.get("Authorization", "")).startswith("Bearer ")
        replayable = method.upper() in ("GET", "HEAD") or "Idempotency-Key" in headers
        timeout = _request_timeout or self._policy.timeout
        refreshed, attempt = False, 0
        while True:
            try:
                return super().request(method, url, query_params=query_params, headers=dict(headers), body=body,
                                       post_params=post_params, _preload_content=_preload_content,
                                       _request_timeout=timeout)
            except HTTPStatusException as exc:
                if exc.status == 401 and authorized and not refreshed:
                    refreshed = True
                    refused = str(headers["Authorization"]).removeprefix("Bearer ")
                    self._token.refresh_access_token(self._api_client, refused=refused)
                    headers["Authorization"] = f"Bearer {self._token.access_token}"
                    continue
                retry = exc.status == 429 or (replayable and exc.status in (500, 502, 503, 504))
                if not retry or attempt >= self._policy.retries:
                    raise
                self._policy.sleep(self._policy.wait(attempt, _retry_after(exc)))
                attempt += 1
            except urllib3.exceptions.HTTPError as exc:
                reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
                never_sent = isinstance(reason, _NOT_SENT)
                if (replayable or never_sent) and attempt < self._policy.retries:
                    self._policy.sleep(self._policy.wait(attempt))
                    attempt += 1
                    continue
                timed_out = isinstance(reason, urllib3.exceptions.TimeoutError)
                kind = ("did not answer within " + self._policy.describe_timeout()) if timed_out else (
                    f"could not be reached ({type(reason).__name__})")
                raise _Unreachable(url, kind, sent=not never_sent, tries=attempt + 1) from None


class XeroLedger:
    """A Xero organisation (tenant) as the ledger.

    Args:
        credentials: where the tenant's OAuth2 tokens are (`invoice-agent ledger connect xero`).
        data_dir: the data folder (for the links book).
        api_url: the Accounting API base (default https://api.xero.com/api.xro/2.0).
        token_url: the token endpoint (default https://identity.xero.com/connect/token).
        account_code: the sales account lines post to (Xero's demo chart: "200").
        tax_type: the line TaxType ("OUTPUT2" is UK 20% VAT); default: the account's.
    """

    name = _NAME

    def __init__(
        self,
        credentials: CredentialStore,
        data_dir: str | Path,
        *,
        api_url: str | None = None,
        token_url: str | None = None,
        policy: HttpPolicy | None = None,
        account_code: str = "200",
        tax_type: str | None = None,
    ) -> None:
        self._store = credentials
        self._data_dir = Path(data_dir)
        self._api_url = api_url or API_URL
        self._token_url = token_url or TOKEN_URL
        self._policy = policy or HttpPolicy()
        self._account_code = account_code
        self._tax_type = tax_type
        self._api: AccountingApi | None = None
        self._token: _XeroToken | None = None

    # --- the Ledger protocol ---------------------------------------------------------------------

    def push(self, doc: InvoiceDocument, idempotency_key: str, *, run_id: str | None = None,
             review_url: str | None = None) -> LedgerRef:
        """Create the ACCREC invoice (its contact and items if missing); the same key returns the first one."""
        with self._faults(doc.number, pushing=True):
            api, tenant = self._client()
            contact = self._ensure_contact(doc, idempotency_key)
            existing = self._existing(doc, idempotency_key, contact)
            if existing is not None:
                return self._checked_ref(existing, doc)
            items = self._ensure_items(doc, idempotency_key)
            invoice = self._invoice(doc, contact, items)
            created = api.create_invoices(tenant, Invoices(invoices=[invoice]), unitdp=4,
                                          idempotency_key=derived_id("inv", idempotency_key),
                                          _request_timeout=self._policy.timeout).invoices[0]
            _raise_validation(created, doc)
            note = private_note(doc, idempotency_key, run_id=run_id, review_url=review_url)
            api.create_invoice_history(tenant, created.invoice_id,
                                       HistoryRecords(history_records=[HistoryRecord(details=note[:2000])]),
                                       idempotency_key=derived_id("note", idempotency_key),
                                       _request_timeout=self._policy.timeout)
            return self._checked_ref(created, doc)

    def send(self, ref: LedgerRef, doc: InvoiceDocument) -> None:
        """Email the invoice from Xero, unless Xero says it was sent to the contact already."""
        require_recipient(self.name, doc)
        with self._faults(doc.number):
            api, tenant = self._client()
            if self._get_invoice(ref).sent_to_contact:
                return
            try:
                api.email_invoice(tenant, ref.id, RequestEmpty(), idempotency_key=derived_id("send", ref.id),
                                  _request_timeout=self._policy.timeout)
            except _Unreachable as exc:
                if self._get_invoice(ref).sent_to_contact:
                    return
                raise LedgerUnavailableError(self.name, doc.number, f"Xero {exc.detail} while emailing; it does not "
                                             "show the invoice as sent. Send again later (checked first, never "
                                             "twice)") from None

    def status(self, ref: LedgerRef) -> LedgerStatus:
        with self._faults(ref.number):
            invoice = self._get_invoice(ref)
        state = str(invoice.status or "")
        if state == "PAID":
            return "paid"
        if state in ("VOIDED", "DELETED"):
            return "void"
        return "sent" if invoice.sent_to_contact else "pushed"

    def payments_since(self, since: date) -> list[LedgerPayment]:
        """Receivable payments dated `since` or later, with the invoice each one pays."""
        where = f'Date >= DateTime({since.year}, {since.month:02d}, {since.day:02d}) AND PaymentType == "ACCRECPAYMENT"'
        result: list[LedgerPayment] = []
        with self._faults(None):
            api, tenant = self._client()
            page = 1
            while True:
                try:
                    batch = api.get_payments(tenant, where=where, order="Date", page=page, page_size=100,
                                             _request_timeout=self._policy.timeout).payments or []
                except ValueError as exc:  # xero-python could not read what Xero sent
                    raise ConnectorError(self.name, None, f"Xero sent payments that xero-python cannot read "
                                         f"({exc}); upgrade xero-python, or match these payments by hand") from None
                for p in batch:
                    invoice = p.invoice
                    currency = getattr(invoice, "currency_code", None) if invoice else None
                    result.append(LedgerPayment(
                        ledger=self.name, id=str(p.payment_id), date=_as_date(p.date),
                        amount=_money(p.amount), currency=_enum(currency),
                        invoice_ids=[str(invoice.invoice_id)] if invoice and invoice.invoice_id else [],
                        invoice_numbers=[str(invoice.invoice_number)] if invoice and invoice.invoice_number else [],
                        reference=str(p.reference or "")))
                if len(batch) < 100:
                    return result
                page += 1

    def check(self) -> str:
        with self._faults(None):
            api, tenant = self._client()
            orgs = api.get_organisations(tenant, _request_timeout=self._policy.timeout).organisations or []
        name = orgs[0].name if orgs else "?"
        return f"connected to Xero organisation {name!r} (tenant {tenant})"

    # --- contacts and items ----------------------------------------------------------------------

    def _links(self) -> LedgerLinks:
        return LedgerLinks(self._data_dir, self.name, self._client()[1])

    def _contacts(self, where: str | None = None, *, ids: list[str] | None = None) -> list[Any]:
        """Active contacts matching a where clause, or with these ContactIDs."""
        api, tenant = self._client()
        if ids:
            found = api.get_contacts(tenant, i_ds=ids, _request_timeout=self._policy.timeout).contacts
        else:
            found = api.get_contacts(tenant, where=f'{where} AND ContactStatus=="ACTIVE"',
                                     _request_timeout=self._policy.timeout).contacts
        return [c for c in found or [] if str(c.contact_status or "ACTIVE") == "ACTIVE"]

    def _ensure_contact(self, doc: InvoiceDocument, key: str) -> Any:
        api, tenant = self._client()
        links = self._links()
        by_id: list[Any] = []
        linked = links.get("customer", doc.client_id)
        if linked:
            by_id = self._contacts(ids=[linked])
            if not by_id:
                links.forget("customer", doc.client_id)
        if not by_id:
            by_id = self._contacts(f"ContactNumber=={_quote(doc.client_id)}")
        by_name = [] if by_id else self._contacts(f"Name=={_quote(doc.client_name)}")
        by_email = [] if by_id or not doc.client_email else self._contacts(
            f"EmailAddress=={_quote(doc.client_email)}")
        found = choose_customer(
            self.name, doc, by_id=by_id, by_name=by_name, by_email=by_email, ident=lambda c: str(c.contact_id),
            describe=lambda c: f"{c.contact_id} {c.name!r} <{c.email_address or ''}>",
            fix=f"Set the right contact's Contact number (account number) to {doc.client_id!r} in Xero, or archive "
                "the duplicate, then push again.")
        if found is None:
            contact = Contact(name=doc.client_name, contact_number=doc.client_id,
                              email_address=doc.client_email or None, is_customer=True)
            found = api.create_contacts(tenant, Contacts(contacts=[contact]),
                                        idempotency_key=derived_id("cus", key, doc.client_id),
                                        _request_timeout=self._policy.timeout).contacts[0]
        links.set("customer", doc.client_id, str(found.contact_id))
        return found

    def _ensure_items(self, doc: InvoiceDocument, key: str) -> set[str]:
        """The billing codes on the invoice, each an item in Xero (created if missing)."""
        api, tenant = self._client()
        links, codes = self._links(), set()
        for line in doc.lines:
            if not line.code or line.code in codes:
                continue
            if not links.get("item", line.code):
                found = api.get_items(tenant, where=f"Code=={_quote(line.code)}",
                                      _request_timeout=self._policy.timeout).items or []
                if not found:
                    item = Item(code=line.code, name=line.code[:50], description=line.description[:4000],
                                is_sold=True, sales_details=Purchase(account_code=self._account_code))
                    found = api.create_items(tenant, Items(items=[item]),
                                             idempotency_key=derived_id("itm", key, line.code),
                                             _request_timeout=self._policy.timeout).items
                links.set("item", line.code, str(found[0].item_id))
            codes.add(line.code)
        return codes

    # --- the invoice -----------------------------------------------------------------------------

    def _existing(self, doc: InvoiceDocument, key: str, contact: Any) -> Any | None:
        api, tenant = self._client()
        found = [i for i in (api.get_invoices(tenant, invoice_numbers=[doc.number],
                                              _request_timeout=self._policy.timeout).invoices or [])
                 if str(i.type) == "ACCREC" and str(i.status) not in ("DELETED", "VOIDED")]
        for invoice in found:
            history = api.get_invoice_history(tenant, invoice.invoice_id,
                                              _request_timeout=self._policy.timeout).history_records or []
            same = (str(getattr(invoice.contact, "contact_id", "")) == str(contact.contact_id)
                    and _money(invoice.total) == doc.total)
            if same or any(note_has_key(h.details, key) for h in history):
                return invoice
        if found:
            raise LedgerError(self.name, doc.number, f"Xero already has an invoice numbered {doc.number} "
                              f"({found[0].invoice_id}) for another contact or amount; numbers are never reused: "
                              "void or renumber that one in Xero, then push again")
        return None

    def _invoice(self, doc: InvoiceDocument, contact: Any, codes: set[str]) -> Invoice:
        lines: list[tuple[str, Decimal, Decimal, Decimal, str | None]] = [
            (line.description, line.quantity, line.unit_price, line.amount, line.code) for line in doc.lines]
        for label, amount in (("Discount", doc.discount), ("Cap adjustment", doc.cap_adjustment)):
            if amount:
                lines.append((label, Decimal(1), amount, amount, None))
        taxes = _allocate(doc.tax, [amount for _, _, _, amount, _ in lines])
        items = [LineItem(description=text, quantity=float(qty), unit_amount=float(price), line_amount=float(amount),
                          account_code=self._account_code, item_code=code if code in codes else None,
                          tax_type=self._tax_type, tax_amount=float(tax))
                 for (text, qty, price, amount, code), tax in zip(lines, taxes, strict=True)]
        return Invoice(type="ACCREC", contact=Contact(contact_id=contact.contact_id), line_items=items,
                       date=doc.issue_date, due_date=doc.due_date, invoice_number=doc.number,
                       reference=f"{doc.period_start}..{doc.period_end}", currency_code=CurrencyCode(doc.currency),
                       status="AUTHORISED", line_amount_types=LineAmountTypes.EXCLUSIVE)

    def _checked_ref(self, invoice: Any, doc: InvoiceDocument) -> LedgerRef:
        total = _money(invoice.total)
        if total != doc.total:
            raise LedgerError(self.name, doc.number, f"Xero shows invoice {doc.number} ({invoice.invoice_id}) with "
                              f"total {total}, the approved total is {doc.total} {doc.currency}: check its tax rates "
                              "in Xero, correct it there, then push again (it is found, not created twice)")
        return LedgerRef(ledger=self.name, id=str(invoice.invoice_id), number=str(invoice.invoice_number or doc.number),
                         url=f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice.invoice_id}")

    def _get_invoice(self, ref: LedgerRef) -> Any:
        api, tenant = self._client()
        try:
            invoices = api.get_invoice(tenant, ref.id, _request_timeout=self._policy.timeout).invoices or []
        except ApiException as exc:
            if exc.status == 404:
                raise LedgerRefNotFoundError(self.name, ref.id) from None
            raise
        if not invoices:
            raise LedgerRefNotFoundError(self.name, ref.id)
        return invoices[0]

    # --- plumbing --------------------------------------------------------------------------------

    def _client(self) -> tuple[AccountingApi, str]:
        if self._api is None or self._token is None:
            token = _XeroToken(self._store, self._token_url)
            config = Configuration()
            config.oauth2_token = token  # Configuration() hands back a copy of its first instance: set, not pass
            api_client = ApiClient(config, pool_threads=1, oauth2_token_getter=token.get,
                                   oauth2_token_saver=token.save)
            api_client.rest_client = _RestClient(config, self._policy, token, api_client)
            self._token = token
            self._api = AccountingApi(api_client, base_url=self._api_url)
        return self._api, self._token.tenant_id

    @contextmanager
    def _faults(self, number: str | None, *, pushing: bool = False) -> Iterator[None]:
        after = (" Nothing was recorded as pushed; pushing again is safe (the same Idempotency-Key, and the "
                 "invoice number, find the first invoice).") if pushing else ""
        try:
            yield
        except _Unreachable as exc:
            raise LedgerUnavailableError(self.name, number, f"Xero {exc.detail} ({exc.tries} tries, "
                                         f"{exc.url.split('?')[0]}).{after}") from None
        except ApiException as exc:
            raise _translate(exc, number, after) from None


def _translate(exc: ApiException, number: str | None, after: str) -> ConnectorError:
    status = getattr(exc, "http_resp", None) and exc.http_resp.status
    said = _said(exc)
    if status == 401:
        return LedgerAuthError(_NAME, number, f"Xero refused the access token even after a refresh ({said}); connect "
                               "again: invoice-agent ledger connect xero")
    if status == 403:
        return LedgerAuthError(_NAME, number, f"Xero: {said}. The organisation is not connected to this app, or the "
                               "app lacks the accounting scopes; connect again")
    if status == 429:
        return LedgerUnavailableError(_NAME, number, f"Xero is rate limiting this organisation ({said}; 60 calls a "
                                      f"minute, 5000 a day); try again later.{after}")
    if status and status >= 500:
        return LedgerUnavailableError(_NAME, number, f"Xero failed ({status}: {said}); try again later.{after}")
    return ConnectorError(_NAME, number, f"Xero said: {said.rstrip('.')}. Correct this in Xero or in the "
                          "workspace, then try again")


def _said(exc: ApiException) -> str:
    try:
        data = json.loads(exc.body or b"{}")
    except ValueError:
        return _body(exc)
    if not isinstance(data, dict):
        return _body(exc)
    messages = [str(v.get("Message")) for element in data.get("Elements") or []
                for v in element.get("ValidationErrors") or [] if v.get("Message")]
    head = str(data.get("Message") or data.get("Detail") or data.get("Title") or exc.reason or "")
    return "; ".join(m.rstrip(".") for m in [head, *messages]) if messages else head


def _body(exc: Any) -> str:
    body = getattr(exc, "body", b"") or b""
    return (body.decode(errors="replace") if isinstance(body, bytes) else str(body))[:300]


def _raise_validation(invoice: Any, doc: InvoiceDocument) -> None:
    errors = [str(e.message) for e in (invoice.validation_errors or []) if getattr(e, "message", None)]
    if getattr(invoice, "has_errors", False) or errors:
        raise LedgerError(_NAME, doc.number, "Xero said: " + ("; ".join(errors) or "validation failed"))


def _retry_after(exc: HTTPStatusException) -> float | None:
    try:
        value = exc.http_resp.getheader("Retry-After")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def _quote(value: str) -> str:
    """A string literal in Xero's where-clause language."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _allocate(total: Decimal, amounts: list[Decimal]) -> list[Decimal]:
    """Split `total` over lines in proportion to their amounts, to the cent, adding up exactly."""
    base = sum(amounts, Decimal(0))
    if not total or not base:
        return [Decimal(0) for _ in amounts]
    shares = [(total * a / base).quantize(_CENT, ROUND_HALF_UP) for a in amounts]
    shares[-1] += total - sum(shares, Decimal(0))
    return shares


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(_CENT, ROUND_HALF_UP)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
