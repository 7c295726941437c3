"""The collections tick on the demo: three months day by day, repeated ticks, crashes, downtime, late fees."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest

from api.settings import DEMO_WORKSPACE, Settings
from graph.collections import CollectionsRuntime, open_collections, run_tick, tick
from tests.collections.conftest import Clock
from tools.domain import Workspace
from tools.receivables import ar_report
from tools.reminders import MailError, OutboxMailer
from tools.store import Store
from tools.workspace import load_workspace

START, END = date(2026, 8, 1), date(2026, 10, 31)

# What the demo's policy (3 days before, on the due date, 7 and 14 days after, escalation past 30 days)
# sends, day by day, when a tick runs every day from August to October with the payments as they arrive.
SCHEDULE: dict[date, list[tuple[str, str]]] = {
    date(2026, 8, 5): [("INV-2026-0004", "before-3")],
    date(2026, 8, 12): [("INV-2026-0007", "before-3")],
    date(2026, 8, 15): [("INV-2026-0007", "due")],
    date(2026, 8, 22): [("INV-2026-0007", "after-7")],
    date(2026, 8, 28): [("INV-2026-0001", "before-3"), ("INV-2026-0005", "before-3"), ("INV-2026-0006", "before-3"),
                        ("INV-2026-0008", "before-3")],
    date(2026, 8, 29): [("INV-2026-0007", "after-14")],
    date(2026, 8, 31): [("INV-2026-0001", "due"), ("INV-2026-0005", "due"), ("INV-2026-0006", "due"),
                        ("INV-2026-0008", "due")],
    date(2026, 9, 5): [("INV-2026-0012", "before-3")],
    date(2026, 9, 7): [("INV-2026-0005", "after-7")],
    date(2026, 9, 8): [("INV-2026-0012", "due")],
    date(2026, 9, 12): [("INV-2026-0002", "before-3"), ("INV-2026-0015", "before-3")],
    date(2026, 9, 14): [("INV-2026-0005", "after-14")],
    date(2026, 9, 15): [("INV-2026-0002", "due"), ("INV-2026-0007", "escalation"), ("INV-2026-0012", "after-7"),
                        ("INV-2026-0015", "due")],
    date(2026, 9, 22): [("INV-2026-0012", "after-14")],
    date(2026, 9, 28): [("INV-2026-0009", "before-3"), ("INV-2026-0013", "before-3"), ("INV-2026-0014", "before-3")],
    date(2026, 10, 1): [("INV-2026-0013", "due")],
    date(2026, 10, 5): [("INV-2026-0019", "before-3")],
    date(2026, 10, 8): [("INV-2026-0013", "after-7")],
    date(2026, 10, 9): [("INV-2026-0012", "escalation")],
    date(2026, 10, 13): [("INV-2026-0018", "before-3")],
    date(2026, 10, 15): [("INV-2026-0013", "after-14")],
    date(2026, 10, 16): [("INV-2026-0018", "due")],
    date(2026, 10, 23): [("INV-2026-0018", "after-7")],
    date(2026, 10, 28): [("INV-2026-0016", "before-3"), ("INV-2026-0020", "before-3"), ("INV-2026-0023", "before-3")],
    date(2026, 10, 30): [("INV-2026-0018", "after-14")],
    date(2026, 10, 31): [("INV-2026-0016", "due"), ("INV-2026-0020", "due")],
}


def _read(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


class Recording:
    """A mailer that counts every delivery per key (without checking first), over an outbox folder."""

    name = "recording"
    idempotent = True

    def __init__(self, folder: Path, *, fail: Callable[[str], BaseException | None] | None = None,
                 crash_after: int | None = None) -> None:
        self.outbox = OutboxMailer(folder)
        self.calls: Counter[str] = Counter()
        self.fail = fail
        self.crash_after = crash_after
        self.lock = threading.Lock()

    def deliver(self, key: str, message: EmailMessage) -> str:
        error = self.fail(key) if self.fail else None
        if error is not None:
            raise error
        with self.lock:
            self.calls[key] += 1
            count = sum(self.calls.values())
        location = self.outbox.deliver(key, message)
        if self.crash_after is not None and count >= self.crash_after:
            raise Crash(f"the worker died after delivering {key}")
        return location

    def delivered(self, key: str) -> bool | None:
        return self.outbox.delivered(key)


class Crash(BaseException):
    """Stands for the process being killed: nothing catches it."""


@pytest.fixture
def sqlite_store(tmp_path: Path, clock: Clock) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", clock=clock)
    store.migrate()
    return store


def _runtime(settings: Settings, store: Store, mailer: Recording, **kwargs: object) -> CollectionsRuntime:
    return open_collections(settings, store, client_mailer=mailer, approver_mailer=mailer, **kwargs)  # type: ignore[arg-type]


def test_three_months_of_daily_ticks_send_each_reminder_on_its_day_and_none_after_payment(
    settings: Settings, sqlite_store: Store, tmp_path: Path, demo: Workspace,
) -> None:
    mailer = Recording(tmp_path / "outbox")
    runtime = _runtime(settings, sqlite_store, mailer)

    sent: dict[date, list[tuple[str, str]]] = {}
    for day in _days(START, END):
        report = tick(runtime, day)
        if report.sent:
            sent[day] = sorted((s.invoice_number, s.stage) for s in report.sent)

    assert sent == SCHEDULE
    assert set(mailer.calls.values()) == {1}
    paid = {p.payment_id: p.date for p in runtime.collections.payments(demo.root)}
    settled_on: dict[str, date] = {}
    for label in demo.payment_labels:
        for number in label.invoice_numbers:
            settled_on.setdefault(number, paid[label.payment_id])
    for day, items in sent.items():
        for number, stage in items:
            if number != "INV-2026-0013":  # paid in part only
                assert day < settled_on.get(number, date.max), f"{number} {stage} on {day}, paid {settled_on[number]}"


def test_escalation_reaches_the_approver_on_the_31st_day_late(settings: Settings, sqlite_store: Store,
                                                                tmp_path: Path) -> None:
    mailer = Recording(tmp_path / "outbox")
    runtime = _runtime(settings, sqlite_store, mailer)
    for day in _days(date(2026, 10, 1), date(2026, 10, 9)):
        tick(runtime, day)

    [escalation] = runtime.collections.escalations(runtime.root)

    assert (escalation.invoice_number, escalation.sent_on) == ("INV-2026-0012", date(2026, 9, 8) + timedelta(days=31))
    message = _read((tmp_path / "outbox" / "INV-2026-0012.escalation.eml").read_bytes())
    assert message["To"] == "ann@parallax.example"
    assert "31 days past due" in message["Subject"]


def test_a_reminder_carries_the_invoice_pdf_and_goes_to_the_client(settings: Settings, sqlite_store: Store,
                                                                     tmp_path: Path) -> None:
    runtime = _runtime(settings, sqlite_store, Recording(tmp_path / "outbox"))
    tick(runtime, date(2026, 8, 5))

    message = _read((tmp_path / "outbox" / "INV-2026-0004.before-3.eml").read_bytes())

    assert "finance@brightwave.example" in message["To"]
    [pdf] = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "INV-2026-0004.pdf"
    assert pdf.get_payload(decode=True)[:5] == b"%PDF-"


def test_a_repeated_tick_sends_nothing(settings: Settings) -> None:
    first = run_tick(settings, date(2026, 10, 31))
    second = run_tick(settings, date(2026, 10, 31))

    assert len(first.sent) == 6 and first.payments_imported == 18
    assert (second.sent, second.payments_imported) == ([], 0)
    assert len(list((settings.data_dir / "outbox").rglob("*.eml"))) == 6


def test_after_downtime_one_reminder_per_invoice_at_the_stage_now_due(settings: Settings) -> None:
    report = run_tick(settings, date(2026, 10, 31))  # the very first tick, two months late

    assert sorted((s.invoice_number, s.stage) for s in report.sent) == [
        ("INV-2026-0012", "after-14"), ("INV-2026-0012", "escalation"), ("INV-2026-0013", "after-14"),
        ("INV-2026-0016", "due"), ("INV-2026-0018", "after-14"), ("INV-2026-0020", "due"),
    ]
    assert report.planned["skip"] > 0  # the stages missed are recorded as skipped, never sent
    partly = next(s for s in report.sent if s.invoice_number == "INV-2026-0013")
    assert partly.balance == Decimal("10016.40")


def test_a_tick_that_crashed_halfway_sends_nothing_twice_when_run_again(
    settings: Settings, sqlite_store: Store, tmp_path: Path, clock: Clock,
) -> None:
    crashing = Recording(tmp_path / "outbox", crash_after=3)
    with pytest.raises(Crash):
        tick(_runtime(settings, sqlite_store, crashing), END)

    # The next tick comes later: the dead worker's claim has expired by then.
    clock.advance(timedelta(minutes=30))
    again = Recording(tmp_path / "outbox")
    report = tick(_runtime(settings, sqlite_store, again), END)

    delivered = crashing.calls + again.calls
    assert set(delivered.values()) == {1}
    assert len(delivered) == 6
    assert len(report.recovered) == 1 and report.recovered[0].endswith("sent")  # written before the crash
    assert {r.status for r in report_rows(sqlite_store, settings)} <= {"sent", "skipped"}


def report_rows(store: Store, settings: Settings) -> list[object]:
    from tools.store.collections import Collections

    return list(Collections(store).reminders(load_workspace(settings.workspace).root))


def test_a_reminder_claimed_but_never_written_is_sent_on_the_next_tick(
    settings: Settings, sqlite_store: Store, tmp_path: Path, clock: Clock,
) -> None:
    def die_before_writing(key: str) -> BaseException | None:
        return Crash("killed") if key == "INV-2026-0016.due" else None

    with pytest.raises(Crash):
        tick(_runtime(settings, sqlite_store, Recording(tmp_path / "outbox", fail=die_before_writing)), END)
    clock.advance(timedelta(minutes=30))
    report = tick(_runtime(settings, sqlite_store, Recording(tmp_path / "outbox")), END)

    assert ("INV-2026-0016", "due") in [(s.invoice_number, s.stage) for s in report.sent]
    assert "INV-2026-0016.due: pending" in report.recovered


def test_a_send_interrupted_over_smtp_is_given_up_not_repeated(
    settings: Settings, sqlite_store: Store, tmp_path: Path, clock: Clock,
) -> None:
    class Smtp(Recording):
        name, idempotent = "smtp", False

        def delivered(self, key: str) -> bool | None:
            return None

    with pytest.raises(Crash):
        tick(_runtime(settings, sqlite_store, Smtp(tmp_path / "outbox", crash_after=1)), END)
    clock.advance(timedelta(minutes=30))
    smtp = Smtp(tmp_path / "outbox")
    report = tick(_runtime(settings, sqlite_store, smtp), END)

    [given_up] = report.recovered
    assert given_up.endswith("failed")
    assert given_up.split(":")[0] not in smtp.calls


def test_a_failed_delivery_is_tried_again_on_later_ticks_then_given_up(settings: Settings, sqlite_store: Store,
                                                                        tmp_path: Path) -> None:
    def refuse(key: str) -> BaseException | None:
        return MailError("550 mailbox unavailable") if key == "INV-2026-0012.before-3" else None

    runtime = _runtime(settings, sqlite_store, Recording(tmp_path / "outbox", fail=refuse))
    failures = [tick(runtime, date(2026, 9, 5) + timedelta(days=n)).failed for n in range(4)]

    assert [len(f) for f in failures] == [1, 1, 1, 0]
    assert "given up" in failures[2][0]
    rows = {r.stage: r for r in runtime.collections.reminders(runtime.root, invoice_number="INV-2026-0012")}
    assert (rows["before-3"].status, rows["before-3"].attempts) == ("failed", 3)
    assert rows["due"].status == "sent"


def test_a_late_fee_is_added_once_at_its_stage_shown_on_the_reminder_and_in_the_balance(
    tmp_path: Path, clock: Clock,
) -> None:
    workspace = tmp_path / "parallax"
    shutil.copytree(DEMO_WORKSPACE, workspace)
    clients = (workspace / "clients.yaml").read_text()
    fee = '    late_fee: {percent: "1.5", stage: after-7}\n'
    clients = clients.replace("  - id: brightwave\n", "  - id: brightwave\n" + fee)
    (workspace / "clients.yaml").write_text(clients)
    settings = Settings(workspace=workspace, data_dir=tmp_path / "data", smtp_host=None, smtp_to=[])
    store = Store(f"sqlite:///{tmp_path / 'fees.db'}", clock=clock)
    store.migrate()
    runtime = _runtime(settings, store, Recording(tmp_path / "outbox"))

    for day in _days(date(2026, 9, 14), date(2026, 9, 30)):
        tick(runtime, day)

    rows = {r.stage: r for r in runtime.collections.reminders(runtime.root, invoice_number="INV-2026-0012")}
    assert rows["after-7"].late_fee == Decimal("282.74")  # 1.5 % of 18849.60, on 09-15
    assert rows["after-14"].late_fee is None  # applied once
    book = runtime.collections.book(runtime.workspace)
    assert book.balance("INV-2026-0012") == Decimal("19132.34")
    message = _read((tmp_path / "outbox" / "INV-2026-0012.after-7.eml").read_bytes())
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "Late fee added today, as set out in our terms: GBP 282.74" in body.get_content()
    later = _read((tmp_path / "outbox" / "INV-2026-0012.after-14.eml").read_bytes())
    later_body = later.get_body(preferencelist=("plain",))
    assert later_body is not None and "Balance due: GBP 19132.34" in later_body.get_content()
    aging = ar_report(book, date(2026, 9, 30))
    assert next(r for r in aging.invoices if r.number == "INV-2026-0012").balance == Decimal("19132.34")


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = getattr(envelope, "content", b"")
        self.messages.append((list(getattr(envelope, "rcpt_tos", [])), _read(bytes(content))))
        return "250 OK"


def test_with_smtp_configured_reminders_go_to_the_client_and_escalations_to_the_approver(tmp_path: Path) -> None:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    mailbox = _Mailbox()
    controller = controller_module.Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = Settings(workspace=DEMO_WORKSPACE, data_dir=tmp_path / "data", smtp_host="127.0.0.1",
                            smtp_port=port, smtp_from="billing@parallax.example", smtp_to=["ann@parallax.example"])
        report = run_tick(settings, date(2026, 10, 9))
    finally:
        controller.stop()

    assert {s.channel for s in report.sent} == {"smtp"}
    sent = {message["X-Invoice-Reminder"] or f"escalation {message['X-Invoice-Escalation']}": rcpt
            for rcpt, message in mailbox.messages}
    assert sent["escalation INV-2026-0012"] == ["ann@parallax.example"]
    assert sent["INV-2026-0012; after-14"] == ["finance@brightwave.example"]
    assert not (tmp_path / "data" / "outbox").exists()


def test_an_issued_store_invoice_is_reminded_with_its_pdf_until_a_payment_settles_it(
    settings: Settings, sqlite_store: Store, tmp_path: Path, demo: Workspace,
) -> None:
    from tests.collections.test_collections_store import _store_invoice
    from tools.payments import IncomingPayment, MatchPolicy

    invoice_id = _store_invoice(sqlite_store, demo.root, "INV-2026-0024", "1200.00")  # due 2026-12-01
    runtime = _runtime(settings, sqlite_store, Recording(tmp_path / "outbox"))

    report = tick(runtime, date(2026, 11, 28))
    assert ("INV-2026-0024", "before-3") in [(s.invoice_number, s.stage) for s in report.sent]
    message = _read((tmp_path / "outbox" / "INV-2026-0024.before-3.eml").read_bytes())
    assert [p.get_filename() for p in message.iter_attachments()] == ["INV-2026-0024.pdf"]

    runtime.collections.import_payments(demo, [IncomingPayment(
        id="bank-9", date=date(2026, 11, 30), amount=Decimal("1200.00"), currency="GBP", payer="NORTHWIND OUTDOOR",
        reference="INV 2026 24")], MatchPolicy())
    later = tick(runtime, date(2026, 12, 1))

    assert sqlite_store.get_invoice(invoice_id).status == "paid"
    assert "INV-2026-0024" not in [s.invoice_number for s in later.sent]
