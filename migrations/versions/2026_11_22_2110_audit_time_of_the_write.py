"""Audit events are timed when written (`clock_timestamp()`), not when their transaction began.

`now()` is the start of the transaction. A write that waited for another on a row lock was
logged earlier than the write it replaced, so the log, newest first, showed them in the wrong
order.

Revision ID: 20261122_2110
Revises: 20261122_2100
Create Date: 2026-11-23 05:10:00.000000+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_2110"
down_revision: str | None = "20261122_2100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("audit_event", "occurred_at", server_default=sa.text("clock_timestamp()"))


def downgrade() -> None:
    op.alter_column("audit_event", "occurred_at", server_default=sa.text("now()"))
