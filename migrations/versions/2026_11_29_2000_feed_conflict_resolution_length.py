"""A conflict's resolution holds `dismissed` (nine characters).

Revision ID: 20261129_2000
Revises: 20261129_1920
Create Date: 2026-11-30 04:00:00+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_2000"
down_revision: str | None = "20261129_1920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "feed_conflict",
        "resolution",
        existing_type=sa.String(length=8),
        type_=sa.String(length=16),
        existing_nullable=True,
    )


def downgrade() -> None:
    # Refused while an item is `dismissed`, rather than forgetting how it was resolved.
    op.alter_column(
        "feed_conflict",
        "resolution",
        existing_type=sa.String(length=16),
        type_=sa.String(length=8),
        existing_nullable=True,
    )
