"""Collections: payments and what they settled, the reminder ledger, late fees, a per-workspace lock.

Revision ID: 0003_collections
Revises: 0002_api_tokens
Create Date: 2026-05-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_collections"
down_revision: str | None = "0002_api_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(14, 2)
WORKSPACE = sa.String(1000)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _stamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("payment_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payer", sa.String(500), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("linked_invoices", JSON_DOC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Numeric(3, 2), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposal", JSON_DOC, nullable=False),
        sa.Column("candidates", JSON_DOC, nullable=False),
        sa.Column("imported_at", _stamp(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", _stamp(), nullable=True),
        sa.CheckConstraint("status IN ('matched', 'queued', 'resolved', 'ignored')", name="ck_payments_status"),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("workspace", "payment_id", name="uq_payments_workspace_payment_id"),
    )
    op.create_index("ix_payments_workspace_status", "payments", ["workspace", "status"])

    op.create_table(
        "payment_allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payment", sa.String(32), nullable=False),
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("invoice_number", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.CheckConstraint("kind IN ('payment', 'write_off', 'credit')", name="ck_payment_allocations_kind"),
        sa.ForeignKeyConstraint(["payment"], ["payments.id"], name="fk_payment_allocations_payment_payments",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_payment_allocations"),
    )
    op.create_index("ix_payment_allocations_payment", "payment_allocations", ["payment"])
    op.create_index("ix_payment_allocations_workspace_invoice_number", "payment_allocations",
                    ["workspace", "invoice_number"])

    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("invoice_number", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("falls_on", sa.Date(), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("recipient", sa.String(500), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("late_fee", AMOUNT, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", _stamp(), nullable=True),
        sa.Column("sent_at", _stamp(), nullable=True),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("updated_at", _stamp(), nullable=False),
        sa.CheckConstraint("kind IN ('reminder', 'escalation')", name="ck_reminders_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'skipped', 'cancelled', 'failed')", name="ck_reminders_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reminders"),
        sa.UniqueConstraint("workspace", "invoice_number", "stage", name="uq_reminders_workspace_invoice_number_stage"),
    )
    op.create_index("ix_reminders_workspace_status", "reminders", ["workspace", "status"])

    op.create_table(
        "late_fees",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("invoice_number", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_late_fees"),
        sa.UniqueConstraint("workspace", "invoice_number", name="uq_late_fees_workspace_invoice_number"),
    )

    op.create_table(
        "collection_locks",
        sa.Column("workspace", WORKSPACE, nullable=False),
        sa.Column("last_tick", sa.Date(), nullable=True),
        sa.Column("ticks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workspace", name="pk_collection_locks"),
    )


def downgrade() -> None:
    op.drop_table("collection_locks")
    op.drop_table("late_fees")
    op.drop_index("ix_reminders_workspace_status", table_name="reminders")
    op.drop_table("reminders")
    op.drop_index("ix_payment_allocations_workspace_invoice_number", table_name="payment_allocations")
    op.drop_index("ix_payment_allocations_payment", table_name="payment_allocations")
    op.drop_table("payment_allocations")
    op.drop_index("ix_payments_workspace_status", table_name="payments")
    op.drop_table("payments")
