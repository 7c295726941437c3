"""The reminder plan for a day (pure), what a reminder says, and the mailers."""

from __future__ import annotations

import email
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tools.domain import ReminderPolicy
from tools.late_fees import LateFeePolicy, load_late_fees
from tools.receivables import Book, Receivable, Settlement
from tools.reminders import (
    ESCALATION,
    OutboxMailer,
    ReminderNotice,
    compose_reminder,
    plan_reminders,
    reminder_stages,
    stage_offset,
)

POLICY = ReminderPolicy(before_due_days=[3], on_due=True, after_due_days=[7, 14], escalate_after_days=30)
DUE = date(2026, 9, 30)


def _invoice(*, due: date = DUE, sent: date | None = date(2026, 9, 1), settled: date | None = None) -> Receivable:
    return Receivable(number="INV-2026-0101", client="northwind", currency="GBP", total=Decimal("1000.00"),
                      period_start=date(2026, 8, 1), period_end=date(2026, 8, 31), issue_date=date(2026, 9, 1),
                      due_date=due, sent_on=sent, source="store", settled_on=settled)


def _plan(today: date, recorded: dict[tuple[str, str], str] | None = None, *, book: Book | None = None) -> list[
        tuple[str, str]]:
    plan = plan_reminders(book or Book([_invoice()]), POLICY, today, recorded or {})
    return [(p.stage, p.action) for p in plan]


def test_the_stages_come_from_the_policy_in_order() -> None:
    assert [(s.name, s.offset) for s in reminder_stages(POLICY)] == [
        ("before-3", -3), ("due", 0), ("after-7", 7), ("after-14", 14)]
    assert [stage_offset(n) for n in ("before-3", "due", "after-14", "5")] == [-3, 0, 14, 5]


@pytest.mark.parametrize(("today", "expected"), [
    (date(2026, 9, 26), []),
    (date(2026, 9, 27), [("before-3", "send")]),
    (date(2026, 9, 30), [("before-3", "skip"), ("due", "send")]),
    (date(2026, 10, 7), [("before-3", "skip"), ("due", "skip"), ("after-7", "send")]),
])
def test_each_stage_is_sent_on_its_day(today: date, expected: list[tuple[str, str]]) -> None:
    assert _plan(today) == expected


def test_a_stage_already_recorded_is_not_planned_again() -> None:
    recorded = {("INV-2026-0101", "before-3"): "sent", ("INV-2026-0101", "due"): "sent"}

    assert _plan(date(2026, 10, 1), recorded) == []


def test_after_days_of_downtime_only_the_stage_now_due_is_sent_and_the_missed_ones_are_skipped() -> None:
    recorded = {("INV-2026-0101", "before-3"): "sent"}

    assert _plan(date(2026, 10, 15), recorded) == [("due", "skip"), ("after-7", "skip"), ("after-14", "send")]


def test_a_before_due_reminder_is_not_sent_once_the_due_date_has_passed() -> None:
    policy = ReminderPolicy(before_due_days=[3], on_due=False, after_due_days=[7], escalate_after_days=30)

    plan = plan_reminders(Book([_invoice()]), policy, date(2026, 10, 2), {})

    assert [(p.stage, p.action) for p in plan] == [("before-3", "skip")]
    assert "no longer true" in plan[0].reason


def test_escalation_comes_on_the_31st_day_late_once() -> None:
    day_30 = DUE + timedelta(days=30)
    day_31 = DUE + timedelta(days=31)
    recorded = {("INV-2026-0101", s): "sent" for s in ("before-3", "due", "after-7", "after-14")}

    assert _plan(day_30, recorded) == []
    assert _plan(day_31, recorded) == [(ESCALATION, "escalate")]
    assert _plan(day_31 + timedelta(days=5), recorded | {("INV-2026-0101", ESCALATION): "sent"}) == []


def test_a_paid_invoice_gets_nothing_and_its_pending_reminders_are_cancelled() -> None:
    invoice = _invoice()
    book = Book([invoice], [Settlement(invoice_number=invoice.number, on=date(2026, 10, 6), amount=invoice.total)])

    assert _plan(date(2026, 10, 7), {("INV-2026-0101", "after-7"): "pending"}, book=book) == [("after-7", "cancel")]
    assert _plan(date(2026, 11, 30), book=book) == []


def test_a_part_payment_keeps_the_reminders_going() -> None:
    invoice = _invoice()
    book = Book([invoice], [Settlement(invoice_number=invoice.number, on=date(2026, 10, 1), amount=Decimal("400"))])

    recorded = {("INV-2026-0101", "before-3"): "sent", ("INV-2026-0101", "due"): "sent"}

    assert _plan(date(2026, 10, 7), recorded, book=book) == [("after-7", "send")]


def test_an_invoice_not_yet_sent_gets_no_reminder() -> None:
    assert _plan(date(2026, 10, 7), book=Book([_invoice(sent=None)])) == []


def test_the_reminder_email_says_what_is_owed_and_attaches_the_invoice() -> None:
    notice = ReminderNotice(invoice_number="INV-2026-0101", stage="after-7", firm="Parallax Creative",
                            client_name="Northwind Outdoor Ltd", client_email="ap@northwind.example", currency="GBP",
                            total=Decimal("1000.00"), balance=Decimal("620.00"), due_date=DUE, today=date(2026, 10, 7),
                            late_fee=Decimal("20.00"), late_fee_total=Decimal("20.00"))

    message = compose_reminder(notice, sender="billing@parallax.example", pdf=b"%PDF-1.4 test")

    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    assert message["Subject"] == "Overdue: invoice INV-2026-0101 (7 days past due)"
    assert "Late fee added today, as set out in our terms: GBP 20.00" in text
    assert "Received so far: GBP 400.00" in text
    assert "Balance due: GBP 620.00" in text
    assert [part.get_filename() for part in message.iter_attachments()] == ["INV-2026-0101.pdf"]


def test_the_outbox_writes_a_key_once(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path)
    first = email.message.EmailMessage()
    first.set_content("first")
    second = email.message.EmailMessage()
    second.set_content("second")

    assert mailer.delivered("INV-1.due") is False
    path = mailer.deliver("INV-1.due", first)
    assert mailer.deliver("INV-1.due", second) == path
    assert "first" in Path(path).read_text()
    assert mailer.delivered("INV-1.due") is True


# --- late fees ----------------------------------------------------------------------------------------------


def test_a_percent_late_fee_is_on_the_balance_to_the_cent() -> None:
    fee = LateFeePolicy(percent=Decimal("1.5"), stage="after-14")

    assert fee.amount(Decimal("18849.60")) == Decimal("282.74")
    assert (fee.applies_at("after-7"), fee.applies_at("after-14"), fee.applies_at("after-21")) == (False, True, True)


def test_a_late_fee_is_fixed_or_percent_and_charged_after_the_due_date() -> None:
    assert LateFeePolicy(fixed=Decimal("40.00"), stage="after-7").amount(Decimal("5")) == Decimal("40.00")
    with pytest.raises(ValueError, match="either"):
        LateFeePolicy(fixed=Decimal("40"), percent=Decimal("2"))
    with pytest.raises(ValueError, match="after the due date"):
        LateFeePolicy(fixed=Decimal("40"), stage="before-3")


def test_late_fees_are_read_per_client_and_a_bad_one_is_reported(tmp_path: Path) -> None:
    (tmp_path / "clients.yaml").write_text(
        "clients:\n"
        "  - {id: brightwave, late_fee: {percent: 2, stage: after-14}}\n"
        "  - {id: kestrel, late_fee: {fixed: '40.00', percent: '1'}}\n"
        "  - {id: northwind}\n"
    )

    fees, [issue] = load_late_fees(tmp_path)

    assert fees == {"brightwave": LateFeePolicy(percent=Decimal("2"), stage="after-14")}
    assert issue.field == "kestrel.late_fee"
