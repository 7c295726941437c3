"""The invoice document copies the approved draft's figures and refuses any that do not add up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.connectors.conftest import NUMBER
from tools.domain import Workspace
from tools.drafts import Draft
from tools.invoices import InvoiceDocument, from_draft


def test_a_document_copies_the_draft_amounts_and_the_client_details(
    doc: InvoiceDocument, acme_draft: Draft
) -> None:
    assert (doc.number, doc.firm, doc.client_name, doc.client_email) == (
        NUMBER, "Tiny Studio", "Acme Industries Ltd", "ap@acme.example"
    )
    assert [(ln.description, ln.code, ln.amount) for ln in doc.lines] == [
        (ln.description, ln.code, ln.amount) for ln in acme_draft.lines
    ]
    assert (doc.subtotal, doc.discount, doc.cap_adjustment, doc.tax, doc.total) == (
        acme_draft.subtotal, acme_draft.discount, acme_draft.cap_adjustment, acme_draft.tax, acme_draft.total
    )
    assert (doc.tax_rate, doc.currency, doc.payment_terms_days) == (Decimal("0.20"), "GBP", 30)


def test_a_later_issue_date_moves_the_due_date_by_the_client_terms(acme_draft: Draft, tiny: Workspace) -> None:
    doc = InvoiceDocument.from_draft(acme_draft, NUMBER, tiny, issue_date=date(2026, 4, 6))

    assert (doc.issue_date, doc.due_date) == (date(2026, 4, 6), date(2026, 5, 6))


def test_its_json_carries_money_as_decimal_strings(doc: InvoiceDocument) -> None:
    data = doc.contract_json()

    assert (data["subtotal"], data["discount"], data["cap_adjustment"], data["tax"], data["total"]) == (
        "776.25", "-77.63", "-48.62", "130.00", "780.00"
    )
    assert data["lines"][1] == {
        "description": "Design", "code": "DSN-100", "quantity": "1.75", "unit_price": "175.00", "amount": "306.25"
    }
    assert data["issue_date"] == "2026-04-01"


def test_totals_that_do_not_add_up_are_refused(doc: InvoiceDocument) -> None:
    with pytest.raises(ValidationError, match=r"not the total 781\.00"):
        InvoiceDocument.model_validate({**doc.model_dump(), "total": Decimal("781.00")})
    with pytest.raises(ValidationError, match="not the subtotal"):
        InvoiceDocument.model_validate({**doc.model_dump(), "lines": [doc.lines[0].model_dump()]})


def test_money_given_as_a_float_is_refused(doc: InvoiceDocument) -> None:
    with pytest.raises(ValidationError, match="not floats"):
        InvoiceDocument.model_validate({**doc.model_dump(), "tax": 130.0})


def test_a_draft_with_nothing_to_bill_makes_no_document(acme_draft: Draft, tiny: Workspace) -> None:
    with pytest.raises(ValidationError):
        from_draft(acme_draft.model_copy(update={"lines": []}), NUMBER, tiny)
