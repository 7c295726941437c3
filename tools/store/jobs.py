"""Run jobs: a request to draft one client's invoice for one period, kept in the store until a worker
takes it, so that runs survive the process that accepted them and any number of workers can share them.

    jobs = Jobs(store)                                     # on a migrated Store (0008_run_jobs or later)
    job, new = jobs.enqueue(workspace, "acme", "2026-03", "invoice Acme for March", as_of=date(2026, 4, 1))
    job = jobs.claim(workspace, "host:412/7", lease=timedelta(seconds=60))    # the oldest claimable, or None
    jobs.renew(job.id, "host:412/7", lease)                # the heartbeat, while the run drafts
    jobs.record_run(job.id, "host:412/7", run_id)          # the run exists: callers can follow it
    jobs.finish(job.id, "host:412/7", "done", run_id=run_id, outcome="awaiting_approval", message="...")

Why the store's own queue and not procrastinate or pgqueuer: both are PostgreSQL-only, and SQLite must
stay the embedded default with one code path. One table does it, with a claim written for each database:
- PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` picks the oldest claimable job, passing over rows other
  workers are claiming at that instant, then an UPDATE takes the lease, in one transaction.
- SQLite: one atomic `UPDATE ... WHERE id = (SELECT ...) AND <still claimable>` under BEGIN IMMEDIATE;
  whether a row came back says whether this worker got the job.

Leases: a claimed job is `running`, `leased_by` one claim of one worker, until `lease_until`; the worker
renews the lease while its run drafts. A job whose lease ran out (its worker died, or froze for most of a
lease) can be claimed again: the next worker takes it over, and `run_id` tells it which run the first one
had started. Every claim counts an attempt; a job abandoned `max_attempts` times is failed with the reason
(`fail_abandoned`). Times come from the store's clock: the workers' clocks must agree to well within a lease.

A partial unique index keeps one queued-or-running job per workspace, client and period: asking again
while one is queued or drafting answers that job (`enqueue` returns it with new=False).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    CursorResult,
    Date,
    Index,
    Integer,
    String,
    Text,
    and_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from tools.store.errors import RecordNotFoundError
from tools.store.models import Base, WorkspaceKey
from tools.store.store import Store
from tools.store.types import JSONDocument, UTCDateTime

__all__ = ["DEFAULT_ATTEMPTS", "JOB_STATUSES", "JobRecord", "JobRow", "JobStatus", "Jobs"]

JobStatus = Literal["queued", "running", "done", "failed"]
JOB_STATUSES: tuple[JobStatus, ...] = ("queued", "running", "done", "failed")
DEFAULT_ATTEMPTS = 3
"""Claims a job gets before a lease that runs out once more fails it."""

_ACTIVE = text("status IN ('queued', 'running')")


class JobRow(Base):
    __tablename__ = "run_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_run_jobs_workspace_status_created_at", "workspace", "status", "created_at"),
        Index("uq_run_jobs_active", "workspace", "client", "period", unique=True,
              sqlite_where=_ACTIVE, postgresql_where=_ACTIVE),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace: Mapped[str] = mapped_column(WorkspaceKey)
    client: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(40))
    request: Mapped[str] = mapped_column(Text)
    as_of: Mapped[date] = mapped_column(Date)
    leave_out: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    leased_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobRecord(BaseModel):
    """A job as callers see it. `outcome` is how its run ended up (awaiting_approval, exists, failed, ...)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    workspace: str
    client: str
    period: str
    request: str
    as_of: date
    leave_out: list[dict[str, Any]]
    requested_by: str | None
    status: JobStatus
    attempts: int
    leased_by: str | None
    lease_until: datetime | None
    run_id: str | None
    outcome: str | None
    message: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def ended(self) -> bool:
        return self.status in ("done", "failed")


class Jobs:
    """The `run_jobs` table of a `Store` (migrated to 0008_run_jobs or later)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # --- asking -------------------------------------------------------------------------------------

    def enqueue(
        self,
        workspace: str,
        client: str,
        period: str,
        request: str,
        *,
        as_of: date,
        leave_out: Iterable[Mapping[str, Any]] = (),
        requested_by: str | None = None,
    ) -> tuple[JobRecord, bool]:
        """Queue a run of `client` for `period`; or, if one is already queued or running, that one (new=False)."""
        for _ in range(5):  # the active job can end between the refused insert and the read: insert again
            now = self._now()
            row = JobRow(id=uuid.uuid4().hex, workspace=workspace, client=client, period=period, request=request,
                         as_of=as_of, leave_out=[dict(x) for x in leave_out], requested_by=requested_by,
                         status="queued", attempts=0, created_at=now, updated_at=now)
            try:
                with self._write() as s:
                    s.add(row)
                return JobRecord.model_validate(row), True
            except IntegrityError:
                active = self._active(workspace, client, period)
                if active is not None:
                    return active, False
        raise RuntimeError(f"could not queue {client} {period}: the active job kept changing")

    def get(self, job_id: str) -> JobRecord:
        with self._read() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise RecordNotFoundError("job", job_id)
            return JobRecord.model_validate(row)

    def get_many(self, job_ids: Iterable[str]) -> list[JobRecord]:
        """The jobs with these ids, in that order (unknown ids are left out)."""
        ids = list(job_ids)
        with self._read() as s:
            found = s.scalars(select(JobRow).where(JobRow.id.in_(ids)))
            rows = {row.id: JobRecord.model_validate(row) for row in found}
        return [rows[i] for i in ids if i in rows]

    def in_workspace(self, workspace: str, *, statuses: Iterable[JobStatus] | None = None,
                     limit: int = 100) -> list[JobRecord]:
        """The workspace's jobs, oldest first."""
        query = select(JobRow).where(JobRow.workspace == workspace).order_by(JobRow.created_at, JobRow.id).limit(limit)
        if statuses is not None:
            query = query.where(JobRow.status.in_(list(statuses)))
        with self._read() as s:
            return [JobRecord.model_validate(row) for row in s.scalars(query)]

    # --- working ------------------------------------------------------------------------------------

    def claim(self, workspace: str, worker: str, lease: timedelta, *,
              max_attempts: int = DEFAULT_ATTEMPTS) -> JobRecord | None:
        """Lease the workspace's oldest claimable job to `worker` (one name per claim): a queued job, or a
        running one whose lease ran out with attempts to spare. None when there is nothing to claim."""
        now = self._now()
        claimable = self._claimable(workspace, now, max_attempts)
        if not self._any(claimable):  # an idle poll reads only: no write lock taken on SQLite
            return None
        taken: dict[str, Any] = {"status": "running", "leased_by": worker, "lease_until": now + lease,
                                 "updated_at": now}
        with self._write() as s:
            if s.get_bind().dialect.name == "postgresql":
                row = s.scalar(select(JobRow).where(claimable).order_by(JobRow.created_at, JobRow.id).limit(1)
                               .with_for_update(skip_locked=True))
                if row is None:
                    return None
                for key, value in taken.items():
                    setattr(row, key, value)
                row.attempts += 1
                s.flush()
                return JobRecord.model_validate(row)
            oldest = select(JobRow.id).where(claimable).order_by(JobRow.created_at, JobRow.id).limit(1)
            statement = (update(JobRow).where(JobRow.id == oldest.scalar_subquery(), claimable)
                         .values(attempts=JobRow.attempts + 1, **taken)
                         .returning(JobRow.id).execution_options(synchronize_session=False))
            claimed = list(s.scalars(statement))
            if len(claimed) != 1:  # the row count: nothing claimable (BEGIN IMMEDIATE lets no one in between)
                return None
            row = s.get(JobRow, claimed[0], populate_existing=True)
            return JobRecord.model_validate(row)

    def renew(self, job_id: str, worker: str, lease: timedelta) -> bool:
        """Extend `worker`'s lease; False when the job is no longer its own (taken over, or finished)."""
        now = self._now()
        return self._update_own(job_id, worker, {"lease_until": now + lease, "updated_at": now})

    def record_run(self, job_id: str, worker: str, run_id: str) -> bool:
        """The job's run exists (its id, for whoever asked); False when the job is no longer `worker`'s."""
        return self._update_own(job_id, worker, {"run_id": run_id, "updated_at": self._now()})

    def finish(
        self,
        job_id: str,
        worker: str,
        status: Literal["done", "failed"],
        *,
        run_id: str | None = None,
        outcome: str | None = None,
        message: str | None = None,
        error: str | None = None,
    ) -> bool:
        """End `worker`'s job: done (its run drafted, or already existed) or failed (with the reason).
        False when the job was no longer `worker`'s: whoever holds it now finishes it."""
        if status not in ("done", "failed"):
            raise ValueError(f"a job ends done or failed, not {status!r}")
        now = self._now()
        values: dict[str, Any] = {"status": status, "outcome": outcome, "message": message, "error": error,
                                  "lease_until": None, "updated_at": now, "finished_at": now}
        if run_id is not None:
            values["run_id"] = run_id
        return self._update_own(job_id, worker, values)

    def fail_abandoned(self, workspace: str, *, max_attempts: int = DEFAULT_ATTEMPTS) -> list[JobRecord]:
        """Fail the running jobs whose lease ran out after their last attempt (their workers kept dying);
        returned so that the caller can fail their runs too."""
        now = self._now()
        abandoned = and_(JobRow.workspace == workspace, JobRow.status == "running", JobRow.lease_until < now,
                         JobRow.attempts >= max_attempts)
        if not self._any(abandoned):
            return []
        with self._write() as s:
            rows = list(s.scalars(select(JobRow).where(abandoned).with_for_update(skip_locked=True)))
            for row in rows:
                row.error = (f"abandoned: the lease of its worker ({row.leased_by}) ran out on each of "
                             f"{row.attempts} attempts; not tried again")
                row.status, row.outcome, row.lease_until = "failed", "failed", None
                row.updated_at = row.finished_at = now
            s.flush()
            return [JobRecord.model_validate(row) for row in rows]

    # --- internals ----------------------------------------------------------------------------------

    @staticmethod
    def _claimable(workspace: str, now: datetime, max_attempts: int) -> ColumnElement[bool]:
        expired = and_(JobRow.status == "running", JobRow.lease_until < now, JobRow.attempts < max_attempts)
        return and_(JobRow.workspace == workspace, or_(JobRow.status == "queued", expired))

    def _any(self, condition: ColumnElement[bool]) -> bool:
        with self._read() as s:
            return s.scalar(select(JobRow.id).where(condition).limit(1)) is not None

    def _active(self, workspace: str, client: str, period: str) -> JobRecord | None:
        query = select(JobRow).where(JobRow.workspace == workspace, JobRow.client == client, JobRow.period == period,
                                     JobRow.status.in_(("queued", "running")))
        with self._read() as s:
            row = s.scalar(query)
            return JobRecord.model_validate(row) if row is not None else None

    def _update_own(self, job_id: str, worker: str, values: dict[str, Any]) -> bool:
        statement = (update(JobRow)
                     .where(JobRow.id == job_id, JobRow.leased_by == worker, JobRow.status == "running")
                     .values(**values).execution_options(synchronize_session=False))
        with self._write() as s:
            return cast(CursorResult[Any], s.execute(statement)).rowcount == 1

    def _now(self) -> datetime:
        return self._store._clock()  # the store's clock, so tests that move time move leases too

    def _read(self) -> AbstractContextManager[Session]:
        return self._store._read()  # one transaction on the store's engine (same package)

    def _write(self) -> AbstractContextManager[Session]:
        return self._store._write()  # BEGIN IMMEDIATE on SQLite, like every store write
