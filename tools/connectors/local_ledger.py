"""`LocalLedger`: the embedded default ledger. Invoices are files, and "sending" writes an email file.

    data_dir/
      invoices/NUMBER.pdf     the rendered invoice
      invoices/NUMBER.json    the document (decimal strings) and the idempotency key that created it
      invoices/.keys/HASH     one marker per idempotency key, written last: "this push is complete"
      outbox/NUMBER.eml       the email to the client, with the PDF attached

Every file is written whole or not at all (a temporary file in the same folder, then a rename), and
push/send take a lock on `data_dir/.lock`, so two processes pushing or sending the same invoice at once
produce one invoice and one email. A folder that cannot be written (read-only, full, missing rights)
is a `LedgerWriteError` naming it; pushing or sending again once it is fixed completes the work once.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

from tools.connectors.ledger import (
    LedgerError,
    LedgerPayment,
    LedgerRef,
    LedgerRefNotFoundError,
    LedgerStatus,
    require_recipient,
)
from tools.files import write_atomic
from tools.invoice_pdf import render_pdf
from tools.invoices import InvoiceDocument
from tools.money import format_money

if sys.platform != "win32":
    import fcntl

__all__ = ["LedgerWriteError", "LocalLedger"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class LedgerWriteError(LedgerError):
    """The local ledger could not write into `folder` (read-only, full, no rights): the message names the
    folder and what to do; nothing half-written is left, so pushing or sending again is safe."""

    def __init__(self, invoice: str, folder: Path, error: OSError) -> None:
        self.folder = folder
        reason = error.strerror or str(error) or type(error).__name__
        super().__init__("local", invoice, f"cannot write to {folder} ({reason}); make {folder} writable "
                         "(or free space on its disk)")


class LocalLedger:
    """Invoices as PDF + JSON files under `data_dir`; emails as .eml files in `data_dir/outbox`.

    Args:
        data_dir: the folder to keep everything in (created on first use).
        sender: the address emails come from; the display name is the firm's.
    """

    name = "local"

    def __init__(self, data_dir: str | Path, *, sender: str = "invoices@localhost") -> None:
        self.data_dir = Path(data_dir)
        self.invoices_dir = self.data_dir / "invoices"
        self.outbox_dir = self.data_dir / "outbox"
        self._keys_dir = self.invoices_dir / ".keys"
        self._sender = sender
        self._thread_lock = threading.Lock()

    def push(
        self, doc: InvoiceDocument, idempotency_key: str, *, run_id: str | None = None, review_url: str | None = None
    ) -> LedgerRef:
        """Write NUMBER.pdf and NUMBER.json once per key; the same key returns the same ref, writing nothing.

        The JSON keeps the run and its review page, as an accounting system's private note would.

        Raises:
            LedgerError: the number already belongs to an invoice pushed with another key.
        """
        stem = _file_stem(doc.number)
        marker = self._keys_dir / f"{hashlib.sha256(idempotency_key.encode()).hexdigest()}.json"
        with self._writing(doc.number, self.invoices_dir), self._locked():
            if marker.exists():
                return LedgerRef.model_validate_json(marker.read_bytes())
            pdf_path, json_path = self.invoices_dir / f"{stem}.pdf", self.invoices_dir / f"{stem}.json"
            if json_path.exists():
                # An earlier push of this key may have died before its marker; another key is a clash.
                if json.loads(json_path.read_bytes()).get("idempotency_key") != idempotency_key:
                    raise LedgerError(self.name, doc.number, "another invoice with this number is already in the "
                                      f"ledger ({json_path}); numbers are never reused")
            else:
                write_atomic(pdf_path, render_pdf(doc))
                record = {"idempotency_key": idempotency_key, "run_id": run_id, "review_url": review_url,
                          "document": doc.contract_json()}
                write_atomic(json_path, json.dumps(record, indent=2, ensure_ascii=False).encode())
            ref = LedgerRef(ledger=self.name, id=stem, number=doc.number, url=pdf_path.resolve().as_uri())
            write_atomic(marker, ref.model_dump_json().encode())
            return ref

    def send(self, ref: LedgerRef, doc: InvoiceDocument) -> None:
        """Write the client's email (the pushed PDF attached) to outbox/NUMBER.eml, once.

        Raises:
            LedgerRefNotFoundError: the invoice was not pushed to this ledger.
            LedgerError: the client has no contact email.
        """
        with self._writing(ref.number or ref.id, self.outbox_dir), self._locked():
            eml_path = self.outbox_dir / f"{_file_stem(ref.id)}.eml"
            if eml_path.exists():
                return
            pdf_path = self.invoices_dir / f"{_file_stem(ref.id)}.pdf"
            if not pdf_path.exists():
                raise LedgerRefNotFoundError(self.name, ref.id)
            require_recipient(self.name, doc)
            write_atomic(eml_path, bytes(self._email(doc, pdf_path.read_bytes())))

    def status(self, ref: LedgerRef) -> LedgerStatus:
        stem = _file_stem(ref.id)
        if (self.outbox_dir / f"{stem}.eml").exists():
            return "sent"
        if (self.invoices_dir / f"{stem}.pdf").exists():
            return "pushed"
        raise LedgerRefNotFoundError(self.name, ref.id)


    def payments_since(self, since: date) -> list[LedgerPayment]:
        """None: the local ledger records no payments (they come from bank files and payments.csv)."""
        return []
    def _email(self, doc: InvoiceDocument, pdf: bytes) -> EmailMessage:
        message = EmailMessage()
        message["From"] = formataddr((doc.firm, self._sender))
        message["To"] = formataddr((doc.client_name, doc.client_email))
        message["Subject"] = f"Invoice {doc.number} from {doc.firm}"
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        message.set_content(
            f"Dear {doc.client_name},\n\n"
            f"Please find attached invoice {doc.number} for {doc.period_start} to {doc.period_end}.\n\n"
            f"Total due: {doc.currency} {format_money(doc.total)}\n"
            f"Due date: {doc.due_date}\n\n"
            f"Please quote {doc.number} with your payment.\n\n"
            f"Kind regards,\n{doc.firm}\n"
        )
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{doc.number}.pdf")
        return message

    @contextmanager
    def _writing(self, invoice: str, folder: Path) -> Iterator[None]:
        """Turn a failed write into a `LedgerWriteError` naming the folder that refused it."""
        try:
            yield
        except OSError as exc:
            raise LedgerWriteError(invoice, _refusing_folder(exc, folder), exc) from exc

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One push or send at a time: across threads, and (where the OS has flock) across processes."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.data_dir / ".lock", "a+b") as handle:
            if sys.platform != "win32":
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _refusing_folder(error: OSError, default: Path) -> Path:
    """The folder a failed write was in: the file's folder, or the missing folder's parent; else `default`."""
    if not error.filename:
        return default
    where = Path(str(error.filename))
    return where if where.is_dir() else where.parent


def _file_stem(number: str) -> str:
    """The invoice number as a safe file name (no folders, no hidden files)."""
    if _SAFE_NAME.fullmatch(number):
        return number
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", number).lstrip(".")
    if not stem:
        raise LedgerError("local", number, "the invoice number gives no usable file name")
    return stem
