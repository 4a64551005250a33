"""The monitoring feed: the pull's cursor, pulls and imports with their counts and refused
rows, disagreements to resolve, each county's precedence rule; members leave softly.

Revision ID: 20261129_1900
Revises: 20261129_1800
Create Date: 2026-11-30 02:57:33.119120+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261129_1900"
down_revision: str | None = "20261129_1800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_cursor",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_feed_cursor")),
    )
    op.create_table(
        "feed_conflict",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'open'"), nullable=False),
        sa.Column("member_no", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("ours", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("theirs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("resolution", sa.String(length=8), nullable=True),
        sa.Column("resolved_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(status = 'resolved') = (resolution IS NOT NULL)",
            name=op.f("ck_feed_conflict_resolved_how"),
        ),
        sa.CheckConstraint(
            "kind <> 'employment' OR period IS NOT NULL",
            name=op.f("ck_feed_conflict_employment_period"),
        ),
        sa.CheckConstraint(
            "kind IN ('employment', 'id_number_invalid', 'id_number_shared')",
            name=op.f("ck_feed_conflict_kind_known"),
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('ours', 'theirs', 'value', 'dismissed')",
            name=op.f("ck_feed_conflict_resolution_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved')", name=op.f("ck_feed_conflict_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_feed_conflict_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["user_account.id"],
            name=op.f("fk_feed_conflict_resolved_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_conflict")),
    )
    op.create_index(
        "ix_feed_conflict_village_code_created_at",
        "feed_conflict",
        ["village_code", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_feed_conflict_open",
        "feed_conflict",
        ["kind", "member_no", sa.literal_column("coalesce(period, '')")],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "feed_import",
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_line", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rows_read", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("new", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("changed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("deleted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'refused', 'failed')",
            name=op.f("ck_feed_import_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_feed_import_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_import")),
    )
    op.create_index(
        "ix_feed_import_region_code_created_at",
        "feed_import",
        ["region_code", "created_at"],
        unique=False,
    )
    op.create_table(
        "feed_setting",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column(
            "precedence", sa.String(length=8), server_default=sa.text("'ours'"), nullable=False
        ),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "precedence IN ('ours', 'theirs', 'newer')",
            name=op.f("ck_feed_setting_precedence_known"),
        ),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["region.code"],
            name=op.f("fk_feed_setting_county_code_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_feed_setting_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("county_code", name=op.f("pk_feed_setting")),
    )
    op.create_table(
        "feed_sync_run",
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.Column("night", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("pages", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cursor_from", sa.Text(), nullable=True),
        sa.Column("cursor_to", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rows_read", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("new", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("changed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("deleted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "(trigger = 'cron') = (night IS NOT NULL)", name=op.f("ck_feed_sync_run_night_of_cron")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'refused', 'failed')",
            name=op.f("ck_feed_sync_run_status_known"),
        ),
        sa.CheckConstraint(
            "trigger IN ('cron', 'manual')", name=op.f("ck_feed_sync_run_trigger_known")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["user_account.id"],
            name=op.f("fk_feed_sync_run_requested_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_sync_run")),
        sa.UniqueConstraint("night", name=op.f("uq_feed_sync_run_night")),
    )
    op.create_index("ix_feed_sync_run_created_at", "feed_sync_run", ["created_at"], unique=False)
    op.create_table(
        "feed_row_error",
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("sync_run_id", sa.Uuid(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("member_no", sa.String(length=32), nullable=True),
        sa.Column("column_name", sa.String(length=64), nullable=True),
        sa.Column("value", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(import_id IS NULL) <> (sync_run_id IS NULL)",
            name=op.f("ck_feed_row_error_one_origin"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["feed_import.id"],
            name=op.f("fk_feed_row_error_import_id_feed_import"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sync_run_id"],
            ["feed_sync_run.id"],
            name=op.f("fk_feed_row_error_sync_run_id_feed_sync_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_row_error")),
    )
    op.create_index(
        "ix_feed_row_error_import_id_line", "feed_row_error", ["import_id", "line"], unique=False
    )
    op.create_index(
        "ix_feed_row_error_sync_run_id_line",
        "feed_row_error",
        ["sync_run_id", "line"],
        unique=False,
    )
    op.add_column("member", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("member", "deleted_at")
    op.drop_index("ix_feed_row_error_sync_run_id_line", table_name="feed_row_error")
    op.drop_index("ix_feed_row_error_import_id_line", table_name="feed_row_error")
    op.drop_table("feed_row_error")
    op.drop_index("ix_feed_sync_run_created_at", table_name="feed_sync_run")
    op.drop_table("feed_sync_run")
    op.drop_table("feed_setting")
    op.drop_index("ix_feed_import_region_code_created_at", table_name="feed_import")
    op.drop_table("feed_import")
    op.drop_index(
        "uq_feed_conflict_open",
        table_name="feed_conflict",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_index("ix_feed_conflict_village_code_created_at", table_name="feed_conflict")
    op.drop_table("feed_conflict")
    op.drop_table("feed_cursor")
