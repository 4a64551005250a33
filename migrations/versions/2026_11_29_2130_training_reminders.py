"""Training sessions remember when their enrolled were reminded, the day before.

Revision ID: 20261129_2130
Revises: 20261129_2120
Create Date: 2026-11-30 04:17:57.366898+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_2130"
down_revision: str | None = "20261129_2120"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "training_session", sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("training_session", "reminded_at")
