"""The collections tables on SQLite and PostgreSQL: migration, payments recorded once, the queue, store invoices
settled, and a reminder claimed by exactly one worker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.orm import Session

import tools.store.collections_models  # noqa: F401  (registers the tables on the metadata)
from tools.domain import Workspace
from tools.errors import CurrencyMismatchError
from tools.payments import IncomingPayment, MatchPolicy, from_workspace
from tools.reminders import PlannedReminder
from tools.store import InvalidTransitionError, Store
from tools.store.collections import Collections, UnknownInvoiceError
from tools.store.models import Base, InvoiceRow, RunRow
from tools.store.store import MIGRATIONS_DIR

TABLES = {"payments", "payment_allocations", "reminders", "late_fees", "collection_locks"}
POLICY = MatchPolicy()


def test_the_migration_creates_the_tables_the_models_declare(store: Store) -> None:
    assert set(inspect(store.engine).get_table_names()) >= TABLES
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert [d for d in differences if any(t in str(d) for t in TABLES)] == []


def test_the_migration_downgrades_to_0002(store: Store) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002_api_tokens")

    assert not TABLES & set(inspect(store.engine).get_table_names())
    store.migrate()
    assert set(inspect(store.engine).get_table_names()) >= TABLES


def test_payments_are_recorded_once_and_matched_ones_settle_their_invoices(store: Store, demo: Workspace) -> None:
    collections = Collections(store)

    first = collections.import_payments(demo, from_workspace(demo), POLICY)
    again = collections.import_payments(demo, from_workspace(demo), POLICY)

    assert (len(first.new), len(first.matched), [p.payment_id for p in first.queued]) == (18, 17, ["pmt-007"])
    assert (again.new, again.known) == ([], 18)
    book = collections.book(demo)
    assert book.balance("INV-2026-0013") == Decimal("10016.40")
    assert book.balance("INV-2026-0007") == Decimal("0")
    assert book.paid_on("INV-2026-0015") == date(2026, 9, 18)
    [pmt008] = [p for p in first.new if p.payment_id == "pmt-008"]
    assert pmt008.settled_invoices == ["INV-2026-0007", "INV-2026-0015"]
    assert pmt008.status == "matched" and pmt008.decided_by == "auto"


def test_a_person_resolves_a_queued_payment_and_it_leaves_the_queue(store: Store, demo: Workspace) -> None:
    collections = Collections(store)
    odd = IncomingPayment(id="bank-1", date=date(2026, 10, 30), amount=Decimal("10016.40"), currency="GBP",
                          payer="J SMITH", reference="remainder")
    collections.import_payments(demo, [*from_workspace(demo), odd], POLICY)
    assert [p.payment_id for p in collections.queue(demo.root)] == ["pmt-007", "bank-1"]

    resolved = collections.resolve(demo, "bank-1", ["INV-2026-0013"], "ann@firm", POLICY)

    assert (resolved.status, resolved.decided_by, resolved.settled_invoices) == (
        "resolved", "ann@firm", ["INV-2026-0013"])
    assert collections.book(demo).balance("INV-2026-0013") == Decimal("0")
    assert [p.payment_id for p in collections.queue(demo.root)] == ["pmt-007"]
    with pytest.raises(InvalidTransitionError):
        collections.resolve(demo, "bank-1", ["INV-2026-0013"], "ann@firm", POLICY)


def test_resolving_refuses_an_unknown_invoice_and_another_currency(store: Store, demo: Workspace) -> None:
    collections = Collections(store)
    collections.import_payments(demo, from_workspace(demo), POLICY)

    with pytest.raises(UnknownInvoiceError):
        collections.resolve(demo, "pmt-007", ["INV-2099-0001"], "ann@firm", POLICY)
    with pytest.raises(CurrencyMismatchError):
        collections.resolve(demo, "pmt-007", ["INV-2026-0018"], "ann@firm", POLICY)  # a USD invoice
    ignored = collections.ignore(demo.root, "pmt-007", "ann@firm", "VAT repayment")
    assert (ignored.status, ignored.allocations) == ("ignored", [])


def _store_invoice(store: Store, workspace: str, number: str, total: str, *, status: str = "sent") -> str:
    now = datetime(2026, 10, 1, 9, tzinfo=UTC)
    run_id, invoice_id = uuid.uuid4().hex[:12], uuid.uuid4().hex
    with Session(store.engine) as s, s.begin():
        s.add(RunRow(id=run_id, workspace=workspace, request="test", client="northwind", period_start=None,
                     period_end=None, status="sent", error=None, input_tokens=0, output_tokens=0,
                     cost_usd=Decimal(0), created_at=now, updated_at=now))
        s.flush()
        s.add(InvoiceRow(
            id=invoice_id, workspace=workspace, number=number, client="northwind", period_start=date(2026, 10, 1),
            period_end=date(2026, 10, 31), currency="GBP", subtotal=Decimal(total), discount=Decimal(0),
            cap_adjustment=Decimal(0), tax=Decimal(0), total=Decimal(total),
            lines=[{"description": "Design", "code": None, "quantity": "1.00", "unit_price": total, "amount": total}],
            issue_date=date(2026, 11, 1), due_date=date(2026, 12, 1), status=status, ledger="local",
            ledger_ref=number, pushed_at=now, sent_at=now, voided_at=None, void_reason=None, run_id=run_id,
            idempotency_key=uuid.uuid4().hex, created_at=now, updated_at=now,
        ))
    return invoice_id


def test_a_store_invoice_paid_in_full_becomes_paid(store: Store, demo: Workspace) -> None:
    invoice_id = _store_invoice(store, demo.root, "INV-2026-0024", "1200.00")
    collections = Collections(store)
    part = IncomingPayment(id="b1", date=date(2026, 11, 10), amount=Decimal("200.00"), currency="GBP",
                           payer="Northwind Outdoor", reference="INV-2026-0024")
    rest = part.model_copy(update={"id": "b2", "date": date(2026, 11, 20), "amount": Decimal("1000.00")})

    collections.import_payments(demo, [part], POLICY)
    assert store.get_invoice(invoice_id).status == "sent"
    collections.import_payments(demo, [rest], POLICY)

    assert store.get_invoice(invoice_id).status == "paid"
    book = collections.book(demo)
    assert (book.balance("INV-2026-0024"), book.paid_on("INV-2026-0024")) == (Decimal("0"), date(2026, 11, 20))


def test_a_void_store_invoice_is_not_a_receivable(store: Store, demo: Workspace) -> None:
    _store_invoice(store, demo.root, "INV-2026-0024", "1200.00", status="void")

    assert Collections(store).book(demo).get("INV-2026-0024") is None


def _plan_one(collections: Collections, workspace: Workspace) -> None:
    collections.record_plan(workspace.root, [PlannedReminder(
        invoice_number="INV-2026-0012", stage="after-14", kind="reminder", action="send",
        falls_on=date(2026, 9, 22), reason="test")], date(2026, 9, 22))


def test_planning_the_same_stage_twice_records_it_once(store: Store, demo: Workspace) -> None:
    collections = Collections(store)
    _plan_one(collections, demo)
    _plan_one(collections, demo)

    assert [(r.stage, r.status) for r in collections.reminders(demo.root)] == [("after-14", "pending")]


def test_many_workers_claiming_at_once_get_each_reminder_exactly_once(
    make_store: Callable[[], Store], store: Store, demo: Workspace,
) -> None:
    collections = Collections(store)
    book = collections.book(demo)
    plan = [PlannedReminder(invoice_number=r.number, stage="due", kind="reminder", action="send", falls_on=r.due_date)
            for r in book.receivables.values()]
    collections.record_plan(demo.root, plan, date(2026, 7, 1))
    workers = [Collections(make_store()) for _ in range(4)]
    claimed: list[list[str]] = [[] for _ in workers]
    start = threading.Barrier(len(workers))

    def work(index: int) -> None:
        start.wait()
        while (claim := workers[index].claim_next(demo.root, date(2026, 7, 1), book.receivables)) is not None:
            claimed[index].append(claim.reminder.invoice_number)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [number for mine in claimed for number in mine]
    assert sorted(everything) == sorted(book.receivables)
