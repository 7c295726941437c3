"""Run jobs: each run requested over HTTP is queued in the store until a worker (in a server, or
`invoice-agent worker`) takes it with a lease (tools/store/jobs.py).

Revision ID: 0008_run_jobs
Revises: 0007_api_limits
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tools.store.types import JSONDocument

revision: str = "0008_run_jobs"
down_revision: str | None = "0007_api_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "run_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("workspace", sa.String(1000), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("period", sa.String(40), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("leave_out", JSONDocument, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("leased_by", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_run_jobs_status"),
        sa.PrimaryKeyConstraint("id", name="pk_run_jobs"),
    )
    op.create_index("ix_run_jobs_workspace_status_created_at", "run_jobs", ["workspace", "status", "created_at"])
    op.create_index("uq_run_jobs_active", "run_jobs", ["workspace", "client", "period"], unique=True,
                    sqlite_where=_ACTIVE, postgresql_where=_ACTIVE)


def downgrade() -> None:
    op.drop_index("uq_run_jobs_active", table_name="run_jobs")
    op.drop_index("ix_run_jobs_workspace_status_created_at", table_name="run_jobs")
    op.drop_table("run_jobs")
