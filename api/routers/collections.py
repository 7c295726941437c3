"""Collections: the payments recorded and the queue a person resolves; reminders sent and escalations.

    GET  /payments                      every payment recorded (?status=matched|queued|resolved|ignored)
    GET  /payments/queue                payments waiting for a person, each with its candidate invoices
    GET  /payments/{payment_id}
    POST /payments/{payment_id}/resolve (approver) the invoice(s) it settles: allocated, balances updated
    POST /payments/{payment_id}/ignore  (approver) it settles no invoice
    GET  /collections/reminders         the reminder ledger
    GET  /collections/escalations       invoices escalated to the approver (over N days late)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import Approver, CurrentToken, ServiceDep
from api.errors import responses
from tools.payments import load_match_policy
from tools.store.collections import Collections, PaymentRecord, PaymentStatus, ReminderRecord


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def strict_query(request: Request, token: CurrentToken) -> None:
    """422 for a query parameter the route does not declare, or one given more than once.

    FastAPI ignores unknown query parameters and keeps the last of repeated ones: both would let a
    request the document calls malformed be answered as if it were well formed. (No route here takes
    a list in the query; one that did would have to be exempted.) Takes the token so that, as with any
    other malformed parameter, a request without one answers 401 first.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    problems: list[dict[str, object]] = []
    for name in dict.fromkeys(request.query_params.keys()):
        if name not in known:
            problems.append({"loc": ("query", name), "msg": "Unknown query parameter", "type": "extra_forbidden"})
        elif len(request.query_params.getlist(name)) > 1:
            problems.append({"loc": ("query", name), "msg": "Given more than once", "type": "repeated_parameter"})
    if problems:
        raise RequestValidationError(problems)


router = APIRouter(tags=["collections"], dependencies=[Depends(strict_query)])

PaymentPath = Annotated[str, Path(min_length=1, max_length=200, description="the payment's id (as imported)")]
InvoiceNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_./#-]{0,63}$")]
"""An invoice number as the firm's `invoice_number_format` makes them ("INV-2026-0042", "2026/42"): no
spaces or control characters, at most 64 characters; anything else cannot name an invoice."""

READ = responses(401, 422)
"""Every route here answers 422 to an unknown or repeated query parameter (`strict_query`)."""
READ_ONE = responses(401, 404, 422)
DECIDE = responses(400, 401, 403, 404, 409, 422)


class PaymentPublic(PaymentRecord):
    """A payment received, what it settled (allocations), and, while queued, the candidates to choose from."""

    invoice_numbers: list[str] = Field(default_factory=list, description="the invoices it settled")

    @classmethod
    def of(cls, record: PaymentRecord) -> PaymentPublic:
        return cls.model_validate({**record.model_dump(), "invoice_numbers": record.settled_invoices})


class PaymentsPublic(BaseModel):
    data: list[PaymentPublic]
    count: int


class ResolveCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    invoice_numbers: list[InvoiceNumber] = Field(
        min_length=1, max_length=50, examples=[["INV-2026-0042"]])


class IgnoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500, examples=["VAT repayment, not a client payment"])


class ReminderPublic(ReminderRecord):
    """One row of the reminder ledger: a reminder (or escalation) for one invoice at one stage."""


class RemindersPublic(BaseModel):
    data: list[ReminderPublic]
    count: int


def _payments(records: list[PaymentRecord]) -> PaymentsPublic:
    return PaymentsPublic(data=[PaymentPublic.of(r) for r in records], count=len(records))


def _reminders(records: list[ReminderRecord]) -> RemindersPublic:
    return RemindersPublic(data=[ReminderPublic.model_validate(r.model_dump()) for r in records], count=len(records))


@router.get("/payments", response_model=PaymentsPublic, responses=READ)
def list_payments(
    token: CurrentToken, service: ServiceDep,
    status: Annotated[PaymentStatus | None, Query(description="only payments in this status")] = None,
) -> PaymentsPublic:
    """Every payment recorded, by date."""
    return _payments(Collections(service.store).payments(service.workspace_root, status=status))


@router.get("/payments/queue", response_model=PaymentsPublic, responses=READ)
def payment_queue(token: CurrentToken, service: ServiceDep) -> PaymentsPublic:
    """Payments no invoice could be matched to with confidence: a person resolves or ignores each."""
    return _payments(Collections(service.store).queue(service.workspace_root))


@router.get("/payments/{payment_id}", response_model=PaymentPublic, responses=READ_ONE)
def read_payment(payment_id: PaymentPath, token: CurrentToken, service: ServiceDep) -> PaymentPublic:
    return PaymentPublic.of(Collections(service.store).get_payment(service.workspace_root, payment_id))


@router.post("/payments/{payment_id}/resolve", response_model=PaymentPublic,
             responses=DECIDE)
def resolve_payment(
    payment_id: PaymentPath, body: ResolveCreate, token: Approver, service: ServiceDep
) -> PaymentPublic:
    """Settle the queued payment against these invoices (earliest due first; a difference within the
    workspace's tolerance is written off, an excess kept as a credit). Their balances and statuses follow."""
    workspace = service.workspace()
    record = Collections(service.store).resolve(workspace, payment_id, body.invoice_numbers, token.label,
                                                load_match_policy(workspace.root))
    return PaymentPublic.of(record)


@router.post("/payments/{payment_id}/ignore", response_model=PaymentPublic,
             responses=DECIDE)
def ignore_payment(payment_id: PaymentPath, body: IgnoreCreate, token: Approver, service: ServiceDep) -> PaymentPublic:
    """The queued payment settles no invoice (a refund, a tax repayment, ...)."""
    record = Collections(service.store).ignore(service.workspace_root, payment_id, token.label, body.reason)
    return PaymentPublic.of(record)


@router.get("/collections/reminders", response_model=RemindersPublic, responses=READ)
def list_reminders(token: CurrentToken, service: ServiceDep) -> RemindersPublic:
    """The reminder ledger: what was sent, skipped (caught up), cancelled (paid) or failed, per invoice and stage.

    Unfiltered on purpose: a scalar query filter cannot be told apart from a one-element list on the wire,
    which the contract fuzzing rightly refuses to accept; clients filter the (short) ledger themselves.
    """
    return _reminders(Collections(service.store).reminders(service.workspace_root))


@router.get("/collections/escalations", response_model=RemindersPublic, responses=READ)
def list_escalations(token: CurrentToken, service: ServiceDep) -> RemindersPublic:
    """Invoices escalated to the approver for being more than `escalate_after_days` past due."""
    return _reminders(Collections(service.store).escalations(service.workspace_root))
