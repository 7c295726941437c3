"""`QuickBooksLedger`: invoices in QuickBooks Online through python-quickbooks and intuit-oauth.

What the libraries leave to us (see /work/shared/FACTS.md), and where it is done here:

- no timeouts, no retries: `_Session` (a `requests.Session` given to the client as `qb.session`) puts a
  connect/read timeout on every request and retries what is safe to retry: reads, queries, creates that
  carry a `requestid` (QuickBooks answers a repeated request id with the first response), and anything
  answered 429 (throttled: QuickBooks did not process it). Waits back off, honouring Retry-After.
- no token refresh, a 401 just raises: `_Session` refreshes once on 401 (and ahead of a known expiry),
  serialized per realm across threads and processes, and persists the rotated refresh token every time.
- `AuthClient()` fetches Intuit's discovery document when constructed: it is built lazily, once.
- base URLs are class attributes: set on the instance. Every library call passes `qb=`.

Every create carries a request id derived from the push's idempotency key (which the store derives from
the run), so a push retried after a lost response or a crash gets the first invoice back. Before creating,
the push also looks for an invoice with the same DocNumber: one it made itself (its private note carries
the key) is returned; anyone else's is a clash, refused.

QuickBooks faults become `LedgerError`s that quote QuickBooks and say what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks import exceptions as qbx
from quickbooks.objects.account import Account
from quickbooks.objects.base import CustomerMemo, EmailAddress, Ref
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import (
    DiscountLine,
    DiscountLineDetail,
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment
from quickbooks.objects.tax import TxnTaxDetail

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
from tools.connectors.credentials import CredentialStore, QuickBooksCredentials
from tools.connectors.ledger import LedgerError, LedgerRef, LedgerRefNotFoundError, LedgerStatus, require_recipient
from tools.invoices import InvoiceDocument

__all__ = ["MINOR_VERSION", "PRODUCTION_API", "SANDBOX_API", "QuickBooksLedger"]

PRODUCTION_API = "https://quickbooks.api.intuit.com/v3"
SANDBOX_API = "https://sandbox-quickbooks.api.intuit.com/v3"
MINOR_VERSION = 75
"""The lowest minor version QuickBooks still serves (1-74 were retired on 2025-08-01)."""

_NAME = "quickbooks"
_THROTTLED = {3001, 429}


class _Unreachable(Exception):
    """Raised by `_Session` when QuickBooks did not answer; `sent` says whether the request may have arrived."""

    def __init__(self, url: str, detail: str, *, sent: bool, tries: int) -> None:
        super().__init__(detail)
        self.url, self.detail, self.sent, self.tries = url, detail, sent, tries


class _TimedAuthClient(AuthClient):  # type: ignore[misc]
    """intuit-oauth's `AuthClient` (a `requests.Session`) with a timeout on its discovery and token calls."""

    def __init__(self, *args: Any, timeout: tuple[float, float], **kwargs: Any) -> None:
        self._timeout = timeout
        super().__init__(*args, **kwargs)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)  # type: ignore[no-any-return]


class _Tokens:
    """The realm's OAuth tokens: read from the credential store, refreshed when refused or about to expire."""

    EARLY = 60.0  # refresh this many seconds before a known expiry

    def __init__(self, store: CredentialStore, make_auth_client: Callable[[QuickBooksCredentials], AuthClient]) -> None:
        self._store = store
        self._make_auth_client = make_auth_client
        self._auth: AuthClient | None = None
        self._creds: QuickBooksCredentials | None = None

    def credentials(self) -> QuickBooksCredentials:
        if self._creds is None:
            self._creds = self._store.load(_NAME, QuickBooksCredentials)
        return self._creds

    def access_token(self) -> str:
        creds = self.credentials()
        if not creds.access_token or (creds.access_expires_at and creds.access_expires_at - self.EARLY < time.time()):
            return self.refresh(creds.access_token)
        return creds.access_token

    def refresh(self, refused: str) -> str:
        """A working access token, replacing `refused`; one refresh per realm at a time, in every process."""
        realm = self.credentials().realm_id
        with self._store.refreshing(f"{_NAME}-{realm}"):
            creds = self._store.load(_NAME, QuickBooksCredentials)  # another process may have refreshed already
            fresh = creds.access_token and creds.access_token != refused and (
                not creds.access_expires_at or creds.access_expires_at - self.EARLY > time.time())
            if fresh:
                self._creds = creds
                return creds.access_token
            if self._auth is None:
                self._auth = self._make_auth_client(creds)
            auth = self._auth
            try:
                auth.refresh(refresh_token=creds.refresh_token)
            except AuthClientError as exc:
                raise LedgerAuthError(_NAME, None, "Intuit refused to refresh the access token (HTTP "
                                      f"{exc.status_code}: {_text(exc.content)}): the connection was revoked or "
                                      "its refresh token expired (100 days unused). Connect again: invoice-agent "
                                      "ledger connect quickbooks") from None
            except requests.RequestException as exc:
                raise _Unreachable(str(getattr(auth, "token_endpoint", "token endpoint")), str(exc), sent=False,
                                   tries=1) from None
            now = time.time()
            creds = creds.model_copy(update={
                "access_token": auth.access_token,
                "refresh_token": auth.refresh_token or creds.refresh_token,  # rotated: keep the new one, always
                "access_expires_at": now + float(auth.expires_in or 3600),
                "refresh_expires_at": now + float(auth.x_refresh_token_expires_in or 0) if
                auth.x_refresh_token_expires_in else creds.refresh_expires_at,
                "updated_at": now,
            })
            self._store.save(_NAME, creds)
            self._creds = creds
            return creds.access_token


class _Session(requests.Session):
    """What python-quickbooks sends through: timeouts, safe retries, refresh-on-401 (`qb.session`)."""

    def __init__(self, tokens: _Tokens, policy: HttpPolicy) -> None:
        super().__init__()
        self._tokens = tokens
        self._policy = policy

    @property
    def access_token(self) -> str:  # read by QuickBooks.process_request for the Authorization header
        return self._tokens.access_token()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        verb = method.decode() if isinstance(method, bytes) else method
        target = url.decode() if isinstance(url, bytes) else url
        kwargs.setdefault("timeout", self._policy.timeout)
        params = kwargs.get("params") or {}
        headers = dict(kwargs.pop("headers", None) or {})
        replayable = (verb.upper() in ("GET", "HEAD") or target.split("?")[0].endswith("/query")
                      or bool(params.get("requestid")))
        token = headers.get("Authorization", "").removeprefix("Bearer ") or self._tokens.access_token()
        refreshed, attempt = False, 0
        while True:
            headers["Authorization"] = f"Bearer {token}"
            try:
                kwargs["headers"] = headers
                response = super().request(verb, target, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                never_sent = isinstance(exc, requests.ConnectTimeout)
                if (replayable or never_sent) and attempt < self._policy.retries:
                    self._policy.sleep(self._policy.wait(attempt))
                    attempt += 1
                    continue
                kind = "did not answer within " + self._policy.describe_timeout() if isinstance(
                    exc, requests.Timeout) else f"could not be reached ({type(exc).__name__})"
                raise _Unreachable(target, kind, sent=not never_sent, tries=attempt + 1) from None
            if response.status_code == 401 and not refreshed:
                refreshed = True
                token = self._tokens.refresh(token)
                continue
            retry = response.status_code == 429 or (replayable and response.status_code in (500, 502, 503, 504))
            if retry and attempt < self._policy.retries:
                self._policy.sleep(self._policy.wait(attempt, _retry_after(response)))
                attempt += 1
                continue
            return response


class QuickBooksLedger:
    """A QuickBooks Online company as the ledger.

    Args:
        credentials: where the realm's OAuth tokens are (`invoice-agent ledger connect quickbooks`).
        data_dir: the data folder (for the links book: our client ids -> QuickBooks customer ids).
        api_url: the API base ("https://quickbooks.api.intuit.com/v3"); default by the credentials' environment.
        discovery_url: Intuit's OpenID discovery document; default by the environment.
        policy: timeouts and retries.
        income_account: the income account id new items post to (default: the first Income account).
        tax_code: a TaxCode id for TxnTaxDetail.TxnTaxCodeRef (outside the US); default none sent.
        default_item: the item name for lines without a billing code.
    """

    name = _NAME

    def __init__(
        self,
        credentials: CredentialStore,
        data_dir: str | Path,
        *,
        api_url: str | None = None,
        discovery_url: str | None = None,
        policy: HttpPolicy | None = None,
        minor_version: int = MINOR_VERSION,
        income_account: str | None = None,
        tax_code: str | None = None,
        default_item: str = "Services",
    ) -> None:
        self._store = credentials
        self._data_dir = Path(data_dir)
        self._api_url = api_url
        self._discovery_url = discovery_url
        self._policy = policy or HttpPolicy()
        self._minor_version = minor_version
        self._income_account = income_account
        self._tax_code = tax_code
        self._default_item = default_item
        self._tokens = _Tokens(credentials, self._auth_client)
        self._qb: QuickBooks | None = None

    # --- the Ledger protocol ---------------------------------------------------------------------

    def push(self, doc: InvoiceDocument, idempotency_key: str, *, run_id: str | None = None,
             review_url: str | None = None) -> LedgerRef:
        """Create the invoice (and its customer and items if missing); the same key returns the first invoice.

        Raises:
            LedgerError: QuickBooks refused (its message quoted), the number belongs to another invoice there,
                or the totals QuickBooks computed differ from the approved ones.
            LedgerUnavailableError: no answer or throttled after the retries; nothing was recorded as
                pushed, and pushing again is safe.
        """
        with self._faults(doc.number, pushing=True):
            qb = self._client()
            existing = self._existing(doc, idempotency_key)
            if existing is not None:
                return self._checked_ref(existing, doc)
            customer = self._ensure_customer(doc, idempotency_key)
            items = self._ensure_items(doc, idempotency_key)
            invoice = self._invoice(doc, customer, items, private_note(doc, idempotency_key, run_id=run_id,
                                                                        review_url=review_url))
            created = invoice.save(qb=qb, request_id=derived_id("inv", idempotency_key))
            return self._checked_ref(created, doc)

    def send(self, ref: LedgerRef, doc: InvoiceDocument) -> None:
        """Email the invoice from QuickBooks to the client, unless QuickBooks says it was emailed already."""
        require_recipient(self.name, doc)
        with self._faults(doc.number):
            qb = self._client()
            invoice = self._get_invoice(ref)
            if invoice.EmailStatus == "EmailSent":
                return
            try:
                invoice.send(qb=qb, send_to=doc.client_email)
            except _Unreachable as exc:
                # The send may have arrived: never send twice blindly; look at what QuickBooks says.
                if self._get_invoice(ref).EmailStatus == "EmailSent":
                    return
                raise LedgerUnavailableError(
                    self.name, doc.number, f"QuickBooks {exc.detail} while sending; it does not show the invoice as "
                    "emailed. Send again later (it is checked first, so it is never emailed twice)") from None

    def status(self, ref: LedgerRef) -> LedgerStatus:
        with self._faults(ref.number):
            invoice = self._get_invoice(ref)
        total = _dec(invoice.TotalAmt)
        if total == 0 and "void" in str(invoice.PrivateNote or "").lower():
            return "void"
        if total > 0 and _dec(invoice.Balance) == 0:
            return "paid"
        return "sent" if invoice.EmailStatus == "EmailSent" else "pushed"

    def payments_since(self, since: date) -> list[LedgerPayment]:
        """Customer payments dated `since` or later, each with the invoices it is applied to (LinkedTxn)."""
        with self._faults(None):
            qb = self._client()
            payments: list[Any] = []
            start, page = 1, 1000
            while True:
                batch = Payment.where(f"TxnDate >= '{since.isoformat()}'", order_by="TxnDate",
                                      start_position=start, max_results=page, qb=qb)
                payments += batch
                if len(batch) < page:
                    break
                start += page
            invoice_ids = sorted({str(t.TxnId) for p in payments for line in (p.Line or [])
                                  for t in (line.LinkedTxn or []) if t.TxnType == "Invoice"})
            numbers = {str(i.Id): str(i.DocNumber) for i in Invoice.choose(invoice_ids, qb=qb)} if invoice_ids else {}
        result = []
        for p in payments:
            ids = [str(t.TxnId) for line in (p.Line or []) for t in (line.LinkedTxn or []) if t.TxnType == "Invoice"]
            currency = p.CurrencyRef.value if p.CurrencyRef else ""
            result.append(LedgerPayment(ledger=self.name, id=str(p.Id), date=date.fromisoformat(str(p.TxnDate)),
                                        amount=_dec(p.TotalAmt), currency=str(currency), invoice_ids=ids,
                                        invoice_numbers=[numbers[i] for i in ids if i in numbers],
                                        reference=str(p.PaymentRefNum or "")))
        return result

    def check(self) -> str:
        """A line saying which company the connection reaches (raises when it does not work)."""
        with self._faults(None):
            creds = self._tokens.credentials()
            info = CompanyInfo.get(creds.realm_id, qb=self._client())
        return f"connected to QuickBooks company {info.CompanyName!r} (realm {creds.realm_id}, {creds.environment})"

    # --- customers and items ---------------------------------------------------------------------

    def _links(self) -> LedgerLinks:
        return LedgerLinks(self._data_dir, self.name, self._tokens.credentials().realm_id)

    def _ensure_customer(self, doc: InvoiceDocument, key: str) -> Any:
        qb, links = self._client(), self._links()
        by_id: list[Any] = []
        linked = links.get("customer", doc.client_id)
        if linked:
            try:
                customer = Customer.get(linked, qb=qb)
                if customer.Active:
                    by_id.append(customer)
            except qbx.ObjectNotFoundException:
                pass
            if not by_id:
                links.forget("customer", doc.client_id)
        by_name = [] if by_id else Customer.where(f"DisplayName = {_quote(doc.client_name)}", qb=qb)
        by_email = [] if by_id or not doc.client_email else Customer.where(
            f"PrimaryEmailAddr = {_quote(doc.client_email)}", qb=qb)
        found = choose_customer(
            self.name, doc, by_id=by_id, by_name=by_name, by_email=by_email, ident=lambda c: str(c.Id),
            describe=lambda c: f"Id {c.Id} {c.DisplayName!r} <{_email(c)}>",
            fix=f"Merge the duplicates in QuickBooks, or rename them so that only one is named exactly "
                f"{doc.client_name!r}, then push again.")
        if found is None:
            customer = Customer()
            customer.DisplayName = doc.client_name
            customer.CompanyName = doc.client_name
            customer.Notes = f"invoice-agent client {doc.client_id}"
            if doc.client_email:
                customer.PrimaryEmailAddr = _email_address(doc.client_email)
            customer.CurrencyRef = _ref(doc.currency)
            _drop_empty(customer)
            found = customer.save(qb=qb, request_id=derived_id("cus", key, doc.client_id))
        currency = getattr(getattr(found, "CurrencyRef", None), "value", None)
        if currency and currency != doc.currency:
            raise LedgerError(self.name, doc.number, f"QuickBooks customer {found.DisplayName!r} (Id {found.Id}) is "
                              f"billed in {currency}, this invoice in {doc.currency}; QuickBooks keeps one currency "
                              "per customer: create a customer for this currency and link it, or bill in "
                              f"{currency}")
        links.set("customer", doc.client_id, str(found.Id))
        return found

    def _ensure_items(self, doc: InvoiceDocument, key: str) -> dict[str, Any]:
        """One QuickBooks item per billing code on the invoice (the default item for lines without one)."""
        qb, links, items = self._client(), self._links(), {}
        for line in doc.lines:
            name = line.code or self._default_item
            if name in items:
                continue
            linked = links.get("item", name)
            if linked:
                items[name] = _ref(linked, name)
                continue
            found = Item.where(f"Name = {_quote(name)}", qb=qb)
            if found:
                item = found[0]
            else:
                item = Item()
                item.Name = name
                item.Type = "Service"
                item.Description = line.description if line.code else "Professional services"
                item.IncomeAccountRef = _ref(self._income_account_id())
                _drop_empty(item)
                item = item.save(qb=qb, request_id=derived_id("itm", key, name))
            links.set("item", name, str(item.Id))
            items[name] = _ref(str(item.Id), name)
        return items

    def _income_account_id(self) -> str:
        if self._income_account:
            return self._income_account
        accounts = Account.where("AccountType = 'Income'", max_results=1, qb=self._client())
        if not accounts:
            raise ConnectorError(self.name, None, "QuickBooks has no Income account for new items; create one or set "
                              "INVOICE_AGENT_QUICKBOOKS_INCOME_ACCOUNT to an account id")
        self._income_account = str(accounts[0].Id)
        return self._income_account

    # --- the invoice -----------------------------------------------------------------------------

    def _existing(self, doc: InvoiceDocument, key: str) -> Any | None:
        found = Invoice.where(f"DocNumber = {_quote(doc.number)}", qb=self._client())
        for invoice in found:
            if note_has_key(invoice.PrivateNote, key):
                return invoice
        if found:
            raise LedgerError(self.name, doc.number, f"QuickBooks already has an invoice numbered {doc.number} "
                              f"(Id {found[0].Id}) that this run did not create; numbers are never reused: void or "
                              "renumber that one in QuickBooks, then push again")
        return None

    def _invoice(self, doc: InvoiceDocument, customer: Any, items: dict[str, Any], note: str) -> Invoice:
        invoice = Invoice()
        invoice.DocNumber = doc.number
        invoice.TxnDate = doc.issue_date.isoformat()
        invoice.DueDate = doc.due_date.isoformat()
        invoice.CustomerRef = _ref(str(customer.Id), customer.DisplayName)
        invoice.CurrencyRef = _ref(doc.currency)
        invoice.PrivateNote = note[:4000]
        if doc.client_email:
            invoice.BillEmail = _email_address(doc.client_email)
        if doc.notes:
            memo = CustomerMemo()
            memo.value = doc.notes[:1000]
            invoice.CustomerMemo = memo
        for number, line in enumerate(doc.lines, start=1):
            detail = SalesItemLineDetail()
            detail.ItemRef = items[line.code or self._default_item]
            detail.Qty = float(line.quantity)
            detail.UnitPrice = float(line.unit_price)
            detail.ServiceDate = doc.period_end.isoformat()
            sales = SalesItemLine()
            sales.LineNum = number
            sales.Description = line.description
            sales.Amount = float(line.amount)
            sales.SalesItemLineDetail = detail
            invoice.Line.append(sales)
        reduction = -(doc.discount + doc.cap_adjustment)
        if reduction:
            discount = DiscountLine()
            discount.Amount = float(reduction)
            parts = (("discount", doc.discount), ("cap adjustment", doc.cap_adjustment))
            discount.Description = ", ".join(part for part, amount in parts if amount)
            discount.DiscountLineDetail = DiscountLineDetail()
            discount.DiscountLineDetail.PercentBased = False
            invoice.Line.append(discount)
        tax = TxnTaxDetail()
        tax.TotalTax = float(doc.tax)
        if self._tax_code:
            tax.TxnTaxCodeRef = _ref(self._tax_code)
        invoice.TxnTaxDetail = tax
        invoice.ApplyTaxAfterDiscount = True
        for empty in ("ExchangeRate", "Balance", "Deposit", "HomeBalance", "HomeTotalAmt", "TotalAmt"):
            setattr(invoice, empty, None)
        _drop_empty(invoice)
        return invoice

    def _checked_ref(self, invoice: Any, doc: InvoiceDocument) -> LedgerRef:
        total = _dec(invoice.TotalAmt)
        if total != doc.total:
            raise LedgerError(self.name, doc.number, f"QuickBooks shows invoice {doc.number} (Id {invoice.Id}) with "
                              f"total {total}, the approved total is {doc.total} {doc.currency}: its tax or discount "
                              "settings differ. Correct the invoice in QuickBooks, then push again (it is found, not "
                              "created twice)")
        return LedgerRef(ledger=self.name, id=str(invoice.Id), number=str(invoice.DocNumber or doc.number),
                         url=self._app_url(str(invoice.Id)))

    def _get_invoice(self, ref: LedgerRef) -> Any:
        try:
            return Invoice.get(ref.id, qb=self._client())
        except qbx.ObjectNotFoundException:
            raise LedgerRefNotFoundError(self.name, ref.id) from None

    def _app_url(self, invoice_id: str) -> str:
        sandbox = self._tokens.credentials().environment == "sandbox"
        host = "app.sandbox.qbo.intuit.com" if sandbox else "app.qbo.intuit.com"
        return f"https://{host}/app/invoice?txnId={invoice_id}"

    # --- plumbing --------------------------------------------------------------------------------

    def _auth_client(self, creds: QuickBooksCredentials) -> AuthClient:
        try:
            return _TimedAuthClient(creds.client_id, creds.client_secret, creds.redirect_uri,
                                    self._discovery_url or creds.environment, timeout=self._policy.timeout)
        except (requests.RequestException, AuthClientError) as exc:
            raise _Unreachable(self._discovery_url or "Intuit discovery document", str(exc), sent=False,
                               tries=1) from None

    def _client(self) -> QuickBooks:
        if self._qb is None:
            creds = self._tokens.credentials()
            qb = QuickBooks(company_id=creds.realm_id, minorversion=self._minor_version)
            qb.sandbox = creds.environment == "sandbox"
            qb.api_url_v3 = self._api_url or PRODUCTION_API
            qb.sandbox_api_url_v3 = self._api_url or SANDBOX_API
            qb.use_decimal = True
            qb.session = _Session(self._tokens, self._policy)
            self._qb = qb
        return self._qb

    @contextmanager
    def _faults(self, number: str | None, *, pushing: bool = False) -> Iterator[None]:
        """QuickBooks faults and silences as our typed errors, with QuickBooks' words and what to do."""
        after = (" Nothing was recorded as pushed; pushing again is safe (the same request id returns the first "
                 "invoice).") if pushing else ""
        try:
            yield
        except _Unreachable as exc:
            raise LedgerUnavailableError(self.name, number, f"QuickBooks {exc.detail} ({exc.tries} tries, "
                                         f"{exc.url.split('?')[0]}).{after}") from None
        except qbx.QuickbooksException as exc:
            raise _translate(exc, number, after) from None


def _translate(exc: Any, number: str | None, after: str) -> ConnectorError:
    code = _code(exc.error_code)
    detail = str(exc.detail or "").strip()
    said = f"QuickBooks said: {str(exc.message).rstrip('.')}" + (f" (code {code})" if code else "") + (
        f": {detail.rstrip('.')}" if detail and not detail.startswith("{") else "")
    if code in _THROTTLED:
        return LedgerUnavailableError(_NAME, number, f"{said}. QuickBooks is throttling this company (500 requests a "
                                      f"minute, 10 at once); wait a minute and try again.{after}")
    if isinstance(exc, qbx.AuthorizationException):
        if code in (401, 3200) or not code:
            return LedgerAuthError(_NAME, number, f"{said}. The access token was refused even after a refresh; "
                                   "connect again: invoice-agent ledger connect quickbooks")
        return LedgerAuthError(_NAME, number, f"{said}. The app is not allowed to do this in this company: check "
                               "the connected user's role and the app's scopes, then connect again")
    if isinstance(exc, qbx.ObjectNotFoundException):
        return ConnectorError(_NAME, number, f"{said}. It was deleted in QuickBooks; if it was linked, the link "
                           "is dropped on the next push")
    advice = {
        2500: "Something it refers to (a customer or item) is inactive or deleted in QuickBooks: reactivate it, or "
              "delete the links file under data/ledgers/ so it is matched again",
        6140: "Another invoice in QuickBooks has this number: void or renumber that one",
        6240: "A customer or item with this name already exists in QuickBooks (perhaps inactive): reactivate it "
              "so it is matched, or rename it",
    }.get(code or 0)
    if isinstance(exc, qbx.SevereException) or (code or 0) >= 10000:
        advice = advice or f"QuickBooks had an internal error; try again later.{after}"
    advice = advice or "Correct this in QuickBooks or in the workspace, then try again"
    return ConnectorError(_NAME, number, f"{said}. {advice}")


def _code(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _quote(value: str) -> str:
    """A string literal in QuickBooks' query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ref(value: str, name: str | None = None) -> Ref:
    ref = Ref()
    ref.value = value
    ref.name = name or ""
    ref.type = ""
    _drop_empty(ref)
    return ref


def _email_address(address: str) -> EmailAddress:
    email = EmailAddress()
    email.Address = address
    return email


def _email(customer: Any) -> str:
    addr = getattr(customer, "PrimaryEmailAddr", None)
    return str(getattr(addr, "Address", "") or "")


def _drop_empty(obj: Any) -> None:
    """python-quickbooks objects start with "" in every field; send only what is set."""
    for key, value in list(vars(obj).items()):
        if value == "" and not key.startswith("_"):
            setattr(obj, key, None)


def _dec(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _text(content: Any) -> str:
    text = content.decode(errors="replace") if isinstance(content, bytes) else str(content)
    return text[:300]
