"""Learned labels: the categories people confirmed (a reviewer's, or an approved invoice's), one per entry.

Revision ID: 0004_learned_labels
Revises: 0003_collections
Create Date: 2026-06-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_learned_labels"
down_revision: str | None = "0003_collections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "learned_labels",
        sa.Column("workspace", sa.String(1000), nullable=False),
        sa.Column("entry_id", sa.String(100), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("invoice_number", sa.String(64), nullable=True),
        sa.Column("who", sa.String(200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('reviewer', 'approved')", name="ck_learned_labels_source"),
        sa.PrimaryKeyConstraint("workspace", "entry_id", name="pk_learned_labels"),
    )


def downgrade() -> None:
    op.drop_table("learned_labels")
