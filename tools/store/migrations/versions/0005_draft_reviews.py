"""Draft reviews: each draft version keeps its one review (the model's suggestions, or the offline one).

Revision ID: 0005_draft_reviews
Revises: 0004_learned_labels
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tools.store.types import JSONDocument

revision: str = "0005_draft_reviews"
down_revision: str | None = "0004_learned_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("review", JSONDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("review")
