"""A fake QuickBooks Online (Accounting API v3) and Intuit OAuth2 server, answering like the real ones.

- `GET /.well-known/openid_configuration/`: Intuit's discovery document (intuit-oauth reads it on construction).
- `POST /oauth2/v1/tokens/bearer`: refresh_token grant with Basic client auth; rotates the refresh token
  (the old one stops working) and issues a new access token; invalid_grant otherwise.
- `/v3/company/{realm}/...`: Bearer token required (else 401 with the AuthenticationFailed body);
  `query` (the SQL subset the connector uses, `QueryResponse` envelope, entity key absent when empty),
  create/read of customer, item, invoice, account, companyinfo, payment, and `invoice/{id}/send`.
  A repeated `requestid` gets the first response back, byte for byte, and changes nothing.
- Faults in the `{"Fault": {"Error": [{Message, Detail, code}], "type"}, "time"}` envelope: 610 object
  not found, 2500 invalid reference, 2020 required param, 6070 amount mismatch, 6140 duplicate number,
  6240 duplicate name, 4000 query parser error.
"""

from __future__ import annotations

import base64
import copy
import itertools
import re
import secrets
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs

from tests.connectors.fakes.base import FakeServer, Reply, Request, fixture

TIME = "2026-04-01T09:00:00.000-07:00"
CENT = Decimal("0.01")


def fault(code: str, message: str, detail: str = "", kind: str = "ValidationFault") -> dict[str, Any]:
    error: dict[str, Any] = {"Message": message, "code": code}
    if detail:
        error["Detail"] = detail
    return {"Fault": {"Error": [error], "type": kind}, "time": TIME}


def auth_failed_body() -> dict[str, Any]:
    # Not in the contracts (a gap): the shape QuickBooks sends with a 401, as public fakes and SDK tests show it.
    return {"warnings": None, "intuitObject": None,
            "fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                 "detail": "Token expired", "code": "3200"}], "type": "AUTHENTICATION"},
            "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
            "syncErrorResponse": None, "requestId": None, "time": 1775000000000, "status": None,
            "cdcresponse": []}


THROTTLED_3001 = {"Fault": {"Error": [{"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                                       "Detail": "The request limit was reached.", "code": "3001"}],
                            "type": "ThrottleExceeded"}, "time": TIME}


class FakeQuickBooks(FakeServer):
    def __init__(self, *, realm: str = "9341453050118296", client_id: str = "ABclient",
                 client_secret: str = "s3cret") -> None:
        super().__init__()
        self.realm = realm
        self.client_id, self.client_secret = client_id, client_secret
        self.access_tokens: set[str] = set()
        self.refresh_tokens: dict[str, bool] = {}
        self.token_calls = 0
        self.customers: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.accounts = {"79": {"Id": "79", "Name": "Sales of Product Income", "AccountType": "Income",
                                "Active": True, "SyncToken": "0"}}
        self.sends: list[tuple[str, str]] = []
        self.request_ids: dict[str, Reply] = {}
        self._ids = itertools.count(100)

    # --- test helpers ----------------------------------------------------------------------------

    def issue_tokens(self) -> tuple[str, str]:
        """A valid (access, refresh) pair, as the OAuth playground would give."""
        access, refresh = "at-" + secrets.token_hex(8), "rt-" + secrets.token_hex(8)
        self.access_tokens.add(access)
        self.refresh_tokens[refresh] = True
        return access, refresh

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def add_customer(self, name: str, email: str = "", currency: str = "GBP") -> dict[str, Any]:
        customer: dict[str, Any] = fixture("quickbooks/customer_sample_response.json")["Customer"]
        customer.update(Id=str(next(self._ids)), DisplayName=name, CompanyName=name, FullyQualifiedName=name,
                        PrintOnCheckName=name, PrimaryEmailAddr={"Address": email} if email else None,
                        CurrencyRef={"value": currency}, Balance=0, BalanceWithJobs=0)
        self.customers[customer["Id"]] = customer
        return customer

    def add_payment(self, invoice_id: str, amount: Decimal, on: date) -> dict[str, Any]:
        payment: dict[str, Any] = fixture("quickbooks/payment_sample_object.json")["Payment"]
        invoice = self.invoices[invoice_id]
        payment.update(Id=str(next(self._ids)), TxnDate=on.isoformat(), TotalAmt=float(amount),
                       CustomerRef=dict(invoice["CustomerRef"]), CurrencyRef={"value": invoice["CurrencyRef"]["value"]},
                       PaymentRefNum="BACS-1", Line=[{"Amount": float(amount),
                                                      "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}])
        self.payments[payment["Id"]] = payment
        invoice["Balance"] = float(Decimal(str(invoice["Balance"])) - amount)
        return payment

    # --- routing ---------------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        if request.path.startswith("/.well-known/openid_"):
            return Reply.json(200, self._discovery())
        if request.path == "/oauth2/v1/tokens/bearer":
            return self._token(request)
        match = re.fullmatch(r"/v3/company/([^/]+)/(.+)", request.path)
        if not match:
            return Reply.json(404, {"error": "not found"})
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return Reply.json(401, auth_failed_body(), {"WWW-Authenticate": 'Bearer realm="Intuit"'})
        if match.group(1) != self.realm:
            return Reply.json(403, fault("3100", "message=ApplicationAuthorizationFailed; errorCode=003100; "
                                         "statusCode=403", kind="AuthorizationFault"))
        rid = request.q("requestid")
        if rid and rid in self.request_ids:
            return self.request_ids[rid]
        reply = self._api(request, match.group(2))
        if rid and request.method == "POST":
            self.request_ids[rid] = reply
        return reply

    def _api(self, request: Request, rest: str) -> Reply:
        method = request.method
        if rest == "query" and method == "POST":
            return self._query(request.body.decode())
        if rest == "query" and method == "GET":
            return self._query(request.q("query") or "")
        if method == "GET":
            entity, _, ident = rest.strip("/").partition("/")
            table = self._table(entity)
            if table is None or ident not in table:
                return Reply.json(400, fault("610", "Object Not Found", "Object Not Found : Something you're trying "
                                             "to use has been made inactive. Check the fields with accounts, "
                                             "customers, items, vendors or employees.", "ValidationFault"))
            return Reply.json(200, {self._entity_name(entity): table[ident], "time": TIME})
        send = re.fullmatch(r"invoice/([^/]+)/send", rest)
        if send and method == "POST":
            return self._send(send.group(1), request)
        if method == "POST" and rest == "customer":
            return self._create_customer(request.json())
        if method == "POST" and rest == "item":
            return self._create_item(request.json())
        if method == "POST" and rest == "invoice":
            return self._create_invoice(request.json())
        return Reply.json(400, fault("500", "Unsupported Operation", f"{method} {rest}"))

    def _table(self, entity: str) -> dict[str, dict[str, Any]] | None:
        if entity == "companyinfo":
            return {self.realm: {"Id": "1", "CompanyName": "Sandbox Company_GB_1", "Country": "GB",
                                 "SyncToken": "3"}}
        return {"customer": self.customers, "item": self.items, "invoice": self.invoices,
                "payment": self.payments, "account": self.accounts}.get(entity)

    @staticmethod
    def _entity_name(entity: str) -> str:
        return {"companyinfo": "CompanyInfo"}.get(entity, entity.capitalize())

    # --- OAuth -----------------------------------------------------------------------------------

    def _discovery(self) -> dict[str, Any]:
        return {"issuer": "https://oauth.platform.intuit.com/op/v1",
                "authorization_endpoint": f"{self.url}/connect/oauth2",
                "token_endpoint": f"{self.url}/oauth2/v1/tokens/bearer",
                "userinfo_endpoint": f"{self.url}/v1/openid_connect/userinfo",
                "revocation_endpoint": f"{self.url}/oauth2/v1/tokens/revoke",
                "jwks_uri": f"{self.url}/op/v1/jwks",
                "response_types_supported": ["code"], "scopes_supported": ["openid", "email", "profile",
                                                                           "com.intuit.quickbooks.accounting"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]}

    def _token(self, request: Request) -> Reply:
        self.token_calls += 1
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.header("authorization") != expected:
            return Reply.json(401, {"error": "invalid_client"})
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        refresh = form.get("refresh_token", "")
        if form.get("grant_type") != "refresh_token" or not self.refresh_tokens.get(refresh):
            return Reply.json(400, {"error": "invalid_grant"})
        self.refresh_tokens[refresh] = False  # rotated: the old one is spent
        access, new_refresh = self.issue_tokens()
        return Reply.json(200, {"token_type": "bearer", "access_token": access, "refresh_token": new_refresh,
                                "expires_in": 3600, "x_refresh_token_expires_in": 8726400})

    # --- query -----------------------------------------------------------------------------------

    _QUERY = re.compile(r"SELECT \* FROM (\w+)\s*(?:WHERE (.+?))?\s*(?:ORDERBY (\S+))?\s*"
                        r"(?:STARTPOSITION (\d+))?\s*(?:MAXRESULTS (\d+))?\s*$", re.IGNORECASE)
    _COND = re.compile(r"^\s*([\w.]+)\s*(=|>=|<=|>|<|in)\s*(.+?)\s*$", re.IGNORECASE)

    def _query(self, sql: str) -> Reply:
        match = self._QUERY.match(sql.strip())
        if not match:
            return Reply.json(400, fault("4000", "Error parsing query", f"QueryParserError: {sql}"))
        entity, where, order, start, limit = match.groups()
        table = self._table(entity.lower())
        if table is None:
            return Reply.json(400, fault("4000", "Error parsing query", f"unknown entity {entity}"))
        rows = [r for r in table.values() if r.get("Active", True) is not False]
        for cond in re.split(r"\s+AND\s+", where or "", flags=re.IGNORECASE) if where else []:
            parsed = self._COND.match(cond)
            if not parsed:
                return Reply.json(400, fault("4000", "Error parsing query", f"QueryParserError: {cond}"))
            field, op, raw = parsed.groups()
            rows = [r for r in rows if _compare(_field(r, field), op.lower(), raw)]
        if order:
            rows.sort(key=lambda r: str(_field(r, order)))
        first = int(start or 1)
        rows = rows[first - 1:first - 1 + int(limit or 100)]
        response: dict[str, Any] = {"startPosition": first, "maxResults": len(rows)}
        if rows:
            response[entity[0].upper() + entity[1:]] = copy.deepcopy(rows)
        return Reply.json(200, {"QueryResponse": response, "time": TIME})

    # --- creates ---------------------------------------------------------------------------------

    def _create_customer(self, body: dict[str, Any]) -> Reply:
        name = body.get("DisplayName") or ""
        if any(c["DisplayName"] == name for c in self.customers.values()):
            return Reply.json(400, fault("6240", "Duplicate Name Exists Error",
                                         f"The name supplied already exists. : {name}"))
        customer = fixture("quickbooks/customer_sample_response.json")["Customer"]
        for key in ("GivenName", "FamilyName", "PrimaryPhone", "BillAddr"):
            customer.pop(key, None)
        customer.update(body, Id=str(next(self._ids)), SyncToken="0", FullyQualifiedName=name, Active=True,
                        Balance=0, BalanceWithJobs=0)
        self.customers[customer["Id"]] = customer
        return Reply.json(200, {"Customer": customer, "time": TIME})

    def _create_item(self, body: dict[str, Any]) -> Reply:
        name = body.get("Name") or ""
        if any(i["Name"] == name for i in self.items.values()):
            return Reply.json(400, fault("6240", "Duplicate Name Exists Error",
                                         f"The name supplied already exists. : {name}"))
        if body.get("Type") == "Service" and not (body.get("IncomeAccountRef") or {}).get("value"):
            return Reply.json(400, fault("2020", "Required param missing, need to supply the required value for the "
                                         "API", "Required parameter An account is required is missing in the request"))
        item = fixture("quickbooks/item_create_response.json")["Item"]
        item.update(body, Id=str(next(self._ids)), FullyQualifiedName=name, SyncToken="0", Active=True)
        self.items[item["Id"]] = item
        return Reply.json(200, {"Item": item, "time": TIME})

    def _create_invoice(self, body: dict[str, Any]) -> Reply:
        customer = self.customers.get((body.get("CustomerRef") or {}).get("value", ""))
        if customer is None or not customer.get("Active", True):
            return Reply.json(400, fault_body("quickbooks/fault_2500_invalid_reference.json"))
        number = body.get("DocNumber")
        if number and any(i.get("DocNumber") == number for i in self.invoices.values()):
            return Reply.json(400, fault("6140", "Duplicate Document Number Error",
                                         f"Duplicate Document Number Error : You must specify a different number. "
                                         f"This number has already been used. DocNumber={number}"))
        subtotal, lines = Decimal(0), []
        for index, line in enumerate(body.get("Line") or [], start=1):
            amount = _dec(line.get("Amount"))
            if line.get("DetailType") == "SalesItemLineDetail":
                detail = line["SalesItemLineDetail"]
                if (detail.get("ItemRef") or {}).get("value") not in self.items:
                    return Reply.json(400, fault_body("quickbooks/fault_2500_invalid_reference.json"))
                if (_dec(detail.get("Qty")) * _dec(detail.get("UnitPrice"))).quantize(CENT, ROUND_HALF_UP) != amount:
                    return Reply.json(400, fault("6070", "Amount is not equal to UnitPrice * Qty",
                                                 f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}"))
                subtotal += amount
            lines.append(dict(line, Id=str(index), LineNum=index))
        discount = sum((_dec(ln.get("Amount")) for ln in lines if ln.get("DetailType") == "DiscountLineDetail"),
                       Decimal(0))
        tax = _dec((body.get("TxnTaxDetail") or {}).get("TotalTax"))
        total = subtotal - discount + tax
        invoice = fixture("quickbooks/invoice_create_response.json")["Invoice"]
        for key in ("ProjectRef", "ShipAddr", "BillAddr", "CustomField"):
            invoice.pop(key, None)
        invoice.update(body)
        invoice.update(Id=str(next(self._ids)), SyncToken="0", Line=[*lines, {
            "DetailType": "SubTotalLineDetail", "Amount": float(subtotal), "SubTotalLineDetail": {}}],
            TotalAmt=float(total), Balance=float(total), EmailStatus="NotSet" if not body.get("BillEmail") else
            "NeedToSend", DocNumber=number or str(next(self._ids)), TxnTaxDetail={"TotalTax": float(tax), **{
                k: v for k, v in (body.get("TxnTaxDetail") or {}).items() if k != "TotalTax"}},
            CustomerRef={"value": customer["Id"], "name": customer["DisplayName"]},
            MetaData={"CreateTime": TIME, "LastUpdatedTime": TIME}, domain="QBO", sparse=False)
        self.invoices[invoice["Id"]] = invoice
        return Reply.json(200, {"Invoice": invoice, "time": TIME})

    def _send(self, invoice_id: str, request: Request) -> Reply:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return Reply.json(400, fault("610", "Object Not Found", "Object Not Found"))
        if request.header("content-type") != "application/octet-stream":
            return Reply.json(415, fault("500", "Unsupported Media Type"))
        to = request.q("sendTo") or (invoice.get("BillEmail") or {}).get("Address")
        if not to:
            return Reply.json(400, fault("2050", "Invalid Email Address format", "Specify a valid email address"))
        self.sends.append((invoice_id, to))
        invoice.update(EmailStatus="EmailSent", DeliveryInfo={"DeliveryType": "Email",
                                                              "DeliveryTime": "2026-04-01T09:05:00-07:00"})
        return Reply.json(200, {"Invoice": invoice, "time": TIME})


def fault_body(name: str) -> dict[str, Any]:
    body = dict(fixture(name))
    body.setdefault("time", TIME)
    return body


def _field(row: dict[str, Any], name: str) -> Any:
    if name == "PrimaryEmailAddr":
        return (row.get("PrimaryEmailAddr") or {}).get("Address")
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _literal(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("'") and raw.endswith("'"):
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _compare(value: Any, op: str, raw: str) -> bool:
    if op == "in":
        options = [_literal(part) for part in re.findall(r"'(?:\\.|[^'])*'|[^,()\s]+", raw)]
        return str(value) in options
    literal = _literal(raw)
    if value is None:
        return False
    if literal.lower() in ("true", "false"):
        return bool(value) == (literal.lower() == "true")
    left, right = str(value), literal
    return {"=": left == right, ">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[op]


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)
