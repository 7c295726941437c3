"""The initial schema: runs, drafts, approvals, decisions, invoices, invoice_entries, invoice_sequences.

Revision ID: 0001_initial
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(14, 2)
WORKSPACE = sa.String(1000)
HOURS = sa.Numeric(12, 6)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _stamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(14, 6), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("updated_at", _stamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_workspace", "runs", ["workspace"])

    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", AMOUNT, nullable=False),
        sa.Column("discount", AMOUNT, nullable=False),
        sa.Column("cap_adjustment", AMOUNT, nullable=False),
        sa.Column("tax", AMOUNT, nullable=False),
        sa.Column("total", AMOUNT, nullable=False),
        sa.Column("draft", JSON_DOC, nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_drafts_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_drafts"),
        sa.UniqueConstraint("run_id", "version", name="uq_drafts_run_id_version"),
    )

    op.create_table(
        "approvals",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("draft_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("requested_at", _stamp(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", _stamp(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'resuming', 'approved', 'changes_requested', 'rejected')",
            name="ck_approvals_status",
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_approvals_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_status_requested_at", "approvals", ["status", "requested_at"])

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", _stamp(), nullable=False),
        sa.Column("detail", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_decisions_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_run_id", "decisions", ["run_id"])

    op.create_table(
        "invoices",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", AMOUNT, nullable=False),
        sa.Column("discount", AMOUNT, nullable=False),
        sa.Column("cap_adjustment", AMOUNT, nullable=False),
        sa.Column("tax", AMOUNT, nullable=False),
        sa.Column("total", AMOUNT, nullable=False),
        sa.Column("lines", JSON_DOC, nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ledger", sa.String(64), nullable=True),
        sa.Column("ledger_ref", sa.String(200), nullable=True),
        sa.Column("pushed_at", _stamp(), nullable=True),
        sa.Column("sent_at", _stamp(), nullable=True),
        sa.Column("voided_at", _stamp(), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("updated_at", _stamp(), nullable=False),
        sa.CheckConstraint(
            "status IN ('approved', 'pushed', 'sent', 'paid', 'void')", name="ck_invoices_status"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_invoices_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        sa.UniqueConstraint("workspace", "number", name="uq_invoices_workspace_number"),
        sa.UniqueConstraint("run_id", name="uq_invoices_run_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_invoices_idempotency_key"),
    )
    op.create_index("ix_invoices_workspace_client_period_start", "invoices", ["workspace", "client", "period_start"])

    op.create_table(
        "invoice_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.String(32), nullable=False),
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("entry_id", sa.String(100), nullable=False),
        sa.Column("actual_hours", HOURS, nullable=True),
        sa.Column("billed_hours", HOURS, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name="fk_invoice_entries_invoice_id_invoices", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_invoice_entries"),
    )
    op.create_index("ix_invoice_entries_invoice_id", "invoice_entries", ["invoice_id"])
    op.create_index(
        "uq_invoice_entries_live",
        "invoice_entries",
        ["workspace", "entry_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )

    op.create_table(
        "invoice_sequences",
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workspace", name="pk_invoice_sequences"),
    )


def downgrade() -> None:
    op.drop_table("invoice_sequences")
    op.drop_index("uq_invoice_entries_live", table_name="invoice_entries")
    op.drop_index("ix_invoice_entries_invoice_id", table_name="invoice_entries")
    op.drop_table("invoice_entries")
    op.drop_index("ix_invoices_workspace_client_period_start", table_name="invoices")
    op.drop_table("invoices")
    op.drop_index("ix_decisions_run_id", table_name="decisions")
    op.drop_table("decisions")
    op.drop_index("ix_approvals_status_requested_at", table_name="approvals")
    op.drop_table("approvals")
    op.drop_table("drafts")
    op.drop_index("ix_runs_workspace", table_name="runs")
    op.drop_table("runs")
