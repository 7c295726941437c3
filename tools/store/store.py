"""The repository: every read and write of the store, one short explicit transaction per call.

SQLite (the embedded default) and PostgreSQL (production) behave the same from the outside:
- On SQLite every write transaction starts with `BEGIN IMMEDIATE`, so writers queue for the database
  lock up front instead of failing half way with "database is locked"; readers never wait (WAL).
- On PostgreSQL the default READ COMMITTED isolation suffices because the places that must not race
  take a lock: `claim` is one conditional UPDATE, `create_invoice` locks the workspace's
  `invoice_sequences` row (SELECT ... FOR UPDATE) before it checks and inserts anything, and
  `create_run` takes a transaction-scoped advisory lock per client before it checks what is under way
  and inserts the run's `active_runs` row (whose primary key refuses a second run for the same period).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal, Self, cast

from sqlalchemy import (
    URL,
    ColumnElement,
    CursorResult,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    exists,
    func,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from tools.drafts import Draft
from tools.money import ZERO
from tools.numbering import sequence_of
from tools.periods import Period
from tools.store import leases
from tools.store.errors import (
    AlreadyBilledError,
    DatabaseUnavailableError,
    InvalidTransitionError,
    NothingToInvoiceError,
    RecordNotFoundError,
    RunAlreadyActiveError,
    StoreError,
)
from tools.store.labels import (
    LearnedLabel,
    approved_categories,
    select_learned,
    upsert_approved_labels,
    upsert_reviewer_labels,
)
from tools.store.models import (
    APPROVAL_STATUSES,
    ActiveRunRow,
    ApprovalRow,
    DecisionRow,
    DraftRow,
    InvoiceEntryRow,
    InvoiceRow,
    InvoiceSequenceRow,
    RunRow,
)
from tools.store.records import (
    ActiveWork,
    ApprovalRecord,
    ApprovalStatus,
    DecisionRecord,
    DraftRecord,
    InvoiceEntryRecord,
    InvoiceRecord,
    InvoiceRecordStatus,
    RunRecord,
)

__all__ = ["DEFAULT_URL", "MIGRATIONS_DIR", "Store"]

DEFAULT_URL = "sqlite:///invoice-agent.db"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Approval states in which a run still owns its client+period (a decision is pending or being acted on).
_OPEN_APPROVALS = ("pending", "resuming", "changes_requested", "approved")
_DECISIONS = ("approved", "changes_requested", "rejected")
# Run statuses that end a run: its client+period is free again (an invoice, if any, blocks re-billing itself).
_ENDED_RUNS = ("answered", "rejected", "sent")
# Key space of the per-client advisory locks `create_run` takes on PostgreSQL (pg_advisory_xact_lock(int, int)).
_CLIENT_LOCK = 0x1A_57_0BE6
# A fixed key so that concurrent `migrate()` calls on PostgreSQL take turns.
_MIGRATION_LOCK = 0x1A_57_0BE5
MILLIONTH = Decimal("0.000001")
_NUMBER_TRIES = 1000  # invoice numbers found taken in a row before create_invoice gives up (a format without {seq})
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f0c5a8e-3c1d-4b7a-9a54-1f6b0d1e2c77")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """Runs, drafts, approvals, decisions and invoices in one SQL database.

    Args:
        url: a SQLAlchemy URL: `sqlite:///path/to/file.db` (default `sqlite:///invoice-agent.db`) or
            `postgresql+psycopg://user@host:5432/db`. `sqlite://` is an in-memory database for one
            thread (tests).
        clock: what "now" is (timestamps, the approval inbox order); UTC wall clock by default.
        echo: log every SQL statement.
        lease: how long a claim (an approval being acted on, a client and period being drafted) holds
            before another process may take it over; default `INVOICE_AGENT_CLAIM_LEASE_SECONDS` or 5
            minutes (`tools.store.leases`). A claim whose process is gone is stale at once.
        holder: who this store's claims are made for (default "host:pid" of the calling process).
    """

    def __init__(
        self,
        url: str | URL = DEFAULT_URL,
        *,
        clock: Callable[[], datetime] = _utcnow,
        echo: bool = False,
        lease: timedelta | None = None,
        holder: str | None = None,
    ) -> None:
        self._url = make_url(url)
        self._clock = clock
        self.lease = lease if lease is not None else leases.lease_from_env()
        self._holder = holder
        self._engine = _create_engine(self._url, echo=echo)
        # On SQLite, writes ask for the write lock when they begin (see the module docstring).
        self._writer = self._engine.execution_options(sqlite_begin="IMMEDIATE")

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self._url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def holder(self) -> str:
        """Who this store's claims are made for: "host:pid" (read per call, so a forked child is itself)."""
        return self._holder or leases.me()

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------
    # Schema

    def migrate(self, revision: str = "heads") -> None:
        """Bring the schema up to `revision` (default: every head) with the Alembic migrations of this package."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("path_separator", "os")
        with self._translate(), self._writer.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    # ------------------------------------------------------------------------------------------------
    # Runs

    def create_run(
        self,
        workspace: str,
        request: str,
        *,
        run_id: str | None = None,
        client: str | None = None,
        period: Period | None = None,
        status: str = "running",
    ) -> RunRecord:
        """Record a new run (a fresh id unless `run_id` is given; the graph's thread id is a good one).

        A run given a client and a period becomes, in the same transaction, the one active run for them
        (an `active_runs` row): when a run, a draft in the inbox or a live invoice already bills an
        overlapping period of that client, nothing is recorded and `RunAlreadyActiveError` names it. Of
        runs racing for one client and period exactly one is recorded: the row's primary key refuses the
        others (and on PostgreSQL each client's check-and-insert takes turns, so overlapping periods
        cannot both pass either). A run still drafting whose process is gone (on this host; on another,
        silent past the lease) no longer counts: it is marked failed and the new run takes its place.
        """
        now = self._clock()
        row = RunRow(
            id=run_id or uuid.uuid4().hex,
            workspace=workspace,
            request=request,
            client=client,
            period_start=period.start if period else None,
            period_end=period.end if period else None,
            status=status,
            error=None,
            input_tokens=0,
            output_tokens=0,
            cost_usd=ZERO,
            created_at=now,
            updated_at=now,
        )
        if client is None or period is None:
            with self._write() as s:
                s.add(row)
            return RunRecord.model_validate(row)
        try:
            with self._write() as s:
                self._lock_client(s, workspace, client)
                active = self._active_work(s, workspace, client, period, repair=True)
                if active is not None:
                    raise RunAlreadyActiveError(active)
                s.add(row)
                s.flush()
                s.add(self._slot(row.id, workspace, client, period, now))
        except IntegrityError:
            with self._read() as s:  # another run won the primary key: name it
                active = self._active_work(s, workspace, client, period)
            if active is None:
                raise
            raise RunAlreadyActiveError(active) from None
        return RunRecord.model_validate(row)

    def hold(self, run_id: str) -> ActiveWork | None:
        """Make `run_id` the active run of its client and period, held by this process: a run being resumed
        (a failed one is `running` again, in the same transaction).

        None when it holds them (already: the hold becomes this process's; or now); else the work that
        took its place, and nothing changes.
        A run without a client and period holds nothing and always gets None.
        """
        with self._write() as s:
            run = self._run(s, run_id)
            if run.client is None or run.period_start is None or run.period_end is None:
                return None
            held = s.scalar(select(ActiveRunRow).where(ActiveRunRow.run_id == run_id))
            if held is not None:  # this process carries the run on now: its claim is no longer the dead one's
                held.holder, held.since = self.holder, self._clock()
                return None
            period = Period(start=run.period_start, end=run.period_end)
            self._lock_client(s, run.workspace, run.client)
            active = self._active_work(s, run.workspace, run.client, period, exclude_run=run_id, repair=True)
            if active is not None:
                return active
            s.add(self._slot(run_id, run.workspace, run.client, period, self._clock()))
            if run.status == "failed":
                run.status, run.updated_at = "running", self._clock()
            return None

    def _slot(self, run_id: str, workspace: str, client: str, period: Period, now: datetime) -> ActiveRunRow:
        return ActiveRunRow(workspace=workspace, client=client, period_start=period.start, period_end=period.end,
                            run_id=run_id, holder=self.holder, since=now)

    def get_run(self, run_id: str) -> RunRecord:
        with self._read() as s:
            return RunRecord.model_validate(self._run(s, run_id))

    def list_runs(self, workspace: str | None = None, *, limit: int = 100) -> list[RunRecord]:
        """The most recent runs first."""
        query = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id).limit(limit)
        if workspace is not None:
            query = query.where(RunRow.workspace == workspace)
        with self._read() as s:
            return [RunRecord.model_validate(row) for row in s.scalars(query)]

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        error: str | None = None,
        client: str | None = None,
        period: Period | None = None,
    ) -> RunRecord:
        """Change what is given (None leaves a field as it is; an empty `error` clears it).

        A status that ends the run (answered, rejected, sent), or `failed` before its draft reached the
        inbox, frees its client and period for a new run in the same transaction.
        """
        with self._write() as s:
            row = self._run(s, run_id, lock=True)
            if status is not None:
                row.status = status
                if status in _ENDED_RUNS or (status == "failed" and s.get(ApprovalRow, run_id) is None):
                    s.execute(delete(ActiveRunRow).where(ActiveRunRow.run_id == run_id)
                              .execution_options(synchronize_session=False))
            if error is not None:
                row.error = error or None
            if client is not None:
                row.client = client
            if period is not None:
                row.period_start, row.period_end = period.start, period.end
            row.updated_at = self._clock()
            return RunRecord.model_validate(row)

    def add_usage(
        self, run_id: str, *, input_tokens: int = 0, output_tokens: int = 0, cost_usd: Decimal | float = ZERO
    ) -> RunRecord:
        """Add one model call's token counts and estimated cost (USD, kept to the millionth) to the run.

        The cost is telemetry, never billed, so a float estimate is accepted (through its shortest repr).
        """
        cost = Decimal(repr(cost_usd)) if isinstance(cost_usd, float) else cost_usd
        with self._write() as s:
            row = self._run(s, run_id, lock=True)
            row.input_tokens += input_tokens
            row.output_tokens += output_tokens
            row.cost_usd = (row.cost_usd + cost).quantize(MILLIONTH, rounding=ROUND_HALF_UP)
            row.updated_at = self._clock()
            return RunRecord.model_validate(row)

    # ------------------------------------------------------------------------------------------------
    # Drafts

    def save_draft(self, run_id: str, draft: Draft) -> DraftRecord:
        """Keep a new version of the run's draft (1, 2, ...); earlier versions stay for the audit."""
        with self._write() as s:
            self._run(s, run_id, lock=True)  # serializes versioning per run
            version = (s.scalar(select(func.max(DraftRow.version)).where(DraftRow.run_id == run_id)) or 0) + 1
            row = DraftRow(
                run_id=run_id,
                version=version,
                client=draft.client,
                period_start=draft.period_start,
                period_end=draft.period_end,
                currency=draft.currency,
                subtotal=draft.subtotal,
                discount=draft.discount,
                cap_adjustment=draft.cap_adjustment,
                tax=draft.tax,
                total=draft.total,
                draft=draft.model_dump(mode="json"),
                created_at=self._clock(),
            )
            s.add(row)
            s.flush()
            return _draft_record(row)

    def latest_draft(self, run_id: str) -> DraftRecord | None:
        query = select(DraftRow).where(DraftRow.run_id == run_id).order_by(DraftRow.version.desc()).limit(1)
        with self._read() as s:
            row = s.scalar(query)
            return _draft_record(row) if row is not None else None

    def save_review(self, run_id: str, version: int, review: dict[str, Any]) -> None:
        """Keep the review of one draft version (a second review of the same version replaces the first)."""
        with self._write() as s:
            row = s.scalar(select(DraftRow).where(DraftRow.run_id == run_id, DraftRow.version == version))
            if row is None:
                raise RecordNotFoundError("draft", f"{run_id} v{version}")
            row.review = review

    def get_draft(self, run_id: str, version: int) -> DraftRecord:
        with self._read() as s:
            row = s.scalar(select(DraftRow).where(DraftRow.run_id == run_id, DraftRow.version == version))
            if row is None:
                raise RecordNotFoundError("draft", f"{run_id} v{version}")
            return _draft_record(row)

    # ------------------------------------------------------------------------------------------------
    # Approvals: the inbox and the lock

    def open_approval(self, run_id: str, draft_version: int) -> ApprovalRecord:
        """Put the run's draft in the reviewer's inbox (status pending).

        Idempotent: opening the same version again changes nothing, so a node that re-runs is safe. A new
        version replaces a pending one, or reopens after `changes_requested`; an approval that was
        approved or rejected cannot be reopened (start a new run).
        """
        with self._write() as s:
            run = self._run(s, run_id)
            row = s.get(ApprovalRow, run_id, with_for_update=True)
            now = self._clock()
            if row is None:
                self._refuse_if_superseded(s, run)
                row = ApprovalRow(run_id=run_id, draft_version=draft_version, status="pending", requested_at=now)
                s.add(row)
            elif row.draft_version == draft_version and row.status in ("pending", "resuming"):
                pass
            elif row.status in ("pending", "changes_requested"):
                row.draft_version, row.status, row.requested_at = draft_version, "pending", now
                row.decided_by = row.decided_at = row.reason = None
                row.claimed_by = row.claimed_at = row.claimed_decision = None
            else:
                raise InvalidTransitionError("approval", run_id, row.status, f"pending (draft v{draft_version})")
            s.flush()
            return ApprovalRecord.model_validate(row)

    def get_approval(self, run_id: str) -> ApprovalRecord:
        with self._read() as s:
            row = s.get(ApprovalRow, run_id)
            if row is None:
                raise RecordNotFoundError("approval", run_id)
            return ApprovalRecord.model_validate(row)

    def list_pending(self, workspace: str | None = None) -> list[ApprovalRecord]:
        """The inbox: approvals waiting for a person, oldest request first."""
        query = (
            select(ApprovalRow)
            .where(ApprovalRow.status == "pending")
            .order_by(ApprovalRow.requested_at, ApprovalRow.run_id)
        )
        if workspace is not None:
            query = query.join(RunRow, RunRow.id == ApprovalRow.run_id).where(RunRow.workspace == workspace)
        with self._read() as s:
            return [ApprovalRecord.model_validate(row) for row in s.scalars(query)]

    def claim(
        self,
        run_id: str,
        expected_status: ApprovalStatus = "pending",
        new_status: ApprovalStatus = "resuming",
        *,
        decision: Mapping[str, Any] | None = None,
    ) -> bool:
        """Compare-and-set the approval's status; True only for the one caller whose UPDATE changed it.

        This is the lock that stops two processes resuming the same run: whoever gets True resumes the
        graph; everyone else gets False and must not. A claim to `resuming` records who holds it (this
        store's `holder`), when, and the `decision` being applied, so that if its process dies before the
        decision is recorded, `take_over` hands it to the next caller. `claim(run_id, "resuming",
        "pending")` hands a run back to the inbox when a resume failed before any decision was recorded.
        """
        if new_status not in APPROVAL_STATUSES or expected_status not in APPROVAL_STATUSES:
            raise ValueError(f"approval statuses are {', '.join(APPROVAL_STATUSES)}")
        resuming = new_status == "resuming"
        statement = (
            update(ApprovalRow)
            .where(ApprovalRow.run_id == run_id, ApprovalRow.status == expected_status)
            .values(status=new_status, claimed_by=self.holder if resuming else None,
                    claimed_at=self._clock() if resuming else None,
                    claimed_decision=dict(decision) if resuming and decision is not None else None)
            .execution_options(synchronize_session=False)
        )
        with self._write() as s:
            result = cast(CursorResult[Any], s.execute(statement))
            return result.rowcount == 1

    def take_over(self, run_id: str, *, decision: Mapping[str, Any] | None = None) -> ApprovalRecord | None:
        """Take over the approval's `resuming` claim if it is stale (older than the lease, its process gone,
        or released): it becomes this store's holder's, and the record (with the decision the claim is
        applying: `decision` if given, else the earlier one) is returned. None when the approval is not
        resuming or its claim is live; of two callers taking over one stale claim, exactly one gets it (a
        compare-and-set on the old holder and time).
        """
        with self._read() as s:
            row = s.get(ApprovalRow, run_id)
            if row is None:
                raise RecordNotFoundError("approval", run_id)
            if row.status != "resuming" or not leases.is_stale(row.claimed_by, row.claimed_at, self._clock(),
                                                                self.lease):
                return None
            old_holder, old_at = row.claimed_by, row.claimed_at
        statement = (
            update(ApprovalRow)
            .where(ApprovalRow.run_id == run_id, ApprovalRow.status == "resuming",
                   ApprovalRow.claimed_by.is_not_distinct_from(old_holder),
                   ApprovalRow.claimed_at.is_not_distinct_from(old_at))
            .values(claimed_by=self.holder, claimed_at=self._clock(),
                    **({"claimed_decision": dict(decision)} if decision is not None else {}))
            .execution_options(synchronize_session=False)
        )
        with self._write() as s:
            if cast(CursorResult[Any], s.execute(statement)).rowcount != 1:
                return None
            row = s.get(ApprovalRow, run_id, populate_existing=True)
            return ApprovalRecord.model_validate(row)

    def release_claim(self, run_id: str) -> bool:
        """Let go of this holder's `resuming` claim on the approval (its work failed before the decision was
        recorded), keeping the decision: the next `take_over` gets it at once instead of after the lease."""
        statement = (
            update(ApprovalRow)
            .where(ApprovalRow.run_id == run_id, ApprovalRow.status == "resuming",
                   ApprovalRow.claimed_by == self.holder)
            .values(claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        with self._write() as s:
            return cast(CursorResult[Any], s.execute(statement)).rowcount == 1

    def decide(
        self,
        run_id: str,
        status: Literal["approved", "changes_requested", "rejected"],
        actor: str,
        *,
        reason: str | None = None,
        detail: Mapping[str, Any] | None = None,
        expected: Collection[ApprovalStatus] = ("pending", "resuming"),
    ) -> ApprovalRecord:
        """Record a person's decision on the run's draft, and the decision row that audits it.

        Idempotent for the same decision by the same person (a re-run node records it once); anything
        else on an approval that is not in `expected` raises `InvalidTransitionError`.
        """
        if status not in _DECISIONS:
            raise ValueError(f"a decision is one of {', '.join(_DECISIONS)}, not {status!r}")
        with self._write() as s:
            row = s.get(ApprovalRow, run_id, with_for_update=True)
            if row is None:
                raise RecordNotFoundError("approval", run_id)
            if row.status == status and row.decided_by == actor:
                return ApprovalRecord.model_validate(row)
            if row.status not in expected:
                raise InvalidTransitionError("approval", run_id, row.status, status)
            now = self._clock()
            row.status, row.decided_by, row.decided_at, row.reason = status, actor, now, reason
            s.add(DecisionRow(
                run_id=run_id, action=status, actor=actor, at=now,
                detail={"draft_version": row.draft_version, "reason": reason, **(detail or {})},
            ))
            s.flush()
            return ApprovalRecord.model_validate(row)

    def record_decision(
        self, run_id: str, action: str, actor: str, detail: Mapping[str, Any] | None = None
    ) -> DecisionRecord:
        """Append one line to the run's audit log (an edit, a push, a void: `detail` says what changed)."""
        row = DecisionRow(run_id=run_id, action=action, actor=actor, at=self._clock(), detail=dict(detail or {}))
        with self._write() as s:
            self._run(s, run_id)
            s.add(row)
            s.flush()
            return DecisionRecord.model_validate(row)

    def decisions(self, run_id: str) -> list[DecisionRecord]:
        """The run's audit log, oldest first."""
        query = select(DecisionRow).where(DecisionRow.run_id == run_id).order_by(DecisionRow.at, DecisionRow.id)
        with self._read() as s:
            return [DecisionRecord.model_validate(row) for row in s.scalars(query)]

    # ------------------------------------------------------------------------------------------------
    # Is this client+period already being billed?

    def find_active(
        self, workspace: str, client: str, period: Period, *, exclude_run: str | None = None
    ) -> ActiveWork | None:
        """A live invoice, or else a draft awaiting (or being acted on after) approval, or else a run still
        drafting, whose period overlaps `period` for this client; None when nothing is under way. Live
        invoices are reported first, then the oldest. (`create_run` checks the same, atomically.)
        """
        with self._read() as s:
            return self._active_work(s, workspace, client, period, exclude_run=exclude_run)

    def _active_work(
        self, s: Session, workspace: str, client: str, period: Period, *, exclude_run: str | None = None,
        repair: bool = False,
    ) -> ActiveWork | None:
        """What `find_active` reports, in session `s`. Runs holding an overlapping client+period that no
        longer count (ended, failed before the inbox, voided, or drafting in a process that is gone) are
        skipped; with `repair` their rows are deleted, and a stale drafting run is marked failed."""
        running = self._live_slots(s, workspace, client, period, exclude_run=exclude_run, repair=repair)
        overlaps_invoice = and_(InvoiceRow.period_start <= period.end, InvoiceRow.period_end >= period.start)
        invoice_query = (
            select(InvoiceRow)
            .where(InvoiceRow.workspace == workspace, InvoiceRow.client == client, InvoiceRow.status != "void")
            .where(overlaps_invoice)
            .order_by(InvoiceRow.period_start, InvoiceRow.created_at)
        )
        has_invoice = exists().where(InvoiceRow.run_id == ApprovalRow.run_id)
        approval_query = (
            select(ApprovalRow, DraftRow)
            .join(RunRow, RunRow.id == ApprovalRow.run_id)
            .join(DraftRow, and_(DraftRow.run_id == ApprovalRow.run_id, DraftRow.version == ApprovalRow.draft_version))
            .where(RunRow.workspace == workspace, DraftRow.client == client)
            .where(DraftRow.period_start <= period.end, DraftRow.period_end >= period.start)
            .where(ApprovalRow.status.in_(_OPEN_APPROVALS), ~has_invoice)
            .order_by(ApprovalRow.requested_at, ApprovalRow.run_id)
        )
        if exclude_run is not None:
            invoice_query = invoice_query.where(InvoiceRow.run_id != exclude_run)
            approval_query = approval_query.where(ApprovalRow.run_id != exclude_run)
        invoice = s.scalars(invoice_query).first()
        if invoice is not None:
            return ActiveWork(
                kind="invoice", run_id=invoice.run_id, status=invoice.status,
                period_start=invoice.period_start, period_end=invoice.period_end,
                invoice_number=invoice.number, invoice_id=invoice.id,
            )
        found = s.execute(approval_query).first()
        if found is not None:
            approval, draft = found
            return ActiveWork(
                kind="awaiting_approval", run_id=approval.run_id, status=approval.status,
                period_start=draft.period_start, period_end=draft.period_end,
            )
        if running:
            slot, run = running[0]
            return ActiveWork(kind="running", run_id=slot.run_id, status=run.status,
                              period_start=slot.period_start, period_end=slot.period_end)
        return None

    def _live_slots(
        self, s: Session, workspace: str, client: str, period: Period, *, exclude_run: str | None, repair: bool
    ) -> list[tuple[ActiveRunRow, RunRow]]:
        """The `active_runs` rows (with their runs) overlapping `period` for this client that still count."""
        query = (
            select(ActiveRunRow, RunRow)
            .join(RunRow, RunRow.id == ActiveRunRow.run_id)
            .where(ActiveRunRow.workspace == workspace, ActiveRunRow.client == client)
            .where(ActiveRunRow.period_start <= period.end, ActiveRunRow.period_end >= period.start)
            .order_by(ActiveRunRow.since, ActiveRunRow.run_id)
        )
        if exclude_run is not None:
            query = query.where(ActiveRunRow.run_id != exclude_run)
        live: list[tuple[ActiveRunRow, RunRow]] = []
        now = self._clock()
        for slot, run in s.execute(query).all():
            why = self._slot_released(s, slot, run, now)
            if why is None:
                live.append((slot, run))
            elif repair:
                s.delete(slot)
                if run.status == "running":
                    run.status, run.error, run.updated_at = "failed", why, now
        if repair:
            s.flush()
        return live

    def _slot_released(self, s: Session, slot: ActiveRunRow, run: RunRow, now: datetime) -> str | None:
        """Why `slot` no longer keeps its client and period (None: it does)."""
        if run.status in _ENDED_RUNS:
            return f"run {run.id} ended ({run.status})"
        if s.scalar(select(InvoiceRow.status).where(InvoiceRow.run_id == run.id)) == "void":
            return f"the invoice of run {run.id} was voided"
        if s.get(ApprovalRow, run.id) is not None:
            return None  # a draft in the inbox, or a decision being carried out: only that run finishes it
        if run.status == "failed":
            return f"run {run.id} failed before its draft reached the inbox"
        if leases.is_abandoned(slot.holder, max(slot.since, run.updated_at), now, self.lease):
            return (f"run {run.id} stopped while drafting (its process {slot.holder} is gone); a new run for "
                    "its client and period took its place")
        return None

    def _refuse_if_superseded(self, s: Session, run: RunRow) -> None:
        """A run whose client and period another run took (it was stale, then came back) must not reach the
        inbox: two drafts for one period is what `active_runs` prevents."""
        if run.client is None or run.period_start is None or run.period_end is None:
            return
        if s.scalar(select(ActiveRunRow.run_id).where(ActiveRunRow.run_id == run.id)) is not None:
            return
        period = Period(start=run.period_start, end=run.period_end)
        other = self._live_slots(s, run.workspace, run.client, period, exclude_run=run.id, repair=False)
        if other:
            raise InvalidTransitionError("run", run.id, f"superseded by run {other[0][0].run_id}",
                                         "waiting for approval")

    def _lock_client(self, s: Session, workspace: str, client: str) -> None:
        """On PostgreSQL, make every check-and-insert of runs for this client take turns until commit (SQLite
        writers already do: BEGIN IMMEDIATE)."""
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                      {"space": _CLIENT_LOCK, "key": f"{workspace}\x1f{client}"})

    # ------------------------------------------------------------------------------------------------
    # Invoices

    def create_invoice(
        self,
        workspace: str,
        draft: Draft,
        run_id: str,
        number_format: str,
        issue_date: date | None = None,
        history_numbers: Iterable[str] = (),
    ) -> InvoiceRecord:
        """Issue the approved draft as an invoice: number it, and bind its entries to it, atomically.

        In one transaction: lock the workspace's number sequence; return the run's invoice if it already
        has one (so a retried node never issues twice); refuse, naming them, entries already on a live
        invoice; take the next number of the firm-wide sequence, which continues after both this store's
        last number and the highest of `history_numbers` (the workspace's past invoices) and puts the
        issue year in `number_format`; insert the invoice (status "approved") and its entries.

        Args:
            workspace: the workspace (firm) the invoice belongs to.
            draft: the approved draft.
            run_id: the run that drafted it; one run issues at most one invoice.
            number_format: the firm's `invoice_number_format`, e.g. "INV-{year}-{seq:04d}".
            issue_date: when it is issued (default: the draft's); the due date keeps the draft's terms.
            history_numbers: invoice numbers issued before this store existed (invoices.csv).

        Raises:
            AlreadyBilledError: some entries are on a live invoice (the error maps each to its number).
            NothingToInvoiceError: the draft has no lines.
            RecordNotFoundError: no such run.
        """
        if draft.is_empty:
            raise NothingToInvoiceError(draft.client, f"{draft.period_start}..{draft.period_end}")
        issue = issue_date or draft.issue_date
        due = issue + (draft.due_date - draft.issue_date)
        history_seq = max((_sequence_of(number_format, n) for n in history_numbers), default=0)
        billed = _billed_entries(draft)
        lines: list[dict[str, Any]] = draft.contract_json()["lines"]
        try:
            with self._write() as s:
                sequence = self._lock_sequence(s, workspace)
                existing = s.scalar(select(InvoiceRow).where(InvoiceRow.run_id == run_id))
                if existing is not None:
                    return self._invoice_record(s, existing)
                self._run(s, run_id)
                conflicts = self._live_entries(s, workspace, billed)
                if conflicts:
                    raise AlreadyBilledError(workspace, conflicts)
                seq = max(sequence.last_seq, history_seq) + 1
                number = number_format.format(year=issue.year, seq=seq)
                for _ in range(_NUMBER_TRIES):  # more than once only if the format changed under existing numbers
                    if s.scalar(select(InvoiceRow.id).where(InvoiceRow.workspace == workspace,
                                                            InvoiceRow.number == number)) is None:
                        break
                    seq += 1
                    number = number_format.format(year=issue.year, seq=seq)
                else:
                    raise StoreError(
                        f"no free invoice number in workspace {workspace!r} after {_NUMBER_TRIES} tries of "
                        f"{number_format!r} (up to {number!r}); nothing was issued: invoice_number_format in "
                        "workspace.yaml needs one {seq} placeholder, e.g. \"INV-{year}-{seq:04d}\""
                    )
                sequence.last_seq = seq
                now = self._clock()
                invoice = InvoiceRow(
                    id=uuid.uuid4().hex,
                    workspace=workspace,
                    number=number,
                    client=draft.client,
                    period_start=draft.period_start,
                    period_end=draft.period_end,
                    currency=draft.currency,
                    subtotal=draft.subtotal,
                    discount=draft.discount,
                    cap_adjustment=draft.cap_adjustment,
                    tax=draft.tax,
                    total=draft.total,
                    lines=lines,
                    issue_date=issue,
                    due_date=due,
                    status="approved",
                    run_id=run_id,
                    idempotency_key=uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{workspace}\x1f{run_id}").hex,
                    created_at=now,
                    updated_at=now,
                )
                s.add(invoice)
                s.flush()
                s.add_all(
                    InvoiceEntryRow(
                        invoice_id=invoice.id, workspace=workspace, entry_id=entry_id,
                        actual_hours=actual, billed_hours=billed_hours, active=True,
                    )
                    for entry_id, (actual, billed_hours) in billed.items()
                )
                # What the approved draft decided becomes history later runs learn from (tools.store.labels).
                approval = s.get(ApprovalRow, run_id)
                upsert_approved_labels(s, workspace, run_id, approved_categories(draft), number,
                                       approval.decided_by if approval else None, now)
                s.flush()
                return self._invoice_record(s, invoice)
        except IntegrityError:
            # Only reachable if someone bypassed the sequence lock; report what the constraint protected.
            with self._read() as s:
                existing = s.scalar(select(InvoiceRow).where(InvoiceRow.run_id == run_id))
                if existing is not None:
                    return self._invoice_record(s, existing)
                conflicts = self._live_entries(s, workspace, billed)
            if conflicts:
                raise AlreadyBilledError(workspace, conflicts) from None
            raise

    def get_invoice(self, invoice_id: str) -> InvoiceRecord:
        with self._read() as s:
            return self._invoice_record(s, self._invoice(s, invoice_id))

    def invoice_for_run(self, run_id: str) -> InvoiceRecord | None:
        with self._read() as s:
            row = s.scalar(select(InvoiceRow).where(InvoiceRow.run_id == run_id))
            return self._invoice_record(s, row) if row is not None else None

    def find_invoice(self, workspace: str, number: str) -> InvoiceRecord | None:
        with self._read() as s:
            row = s.scalar(select(InvoiceRow).where(InvoiceRow.workspace == workspace, InvoiceRow.number == number))
            return self._invoice_record(s, row) if row is not None else None

    def list_invoices(
        self, workspace: str, *, status: InvoiceRecordStatus | None = None, client: str | None = None
    ) -> list[InvoiceRecord]:
        """The workspace's invoices in issue order."""
        query = select(InvoiceRow).where(InvoiceRow.workspace == workspace)
        if status is not None:
            query = query.where(InvoiceRow.status == status)
        if client is not None:
            query = query.where(InvoiceRow.client == client)
        with self._read() as s:
            return [
                self._invoice_record(s, row)
                for row in s.scalars(query.order_by(InvoiceRow.issue_date, InvoiceRow.created_at))
            ]

    def billed_entry_ids(self, workspace: str) -> set[str]:
        """Every entry on a live (not void) invoice of the workspace: not a candidate for billing."""
        query = select(InvoiceEntryRow.entry_id).where(
            InvoiceEntryRow.workspace == workspace, InvoiceEntryRow.active.is_(True)
        )
        with self._read() as s:
            return set(s.scalars(query))

    def mark_pushed(self, invoice_id: str, ledger: str, ref: str) -> InvoiceRecord:
        """The invoice now exists in `ledger` as `ref`. Repeating the same push is a no-op."""
        with self._write() as s:
            row = self._invoice(s, invoice_id, lock=True)
            if row.status in ("pushed", "sent", "paid") and (row.ledger, row.ledger_ref) == (ledger, ref):
                return self._invoice_record(s, row)
            if row.status != "approved":
                raise InvalidTransitionError("invoice", row.number, _with_ref(row), f"pushed to {ledger} as {ref}")
            now = self._clock()
            row.status, row.ledger, row.ledger_ref, row.pushed_at, row.updated_at = "pushed", ledger, ref, now, now
            return self._invoice_record(s, row)

    def mark_sent(self, invoice_id: str) -> InvoiceRecord:
        """The invoice was delivered to the client. Only a pushed invoice can be sent; again is a no-op."""
        with self._write() as s:
            row = self._invoice(s, invoice_id, lock=True)
            if row.status in ("sent", "paid"):
                return self._invoice_record(s, row)
            if row.status != "pushed":
                raise InvalidTransitionError("invoice", row.number, row.status, "sent")
            now = self._clock()
            row.status, row.sent_at, row.updated_at = "sent", now, now
            return self._invoice_record(s, row)

    def mark_paid(self, invoice_id: str) -> InvoiceRecord:
        """The client paid the invoice in full (a pushed or sent invoice); again is a no-op."""
        with self._write() as s:
            row = self._invoice(s, invoice_id, lock=True)
            if row.status == "paid":
                return self._invoice_record(s, row)
            if row.status not in ("pushed", "sent"):
                raise InvalidTransitionError("invoice", row.number, row.status, "paid")
            row.status, row.updated_at = "paid", self._clock()
            return self._invoice_record(s, row)

    def void_invoice(self, invoice_id: str, reason: str) -> InvoiceRecord:
        """Void the invoice and release its entries so a new run can bill them. Again is a no-op.

        A paid invoice cannot be voided (credit it instead). Voiding here does not void the copy in the
        ledger: the caller does that through the ledger connector.
        """
        with self._write() as s:
            row = self._invoice(s, invoice_id, lock=True)
            if row.status == "void":
                return self._invoice_record(s, row)
            if row.status == "paid":
                raise InvalidTransitionError("invoice", row.number, "paid", "void")
            now = self._clock()
            row.status, row.voided_at, row.void_reason, row.updated_at = "void", now, reason, now
            s.execute(
                update(InvoiceEntryRow)
                .where(InvoiceEntryRow.invoice_id == invoice_id)
                .values(active=False)
                .execution_options(synchronize_session=False)
            )
            return self._invoice_record(s, row)

    # ------------------------------------------------------------------------------------------------
    # Learned labels: categories people confirmed, for later runs to learn from (tools.store.labels)

    def record_reviewer_labels(self, workspace: str, run_id: str, categories: Mapping[str, str],
                               who: str) -> list[LearnedLabel]:
        """A person set these categories (entry id -> category id) on the run's draft: they replace any
        earlier label of those entries. Check them against the catalogue and the draft first."""
        if not categories:
            return []
        with self._write() as s:
            self._run(s, run_id)
            upsert_reviewer_labels(s, workspace, run_id, categories, who, self._clock())
            s.flush()
            return select_learned(s, workspace, categories)

    def record_approved_labels(self, workspace: str, run_id: str, draft: Draft, invoice_number: str,
                               who: str | None = None) -> None:
        """The categories of an approved draft's billed and rule-excluded entries, as "approved" labels
        (never replacing a reviewer's). `create_invoice` already does this in its own transaction."""
        with self._write() as s:
            upsert_approved_labels(s, workspace, run_id, approved_categories(draft), invoice_number, who,
                                   self._clock())

    def learned_labels(self, workspace: str) -> list[LearnedLabel]:
        """Every learned label of the workspace, by entry id (`LearnedLabel.entry_label()` is the csv row)."""
        with self._read() as s:
            return select_learned(s, workspace)

    # ------------------------------------------------------------------------------------------------
    # Internals

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise DatabaseUnavailableError(self.url, str(exc.orig).strip() or type(exc.orig).__name__) from exc

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._translate(), Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._translate(), Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    def _run(self, s: Session, run_id: str, *, lock: bool = False) -> RunRow:
        row = s.get(RunRow, run_id, with_for_update=lock)
        if row is None:
            raise RecordNotFoundError("run", run_id)
        return row

    def _invoice(self, s: Session, invoice_id: str, *, lock: bool = False) -> InvoiceRow:
        row = s.get(InvoiceRow, invoice_id, with_for_update=lock)
        if row is None:
            raise RecordNotFoundError("invoice", invoice_id)
        return row

    def _lock_sequence(self, s: Session, workspace: str) -> InvoiceSequenceRow:
        """The workspace's sequence row, created if needed and locked until the transaction ends."""
        insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        s.execute(insert(InvoiceSequenceRow).values(workspace=workspace, last_seq=0).on_conflict_do_nothing())
        row = s.scalar(
            select(InvoiceSequenceRow)
            .where(InvoiceSequenceRow.workspace == workspace)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:  # the insert above guarantees it
            raise RecordNotFoundError("invoice sequence", workspace)
        return row

    @staticmethod
    def _live_entries(s: Session, workspace: str, entry_ids: Collection[str]) -> dict[str, str]:
        """Of `entry_ids`, those on a live invoice of the workspace, with that invoice's number."""
        if not entry_ids:
            return {}
        condition: ColumnElement[bool] = and_(
            InvoiceEntryRow.workspace == workspace,
            InvoiceEntryRow.active.is_(True),
            InvoiceEntryRow.entry_id.in_(sorted(entry_ids)),
        )
        query = select(InvoiceEntryRow.entry_id, InvoiceRow.number).join(
            InvoiceRow, InvoiceRow.id == InvoiceEntryRow.invoice_id
        )
        return {entry_id: number for entry_id, number in s.execute(query.where(condition))}

    @staticmethod
    def _invoice_record(s: Session, row: InvoiceRow) -> InvoiceRecord:
        entries = s.scalars(
            select(InvoiceEntryRow).where(InvoiceEntryRow.invoice_id == row.id).order_by(InvoiceEntryRow.id)
        )
        fields = {column.key: getattr(row, column.key) for column in InvoiceRow.__table__.columns}
        fields.pop("updated_at")
        return InvoiceRecord.model_validate(
            {**fields, "entries": [InvoiceEntryRecord.model_validate(e) for e in entries]}
        )


# ----------------------------------------------------------------------------------------------------


def _create_engine(url: URL, *, echo: bool) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True)
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory:
        engine = create_engine(
            url, echo=echo, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN, instead of pysqlite's own guesswork.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _draft_record(row: DraftRow) -> DraftRecord:
    return DraftRecord(run_id=row.run_id, version=row.version, created_at=row.created_at,
                       draft=Draft.model_validate(row.draft), review=row.review)


def _billed_entries(draft: Draft) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """Entry id -> (hours logged, hours billed) for every entry the invoice bills.

    The billed outcomes of the draft, plus any entry a line names (a retainer line lists every counted
    entry); fixed-fee time is not billed, so those entries stay free.
    """
    decisions = {e.entry_id: e for e in draft.entries}
    billed: dict[str, tuple[Decimal | None, Decimal | None]] = {
        e.entry_id: (e.hours, e.billed_hours) for e in draft.entries if e.outcome == "billed"
    }
    for line in draft.lines:
        for entry_id in line.entry_ids:
            if entry_id not in billed:
                decision = decisions.get(entry_id)
                billed[entry_id] = (decision.hours, decision.billed_hours) if decision else (None, None)
    return billed


def _sequence_of(number_format: str, number: str) -> int:
    """The sequence number inside `number` if it follows `number_format`, else 0."""
    return sequence_of(number_format, number) or 0


def _with_ref(row: InvoiceRow) -> str:
    return f"{row.status} ({row.ledger} {row.ledger_ref})" if row.ledger else row.status
