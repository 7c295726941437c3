"""The local ledger: push once per idempotency key, send one email, and never leave a half-written file."""

from __future__ import annotations

import email
import email.policy
import json
import os
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.connectors.conftest import NUMBER
from tools.connectors.ledger import Ledger, LedgerError, LedgerRef, LedgerRefNotFoundError
from tools.connectors.local_ledger import LedgerWriteError, LocalLedger
from tools.invoices import InvoiceDocument

KEY = "9f1c2e0d4b8a4e6f8c7d5b3a2f1e0d9c"


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its inode and modification time: any rewrite changes one of them."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"
    }


def read_email(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_local_ledger_is_a_ledger(tmp_path: Path) -> None:
    ledger: Ledger = LocalLedger(tmp_path)  # checked by mypy, structurally

    assert isinstance(ledger, Ledger)
    assert ledger.name == "local"


def test_push_writes_the_pdf_and_the_json(tmp_path: Path, doc: InvoiceDocument) -> None:
    ref = LocalLedger(tmp_path).push(doc, KEY)

    assert (ref.ledger, ref.id, ref.number) == ("local", NUMBER, NUMBER)
    assert (tmp_path / "invoices" / f"{NUMBER}.pdf").read_bytes().startswith(b"%PDF-")
    stored = json.loads((tmp_path / "invoices" / f"{NUMBER}.json").read_text())
    assert stored["idempotency_key"] == KEY
    assert stored["document"]["total"] == "780.00"


def test_pushing_again_with_the_same_key_returns_the_same_ref_and_writes_nothing(
    tmp_path: Path, doc: InvoiceDocument
) -> None:
    ledger = LocalLedger(tmp_path)
    first = ledger.push(doc, KEY)
    before = snapshot(tmp_path)

    again = LocalLedger(tmp_path).push(doc, KEY)  # e.g. after a crash, from another process

    assert again == first
    assert snapshot(tmp_path) == before


def test_pushes_racing_with_one_key_create_one_invoice(tmp_path: Path, doc: InvoiceDocument) -> None:
    barrier = threading.Barrier(6)
    refs: list[LedgerRef] = []

    def push() -> None:
        barrier.wait()
        refs.append(LocalLedger(tmp_path).push(doc, KEY))

    threads = [threading.Thread(target=push) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(set(refs)) == 1
    assert sorted(p.name for p in (tmp_path / "invoices").iterdir() if p.is_file()) == [
        f"{NUMBER}.json", f"{NUMBER}.pdf"
    ]


def test_another_key_cannot_take_a_number_already_in_the_ledger(tmp_path: Path, doc: InvoiceDocument) -> None:
    ledger = LocalLedger(tmp_path)
    ledger.push(doc, KEY)

    with pytest.raises(LedgerError, match="numbers are never reused"):
        ledger.push(doc, "another-key")


def test_send_writes_one_email_with_the_pdf_attached(tmp_path: Path, doc: InvoiceDocument) -> None:
    ledger = LocalLedger(tmp_path, sender="billing@tiny.example")
    ref = ledger.push(doc, KEY)

    ledger.send(ref, doc)

    [eml] = (tmp_path / "outbox").iterdir()
    assert eml.name == f"{NUMBER}.eml"
    message = read_email(eml)
    assert message["From"] == "Tiny Studio <billing@tiny.example>"
    assert message["To"] == "Acme Industries Ltd <ap@acme.example>"
    assert message["Subject"] == f"Invoice {NUMBER} from Tiny Studio"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "GBP 780.00" in text and "2026-05-01" in text
    [attachment] = list(message.iter_attachments())
    assert (attachment.get_content_type(), attachment.get_filename()) == ("application/pdf", f"{NUMBER}.pdf")
    assert attachment.get_content() == (tmp_path / "invoices" / f"{NUMBER}.pdf").read_bytes()


def test_sending_again_does_not_write_a_second_email(tmp_path: Path, doc: InvoiceDocument) -> None:
    ledger = LocalLedger(tmp_path)
    ref = ledger.push(doc, KEY)
    ledger.send(ref, doc)
    before = snapshot(tmp_path / "outbox")

    ledger.send(ref, doc)

    assert snapshot(tmp_path / "outbox") == before


def test_the_status_follows_push_and_send(tmp_path: Path, doc: InvoiceDocument) -> None:
    ledger = LocalLedger(tmp_path)
    ref = ledger.push(doc, KEY)
    assert ledger.status(ref) == "pushed"

    ledger.send(ref, doc)

    assert ledger.status(ref) == "sent"


def test_an_invoice_that_was_never_pushed_cannot_be_sent(tmp_path: Path, doc: InvoiceDocument) -> None:
    ref = LedgerRef(ledger="local", id="TS-2026-9999", number="TS-2026-9999")

    with pytest.raises(LedgerRefNotFoundError):
        LocalLedger(tmp_path).send(ref, doc)
    with pytest.raises(LedgerRefNotFoundError):
        LocalLedger(tmp_path).status(ref)


def test_a_client_without_an_email_address_is_a_typed_error(tmp_path: Path, doc: InvoiceDocument) -> None:
    ledger = LocalLedger(tmp_path)
    no_email = doc.model_copy(update={"client_email": ""})
    ref = ledger.push(no_email, KEY)

    with pytest.raises(LedgerError, match="no contact_email"):
        ledger.send(ref, no_email)
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())


def test_a_number_is_never_used_as_a_path(tmp_path: Path, doc: InvoiceDocument) -> None:
    ref = LocalLedger(tmp_path).push(doc.model_copy(update={"number": "../../etc/INV 1"}), KEY)

    assert (tmp_path / "invoices" / f"{ref.id}.pdf").is_file()
    assert "/" not in ref.id and not ref.id.startswith(".")


def test_push_and_send_leave_no_temporary_files(tmp_path: Path, doc: InvoiceDocument) -> None:
    ledger = LocalLedger(tmp_path)
    ledger.send(ledger.push(doc, KEY), doc)

    assert [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")] == []


def test_a_write_that_fails_leaves_neither_a_partial_file_nor_a_temporary_one(
    tmp_path: Path, doc: InvoiceDocument, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)

    with pytest.raises(LedgerWriteError, match="disk full"):
        LocalLedger(tmp_path).push(doc, KEY)

    assert [p.name for p in tmp_path.rglob("*") if p.is_file() and p.name != ".lock"] == []
