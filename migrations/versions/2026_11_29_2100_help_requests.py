"""Help requests: the requests, their thread, the deadline steps taken (one row per request,
deadline and step), and each county's first-response time.

Revision ID: 20261129_2100
Revises: 20261129_2000
Create Date: 2026-11-30 05:00:00+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_2100"
down_revision: str | None = "20261129_2000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "help_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("routed_to", sa.String(length=12), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_method", sa.String(length=8), nullable=False),
        sa.Column(
            "contact_note", sa.String(length=200), server_default=sa.text("''"), nullable=False
        ),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'submitted'"), nullable=False
        ),
        sa.Column("filed_by", sa.Uuid(), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("referred_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating_score", sa.SmallInteger(), nullable=True),
        sa.Column("rating_comment", sa.String(length=500), nullable=True),
        sa.Column("training_enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.String(length=16), nullable=True),
        sa.Column("due_soon_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("county_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "category IN ('找工作', '技能培训', '创业', '维权欠薪', '政策咨询', '其他')",
            name=op.f("ck_help_request_category_known"),
        ),
        sa.CheckConstraint(
            "contact_method IN ('phone', 'wechat', 'visit')",
            name=op.f("ck_help_request_contact_method_known"),
        ),
        sa.CheckConstraint(
            "deadline IS NULL OR deadline IN ('response', 'referral', 'training')",
            name=op.f("ck_help_request_deadline_known"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'referred', 'accepted', 'in_progress', 'resolved', 'rated', 'withdrawn')",
            name=op.f("ck_help_request_status_known"),
        ),
        sa.CheckConstraint(
            "(deadline IS NULL) = (due_at IS NULL) AND (due_at IS NULL) = (due_soon_at IS NULL) AND (due_at IS NULL) = (county_at IS NULL)",
            name=op.f("ck_help_request_deadline_complete"),
        ),
        sa.CheckConstraint(
            "rating_score BETWEEN 1 AND 5", name=op.f("ck_help_request_rating_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by"],
            ["user_account.id"],
            name=op.f("fk_help_request_accepted_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["filed_by"],
            ["user_account.id"],
            name=op.f("fk_help_request_filed_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_help_request_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referred_by"],
            ["user_account.id"],
            name=op.f("fk_help_request_referred_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["user_account.id"],
            name=op.f("fk_help_request_resolved_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["routed_to"],
            ["region.code"],
            name=op.f("fk_help_request_routed_to_region"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["region.code"],
            name=op.f("fk_help_request_village_code_region"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_request")),
    )
    op.create_index(
        "ix_help_request_member_id_created_at",
        "help_request",
        ["member_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_help_request_running_due_soon_at",
        "help_request",
        ["due_soon_at"],
        unique=False,
        postgresql_where=sa.text("deadline IS NOT NULL"),
    )
    op.create_index(
        "ix_help_request_village_code_created_at",
        "help_request",
        ["village_code", "created_at"],
        unique=False,
    )
    op.create_table(
        "help_request_setting",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("first_response_hours", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "first_response_hours BETWEEN 1 AND 720",
            name=op.f("ck_help_request_setting_first_response_hours_range"),
        ),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["region.code"],
            name=op.f("fk_help_request_setting_county_code_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_help_request_setting_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("county_code", name=op.f("pk_help_request_setting")),
    )
    op.create_table(
        "help_request_escalation",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("deadline", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "escalated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "deadline IN ('response', 'referral', 'training')",
            name=op.f("ck_help_request_escalation_deadline_known"),
        ),
        sa.CheckConstraint(
            "step IN ('due_soon', 'township', 'county')",
            name=op.f("ck_help_request_escalation_step_known"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["help_request.id"],
            name=op.f("fk_help_request_escalation_request_id_help_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "request_id", "deadline", "step", name=op.f("pk_help_request_escalation")
        ),
    )
    op.create_table(
        "help_request_event",
        sa.Column("id", sa.Uuid(), server_default=sa.text("uuid_v7()"), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('submitted', 'accepted', 'replied', 'referred', 'resolved', 'withdrawn', 'rated')",
            name=op.f("ck_help_request_event_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_help_request_event_actor_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["help_request.id"],
            name=op.f("fk_help_request_event_request_id_help_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_request_event")),
    )
    op.create_index(
        "ix_help_request_event_request_id_occurred_at",
        "help_request_event",
        ["request_id", "occurred_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_help_request_event_request_id_occurred_at", table_name="help_request_event")
    op.drop_table("help_request_event")
    op.drop_table("help_request_escalation")
    op.drop_table("help_request_setting")
    op.drop_index("ix_help_request_village_code_created_at", table_name="help_request")
    op.drop_index(
        "ix_help_request_running_due_soon_at",
        table_name="help_request",
        postgresql_where=sa.text("deadline IS NOT NULL"),
    )
    op.drop_index("ix_help_request_member_id_created_at", table_name="help_request")
    op.drop_table("help_request")
