"""Trainings: courses, their sessions, enrolments with a waiting list, attendance.

Revision ID: 20261122_1920
Revises: 20261122_1910
Create Date: 2026-11-23 03:20:00.000000+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_1920"
down_revision: str | None = "20261122_1910"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "training",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("organizer", sa.String(length=128), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
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
        sa.CheckConstraint(
            "type IN ('职业技能', '创业', '引导性')", name=op.f("ck_training_type_known")
        ),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_training_capacity_positive")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_training_ends_after_starts")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_training_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["region.code"],
            name=op.f("fk_training_region_code_region"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training")),
    )
    op.create_index(
        "ix_training_region_code_starts_at", "training", ["region_code", "starts_at"], unique=False
    )
    op.create_table(
        "training_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("training_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_training_session_ends_after_starts")
        ),
        sa.ForeignKeyConstraint(
            ["training_id"],
            ["training.id"],
            name=op.f("fk_training_session_training_id_training"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_session")),
    )
    op.create_index(
        "ix_training_session_training_id_starts_at",
        "training_session",
        ["training_id", "starts_at"],
        unique=False,
    )
    op.create_table(
        "training_enrollment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("training_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("certificate_no", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('enrolled', 'waitlisted')", name=op.f("ck_training_enrollment_status_known")
        ),
        sa.CheckConstraint(
            "completed_on IS NULL OR status = 'enrolled'",
            name=op.f("ck_training_enrollment_completed_when_enrolled"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_training_enrollment_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["training_id"],
            ["training.id"],
            name=op.f("fk_training_enrollment_training_id_training"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_enrollment")),
        sa.UniqueConstraint(
            "training_id", "member_id", name=op.f("uq_training_enrollment_training_id_member_id")
        ),
    )
    op.create_index(
        op.f("ix_training_enrollment_member_id"),
        "training_enrollment",
        ["member_id"],
        unique=False,
    )
    op.create_index(
        "ix_training_enrollment_training_id_status_created_at",
        "training_enrollment",
        ["training_id", "status", "created_at"],
        unique=False,
    )
    op.create_table(
        "training_attendance",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("training_id", sa.Uuid(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source IN ('roll', 'checkin')", name=op.f("ck_training_attendance_source_known")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_training_attendance_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["training_session.id"],
            name=op.f("fk_training_attendance_session_id_training_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["training_id"],
            ["training.id"],
            name=op.f("fk_training_attendance_training_id_training"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "member_id", name=op.f("pk_training_attendance")),
    )
    op.create_index(
        "ix_training_attendance_training_id_member_id",
        "training_attendance",
        ["training_id", "member_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_training_attendance_training_id_member_id", table_name="training_attendance")
    op.drop_table("training_attendance")
    op.drop_index(
        "ix_training_enrollment_training_id_status_created_at", table_name="training_enrollment"
    )
    op.drop_index(op.f("ix_training_enrollment_member_id"), table_name="training_enrollment")
    op.drop_table("training_enrollment")
    op.drop_index("ix_training_session_training_id_starts_at", table_name="training_session")
    op.drop_table("training_session")
    op.drop_index("ix_training_region_code_starts_at", table_name="training")
    op.drop_table("training")
