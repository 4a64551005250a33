"""Push-back to the monitoring feed: batches of updates recorded under their Idempotency-Key
before they are sent, their items with the feed's answer, and what the feed last accepted per
member and month.

Revision ID: 20261129_1910
Revises: 20261129_1900
Create Date: 2026-11-30 03:09:48.422281+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261129_1910"
down_revision: str | None = "20261129_1900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_push_batch",
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=True),
        sa.Column("rejected", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'answered')", name=op.f("ck_feed_push_batch_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_push_batch")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_feed_push_batch_idempotency_key")),
    )
    op.create_index(
        "ix_feed_push_batch_pending_created_at",
        "feed_push_batch",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "feed_push_item",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=8), server_default=sa.text("'sent'"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('sent', 'accepted', 'rejected')",
            name=op.f("ck_feed_push_item_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["feed_push_batch.id"],
            name=op.f("fk_feed_push_item_batch_id_feed_push_batch"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_feed_push_item_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "position", name=op.f("pk_feed_push_item")),
    )
    op.create_index(
        "ix_feed_push_item_member_id_period",
        "feed_push_item",
        ["member_id", "period"],
        unique=False,
    )
    op.create_table(
        "feed_pushed",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column(
            "accepted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["feed_push_batch.id"],
            name=op.f("fk_feed_pushed_batch_id_feed_push_batch"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_feed_pushed_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "period", name=op.f("pk_feed_pushed")),
    )


def downgrade() -> None:
    op.drop_table("feed_pushed")
    op.drop_index("ix_feed_push_item_member_id_period", table_name="feed_push_item")
    op.drop_table("feed_push_item")
    op.drop_index(
        "ix_feed_push_batch_pending_created_at",
        table_name="feed_push_batch",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("feed_push_batch")
