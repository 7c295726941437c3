"""Receivables metrics as of any day: DSO, sent and paid on time, aging per client and per currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from tools.domain import Workspace
from tools.receivables import (
    Book,
    Charge,
    Receivable,
    Settlement,
    aging_bucket,
    ar_report,
    from_history,
    render_aging_png,
)

D = Decimal
AS_OF = date(2026, 11, 15)


def _r(number: str, client: str, total: str, *, issue: date, due: date, period_end: date, sent: date,
       currency: str = "GBP") -> Receivable:
    return Receivable(number=number, client=client, currency=currency, total=D(total),
                      period_start=period_end.replace(day=1), period_end=period_end, issue_date=issue, due_date=due,
                      sent_on=sent, source="store")


def _book() -> Book:
    invoices = [
        _r("A", "northwind", "1000.00", issue=date(2026, 10, 1), due=date(2026, 10, 31), period_end=date(2026, 9, 30),
           sent=date(2026, 10, 2)),
        _r("B", "northwind", "500.00", issue=date(2026, 9, 1), due=date(2026, 10, 1), period_end=date(2026, 8, 31),
           sent=date(2026, 9, 10)),
        _r("C", "kestrel", "2000.00", issue=date(2026, 11, 1), due=date(2026, 12, 1), period_end=date(2026, 10, 31),
           sent=date(2026, 11, 1)),
        _r("D", "verde", "800.00", issue=date(2026, 7, 1), due=date(2026, 7, 31), period_end=date(2026, 6, 30),
           sent=date(2026, 7, 1), currency="EUR"),
        _r("E", "kestrel", "300.00", issue=date(2026, 8, 1), due=date(2026, 8, 31), period_end=date(2026, 7, 31),
           sent=date(2026, 8, 1)),
    ]
    settlements = [
        Settlement(invoice_number="A", on=date(2026, 10, 20), amount=D("1000.00")),
        Settlement(invoice_number="B", on=date(2026, 10, 5), amount=D("200.00")),
        Settlement(invoice_number="E", on=date(2026, 9, 20), amount=D("300.00")),
    ]
    return Book(invoices, settlements)


def test_aging_buckets_are_days_past_due() -> None:
    assert [aging_bucket(d) for d in (-5, 0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current", "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "over_90"]


def test_open_balances_age_per_client_and_per_currency() -> None:
    report = ar_report(_book(), AS_OF)

    clients = {c.client: c for c in report.clients}
    assert clients["northwind"].aging["31-60"] == D("300.00")
    assert clients["kestrel"].aging["current"] == D("2000.00")
    assert clients["verde"].aging["over_90"] == D("800.00")
    totals = {t.currency: t for t in report.totals}
    assert totals["GBP"].open_balance == D("2300.00")
    assert totals["EUR"].open_balance == D("800.00")  # never added to the pounds


def test_dso_is_open_balance_over_the_windows_invoicing_per_currency() -> None:
    totals = {t.currency: t for t in ar_report(_book(), AS_OF, window_days=90).totals}

    assert totals["GBP"].invoiced_in_window == D("3500.00")  # A, B, C; E was issued before the window
    assert totals["GBP"].dso_days == D("59.1")  # 2300 / 3500 x 90
    assert totals["EUR"].dso_days is None  # nothing invoiced in euros in the window


def test_sent_on_time_counts_days_from_the_periods_end() -> None:
    report = ar_report(_book(), AS_OF, send_within_days=3)

    assert (report.sent_on_time.on_time, report.sent_on_time.total) == (4, 5)  # B went out 10 days after


def test_paid_on_time_counts_invoices_due_by_then_or_already_paid() -> None:
    report = ar_report(_book(), AS_OF)

    assert (report.paid_on_time.on_time, report.paid_on_time.total) == (1, 4)  # A on time; B, D unpaid; E late


def test_each_clients_usual_days_to_pay_is_the_median_over_its_paid_invoices() -> None:
    clients = {c.client: c for c in ar_report(_book(), AS_OF).clients}

    assert clients["northwind"].usual_days_to_pay == 19.0
    assert clients["kestrel"].usual_days_to_pay == 50.0
    assert clients["verde"].usual_days_to_pay is None


def test_metrics_as_of_an_earlier_day_ignore_what_came_later() -> None:
    report = ar_report(_book(), date(2026, 10, 3))

    rows = {row.number: row for row in report.invoices}
    assert "C" not in rows  # not yet issued
    assert rows["B"].balance == D("500.00") and rows["B"].bucket == "1-30"  # the part payment came on 10-05
    assert rows["A"].paid_on is None


def test_a_late_fee_raises_the_balance() -> None:
    book = _book()
    with_fee = Book(book.receivables.values(), [s for n in "ABE" for s in book.settlements(n)],
                    [Charge(invoice_number="B", on=date(2026, 10, 15), amount=D("25.00"))])

    assert with_fee.balance("B", AS_OF) == D("325.00")
    assert with_fee.balance("B", date(2026, 10, 14)) == D("300.00")


def test_the_demo_on_its_export_day(demo: Workspace) -> None:
    report = ar_report(Book(from_history(demo)), date(2026, 10, 31))

    assert report.sent_on_time.share == 1.0  # every demo invoice went out the day after its month
    assert {t.currency for t in report.totals} == {"GBP", "EUR", "USD"}
    # invoices.csv alone knows INV-2026-0013 as unpaid (its part payment is in payments.csv, not yet matched)
    assert next(r for r in report.invoices if r.number == "INV-2026-0013").balance == D("25041.00")


def test_the_aging_chart_is_a_png(tmp_path: Path) -> None:
    path = render_aging_png(ar_report(_book(), AS_OF), tmp_path / "aging.png", names={"northwind": "Northwind"})

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
