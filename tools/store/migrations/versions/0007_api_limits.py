"""API limits: tokens may expire, and the review pages' sign-ins are kept in the store (so signing out ends one).

Revision ID: 0007_api_limits
Revises: 0006_active_runs
Create Date: 2026-12-12

Existing tokens keep no expiry. Sessions signed before this revision have no row, so their cookies no
longer open: everyone signs in to the review pages once more.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_api_limits"
down_revision: str | None = "0006_active_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "review_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["token_id"], ["api_tokens.id"], name="fk_review_sessions_token_id_api_tokens"),
        sa.PrimaryKeyConstraint("id", name="pk_review_sessions"),
    )
    op.create_index("ix_review_sessions_token_id", "review_sessions", ["token_id"])


def downgrade() -> None:
    op.drop_index("ix_review_sessions_token_id", table_name="review_sessions")
    op.drop_table("review_sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
