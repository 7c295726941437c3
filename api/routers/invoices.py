"""Invoices: those issued from approved drafts, and each one's PDF."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import CurrentToken, ServiceDep
from api.errors import responses
from api.schemas import InvoicePublic, InvoicesPublic, ResourceId
from tools.invoice_pdf import render_pdf
from tools.invoices import InvoiceDocument
from tools.store import InvoiceRecordStatus

router = APIRouter(prefix="/invoices", tags=["invoices"])

InvoicePath = Annotated[ResourceId, Path(description="the invoice's id (not its number)")]


@router.get("", response_model=InvoicesPublic, responses=responses(401, 422))
def list_invoices(
    token: CurrentToken,
    service: ServiceDep,
    status: Annotated[InvoiceRecordStatus | None, Query(description="only invoices in this status")] = None,
    client: Annotated[str | None, Query(max_length=100, description="only this client's (its id)")] = None,
) -> InvoicesPublic:
    """The invoices of the workspace, in issue order."""
    invoices = service.store.list_invoices(service.workspace_root, status=status, client=client)
    return InvoicesPublic(data=[InvoicePublic.of(i) for i in invoices], count=len(invoices))


@router.get("/{invoice_id}", response_model=InvoicePublic, responses=responses(401, 404, 422))
def read_invoice(invoice_id: InvoicePath, token: CurrentToken, service: ServiceDep) -> InvoicePublic:
    return InvoicePublic.of(service.invoice(invoice_id))


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                     "description": "The invoice as PDF"}, **responses(401, 404, 422)},
)
def invoice_pdf(invoice_id: InvoicePath, token: CurrentToken, service: ServiceDep) -> Response:
    """The invoice as the client receives it, rendered from its approved draft."""
    invoice = service.invoice(invoice_id)
    approved = service.store.get_draft(invoice.run_id, service.store.get_approval(invoice.run_id).draft_version)
    document = InvoiceDocument.from_draft(approved.draft, invoice.number, service.workspace())
    return Response(render_pdf(document), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{invoice.number}.pdf"'})
