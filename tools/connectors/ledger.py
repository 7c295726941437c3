"""The `Ledger` protocol: where an approved invoice is created (the accounting system) and sent from.

Every ledger must make `push` idempotent by key: pushing the same key again returns the first invoice's
reference and creates nothing (QuickBooks `requestid`, Xero and Stripe `Idempotency-Key`, a file name
for `LocalLedger`). The graph retries a push after a crash, so a second invoice would be a real bill
sent twice. The store's `InvoiceRecord.idempotency_key` is the key to pass.

    InvoiceAgentError
    └── LedgerError                    a ledger refused or failed; names the ledger and the invoice
        └── LedgerRefNotFoundError     the ledger has no invoice for that reference
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from tools.errors import InvoiceAgentError
from tools.invoices import InvoiceDocument

__all__ = [
    "Ledger", "LedgerError", "LedgerPayment", "LedgerRef", "LedgerRefNotFoundError", "LedgerStatus",
    "require_recipient",
]

# What a ledger says about an invoice, in the store's words (`tools.store.records.InvoiceRecordStatus`).
LedgerStatus = Literal["pushed", "sent", "paid", "void"]


class LedgerRef(BaseModel):
    """Where a pushed invoice lives: the ledger's name, its id there, the number it shows."""

    model_config = ConfigDict(frozen=True)

    ledger: str
    id: str
    number: str
    url: str | None = None


class LedgerPayment(BaseModel):
    """A payment the ledger recorded against our invoices, for matching."""

    model_config = ConfigDict(frozen=True)

    ledger: str
    id: str
    date: date
    amount: Decimal
    currency: str
    invoice_ids: list[str]
    """The ledger's ids of the invoices this payment settles (`LedgerRef.id`)."""
    invoice_numbers: list[str] = []
    reference: str = ""


class LedgerError(InvoiceAgentError):
    """A ledger refused or failed an operation."""

    def __init__(self, ledger: str, invoice: str, message: str) -> None:
        self.ledger = ledger
        self.invoice = invoice
        super().__init__(f"{ledger} ledger, invoice {invoice}: {message}")


def require_recipient(ledger: str, doc: InvoiceDocument) -> str:
    """The client's email to send the invoice to; without one, every ledger refuses to send alike."""
    if not doc.client_email:
        raise LedgerError(ledger, doc.number, f"client {doc.client_id} has no contact_email in clients.yaml; "
                          "add one, then send again")
    return doc.client_email


class LedgerRefNotFoundError(LedgerError):
    def __init__(self, ledger: str, ref: str) -> None:
        super().__init__(ledger, ref, "no such invoice in this ledger; was it pushed here?")


@runtime_checkable
class Ledger(Protocol):
    """An accounting system that holds the firm's invoices and delivers them to clients."""

    @property
    def name(self) -> str:
        """A short stable name ("local", "quickbooks", "xero"), stored with the invoice."""
        ...

    def push(
        self, doc: InvoiceDocument, idempotency_key: str, *, run_id: str | None = None, review_url: str | None = None
    ) -> LedgerRef:
        """Create the invoice in the ledger; the same key returns the first invoice, never a second.

        `run_id` and `review_url` go into the invoice's private note, linking it back to its approval.
        """
        ...

    def send(self, ref: LedgerRef, doc: InvoiceDocument) -> None:
        """Deliver the pushed invoice to the client (email); sending again must not deliver twice."""
        ...

    def status(self, ref: LedgerRef) -> LedgerStatus:
        """What the ledger knows about the invoice now."""
        ...

    def payments_since(self, since: date) -> list[LedgerPayment]:
        """Payments the ledger recorded against our invoices on or after `since`, for matching."""
        ...
