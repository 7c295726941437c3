"""Render an `InvoiceDocument` as a PDF (fpdf2): firm, client, number, dates, lines, totals, terms.

A4 portrait. The first page carries the header and the client; the line table flows on, about 25
one-line rows to a page, each page repeating the column headings under a "continued" line; the totals
and payment terms follow the last line and never split across pages. The output is
deterministic (the creation date is the issue date), so the same document always gives the same bytes.
Amounts are formatted from `Decimal` with thousands separators, never through a float.

The PDF core fonts cover Latin-1 only: typographic punctuation is mapped to ASCII and anything else
outside Latin-1 prints as "?" (embed a Unicode TTF font here if a client's name needs more).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from tools.invoices import InvoiceDocument, InvoiceLine
from tools.money import CENT, format_quantity, to_cents

__all__ = ["render_pdf"]

FONT = "Helvetica"
MARGIN = 18.0
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
HEADING_FILL = (241, 243, 245)
# Description, code, quantity, unit price, amount (millimetres; the page is 174 mm wide inside margins).
COLUMNS = (78.0, 22.0, 20.0, 26.0, 28.0)

_ASCII = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u2022": "-", "\u20ac": "EUR",
    "\u2009": " ", "\u202f": " ",
})


def render_pdf(doc: InvoiceDocument, *, compress: bool = True) -> bytes:
    """The invoice as PDF bytes (`compress=False` leaves the page text readable in the raw bytes)."""
    pdf = _InvoicePDF(doc)
    pdf.set_compression(compress)
    pdf.set_creation_date(datetime.combine(doc.issue_date, time(), tzinfo=UTC))
    pdf.set_title(_text(f"Invoice {doc.number}"))
    pdf.set_author(_text(doc.firm))
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=MARGIN + 6)
    pdf.add_page()
    _header(pdf, doc)
    _lines(pdf, doc.lines)
    _totals(pdf, doc)
    return bytes(pdf.output())


class _InvoicePDF(FPDF):
    def __init__(self, doc: InvoiceDocument) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._doc = doc

    def header(self) -> None:
        if self.page_no() > 1:
            self.set_text_color(*MUTED)
            self.set_font(FONT, size=9)
            self.cell(0, 6, _text(f"Invoice {self._doc.number} to {self._doc.client_name} (continued)"),
                      new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(2)

    def footer(self) -> None:
        self.set_y(-MARGIN)
        self.set_font(FONT, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, _text(f"{self._doc.firm} - Invoice {self._doc.number}"), align="L")
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")


def _header(pdf: FPDF, doc: InvoiceDocument) -> None:
    top = pdf.get_y()
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "B", 18)
    pdf.cell(110, 10, _text(doc.firm))
    pdf.set_font(FONT, "B", 22)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 10, "INVOICE", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)

    block = pdf.get_y()
    pdf.set_text_color(*MUTED)
    pdf.set_font(FONT, "B", 9)
    pdf.cell(100, 5, "BILL TO", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(95, 6, _text(doc.client_name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)
    if doc.client_email:
        pdf.cell(100, 5, _text(doc.client_email), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_end = pdf.get_y()

    facts = [
        ("Invoice number", doc.number),
        ("Issue date", _day(doc.issue_date)),
        ("Due date", _day(doc.due_date)),
        ("Period", f"{_day(doc.period_start)} - {_day(doc.period_end)}"),
        ("Currency", doc.currency),
    ]
    pdf.set_y(block)
    for label, value in facts:
        pdf.set_x(pdf.w - MARGIN - 86)
        pdf.set_text_color(*MUTED)
        pdf.set_font(FONT, size=9)
        pdf.cell(32, 5.5, label)
        pdf.set_text_color(*INK)
        pdf.set_font(FONT, "B", 10)
        pdf.cell(54, 5.5, _text(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_end, pdf.get_y(), top) + 8)


def _lines(pdf: FPDF, lines: list[InvoiceLine]) -> None:
    pdf.set_text_color(*INK)
    pdf.set_draw_color(*RULE)
    pdf.set_font(FONT, size=9.5)
    with pdf.table(
        col_widths=COLUMNS,
        width=sum(COLUMNS),
        align="LEFT",
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(emphasis="BOLD", fill_color=HEADING_FILL),
        line_height=6,
        padding=(1.2, 1.5),
    ) as table:
        table.row(("Description", "Code", "Qty", "Unit price", "Amount"))
        for line in lines:
            table.row((
                _text(line.description),
                _text(line.code or ""),
                format_quantity(line.quantity),
                _price(line.unit_price),
                _amount(line.amount),
            ))
    pdf.ln(4)


def _totals(pdf: FPDF, doc: InvoiceDocument) -> None:
    rows: list[tuple[str, str, bool]] = [("Subtotal", _amount(doc.subtotal), False)]
    if doc.discount:
        rows.append(("Discount", _amount(doc.discount), False))
    if doc.cap_adjustment:
        rows.append(("Cap adjustment", _amount(doc.cap_adjustment), False))
    rows.append((f"Tax ({_percent(doc.tax_rate)})", _amount(doc.tax), False))
    rows.append((f"Total due ({doc.currency})", _amount(doc.total), True))
    terms = (
        f"Payment terms: {doc.payment_terms_days} days. Please pay {doc.currency} {_amount(doc.total)} "
        f"by {_day(doc.due_date)}, quoting invoice {doc.number}."
    )
    needed = 7.0 * len(rows) + 24 + (10 if doc.notes else 0)
    if pdf.will_page_break(needed):
        pdf.add_page()

    label_x = pdf.w - MARGIN - 86
    for label, value, strong in rows:
        if strong:
            pdf.set_draw_color(*INK)
            pdf.line(label_x, pdf.get_y() + 0.5, pdf.w - MARGIN, pdf.get_y() + 0.5)
            pdf.ln(1.5)
        pdf.set_x(label_x)
        pdf.set_text_color(*(INK if strong else MUTED))
        pdf.set_font(FONT, "B" if strong else "", 11 if strong else 10)
        pdf.cell(50, 7, label)
        pdf.set_text_color(*INK)
        pdf.cell(36, 7, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.ln(8)
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, size=9.5)
    pdf.multi_cell(0, 5, _text(terms), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.notes:
        pdf.ln(2)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(0, 5, _text(doc.notes), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _amount(value: Decimal) -> str:
    return f"{to_cents(value):,}"


def _price(value: Decimal) -> str:
    """A rate: as money when it is whole cents, otherwise every exact digit."""
    return _amount(value) if value == value.quantize(CENT) else format_quantity(value)


def _percent(rate: Decimal) -> str:
    percent = (rate * 100).normalize()
    return f"{percent:f}%"


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def _text(value: str) -> str:
    """Text the core fonts can print: typographic punctuation as ASCII, the rest of Unicode as "?"."""
    return value.translate(_ASCII).encode("latin-1", "replace").decode("latin-1")
