"""Notifications: the outbox that is also the in-app inbox, and WeChat subscription counts.

Revision ID: 20261129_2110
Revises: 20261129_2100
Create Date: 2026-11-30 05:10:00+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261129_2110"
down_revision: str | None = "20261129_2100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=255), nullable=True),
        sa.Column(
            "fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "wechat_state",
            sa.String(length=16),
            server_default=sa.text("'pending'"),
            nullable=False,
        ),
        sa.Column(
            "wechat_due_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "wechat_attempts", sa.SmallInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("wechat_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wechat_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wechat_error", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "wechat_state IN ('pending', 'sending', 'sent', 'inbox_only', 'failed', 'unknown')",
            name=op.f("ck_notification_wechat_state_known"),
        ),
        sa.CheckConstraint(
            "wechat_attempts >= 0", name=op.f("ck_notification_wechat_attempts_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["user_account.id"],
            name=op.f("fk_notification_recipient_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(
        "ix_notification_recipient_id_created_at_id",
        "notification",
        ["recipient_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_notification_recipient_id_unread",
        "notification",
        ["recipient_id"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_index(
        "ix_notification_wechat_due_at_pending",
        "notification",
        ["wechat_due_at"],
        unique=False,
        postgresql_where=sa.text("wechat_state = 'pending'"),
    )
    op.create_index(
        "ix_notification_wechat_attempt_at_sending",
        "notification",
        ["wechat_attempt_at"],
        unique=False,
        postgresql_where=sa.text("wechat_state = 'sending'"),
    )
    op.create_table(
        "notification_subscription",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("remaining", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "remaining >= 0", name=op.f("ck_notification_subscription_remaining_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_subscription_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "template_id", name=op.f("pk_notification_subscription")
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_subscription")
    op.drop_index("ix_notification_wechat_attempt_at_sending", table_name="notification")
    op.drop_index("ix_notification_wechat_due_at_pending", table_name="notification")
    op.drop_index("ix_notification_recipient_id_unread", table_name="notification")
    op.drop_index("ix_notification_recipient_id_created_at_id", table_name="notification")
    op.drop_table("notification")
