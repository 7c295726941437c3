"""A fake Xero Accounting API 2.0 and Xero Identity token endpoint, answering like the real ones.

- `POST /connect/token`: refresh_token grant (client id and secret in the form, as xero-python sends them);
  rotates the refresh token; `{"error": "invalid_grant"}` otherwise.
- `/api.xro/2.0/...`: Bearer token and `xero-tenant-id` required (401 with Xero's problem body and a
  WWW-Authenticate header; 403 for an unknown tenant). Envelopes `{Id, Status: "OK", ProviderName,
  DateTimeUTC: "/Date(ms)/", <Things>: [...]}`, dates as `/Date(ms+0000)/`. Contacts, Items, Invoices
  (ACCREC, totals computed from the lines, `InvoiceNumbers` filter, `/Email`, `/History`), Payments, Organisation.
- `where` clauses: `Field=="value"` joined by AND, and `Date >= DateTime(y, m, d)`.
- `Idempotency-Key`: a repeated key on the same path gets the first response back and changes nothing.
- 400 ValidationException bodies (`Elements[].ValidationErrors[].Message`) for a duplicate contact name,
  an unknown contact, and a line whose LineAmount is not Quantity x UnitAmount.
"""

from __future__ import annotations

import itertools
import re
import secrets
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs

from tests.connectors.fakes.base import FakeServer, Reply, Request, fixture

CENT = Decimal("0.01")
BASE = "/api.xro/2.0"


def ms_date(day: date) -> str:
    return f"/Date({int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)}+0000)/"


def parse_date(value: Any) -> date:
    match = re.match(r"/Date\((-?\d+)", str(value))
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC).date()
    return date.fromisoformat(str(value)[:10])


def envelope(key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "invoice-agent tests",
            "DateTimeUTC": "/Date(1775030400000)/", key: items}


def validation(message: str, element: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = fixture("xero/error_400_validation_contacts.json")
    body["Elements"] = [dict(element or {}, ValidationErrors=[{"Message": message}])]
    return body


class FakeXero(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.tenant = str(uuid.uuid4())
        self.client_id, self.client_secret = "XEROCLIENT", "xero-secret"
        self.access_tokens: set[str] = set()
        self.refresh_tokens: dict[str, bool] = {}
        self.token_calls = 0
        self.contacts: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.emails: list[str] = []
        self.idempotent: dict[tuple[str, str], Reply] = {}
        self._numbers = itertools.count(1)

    # --- test helpers ----------------------------------------------------------------------------

    def issue_tokens(self) -> tuple[str, str]:
        access, refresh = "xat-" + secrets.token_hex(8), "xrt-" + secrets.token_hex(8)
        self.access_tokens.add(access)
        self.refresh_tokens[refresh] = True
        return access, refresh

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def add_contact(self, name: str, email: str = "", number: str = "") -> dict[str, Any]:
        contact: dict[str, Any] = fixture("xero/contacts_get_response.json")["Contacts"][0]
        contact.update(ContactID=str(uuid.uuid4()), Name=name, EmailAddress=email, ContactNumber=number,
                       ContactStatus="ACTIVE")
        self.contacts[contact["ContactID"]] = contact
        return contact

    def add_payment(self, invoice_id: str, amount: Decimal, on: date, *, batch: bool = False) -> dict[str, Any]:
        """A payment against the invoice. `batch=True` keeps the fixture's BatchPayment block, whose
        `IsReconciled: "false"` (a string, as in Xero's own OpenAPI example) xero-python cannot read."""
        payment: dict[str, Any] = fixture("xero/payments_get_response.json")["Payments"][0]
        if not batch:
            payment.pop("BatchPayment", None)
            payment.pop("BatchPaymentID", None)
        invoice = self.invoices[invoice_id]
        payment.update(PaymentID=str(uuid.uuid4()), Date=ms_date(on), Amount=float(amount), BankAmount=float(amount),
                       Reference="BACS-1", Invoice={"Type": "ACCREC", "InvoiceID": invoice_id,
                                                    "InvoiceNumber": invoice["InvoiceNumber"],
                                                    "CurrencyCode": invoice["CurrencyCode"],
                                                    "Contact": {"ContactID": invoice["Contact"]["ContactID"],
                                                                "Name": invoice["Contact"]["Name"]}})
        self.payments[payment["PaymentID"]] = payment
        paid = Decimal(str(invoice["AmountPaid"])) + amount
        due = Decimal(str(invoice["Total"])) - paid
        invoice.update(AmountPaid=float(paid), AmountDue=float(due), Status="PAID" if due <= 0 else invoice["Status"])
        return payment

    # --- routing ---------------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        if request.path == "/connect/token":
            return self._token(request)
        if not request.path.startswith(BASE):
            return Reply.json(404, {"Title": "Not Found", "Status": 404})
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return Reply.json(401, {"Type": None, "Title": "Unauthorized", "Status": 401,
                                    "Detail": "TokenExpired: token expired at 04/01/2026 08:00:00",
                                    "Instance": str(uuid.uuid4()), "Extensions": {}},
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if request.header("xero-tenant-id") != self.tenant:
            return Reply.json(403, {"Type": None, "Title": "Forbidden", "Status": 403,
                                    "Detail": "AuthenticationUnsuccessful", "Instance": str(uuid.uuid4()),
                                    "Extensions": {}})
        key = request.header("idempotency-key")
        if key and (key, request.path) in self.idempotent:
            return self.idempotent[(key, request.path)]
        reply = self._api(request, request.path[len(BASE):])
        if key and request.method in ("PUT", "POST"):
            self.idempotent[(key, request.path)] = reply
        return reply

    def _api(self, request: Request, path: str) -> Reply:
        method = request.method
        if path == "/Organisation" and method == "GET":
            return Reply.json(200, envelope("Organisations", [{"Name": "Demo Company (UK)", "BaseCurrency": "GBP",
                                                               "OrganisationID": self.tenant}]))
        if path == "/Contacts":
            if method == "GET":
                rows = list(self.contacts.values())
                ids = request.q("IDs")
                if ids:
                    rows = [c for c in rows if c["ContactID"] in ids.split(",")]
                return Reply.json(200, envelope("Contacts", _where(rows, request.q("where"))))
            return self._create_contacts(request.json())
        if path == "/Items":
            if method == "GET":
                return Reply.json(200, envelope("Items", _where(list(self.items.values()), request.q("where"))))
            return self._create_items(request.json())
        if path == "/Invoices":
            if method == "GET":
                rows = list(self.invoices.values())
                numbers = request.q("InvoiceNumbers")
                if numbers:
                    rows = [i for i in rows if i["InvoiceNumber"] in numbers.split(",")]
                return Reply.json(200, envelope("Invoices", _where(rows, request.q("where"))))
            return self._create_invoices(request.json())
        match = re.fullmatch(r"/Invoices/([^/]+)(/Email|/History)?", path)
        if match:
            invoice = self.invoices.get(match.group(1))
            if invoice is None:
                return Reply.json(404, {"Title": "Not Found", "Status": 404,
                                        "Detail": "The resource you're looking for cannot be found"})
            if match.group(2) == "/Email" and method == "POST":
                if not invoice["Contact"].get("EmailAddress"):
                    return Reply.json(400, validation("The contact does not have an email address"))
                self.emails.append(invoice["InvoiceID"])
                invoice["SentToContact"] = True
                return Reply(204)
            if match.group(2) == "/History":
                if method == "GET":
                    return Reply.json(200, envelope("HistoryRecords", self.history.get(invoice["InvoiceID"], [])))
                records = [{"Details": r.get("Details"), "DateUTC": "/Date(1775030400000+0000)/", "User": "API"}
                           for r in request.json().get("HistoryRecords", [])]
                self.history.setdefault(invoice["InvoiceID"], []).extend(records)
                return Reply.json(200, envelope("HistoryRecords", records))
            if method == "GET":
                return Reply.json(200, envelope("Invoices", [invoice]))
        if path == "/Payments" and method == "GET":
            rows = _where(list(self.payments.values()), request.q("where"))
            page, size = int(request.q("page") or 1), int(request.q("pageSize") or 100)
            return Reply.json(200, envelope("Payments", rows[(page - 1) * size:page * size]))
        return Reply.json(404, {"Title": "Not Found", "Status": 404, "Detail": f"{method} {path}"})

    # --- OAuth -----------------------------------------------------------------------------------

    def _token(self, request: Request) -> Reply:
        self.token_calls += 1
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return Reply.json(400, {"error": "invalid_client"})
        refresh = form.get("refresh_token", "")
        if form.get("grant_type") != "refresh_token" or not self.refresh_tokens.get(refresh):
            return Reply.json(400, {"error": "invalid_grant"})
        self.refresh_tokens[refresh] = False
        access, new_refresh = self.issue_tokens()
        return Reply.json(200, {"id_token": None, "access_token": access, "expires_in": 1800,
                                "token_type": "Bearer", "refresh_token": new_refresh, "scope": form.get("scope", "")})

    # --- creates ---------------------------------------------------------------------------------

    def _create_contacts(self, body: dict[str, Any]) -> Reply:
        created = []
        for data in body.get("Contacts", []):
            if any(c["Name"] == data.get("Name") and c["ContactStatus"] == "ACTIVE" for c in self.contacts.values()):
                return Reply.json(400, validation(f"The contact name {data.get('Name')} is already assigned to "
                                                  "another contact. The contact name must be unique across all "
                                                  "active contacts.", data))
            contact = fixture("xero/contacts_create_response.json")["Contacts"][0]
            contact.update(data, ContactID=str(uuid.uuid4()), ContactStatus="ACTIVE", HasValidationErrors=False)
            self.contacts[contact["ContactID"]] = contact
            created.append(contact)
        return Reply.json(200, envelope("Contacts", created))

    def _create_items(self, body: dict[str, Any]) -> Reply:
        created = []
        for data in body.get("Items", []):
            if any(i["Code"] == data.get("Code") for i in self.items.values()):
                return Reply.json(400, validation(f"Item code '{data.get('Code')}' already exists", data))
            item = dict(data, ItemID=str(uuid.uuid4()), UpdatedDateUTC="/Date(1775030400000+0000)/")
            self.items[item["ItemID"]] = item
            created.append(item)
        return Reply.json(200, envelope("Items", created))

    def _create_invoices(self, body: dict[str, Any]) -> Reply:
        created = []
        for data in body.get("Invoices", []):
            contact = self.contacts.get((data.get("Contact") or {}).get("ContactID", ""))
            if contact is None:
                return Reply.json(400, validation("The contact could not be found", data))
            subtotal = tax = Decimal(0)
            lines = []
            for line in data.get("LineItems", []):
                amount = _dec(line.get("LineAmount"))
                if (_dec(line.get("Quantity")) * Decimal(str(line.get("UnitAmount") or 0))).quantize(
                        CENT, ROUND_HALF_UP) != amount:
                    return Reply.json(400, validation("The line total does not match quantity x unit amount", data))
                subtotal += amount
                tax += _dec(line.get("TaxAmount"))
                lines.append(dict(line, LineItemID=str(uuid.uuid4())))
            invoice = fixture("xero/invoices_create_response.json")["Invoices"][0]
            number = data.get("InvoiceNumber") or f"INV-{next(self._numbers):04d}"
            total = subtotal + tax
            invoice.update(data, InvoiceID=str(uuid.uuid4()), InvoiceNumber=number, LineItems=lines,
                           Contact={k: contact.get(k) for k in ("ContactID", "Name", "EmailAddress",
                                                                "ContactNumber", "ContactStatus")},
                           Date=ms_date(parse_date(data["Date"])), DueDate=ms_date(parse_date(data["DueDate"])),
                           SubTotal=float(subtotal), TotalTax=float(tax), Total=float(total),
                           AmountDue=float(total), AmountPaid=0.0, SentToContact=False, HasErrors=False,
                           Payments=[], Status=data.get("Status", "DRAFT"))
            self.invoices[invoice["InvoiceID"]] = invoice
            created.append(invoice)
        return Reply.json(200, envelope("Invoices", created))


def _field(row: dict[str, Any], name: str) -> Any:
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _where(rows: list[dict[str, Any]], where: str | None) -> list[dict[str, Any]]:
    if not where:
        return rows
    for cond in re.split(r"\s+AND\s+", where):
        cond = cond.strip()
        equal = re.fullmatch(r'([\w.]+)\s*==\s*"((?:\\.|[^"])*)"', cond)
        dated = re.fullmatch(r"([\w.]+)\s*(>=|<=|>|<)\s*DateTime\((\d+),\s*(\d+),\s*(\d+)\)", cond)
        if equal:
            field, value = equal.group(1), re.sub(r"\\(.)", r"\1", equal.group(2))
            rows = [r for r in rows if str(_field(r, field) or "") == value]
        elif dated:
            field, op = dated.group(1), dated.group(2)
            bound = date(int(dated.group(3)), int(dated.group(4)), int(dated.group(5)))
            rows = [r for r in rows if {">=": parse_date(_field(r, field)) >= bound,
                                        "<=": parse_date(_field(r, field)) <= bound,
                                        ">": parse_date(_field(r, field)) > bound,
                                        "<": parse_date(_field(r, field)) < bound}[op]]
        else:
            raise ValueError(f"the fake does not understand where {cond!r}")
    return rows


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)
