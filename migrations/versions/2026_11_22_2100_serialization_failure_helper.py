"""`raise_serialization_failure(detail)`: a statement gives up as a retryable conflict.

The visit statement reads the rows it replaces before its upserts. When another transaction
inserts one of those rows after the statement's snapshot, the upsert updates a row the audit
never saw; the statement then calls this, so it writes nothing and the writer runs it again
(SQLSTATE 40001, what clients retry).

Revision ID: 20261122_2100
Revises: 20261122_2000
Create Date: 2026-11-23 05:00:00.000000+08:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261122_2100"
down_revision: str | None = "20261122_2000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION raise_serialization_failure(detail text) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = detail;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION raise_serialization_failure(text)")
