"""The PDF: a real PDF file showing the invoice number, the same bytes every time, paged when long."""

from __future__ import annotations

import re
import zlib
from decimal import Decimal

from tests.connectors.conftest import NUMBER
from tools.invoice_pdf import render_pdf
from tools.invoices import InvoiceDocument, InvoiceLine


def page_text(pdf: bytes) -> str:
    """The text the pages show, one line per text object (enough for the simple strings fpdf2 writes)."""
    lines = []
    for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        header, body = match.groups()
        content = zlib.decompress(body) if b"/FlateDecode" in header else body
        for block in re.findall(rb"BT(.*?)ET", content, re.S):
            strings = re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", block, re.S)
            lines.append(b"".join(re.sub(rb"\\(.)", rb"\1", s) for s in strings).decode("latin-1"))
    return "\n".join(line for line in lines if line)


def test_the_pdf_is_a_pdf_that_shows_the_number(doc: InvoiceDocument) -> None:
    pdf = render_pdf(doc, compress=False)

    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert NUMBER.encode() in pdf


def test_the_compressed_pdf_shows_the_number_firm_client_and_total(doc: InvoiceDocument) -> None:
    text = page_text(render_pdf(doc))

    for expected in (NUMBER, "Tiny Studio", "Acme Industries Ltd", "780.00", "DSN-100", "Tax (20%)", "1 May 2026"):
        assert expected in text, expected


def test_the_same_document_renders_to_the_same_bytes(doc: InvoiceDocument) -> None:
    assert render_pdf(doc) == render_pdf(doc)


def test_a_long_invoice_flows_over_pages_with_the_totals_at_the_end(doc: InvoiceDocument) -> None:
    lines = [InvoiceLine(description=f"Line {i}", quantity=Decimal(1), unit_price=Decimal("10.00"),
                         amount=Decimal("10.00")) for i in range(60)]
    long = InvoiceDocument.model_validate({
        **doc.model_dump(), "lines": [ln.model_dump() for ln in lines], "subtotal": Decimal("600.00"),
        "discount": Decimal(0), "cap_adjustment": Decimal(0), "tax": Decimal("120.00"), "total": Decimal("720.00"),
    })

    text = page_text(render_pdf(long))

    assert "Page 3 of 3" in text
    assert f"Invoice {NUMBER} to Acme Industries Ltd (continued)" in text
    assert text.index("Line 59") < text.index("720.00")


def test_text_outside_latin_1_does_not_break_the_pdf(doc: InvoiceDocument) -> None:
    odd = doc.model_copy(update={"client_name": "Zoë “Quotes” Ltd — 東京", "notes": "Thanks… €"})

    text = page_text(render_pdf(odd))

    assert 'Zoë "Quotes" Ltd - ??' in text
    assert "Thanks... EUR" in text
