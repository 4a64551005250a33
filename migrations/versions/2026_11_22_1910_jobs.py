"""Job openings and the jobs pushed to labourers, in rounds.

Revision ID: 20261122_1910
Revises: 20261122_1900
Create Date: 2026-11-23 03:00:00.000000+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_1910"
down_revision: str | None = "20261122_1900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("employer", sa.String(length=128), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("location_type", sa.String(length=8), nullable=False),
        sa.Column("wage_min", sa.Integer(), nullable=False),
        sa.Column("wage_max", sa.Integer(), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.Column("requirements", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "skills", sa.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("heavy_labour", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
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
            "location_type IN ('省外', '省内县外', '县内')", name=op.f("ck_job_location_type_known")
        ),
        sa.CheckConstraint(
            "source IN ('就业驿站', '劳务协作', '帮扶车间', '公益性岗位')",
            name=op.f("ck_job_source_known"),
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_job_status_known")),
        sa.CheckConstraint("headcount >= 1", name=op.f("ck_job_headcount_positive")),
        sa.CheckConstraint("wage_min <= wage_max", name=op.f("ck_job_wage_range")),
        sa.CheckConstraint("wage_min >= 0", name=op.f("ck_job_wage_non_negative")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_job_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["region.code"],
            name=op.f("fk_job_region_code_region"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index("ix_job_created_at_id", "job", ["created_at", "id"], unique=False)
    op.create_index(op.f("ix_job_region_code"), "job", ["region_code"], unique=False)
    op.create_index("ix_job_status_valid_until", "job", ["status", "valid_until"], unique=False)
    op.create_index(
        "ix_job_title_pattern",
        "job",
        ["title"],
        unique=False,
        postgresql_ops={"title": "varchar_pattern_ops"},
    )
    op.create_table(
        "job_push",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("pushed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "pushed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status <> 'declined' OR coalesce(btrim(reason), '') <> ''",
            name=op.f("ck_job_push_declined_has_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('pushed', 'viewed', 'interested', 'interviewed', 'hired', 'declined')",
            name=op.f("ck_job_push_status_known"),
        ),
        sa.CheckConstraint('"round" >= 1', name=op.f("ck_job_push_round_positive")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_push_job_id_job"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_job_push_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pushed_by"],
            ["user_account.id"],
            name=op.f("fk_job_push_pushed_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_push")),
        sa.UniqueConstraint("job_id", "member_id", name=op.f("uq_job_push_job_id_member_id")),
    )
    op.create_index("ix_job_push_member_id_round", "job_push", ["member_id", "round"], unique=False)
    op.create_index(
        "ix_job_push_village_code_member_id",
        "job_push",
        ["village_code", "member_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_job_push_village_code_member_id", table_name="job_push")
    op.drop_index("ix_job_push_member_id_round", table_name="job_push")
    op.drop_table("job_push")
    op.drop_index(
        "ix_job_title_pattern", table_name="job", postgresql_ops={"title": "varchar_pattern_ops"}
    )
    op.drop_index("ix_job_status_valid_until", table_name="job")
    op.drop_index(op.f("ix_job_region_code"), table_name="job")
    op.drop_index("ix_job_created_at_id", table_name="job")
    op.drop_table("job")
