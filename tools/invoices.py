"""The invoice as the client sees it: an `InvoiceDocument`, made from an approved draft and its number.

It is what a ledger receives (`tools.connectors.ledger.Ledger.push`) and what the PDF shows
(`tools.invoice_pdf`). Amounts are copied from the draft, never recomputed: the billing engine is the
only place money is calculated. The document checks that its lines and totals add up, so a hand-edited
or corrupted document cannot be issued.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tools.domain import Workspace
from tools.drafts import Draft
from tools.money import ZERO, format_money, format_quantity

__all__ = ["InvoiceDocument", "InvoiceLine", "from_draft"]


def _exact(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money and quantities must be decimal strings, not floats")
    return value


Exact = Annotated[Decimal, BeforeValidator(_exact)]


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str
    code: str | None = None
    quantity: Exact
    unit_price: Exact
    amount: Exact


class InvoiceDocument(BaseModel):
    """One invoice, complete enough to render, push to a ledger and email."""

    model_config = ConfigDict(frozen=True)

    number: str = Field(min_length=1)
    firm: str
    client_id: str
    client_name: str
    client_email: str = ""
    issue_date: date
    due_date: date
    period_start: date
    period_end: date
    payment_terms_days: int = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: list[InvoiceLine] = Field(min_length=1)
    subtotal: Exact
    discount: Exact = ZERO
    cap_adjustment: Exact = ZERO
    tax_rate: Exact = ZERO
    tax: Exact = ZERO
    total: Exact
    notes: str = ""

    @model_validator(mode="after")
    def _adds_up(self) -> InvoiceDocument:
        lines = sum((line.amount for line in self.lines), ZERO)
        if lines != self.subtotal:
            raise ValueError(
                f"the lines add up to {format_money(lines)}, not the subtotal {format_money(self.subtotal)}"
            )
        expected = self.subtotal + self.discount + self.cap_adjustment + self.tax
        if expected != self.total:
            raise ValueError(
                f"subtotal + discount + cap adjustment + tax = {format_money(expected)}, "
                f"not the total {format_money(self.total)}"
            )
        if self.due_date < self.issue_date:
            raise ValueError(f"due date {self.due_date} is before the issue date {self.issue_date}")
        return self

    @classmethod
    def from_draft(
        cls,
        draft: Draft,
        number: str,
        workspace: Workspace,
        *,
        issue_date: date | None = None,
        notes: str = "",
    ) -> InvoiceDocument:
        """See `from_draft`."""
        return from_draft(draft, number, workspace, issue_date=issue_date, notes=notes)

    def contract_json(self) -> dict[str, Any]:
        """The document as JSON with every amount a decimal string ("1250.00") and dates ISO."""
        data = self.model_dump(mode="json")
        for key in ("subtotal", "discount", "cap_adjustment", "tax", "total"):
            data[key] = format_money(getattr(self, key))
        data["tax_rate"] = str(self.tax_rate)
        data["lines"] = [
            {
                "description": line.description,
                "code": line.code,
                "quantity": format_quantity(line.quantity),
                "unit_price": format_quantity(line.unit_price),
                "amount": format_money(line.amount),
            }
            for line in self.lines
        ]
        return data


def from_draft(
    draft: Draft,
    number: str,
    workspace: Workspace,
    *,
    issue_date: date | None = None,
    notes: str = "",
) -> InvoiceDocument:
    """The client-facing invoice for an approved draft.

    Args:
        draft: the approved draft (its lines and totals are copied as they are).
        number: the invoice number the store allocated.
        workspace: for the firm's name and the client's name, email, tax rate and terms.
        issue_date: when it is issued, if not the draft's; the due date follows the client's terms.
        notes: free text printed under the totals.
    """
    client = workspace.client(draft.client)
    issue = issue_date or draft.issue_date
    return InvoiceDocument(
        number=number,
        firm=workspace.settings.firm,
        client_id=client.id,
        client_name=client.name,
        client_email=client.contact_email,
        issue_date=issue,
        due_date=issue + timedelta(days=client.payment_terms_days),
        period_start=draft.period_start,
        period_end=draft.period_end,
        payment_terms_days=client.payment_terms_days,
        currency=draft.currency,
        lines=[
            InvoiceLine(
                description=line.description,
                code=line.code,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for line in draft.lines
        ],
        subtotal=draft.subtotal,
        discount=draft.discount,
        cap_adjustment=draft.cap_adjustment,
        tax_rate=client.tax_rate,
        tax=draft.tax,
        total=draft.total,
        notes=notes,
    )
