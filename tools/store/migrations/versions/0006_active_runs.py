"""Active runs and claim leases: one live run per client and period, and claims that can go stale.

- `active_runs`: a row per client and period that a run is billing, its primary key the client and
  period, inserted in the same transaction as the run; two runs racing for one client and period cannot
  both insert it. A run ending (answered, rejected, sent) or failing before its draft reached the inbox
  deletes it.
- `approvals.claimed_by / claimed_at / claimed_decision`: who claimed the approval to act on it, when,
  and the decision being applied, so a claim whose process died can be taken over and finished.

Existing drafts in the inbox (or being acted on) without an invoice get their row: the oldest run of
each client and period.

Revision ID: 0006_active_runs
Revises: 0005_draft_reviews
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tools.store.types import JSONDocument

revision: str = "0006_active_runs"
down_revision: str | None = "0005_draft_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "active_runs",
        sa.Column("workspace", sa.String(1000), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_active_runs_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace", "client", "period_start", "period_end", name="pk_active_runs"),
        sa.UniqueConstraint("run_id", name="uq_active_runs_run_id"),
    )
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claimed_decision", JSONDocument, nullable=True))
    op.execute(
        "INSERT INTO active_runs (workspace, client, period_start, period_end, run_id, holder, since) "
        "SELECT r.workspace, r.client, r.period_start, r.period_end, MIN(r.id), 'migration', MIN(a.requested_at) "
        "FROM runs r JOIN approvals a ON a.run_id = r.id "
        "WHERE r.client IS NOT NULL AND r.period_start IS NOT NULL AND r.period_end IS NOT NULL "
        "AND a.status IN ('pending', 'resuming', 'changes_requested', 'approved') "
        "AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.run_id = r.id) "
        "GROUP BY r.workspace, r.client, r.period_start, r.period_end"
    )


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("claimed_decision")
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
    op.drop_table("active_runs")
