"""The input rows of the member writer (`app.households.writer`) as composite types.

`employment_write` and `intent_write` are what one write of a member's month of employment or
of their intent carries: the values, the merge flag, and who wrote it (a batch has rows of
several actors). The writer reads an array of them as one typed parameter, or a staging table
made `OF` the type and filled by COPY. An intent's lists stay lists inside the type, which
parallel arrays of `unnest` could not carry.

Revision ID: 20261123_0900
Revises: 20261122_2110
Create Date: 2026-11-23 09:00:00.000000+08:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_0900"
down_revision: str | None = "20261122_2110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TYPE employment_write AS (
            member_id uuid, period text, status text, work_region text, channel text,
            employer text, months smallint, income numeric(12, 2),
            keeps_months_and_income boolean, source text, observed_at timestamptz,
            actor_id uuid, actor_role text, request_id text, client_address text
        )
        """
    )
    op.execute(
        """
        CREATE TYPE intent_write AS (
            member_id uuid, intent text, reason text, training_needs text[],
            wanted_job_types text[], source text, observed_at timestamptz,
            actor_id uuid, actor_role text, request_id text, client_address text
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TYPE intent_write")
    op.execute("DROP TYPE employment_write")
