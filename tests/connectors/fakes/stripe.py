"""A fake Stripe API (v1), answering like the real one.

- Bearer secret key required: 401 `{"error": {"type": "invalid_request_error", "message": "Invalid API Key..."}}`.
- Form-encoded requests with nested keys (`metadata[k]=v`, `default_tax_rates[0]=txr_...`, `created[gte]=...`);
  JSON objects built from the contract fixtures (`invoice.json`, `customer.json`, `invoiceitem.json`),
  lists as `{"object": "list", "data", "has_more", "url"}`, search as `{"object": "search_result", ...}`.
- Customers (create, retrieve, list by email, search `metadata['k']:'v'` and `name:'v'`), tax rates,
  invoice items (amount, or quantity_decimal x unit_amount_decimal), invoices (draft -> finalize -> open ->
  send; totals with tax per line rounded half up, as Stripe does), balance.
- `Idempotency-Key` on POST: the same key returns the first response (with `Idempotent-Replayed: true`);
  the same key with other parameters is a 400 `idempotency_error`.
- `pay(invoice_id)` marks an invoice paid, and `signed_event(...)` builds a signed webhook delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl

from tests.connectors.fakes.base import FakeServer, Reply, Request, fixture


def error(status: int, message: str, *, kind: str = "invalid_request_error", code: str | None = None,
          param: str | None = None) -> Reply:
    body: dict[str, Any] = {"error": {"type": kind, "message": message}}
    if code:
        body["error"]["code"] = code
        body["error"]["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        body["error"]["param"] = param
    return Reply.json(status, body, {"Request-Id": "req_" + secrets.token_hex(7)})


def form(body: bytes | str) -> dict[str, Any]:
    """Stripe's form encoding, decoded into nested dicts and lists."""
    text = body.decode() if isinstance(body, bytes) else body
    result: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            nxt: Any = value if last else ([] if parts[index + 1].isdigit() else {})
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if node[position] is None or last:
                    node[position] = nxt
                node = node[position]
            else:
                if part not in node or last:
                    node[part] = nxt
                node = node[part]
    return result


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header value for `payload`: t=<unix>,v1=hex(HMAC-SHA256(secret, "t.payload"))."""
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


class FakeStripe(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.api_key = "sk_test_" + secrets.token_hex(12)
        self.webhook_secret = "whsec_" + secrets.token_hex(16)
        self.customers: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.tax_rates: dict[str, dict[str, Any]] = {}
        self.sent: list[str] = []
        self.idempotent: dict[str, tuple[dict[str, Any], Reply]] = {}
        self._ids = itertools.count(1)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_Fake{next(self._ids):06d}{secrets.token_hex(3)}"

    # --- test helpers ----------------------------------------------------------------------------

    def add_customer(self, name: str, email: str = "", metadata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._create_customer({"name": name, "email": email or None, "metadata": metadata or {}})

    def pay(self, invoice_id: str, at: int | None = None) -> dict[str, Any]:
        invoice = self.invoices[invoice_id]
        paid_at = at or int(time.time())
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0, paid=True)
        invoice["status_transitions"]["paid_at"] = paid_at
        return invoice

    def signed_event(self, kind: str, obj: dict[str, Any], *, secret: str | None = None,
                     timestamp: int | None = None) -> tuple[bytes, str]:
        """A webhook delivery: the body (the `event.json` envelope around `obj`) and its Stripe-Signature."""
        event = fixture("stripe/event.json")
        event.update(id=self._id("evt"), type=kind, created=int(time.time()), api_version="2026-10-28.endive",
                     data={"object": obj})
        payload = json.dumps(event).encode()
        return payload, sign(payload, secret or self.webhook_secret, timestamp)

    # --- routing ---------------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        if (request.header("authorization") or "") != f"Bearer {self.api_key}":
            return error(401, "Invalid API Key provided: sk_test_****")
        params = form(request.body) if request.method == "POST" else form("&".join(
            f"{k}={v}" for k, values in request.query.items() for v in values))
        key = request.header("idempotency-key")
        if request.method == "POST" and key:
            if key in self.idempotent:
                first, reply = self.idempotent[key]
                if first != params:
                    return error(400, f"Keys for idempotent requests can only be used with the same parameters "
                                 f"they were first used with. Try using a key other than '{key}' if you meant to "
                                 "execute a different request.", kind="idempotency_error")
                return Reply(reply.status, reply.body, {**reply.headers, "Idempotent-Replayed": "true"})
            reply = self._api(request.method, request.path, params)
            if reply.status < 500:
                self.idempotent[key] = (params, reply)
            return reply
        return self._api(request.method, request.path, params)

    def _api(self, method: str, path: str, params: dict[str, Any]) -> Reply:
        if path == "/v1/balance" and method == "GET":
            return Reply.json(200, {"object": "balance", "available": [{"amount": 0, "currency": "gbp"}],
                                    "livemode": False, "pending": []})
        if path == "/v1/customers":
            if method == "POST":
                return Reply.json(200, self._create_customer(params))
            rows = [c for c in self.customers.values() if not params.get("email") or c["email"] == params["email"]]
            return self._list(rows, path)
        if path == "/v1/customers/search" and method == "GET":
            return self._search(params.get("query", ""))
        match = re.fullmatch(r"/v1/customers/([^/]+)", path)
        if match and method == "GET":
            customer = self.customers.get(match.group(1))
            return Reply.json(200, customer) if customer else self._missing("customer", match.group(1))
        if path == "/v1/tax_rates":
            if method == "POST":
                rate = {"id": self._id("txr"), "object": "tax_rate", "active": True, "created": int(time.time()),
                        "display_name": params["display_name"], "percentage": float(params["percentage"]),
                        "inclusive": params.get("inclusive") == "true", "metadata": params.get("metadata") or {},
                        "livemode": False, "jurisdiction": None, "country": None, "description": None,
                        "effective_percentage": float(params["percentage"]), "tax_type": None, "state": None}
                self.tax_rates[rate["id"]] = rate
                return Reply.json(200, rate)
            return self._list(list(self.tax_rates.values()), path)
        if path == "/v1/invoiceitems":
            if method == "POST":
                return self._create_item(params)
            rows = [i for i in self.items.values() if not params.get("invoice") or i["invoice"] == params["invoice"]]
            return self._list(rows, path)
        if path == "/v1/invoices":
            if method == "POST":
                return self._create_invoice(params)
            rows = sorted(self.invoices.values(), key=lambda i: i["created"], reverse=True)
            if params.get("customer"):
                rows = [i for i in rows if i["customer"] == params["customer"]]
            if params.get("status"):
                rows = [i for i in rows if i["status"] == params["status"]]
            gte = (params.get("created") or {}).get("gte") if isinstance(params.get("created"), dict) else None
            if gte:
                rows = [i for i in rows if i["created"] >= int(gte)]
            return self._list(rows, path)
        match = re.fullmatch(r"/v1/invoices/([^/]+)(/finalize|/send)?", path)
        if match:
            invoice = self.invoices.get(match.group(1))
            if invoice is None:
                return self._missing("invoice", match.group(1))
            action = match.group(2)
            if method == "GET" and not action:
                return Reply.json(200, invoice)
            if method == "POST" and not action:
                invoice["metadata"].update(params.get("metadata") or {})
                return Reply.json(200, invoice)
            if action == "/finalize":
                if invoice["status"] != "draft":
                    return error(400, "This invoice is already finalized, you can't re-finalize a non-draft "
                                 "invoice.", code="invoice_not_editable")
                invoice.update(status="open", hosted_invoice_url=f"https://invoice.stripe.com/i/{invoice['id']}",
                               invoice_pdf=f"https://pay.stripe.com/invoice/{invoice['id']}/pdf")
                invoice["status_transitions"]["finalized_at"] = int(time.time())
                return Reply.json(200, invoice)
            if action == "/send":
                if invoice["status"] != "open":
                    return error(400, "You can only send an invoice that is open.", code="invoice_not_open")
                self.sent.append(invoice["id"])
                return Reply.json(200, invoice)
        return error(404, f"Unrecognized request URL ({method}: {path}).")

    # --- objects ---------------------------------------------------------------------------------

    def _list(self, rows: list[dict[str, Any]], url: str) -> Reply:
        return Reply.json(200, {"object": "list", "data": rows, "has_more": False, "url": url})

    def _missing(self, kind: str, ident: str) -> Reply:
        body = fixture("stripe/error_404_resource_missing.json")
        body["error"]["message"] = f"No such {kind}: '{ident}'"
        body["error"]["param"] = "id"
        return Reply.json(404, body)

    def _search(self, query: str) -> Reply:
        meta = re.fullmatch(r"metadata\['([^']+)'\]:'((?:\\.|[^'])*)'", query)
        name = re.fullmatch(r"name:'((?:\\.|[^'])*)'", query)
        if meta:
            rows = [c for c in self.customers.values() if c["metadata"].get(meta.group(1)) == meta.group(2)]
        elif name:
            wanted = re.sub(r"\\(.)", r"\1", name.group(1))
            rows = [c for c in self.customers.values() if c["name"] == wanted]
        else:
            return error(400, f"The fake cannot parse the search query {query!r}", param="query")
        return Reply.json(200, {"object": "search_result", "data": rows, "has_more": False, "next_page": None,
                                "url": "/v1/customers/search"})

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer: dict[str, Any] = fixture("stripe/customer.json")
        customer.update(id=self._id("cus"), name=params.get("name"), email=params.get("email") or None,
                        metadata=params.get("metadata") or {}, created=int(time.time()), discount=None)
        self.customers[customer["id"]] = customer
        return customer

    def _create_item(self, params: dict[str, Any]) -> Reply:
        invoice = self.invoices.get(params.get("invoice", ""))
        if invoice is None:
            return self._missing("invoice", params.get("invoice", ""))
        if invoice["status"] != "draft":
            return error(400, "You can only add invoice items to draft invoices.", code="invoice_not_editable")
        if params.get("customer") != invoice["customer"]:
            return error(400, "The invoice item's customer must be the invoice's customer.", param="customer")
        if "amount" in params:
            if "quantity_decimal" in params or "unit_amount_decimal" in params:
                return error(400, "You may only specify one of these parameters: amount, unit_amount_decimal.")
            amount, quantity = int(params["amount"]), Decimal(1)
            unit = Decimal(amount)
        else:
            for name in ("quantity_decimal", "unit_amount_decimal"):
                if name in params and not re.fullmatch(r"-?\d+(\.\d{1,12})?", str(params[name])):
                    return error(400, f"Invalid decimal: {params[name]}", param=name)
            quantity = Decimal(params.get("quantity_decimal") or params.get("quantity") or 1)
            unit = Decimal(params["unit_amount_decimal"])
            amount = int((quantity * unit).quantize(Decimal(1), ROUND_HALF_UP))
        item = fixture("stripe/invoiceitem.json")
        item.update(id=self._id("ii"), amount=amount, currency=params["currency"], customer=invoice["customer"],
                    invoice=invoice["id"], description=params.get("description"), quantity=int(quantity) if
                    Decimal(quantity) == int(quantity) else 1, quantity_decimal=str(quantity),
                    metadata=params.get("metadata") or {}, discountable=params.get("discountable", "true") == "true",
                    pricing={"type": "price_details", "unit_amount_decimal": str(unit)}, parent=None,
                    net_amount=amount, date=int(time.time()))
        self.items[item["id"]] = item
        self._recompute(invoice)
        return Reply.json(200, item)

    def _create_invoice(self, params: dict[str, Any]) -> Reply:
        customer = self.customers.get(params.get("customer", ""))
        if customer is None:
            return self._missing("customer", params.get("customer", ""))
        number = params.get("number")
        if number and any(i.get("number") == number for i in self.invoices.values()):
            return error(400, "Invoice number must be unique per account.", param="number",
                         code="invoice_number_taken")
        if params.get("due_date") and int(params["due_date"]) <= time.time():
            return error(400, "Invalid timestamp: must be an integer Unix timestamp in the future.",
                         param="due_date")
        if params.get("collection_method") == "send_invoice" and not (params.get("due_date")
                                                                      or params.get("days_until_due")):
            return error(400, "Missing required param: days_until_due.", param="days_until_due")
        due = int(params["due_date"]) if params.get("due_date") else (
            int(time.time()) + 86400 * int(params["days_until_due"]) if params.get("days_until_due") else None)
        invoice = fixture("stripe/invoice.json")
        invoice.update(id=self._id("in"), customer=customer["id"], customer_email=customer["email"],
                       customer_name=customer["name"], currency=params.get("currency", "usd"), status="draft",
                       number=number, collection_method=params.get("collection_method", "charge_automatically"),
                       due_date=due,
                       auto_advance=params.get("auto_advance") == "true", metadata=params.get("metadata") or {},
                       description=params.get("description"), default_tax_rates=[
                           self.tax_rates[t] for t in params.get("default_tax_rates") or []],
                       created=int(time.time()), last_finalization_error=None, from_invoice=None,
                       hosted_invoice_url=None, invoice_pdf=None, amount_paid=0)
        invoice["status_transitions"] = {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None,
                                         "voided_at": None}
        self.invoices[invoice["id"]] = invoice
        self._recompute(invoice)
        return Reply.json(200, invoice)

    def _recompute(self, invoice: dict[str, Any]) -> None:
        """Lines, subtotal, tax (per line, rounded half up) and total, as Stripe shows a draft."""
        items = [i for i in self.items.values() if i["invoice"] == invoice["id"]]
        rates = [Decimal(str(r["percentage"])) for r in invoice["default_tax_rates"]]
        lines, subtotal, tax = [], 0, 0
        for item in items:
            line_tax = sum(int((Decimal(item["amount"]) * rate / 100).quantize(Decimal(1), ROUND_HALF_UP))
                           for rate in rates)
            subtotal, tax = subtotal + item["amount"], tax + line_tax
            lines.append({"id": "il_" + item["id"][3:], "object": "line_item", "amount": item["amount"],
                          "currency": item["currency"], "description": item["description"],
                          "quantity": item["quantity"], "metadata": item["metadata"],
                          "parent": {"type": "invoice_item_details",
                                     "invoice_item_details": {"invoice_item": item["id"]}}})
        total = subtotal + tax
        invoice.update(subtotal=subtotal, subtotal_excluding_tax=subtotal, total=total, total_excluding_tax=subtotal,
                       amount_due=total, amount_remaining=total - invoice.get("amount_paid", 0),
                       total_taxes=[{"amount": tax, "tax_behavior": "exclusive", "type": "tax_rate_details"}]
                       if rates else [],
                       lines={"object": "list", "data": lines, "has_more": False,
                              "url": f"/v1/invoices/{invoice['id']}/lines"})
