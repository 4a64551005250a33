"""Audit events get time-ordered ids (UUID version 7), made by the database when not given.

The audit log only grows, by several rows per write. With random ids every insert touched a
random page of the primary-key index; version 7 ids put new keys at its right edge.
PostgreSQL 15 has no built-in generator (18 adds `uuidv7()`), so `uuid_v7()` is defined here:
a random UUID whose first 48 bits are replaced by the Unix time in milliseconds and whose
version nibble is set from 4 (0100) to 7 (0111).

Revision ID: 20261122_2000
Revises: 20261122_1920
Create Date: 2026-11-23 04:00:00.000000+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_2000"
down_revision: str | None = "20261122_1920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE_GENERATOR = """
CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                placing substring(int8send(
                    floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
                ) FROM 3)
                FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$
"""


def upgrade() -> None:
    op.execute(CREATE_GENERATOR)
    op.alter_column("audit_event", "id", server_default=sa.text("uuid_v7()"))


def downgrade() -> None:
    op.alter_column("audit_event", "id", server_default=None)
    op.execute("DROP FUNCTION uuid_v7()")
