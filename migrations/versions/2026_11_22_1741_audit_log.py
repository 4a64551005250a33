"""The append-only audit log.

Revision ID: 20261122_1741
Revises: 20261122_1740
Create Date: 2026-11-22 17:41
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261122_1741"
down_revision: str | None = "20261122_1740"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Append-only: the database itself refuses to change or remove an audit row.
REFUSE_CHANGES = (
    """
    CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """,
    """
    CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
    """,
    """
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()
    """,
)


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column(
            "changed_fields",
            sa.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(
        "ix_audit_event_actor_id_occurred_at",
        "audit_event",
        ["actor_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_audit_event_entity_entity_id_occurred_at",
        "audit_event",
        ["entity", "entity_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_audit_event_region_code_occurred_at",
        "audit_event",
        ["region_code", "occurred_at"],
        unique=False,
    )
    for statement in REFUSE_CHANGES:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
    op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
    op.execute("DROP FUNCTION audit_event_append_only()")
    op.drop_index("ix_audit_event_region_code_occurred_at", table_name="audit_event")
    op.drop_index("ix_audit_event_entity_entity_id_occurred_at", table_name="audit_event")
    op.drop_index("ix_audit_event_actor_id_occurred_at", table_name="audit_event")
    op.drop_table("audit_event")
